"""Output geometry: how ``size`` / ``aspect_ratio`` / ``resolution`` become what an endpoint takes.

Pure functions used by :mod:`app.generation.normalize`, which folds ``size`` into a
:class:`Shape` (that module documents the size syntax, ratio matching and WxH → tier); ratio
parsing, labels and resolution tiers live in :mod:`app.generation.ratios`. The choices made here,
where the providers' documents leave room:

* **A tier without a ratio** means 1:1 (every provider here defaults to square); neither tier,
  ratio nor pixels means "provider default": no width/height are sent.
* **FixedSizes.** Explicit pixels must be one of the sizes exactly, or one of the catalog's
  ``aliases`` (400 listing both). An alias is served as the listed size it names, sent in that
  size's wire spelling, with a warning naming the size made (Recraft takes OpenAI's
  ``1792x1024`` as its own 16:9 size); its tier is that size's tier. A ratio
  picks the size with the nearest ratio (ties: nearest pixel count to the tier, then catalog
  order). When the endpoint also describes ``resolution`` (Riverflow: the same ratios at 1K, 2K
  and 4K), each size belongs to its nearest listed tier by long edge, and a ratio is looked up
  among the sizes of the requested tier (else ``defaults.resolution``, else all sizes).
  Within 5 % the size *is* the provider's version of that ratio (Recraft's 1344x768 for 16:9)
  and ``aspect_ratio`` reports the requested one. Further off, the ratio is accepted
  only when the ``aspect_ratio`` descriptor lists it (the catalog author promised the mapping),
  with a warning, and ``aspect_ratio`` reports the served size's own ratio.
* **FreePixels.** Explicit pixels are **never rounded**: a size off the multiple, edges, pixel
  count or ratio bounds is a 400 that names the bounds and suggests the nearest valid size.
  Explicit pixels keep ``explicit_multiple`` when the catalog sets one (a provider documenting
  a looser rule than the one the gateway rounds to: MAI's own ``768x1365``); derived sizes
  always keep ``multiple``.
  From ratio + tier the target pixel count is ``tier_megapixels[tier]`` (a public tier's
  nominal edge² when the endpoint lists no megapixel tiers), clamped into the pixel and edge
  bounds (with a warning when the clamp bites), then each edge is rounded to the multiple
  (floor or ceil, whichever keeps the ratio closest, then the pixel count). A ratio beyond
  ``max_ratio`` is a 400.
* **RatioTier.** Explicit pixels map to the allowed ratio within 1 % (Gemini's ``1376x768`` →
  16:9), else 400 listing the allowed ratios; no width/height are sent. With ``nearest_ratio``
  (xAI) they map to the nearest allowed ratio however far, with a warning when it is more than
  1 % off (``1792x1024`` → 16:9). Their tier is the nearest by long edge, or, with
  ``tier_above_megapixels`` (xAI), the highest tier whose megapixel threshold they exceed
  (``1536x1024``, 1.57 MP → 2K), else the smallest tier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from app.errors import BadRequest
from app.generation.ratios import (
    MATCH_TOLERANCE,
    PUBLIC_RATIOS,
    TIER_EDGES,
    match_ratio,
    nearest_ratio,
    nearest_tier,
    offered_tiers,
    parse_ratio,
    parse_wxh,
    ratio_label,
    reduced,
    rel_diff,
)
from providers.spec import (
    BooleanDescriptor,
    EndpointSpec,
    EnumDescriptor,
    FixedSizes,
    FreePixels,
    RatioTier,
)

FIXED_TOLERANCE = Fraction(5, 100)  # how far a fixed size may be from the requested ratio
SQUARE = "1:1"


@dataclass(frozen=True, slots=True)
class Target:
    """Who answers, for error messages: ``... is not supported by <provider> for <model>``."""

    provider: str
    model: str

    def reject(
        self, param: str, value: object, allowed: Sequence[object], reason: str | None = None
    ) -> BadRequest:
        message = f"{param} '{value}' is not supported by {self.provider} for {self.model}"
        if reason:
            message += f" ({reason})"
        listed = ", ".join(str(a) for a in allowed) if allowed else "none"
        return BadRequest(f"{message}; allowed: {listed}", param=param, allowed=list(allowed))


@dataclass(frozen=True, slots=True)
class Shape:
    """The request's geometry, endpoint-independent and already self-consistent."""

    ratio: str | None = None  # a public ratio, never "auto"
    tier: str | None = None  # a public tier (or the one implied by pixels, once placed)
    tier_param: str = "resolution"  # the request field the tier came from
    pixels: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """What the endpoint will be asked for."""

    width: int | None = None
    height: int | None = None
    size_wire: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    resolution_wire: str | None = None
    warnings: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------
# Placement per geometry mode
# ------------------------------------------------------------------------------------------


def place(endpoint: EndpointSpec, shape: Shape, target: Target) -> Placement:
    """Turn a shape into the endpoint's own terms; 400 when it cannot be honoured."""
    geometry = endpoint.geometry
    if isinstance(geometry, FixedSizes):
        return _fixed(endpoint, geometry, shape, target)
    if isinstance(geometry, FreePixels):
        return _free(endpoint, geometry, shape, target)
    return _ratio_tier(endpoint, geometry, shape, target)


def _size_of(text: str) -> tuple[int, int]:
    pixels = parse_wxh(text)
    if pixels is None:  # catalog data error, not the caller's: let it surface as a 500
        raise ValueError(f"catalog size {text!r} is not <W>x<H>")
    return pixels


def _ratio_listed(endpoint: EndpointSpec, ratio: str) -> bool:
    desc = endpoint.parameters.get("aspect_ratio")
    return isinstance(desc, EnumDescriptor) and ratio in desc.values


def _fixed_allowed_ratios(endpoint: EndpointSpec, geometry: FixedSizes) -> list[str]:
    desc = endpoint.parameters.get("aspect_ratio")
    if isinstance(desc, EnumDescriptor):
        return list(desc.values)
    labels = (ratio_label(*_size_of(s)) for s in geometry.sizes)
    return list(dict.fromkeys(labels))


def fixed_size_tier(endpoint: EndpointSpec, width: int, height: int) -> str:
    """The tier a fixed size belongs to: the nearest offered tier by long edge."""
    return nearest_tier(max(width, height), offered_tiers(endpoint))


def explicit_tier(
    endpoint: EndpointSpec, width: int, height: int, tiers: Sequence[str]
) -> tuple[str, str]:
    """The tier of the image a caller's ``WxH`` makes among ``tiers``, and why (for a 400).

    ``tiers`` are the endpoint's offered tiers, smallest first. It is the tier of what is
    served, not of what was asked: a fixed-size alias counts as the size it is served as, and a
    ratio geometry with megapixel thresholds (xAI) counts pixels, not the long edge.
    """
    geometry = endpoint.geometry
    slug = endpoint.provider_slug
    if isinstance(geometry, RatioTier) and geometry.tier_above_megapixels:
        return _tier_by_pixels(geometry, width * height, tiers, slug)
    if isinstance(geometry, FixedSizes) and f"{width}x{height}" in geometry.aliases:
        served = geometry.aliases[f"{width}x{height}"]
        long_edge = max(_size_of(served))
        tier = nearest_tier(long_edge, tiers)
        return tier, (
            f"{slug} serves it as {served}, whose long edge {long_edge} is nearest the {tier} tier"
        )
    long_edge = max(width, height)
    tier = nearest_tier(long_edge, tiers)
    return tier, f"its long edge {long_edge} is nearest the {tier} tier of {slug}"


def _tier_by_pixels(
    geometry: RatioTier, pixels: int, tiers: Sequence[str], slug: str
) -> tuple[str, str]:
    """The highest tier whose threshold ``pixels`` exceeds, else the smallest (xAI's "> ~1.5 MP
    → 2k"): the provider picks its tier by output size, and a 1536x1024 is 1.57 MP."""
    thresholds = sorted(
        ((mp, t) for t, mp in geometry.tier_above_megapixels.items() if t in tiers),
        key=lambda item: TIER_EDGES[item[1]],
    )
    passed = [(mp, t) for mp, t in thresholds if pixels > mp * 1_000_000]
    if passed:
        mp, tier = passed[-1]
        return tier, f"its {pixels} pixels are above {mp} MP, where {slug} switches to {tier}"
    if not thresholds:  # catalog checks keep thresholds within the tiers; stay total anyway
        return tiers[0], f"{tiers[0]} is the smallest tier of {slug}"
    mp, above = thresholds[0]
    return tiers[0], f"its {pixels} pixels are not above {mp} MP, where {slug} switches to {above}"


def _tier_sizes(endpoint: EndpointSpec, geometry: FixedSizes, tier: str | None) -> list[str]:
    """The sizes to choose from: those of ``tier`` when the endpoint describes ``resolution``."""
    if tier is None or "resolution" not in endpoint.parameters:
        return list(geometry.sizes)
    in_tier = [s for s in geometry.sizes if fixed_size_tier(endpoint, *_size_of(s)) == tier]
    return in_tier or list(geometry.sizes)


def _nearest_fixed(
    endpoint: EndpointSpec, geometry: FixedSizes, ratio: Fraction, tier: str | None
) -> tuple[int, int]:
    sizes = [_size_of(s) for s in _tier_sizes(endpoint, geometry, tier)]
    goal = TIER_EDGES[tier] ** 2 if tier in TIER_EDGES else None

    def key(i: int) -> tuple[Fraction, int, int]:
        width, height = sizes[i]
        spread = abs(width * height - goal) if goal is not None else 0
        return rel_diff(Fraction(width, height), ratio), spread, i

    return sizes[min(range(len(sizes)), key=key)]


def _fixed_by_ratio(
    endpoint: EndpointSpec, geometry: FixedSizes, shape: Shape, target: Target
) -> tuple[tuple[int, int], str, tuple[str, ...]]:
    """The size nearest the requested ratio, the ratio to report, and any warning."""
    wanted = parse_ratio(shape.ratio or SQUARE)
    tier = shape.tier or endpoint.defaults.get("resolution")
    width, height = _nearest_fixed(endpoint, geometry, wanted, tier)
    off = rel_diff(Fraction(width, height), wanted)
    if shape.ratio is None or off <= FIXED_TOLERANCE:
        return (width, height), shape.ratio or ratio_label(width, height), ()
    if not _ratio_listed(endpoint, shape.ratio):
        raise target.reject("aspect_ratio", shape.ratio, _fixed_allowed_ratios(endpoint, geometry))
    shown = ratio_label(width, height)
    warning = (
        f"aspect_ratio '{shape.ratio}' is served as {width}x{height} ({shown}), the nearest "
        f"size {target.provider} offers"
    )
    return (width, height), shown, (warning,)


def _fixed_pixels(
    geometry: FixedSizes, pixels: tuple[int, int], target: Target
) -> tuple[tuple[int, int], tuple[str, ...]]:
    """A listed size as asked, or the listed size an alias is served as (with a warning)."""
    asked = f"{pixels[0]}x{pixels[1]}"
    if asked in geometry.sizes:
        return pixels, ()
    served = geometry.aliases.get(asked)
    if served is None:
        raise target.reject("size", asked, [*geometry.sizes, *geometry.aliases])
    wire = geometry.wire.get(served)
    sent = f" (sent as '{wire}')" if wire else ""
    warning = (
        f"size '{asked}' is served as {served}{sent}, the size {target.provider} offers for "
        "that aspect ratio"
    )
    return _size_of(served), (warning,)


def _fixed(endpoint: EndpointSpec, geometry: FixedSizes, shape: Shape, target: Target) -> Placement:
    warnings: tuple[str, ...] = ()
    if shape.pixels is not None:
        (width, height), warnings = _fixed_pixels(geometry, shape.pixels, target)
        ratio = shape.ratio or ratio_label(width, height)
    elif shape.ratio is not None or shape.tier is not None:
        (width, height), ratio, warnings = _fixed_by_ratio(endpoint, geometry, shape, target)
    else:
        return Placement()
    key = f"{width}x{height}"
    return Placement(
        width=width,
        height=height,
        size_wire=geometry.wire.get(key, key),
        aspect_ratio=ratio,
        resolution=shape.tier or fixed_size_tier(endpoint, width, height),
        warnings=warnings,
    )


def _ratio_tier(
    endpoint: EndpointSpec, geometry: RatioTier, shape: Shape, target: Target
) -> Placement:
    ratio = shape.ratio
    warnings: tuple[str, ...] = ()
    if shape.pixels is not None and ratio is None:
        ratio, warnings = _pixels_ratio(endpoint, geometry, shape.pixels, shape.tier, target)
    tier = shape.tier
    if tier is not None and tier not in geometry.tiers:
        raise target.reject(shape.tier_param, tier, list(geometry.tiers))
    return Placement(
        aspect_ratio=ratio or geometry.default_ratio,
        resolution=tier,
        resolution_wire=geometry.tiers[tier] if tier is not None else None,
        warnings=warnings,
    )


def _pixels_ratio(
    endpoint: EndpointSpec,
    geometry: RatioTier,
    pixels: tuple[int, int],
    tier: str | None,
    target: Target,
) -> tuple[str, tuple[str, ...]]:
    """The allowed ratio a caller's ``WxH`` is served at, with a warning when it is far off."""
    width, height = pixels
    allowed = _tier_allowed_ratios(endpoint)
    asked = Fraction(width, height)
    ratio = match_ratio(asked, allowed)
    if ratio is not None:
        return ratio, ()
    nearest = nearest_ratio(asked, allowed) if geometry.nearest_ratio else None
    if nearest is None:
        raise target.reject(
            "size",
            f"{width}x{height}",
            allowed,
            reason=f"aspect ratio {reduced(width, height)}; this endpoint takes a ratio, "
            "not pixels",
        )
    at = f" at resolution {tier}" if tier is not None else ""
    warning = (
        f"size '{width}x{height}' (aspect ratio {reduced(width, height)}) is served as "
        f"aspect_ratio '{nearest}'{at}, the nearest ratio {target.provider} offers"
    )
    return nearest, (warning,)


def _tier_allowed_ratios(endpoint: EndpointSpec) -> list[str]:
    desc = endpoint.parameters.get("aspect_ratio")
    if isinstance(desc, EnumDescriptor):
        return [r for r in desc.values if r != "auto"]
    return list(PUBLIC_RATIOS) if isinstance(desc, BooleanDescriptor) else []


# ------------------------------------------------------------------------------------------
# Free pixels
# ------------------------------------------------------------------------------------------


def pixel_problems(geometry: FreePixels, width: int, height: int) -> list[str]:
    """Why ``width x height`` is outside the endpoint's bounds (empty: it is inside)."""
    problems: list[str] = []
    if width % geometry.multiple or height % geometry.multiple:
        problems.append(f"width and height must be multiples of {geometry.multiple}")
    if min(width, height) < geometry.min_edge or max(width, height) > geometry.max_edge:
        problems.append(f"edges must be {geometry.min_edge}..{geometry.max_edge}")
    if not geometry.min_pixels <= width * height <= geometry.max_pixels:
        problems.append(f"total pixels must be {geometry.min_pixels}..{geometry.max_pixels}")
    if Fraction(max(width, height), min(width, height)) > Fraction(geometry.max_ratio):
        problems.append(f"long/short edge ratio must be at most {geometry.max_ratio}")
    return problems


def pixel_bounds(geometry: FreePixels) -> list[str]:
    multiple = geometry.multiple
    return [
        *([f"width and height multiples of {multiple}"] if multiple > 1 else []),
        f"edges {geometry.min_edge}..{geometry.max_edge}",
        f"{geometry.min_pixels}..{geometry.max_pixels} pixels",
        f"long/short edge ratio <= {geometry.max_ratio}",
    ]


def explicit_bounds(geometry: FreePixels) -> FreePixels:
    """The bounds a caller's own ``WxH`` must keep: ``explicit_multiple`` for ``multiple``."""
    multiple = geometry.explicit_multiple
    if multiple is None or multiple == geometry.multiple:
        return geometry
    return geometry.model_copy(update={"multiple": multiple})


def _near_multiples(x: float, multiple: int, radius: int) -> list[int]:
    base = math.floor(x / multiple)
    return [k * multiple for k in range(base - radius, base + radius + 2) if k > 0]


def _ideal_edges(geometry: FreePixels, ratio: Fraction, pixels: int) -> tuple[float, float]:
    """Real-valued edges with the ratio and pixel count, scaled into the edge bounds."""
    width = math.sqrt(pixels * ratio)
    height = width / float(ratio)
    shrink = min(1.0, geometry.max_edge / max(width, height))
    width, height = width * shrink, height * shrink
    grow = max(1.0, geometry.min_edge / min(width, height))
    return width * grow, height * grow


def fit_pixels(geometry: FreePixels, ratio: Fraction, pixels: int) -> tuple[int, int] | None:
    """The valid size nearest ``ratio`` at about ``pixels``; None when no size fits."""
    goal = min(max(pixels, geometry.min_pixels), geometry.max_pixels)
    width, height = _ideal_edges(geometry, ratio, goal)
    for radius in (0, 1, 2):  # floor/ceil first; widen only when bounds exclude both
        candidates = [
            (w, h)
            for w in _near_multiples(width, geometry.multiple, radius)
            for h in _near_multiples(height, geometry.multiple, radius)
            if not pixel_problems(geometry, w, h)
        ]
        if candidates:
            return min(
                candidates,
                key=lambda c: (rel_diff(Fraction(c[0], c[1]), ratio), abs(c[0] * c[1] - goal)),
            )
    return None


def _target_pixels(geometry: FreePixels, shape: Shape, target: Target) -> tuple[str, int]:
    tier = shape.tier or geometry.default_tier
    megapixels = geometry.tier_megapixels.get(tier)
    if megapixels is not None:
        return tier, int(megapixels * 1_000_000)
    if shape.tier is not None and geometry.tier_megapixels:
        raise target.reject(shape.tier_param, tier, list(geometry.tier_megapixels))
    edge = TIER_EDGES.get(tier, TIER_EDGES["1K"])
    return tier, edge * edge


def _check_free_ratio(geometry: FreePixels, ratio: str, target: Target) -> Fraction:
    value = parse_ratio(ratio)
    limit = Fraction(geometry.max_ratio)
    if max(value, 1 / value) > limit:
        allowed = [r for r in PUBLIC_RATIOS if max(parse_ratio(r), 1 / parse_ratio(r)) <= limit]
        raise target.reject(
            "aspect_ratio",
            ratio,
            allowed,
            reason=f"long/short edge ratio above {geometry.max_ratio}",
        )
    return value


def _explicit_pixels(geometry: FreePixels, width: int, height: int, target: Target) -> None:
    problems = pixel_problems(geometry, width, height)
    if not problems:
        return
    reason = "; ".join(problems)
    ratio = Fraction(width, height)
    if max(ratio, 1 / ratio) <= Fraction(geometry.max_ratio):
        suggestion = fit_pixels(geometry, ratio, width * height)
        if suggestion is not None:
            reason += f"; nearest valid: {suggestion[0]}x{suggestion[1]}"
    raise target.reject("size", f"{width}x{height}", pixel_bounds(geometry), reason=reason)


def _free(endpoint: EndpointSpec, geometry: FreePixels, shape: Shape, target: Target) -> Placement:
    if shape.pixels is not None:
        width, height = shape.pixels
        _explicit_pixels(explicit_bounds(geometry), width, height, target)
        return Placement(
            width=width,
            height=height,
            aspect_ratio=shape.ratio or ratio_label(width, height),
            resolution=shape.tier,
        )
    if shape.ratio is None and shape.tier is None:
        return Placement()
    ratio = _check_free_ratio(geometry, shape.ratio or SQUARE, target)
    tier, goal = _target_pixels(geometry, shape, target)
    fitted = fit_pixels(geometry, ratio, goal)
    if fitted is None:
        raise target.reject(
            "aspect_ratio",
            shape.ratio or SQUARE,
            pixel_bounds(geometry),
            reason=f"no size at resolution {tier} fits the endpoint's bounds",
        )
    width, height = fitted
    return Placement(
        width=width,
        height=height,
        aspect_ratio=shape.ratio or SQUARE,
        resolution=tier,
        warnings=_fit_warnings(geometry, shape, tier, goal, fitted, target),
    )


def _fit_warnings(
    geometry: FreePixels,
    shape: Shape,
    tier: str,
    goal: int,
    fitted: tuple[int, int],
    target: Target,
) -> tuple[str, ...]:
    width, height = fitted
    warnings: list[str] = []
    if abs(Fraction(width * height, goal) - 1) > Fraction(1, 10):
        warnings.append(
            f"resolution {tier} aims at {goal} pixels but {target.provider} allows "
            f"{geometry.min_pixels}..{geometry.max_pixels} pixels and edges up to "
            f"{geometry.max_edge}; the image is {width}x{height}"
        )
    ratio = shape.ratio or SQUARE
    if rel_diff(Fraction(width, height), parse_ratio(ratio)) > MATCH_TOLERANCE:
        warnings.append(
            f"aspect_ratio '{ratio}' is served as {width}x{height} ({ratio_label(width, height)}) "
            f"to fit multiples of {geometry.multiple}"
        )
    return tuple(warnings)
