"""Consistency rules an endpoint must satisfy beyond its field types.

``providers.spec`` checks each field's shape; these rules check that the fields agree with
each other: descriptors have the right kind, every advertised resolution and aspect ratio can
be produced by the endpoint's geometry, and tiered pricing lines cover every tier exactly
once. Each problem is returned as ``field: message`` so the loader can prefix file and entry.

Units: ``FreePixels.tier_megapixels`` counts megapixels of 1,000,000 pixels
(``"1.048576"`` is 1024x1024).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from app.generation.ratios import TIER_EDGES, nearest_tier
from app.generation.request import (
    ASPECT_RATIOS,
    BACKGROUNDS,
    OUTPUT_FORMATS,
    QUALITIES,
    RESOLUTIONS,
    ImageGenerationRequest,
)
from providers.spec import (
    BooleanDescriptor,
    EndpointSpec,
    EnumDescriptor,
    FixedSizes,
    FreePixels,
    ModelSpec,
    PricingLine,
    RangeDescriptor,
    RatioTier,
)

ENUM_PARAMETERS = ("resolution", "aspect_ratio", "size", "quality", "output_format", "background")
# Request fields the gateway owns (the public schema itself); a passthrough key must never
# shadow one of them.
PUBLIC_FIELDS = frozenset(ImageGenerationRequest.model_fields)
# The values a request can carry (``size`` aside): an enum value outside them could be
# advertised but never asked for, since the request's canonical check refuses it first.
PUBLIC_VALUES: dict[str, tuple[str, ...]] = {
    "resolution": RESOLUTIONS,
    "aspect_ratio": ASPECT_RATIOS,
    "quality": QUALITIES,
    "output_format": OUTPUT_FORMATS,
    "background": BACKGROUNDS,
}
MAX_REFERENCES = 16  # the public request's own limit on input_references
SIZE_RATIO_TOLERANCE = 0.01
# How far a fixed-size alias may be from the size it is served as: the 5 % within which a
# fixed size is the provider's version of a ratio (geometry.FIXED_TOLERANCE).
ALIAS_RATIO_TOLERANCE = 0.05


def check_endpoint(ep: EndpointSpec) -> list[str]:
    """Every consistency problem of one endpoint (empty when it is sound)."""
    return [
        *_descriptor_kinds(ep),
        *_geometry(ep),
        *_defaults(ep),
        *_pricing(ep),
        *_passthrough(ep),
        *_quotable(ep),
    ]


def _quotable(ep: EndpointSpec) -> list[str]:
    """Every endpoint can be quoted before a call (credit is reserved from the quote)."""
    from app.billing.quote import QuoteError, quote

    problems = []
    if any(line.unit == "token" for line in ep.pricing) and not any(
        not b.when for b in ep.token_budgets
    ):
        problems.append(
            "token_budgets: a token-priced endpoint needs a token budget without `when` "
            "(the bound used when the request leaves quality/resolution to the provider)"
        )
    try:
        quote(ep, n=1, width=None, height=None, params={}, prompt="")
    except QuoteError as exc:
        problems.append(f"quote: {exc}")
    return problems


# -- descriptors --------------------------------------------------------------------------


def _descriptor_kinds(ep: EndpointSpec) -> list[str]:
    params = ep.parameters
    problems = []
    n = params.get("n")
    if not isinstance(n, RangeDescriptor):
        problems.append("parameters.n: every endpoint must describe n as a range")
    elif not 1 <= n.min <= n.max <= 10:
        problems.append(f"parameters.n: range must lie within 1..10, got {n.min}..{n.max}")
    elif ep.max_images_per_call > n.max:
        problems.append(
            f"max_images_per_call: {ep.max_images_per_call} is above parameters.n.max {n.max}"
        )
    cap = ep.max_images_with_references
    if cap is not None and cap <= ep.max_references:
        problems.append(
            f"max_images_with_references: {cap} leaves no room for an image next to "
            f"{ep.max_references} input_references"
        )
    refs = params.get("input_references")
    if refs is not None and not (
        isinstance(refs, RangeDescriptor) and refs.min == 0 and 1 <= refs.max <= MAX_REFERENCES
    ):
        problems.append(
            f"parameters.input_references: must be a range 0..k with 1 <= k <= {MAX_REFERENCES}"
            " (omit it when the endpoint takes no references)"
        )
    comp = params.get("output_compression")
    if comp is not None and not (
        isinstance(comp, RangeDescriptor) and comp.min >= 0 and comp.max <= 100
    ):
        problems.append("parameters.output_compression: must be a range within 0..100")
    seed = params.get("seed")
    if seed is not None and not isinstance(seed, BooleanDescriptor):
        problems.append("parameters.seed: must be a boolean descriptor")
    for name in ENUM_PARAMETERS:
        desc = params.get(name)
        if desc is not None and not isinstance(desc, EnumDescriptor):
            problems.append(f"parameters.{name}: must be an enum descriptor")
        elif desc is not None and len(set(desc.values)) != len(desc.values):
            problems.append(f"parameters.{name}: duplicate values")
        elif desc is not None and name in PUBLIC_VALUES:
            unknown = [v for v in desc.values if v not in PUBLIC_VALUES[name]]
            if unknown:
                problems.append(
                    f"parameters.{name}: {unknown} are not public {name} values "
                    f"(one of {list(PUBLIC_VALUES[name])})"
                )
    return problems


def _enum(ep: EndpointSpec, name: str) -> tuple[str, ...]:
    desc = ep.parameters.get(name)
    return desc.values if isinstance(desc, EnumDescriptor) else ()


# -- geometry -----------------------------------------------------------------------------


def parse_ratio(text: str) -> float | None:
    """``"16:9"`` or ``"2.35:1"`` as width/height; None for ``auto`` or garbage."""
    w, sep, h = text.partition(":")
    try:
        wd, hd = Decimal(w), Decimal(h)
    except InvalidOperation:
        return None
    if not sep or not wd.is_finite() or not hd.is_finite() or wd <= 0 or hd <= 0:
        return None
    return float(wd / hd)


def parse_size(text: str) -> tuple[int, int] | None:
    """``"1536x1024"`` as (1536, 1024); None when it is not ``WxH`` in positive integers."""
    w, sep, h = text.partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or int(w) <= 0 or int(h) <= 0:
        return None
    return int(w), int(h)


def _geometry(ep: EndpointSpec) -> list[str]:
    geo = ep.geometry
    if isinstance(geo, FixedSizes):
        return _fixed_sizes(ep, geo)
    if isinstance(geo, FreePixels):
        return _free_pixels(ep, geo)
    return _ratio_tier(ep, geo)


def _ratios(ep: EndpointSpec, allow_auto: bool) -> tuple[list[str], list[tuple[str, float]]]:
    problems, parsed = [], []
    for text in _enum(ep, "aspect_ratio"):
        if text == "auto" and allow_auto:
            continue
        value = parse_ratio(text)
        if value is None:
            problems.append(
                f"parameters.aspect_ratio: {text!r} is not a W:H ratio this geometry can honour"
            )
        else:
            parsed.append((text, value))
    return problems, parsed


def _fixed_sizes(ep: EndpointSpec, geo: FixedSizes) -> list[str]:
    problems = [f"geometry.sizes: {s!r} is not WxH" for s in geo.sizes if parse_size(s) is None]
    problems += [
        f"geometry.wire: {k!r} is not one of geometry.sizes" for k in geo.wire if k not in geo.sizes
    ]
    problems += _fixed_aliases(geo)
    problems += _fixed_tiers(ep, geo)
    bad, ratios = _ratios(ep, allow_auto=False)
    problems += bad
    sizes = [(s, parse_size(s)) for s in geo.sizes]
    for text, value in ratios:
        if not any(
            geo.wire.get(s) == text or abs(wh[0] / wh[1] - value) <= value * SIZE_RATIO_TOLERANCE
            for s, wh in sizes
            if wh is not None
        ):
            problems.append(f"parameters.aspect_ratio: no size in geometry.sizes has ratio {text}")
    return problems


def _fixed_aliases(geo: FixedSizes) -> list[str]:
    """An alias is another ``WxH`` served as a listed size of about the same shape.

    The shape check catches a typo or swapped edges: an alias stands for "this size's aspect
    ratio" (Recraft: OpenAI's 1536x1024 is its 3:2 size), never for another shape.
    """
    problems = []
    for alias, served in geo.aliases.items():
        where = f"geometry.aliases.{alias}"
        wh, target = parse_size(alias), parse_size(served)
        if wh is None:
            problems.append(f"{where}: {alias!r} is not WxH")
        elif alias in geo.sizes:
            problems.append(f"{where}: already one of geometry.sizes")
        elif served not in geo.sizes or target is None:
            problems.append(f"{where}: {served!r} is not one of geometry.sizes")
        else:
            asked, made = wh[0] / wh[1], target[0] / target[1]
            if max(asked, made) / min(asked, made) - 1 > ALIAS_RATIO_TOLERANCE:
                problems.append(
                    f"{where}: {served} is more than {ALIAS_RATIO_TOLERANCE:.0%} off its "
                    "aspect ratio"
                )
    return problems


def _fixed_tiers(ep: EndpointSpec, geo: FixedSizes) -> list[str]:
    """A ``resolution`` enum on fixed sizes: every listed tier must own at least one size.

    A size belongs to the listed tier nearest its long edge (1K≈1024, 2K≈2048, 4K≈4096).
    """
    listed = [t for t in _enum(ep, "resolution") if t in TIER_EDGES]
    problems = [
        f"parameters.resolution: {t!r} is not a public resolution tier"
        for t in _enum(ep, "resolution")
        if t not in TIER_EDGES
    ]
    if not listed:
        return problems
    owned = {
        nearest_tier(max(wh), listed) for wh in (parse_size(s) for s in geo.sizes) if wh is not None
    }
    return problems + [
        f"parameters.resolution: no size in geometry.sizes is of tier {t!r}"
        for t in listed
        if t not in owned
    ]


def _free_pixels(ep: EndpointSpec, geo: FreePixels) -> list[str]:
    problems = []
    if geo.min_edge > geo.max_edge:
        problems.append("geometry.min_edge: above geometry.max_edge")
    if geo.min_pixels > geo.max_pixels:
        problems.append("geometry.min_pixels: above geometry.max_pixels")
    if geo.explicit_multiple is not None and geo.multiple % geo.explicit_multiple:
        problems.append(
            f"geometry.explicit_multiple: {geo.explicit_multiple} does not divide "
            f"geometry.multiple {geo.multiple} (a size the gateway derives must also be one a "
            "caller may give)"
        )
    if geo.tier_megapixels and geo.default_tier not in geo.tier_megapixels:
        problems.append(
            f"geometry.default_tier: {geo.default_tier!r} is not a key of geometry.tier_megapixels"
        )
    tiers: dict[str, int] = {}
    for tier, mp in geo.tier_megapixels.items():
        pixels = int(mp * 1_000_000)
        if not geo.min_pixels <= pixels <= geo.max_pixels or not _fits(1.0, pixels, geo):
            problems.append(
                f"geometry.tier_megapixels.{tier}: {mp} MP is outside the pixel and edge bounds"
            )
        tiers[tier] = pixels
    listed = _enum(ep, "resolution")
    problems += [
        f"parameters.resolution: {t!r} has no geometry.tier_megapixels entry"
        for t in listed
        if t not in tiers
    ]
    targets = [tiers[t] for t in listed if t in tiers] or (
        [tiers[geo.default_tier]] if geo.default_tier in tiers else []
    )
    bad, ratios = _ratios(ep, allow_auto=False)
    problems += bad
    for text, value in ratios:
        ok = any(_fits(value, t, geo) for t in targets) if targets else _fits_somewhere(value, geo)
        if not ok:
            problems.append(
                f"parameters.aspect_ratio: {text} cannot be produced within the "
                "geometry's ratio, edge and pixel bounds at any listed resolution"
            )
    return problems


def _fits(ratio: float, pixels: int, geo: FreePixels) -> bool:
    r = max(ratio, 1 / ratio)
    long_edge, short_edge = math.sqrt(pixels * r), math.sqrt(pixels / r)
    slack = geo.multiple  # rounding to the multiple may move an edge by up to one step
    return (
        r <= float(geo.max_ratio) + 1e-9
        and long_edge <= geo.max_edge + slack
        and short_edge + slack >= geo.min_edge
    )


def _fits_somewhere(ratio: float, geo: FreePixels) -> bool:
    r = max(ratio, 1 / ratio)
    low = max(geo.min_pixels, geo.min_edge * geo.min_edge * r)
    high = min(geo.max_pixels, geo.max_edge * geo.max_edge / r)
    return r <= float(geo.max_ratio) + 1e-9 and low <= high


def _ratio_tier(ep: EndpointSpec, geo: RatioTier) -> list[str]:
    problems = [
        f"parameters.resolution: {t!r} is not a key of geometry.tiers"
        for t in _enum(ep, "resolution")
        if t not in geo.tiers
    ]
    for tier, mp in geo.tier_above_megapixels.items():
        if tier not in geo.tiers:
            problems.append(f"geometry.tier_above_megapixels.{tier}: not a key of geometry.tiers")
        elif tier not in TIER_EDGES:
            problems.append(f"geometry.tier_above_megapixels.{tier}: not a public resolution tier")
        if mp <= 0:
            problems.append(f"geometry.tier_above_megapixels.{tier}: must be above 0")
    if geo.nearest_ratio and "aspect_ratio" not in ep.parameters:
        problems.append("geometry.nearest_ratio: needs an aspect_ratio descriptor to snap to")
    bad, _ = _ratios(ep, allow_auto=True)
    problems += bad
    listed = _enum(ep, "aspect_ratio")
    if geo.default_ratio is not None and listed and geo.default_ratio not in listed:
        problems.append(
            f"geometry.default_ratio: {geo.default_ratio!r} is not in parameters.aspect_ratio"
        )
    return problems


# -- defaults and pricing -----------------------------------------------------------------


def _defaults(ep: EndpointSpec) -> list[str]:
    problems = []
    for key, value in ep.defaults.items():
        values = _enum(ep, key)
        if not values:
            problems.append(f"defaults.{key}: the endpoint has no enum descriptor for {key!r}")
        elif value not in values:
            problems.append(f"defaults.{key}: {value!r} is not one of {list(values)}")
    return problems


def _pricing(ep: EndpointSpec) -> list[str]:
    problems = []
    if not any(line.billable == "output_image" for line in ep.pricing):
        problems.append("pricing: no output_image line; every endpoint must price its output")
    groups: dict[tuple[str, str], list[tuple[int, PricingLine]]] = defaultdict(list)
    for i, line in enumerate(ep.pricing):
        if line.round_up and line.unit != "megapixel":
            problems.append(f"pricing.{i}.round_up: only megapixel lines round up")
        if line.pixels_per_megapixel != 1_000_000 and line.unit != "megapixel":
            problems.append(
                f"pricing.{i}.pixels_per_megapixel: only megapixel lines count megapixels"
            )
        for key, value in line.when.items():
            values = _enum(ep, key)
            if not values:
                problems.append(
                    f"pricing.{i}.when.{key}: the endpoint has no enum descriptor for {key!r}"
                )
            elif value not in values:
                problems.append(f"pricing.{i}.when.{key}: {value!r} is not one of {list(values)}")
        groups[(line.billable, line.unit)].append((i, line))
    if problems:
        return problems
    for lines in groups.values():
        problems += _tier_coverage(ep, lines)
    return problems


def _tier_coverage(ep: EndpointSpec, lines: list[tuple[int, PricingLine]]) -> list[str]:
    """Lines of one billable/unit either have no ``when``, or cover every tier exactly once.

    A tiered key also needs a default: the normalizer leaves a parameter the caller did not
    set unset, and ``EndpointSpec.defaults`` is what the pricing then matches against.
    """
    keysets = {tuple(sorted(line.when)) for _, line in lines}
    if keysets == {()}:
        return (
            []
            if len(lines) == 1
            else [
                f"pricing.{lines[1][0]}: a second untiered {lines[0][1].billable}/"
                f"{lines[0][1].unit} line; give tiered lines a `when`"
            ]
        )
    if len(keysets) != 1:
        return [
            f"pricing.{lines[0][0]}.when: lines for {lines[0][1].billable}/"
            f"{lines[0][1].unit} must all name the same parameters"
        ]
    keys = next(iter(keysets))
    problems = [
        f"defaults.{k}: lines are tiered on {k!r}, so the provider's default {k} must be "
        "given for calls that leave it unset"
        for k in keys
        if k not in ep.defaults
    ]
    for combo in itertools.product(*(_enum(ep, k) for k in keys)):
        wanted = dict(zip(keys, combo, strict=True))
        hits = [i for i, line in lines if line.when == wanted]
        if len(hits) != 1:
            problems.append(
                f"pricing.{lines[0][0]}.when: {wanted} is matched by "
                f"{len(hits)} lines, expected exactly 1"
            )
    return problems


# -- passthrough --------------------------------------------------------------------------


def _passthrough(ep: EndpointSpec) -> list[str]:
    problems = []
    if len(set(ep.passthrough)) != len(ep.passthrough):
        problems.append("passthrough: duplicate keys")
    shadow = sorted(set(ep.passthrough) & PUBLIC_FIELDS)
    if shadow:
        problems.append(f"passthrough: {shadow} are public request fields, not passthrough keys")
    return problems


# -- model --------------------------------------------------------------------------------


def check_model(model: ModelSpec) -> list[str]:
    """Model-level rules once all of a model's endpoints are known."""
    takes_images = any(ep.max_references > 0 for ep in model.endpoints)
    if takes_images and "image" not in model.input_modalities:
        return ["input_modalities: an endpoint accepts input_references, so 'image' must be listed"]
    if not takes_images and "image" in model.input_modalities:
        return ["input_modalities: 'image' is listed but no endpoint accepts input_references"]
    return []
