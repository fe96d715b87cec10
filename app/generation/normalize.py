"""Descriptor-driven normalization: one public request × one endpoint → the call's parameters.

``normalize(request, endpoint)`` either returns a :class:`Normalized` (everything a
:class:`providers.spec.GenerateCall` needs except prompt, images, stream flag and request id)
or raises :class:`app.errors.BadRequest` naming the parameter, the value and the allowed values.
It is pure: no I/O, no await.

Order: canonical values (the public enums of ``app.generation.request``), then the ``size``
shorthand folded into a :class:`~app.generation.geometry.Shape` (reference §2.2), then the
endpoint's descriptors, then the geometry (:mod:`app.generation.geometry`), then the other
parameters, ``n``, references and ``provider.options``.

Choices where the providers' documents leave room ("never guess, never swallow", see
docs/architecture.md):

* **Size syntax.** ``size`` is a public tier (exactly as the ``resolution`` enum spells it:
  ``"2K"``, not ``"2k"``) or ``<W>x<H>`` with ``x`` or ``X``, positive integers without leading
  zeros or spaces. Anything else (``"auto"``, ``"1024*1024"``) is a 400.
* **Ratio matching.** Two ratios match when ``max/min - 1 <= 1 %`` (exact fractions, no floats).
  An explicit ``WxH`` that contradicts an explicit ``aspect_ratio`` by more is a 400.
* **WxH → tier** is the nearest tier by long edge (512, 768, 1K≈1024, 1.5K≈1536, 2K≈2048,
  4K≈4096), ties going to the smaller tier, chosen **among the tiers the endpoint offers** (its
  ratio tiers, its megapixel tiers, else its ``resolution`` enum, else all public tiers). So
  Gemini's own 1K size ``1376x768`` counts as 1K there rather than 1.5K, a tier Gemini lacks.
  It is the tier of what is served (:func:`~app.generation.geometry.explicit_tier`): a
  fixed-size alias counts as the size it is served as, and an endpoint with megapixel
  thresholds (xAI: above 1.5 MP is 2K) counts pixels instead of the long edge.
  A ``resolution`` given together with ``WxH`` must equal that tier, else 400.
* A request field the endpoint has no descriptor for is a 400 — except ``quality`` and
  ``output_compression``, which the reference says providers without the knob ignore: they are
  dropped with a warning. ``output_compression`` is also dropped (with a warning) unless
  ``output_format`` is explicitly ``jpeg`` or ``webp``, since png/svg ignore it and the
  providers' default format is png or unknown.
* ``"auto"`` (``aspect_ratio``, ``quality``, ``background``) means "the provider's choice": it is
  sent only when the endpoint's enum lists ``auto``, and otherwise treated as absent, never a 400.
* ``size`` needs no descriptor: it is shorthand for ``resolution`` + ``aspect_ratio`` (or
  pixels) and those are checked. An ``enum`` descriptor on ``size`` additionally restricts
  explicit ``WxH`` values.
* ``n`` defaults to 1; ``n > 1`` needs an ``n`` descriptor. Batches are greedy: full batches of
  ``max_images_per_call``, then the remainder (7 at 4 per call → 4, 3). An endpoint whose
  provider caps references + images per call (``max_images_with_references``) gets smaller
  batches when the request carries references.
* ``background: transparent`` with ``output_format: jpeg`` is a 400 on every endpoint; with
  ``svg`` it is allowed (vector output has no opaque canvas).
* ``provider.options``: only the entry under the endpoint's slug is read; a key outside the
  endpoint's ``passthrough`` is a 400 (OpenRouter drops them silently; we don't). Values are
  passed as given: the catalog types keys, not values.
* ``pricing_params`` holds the normalized values billing matches ``PricingLine.when`` against:
  ``resolution``, ``quality``, ``aspect_ratio`` and ``size`` (``WxH``), each only when known.
  A parameter left to the provider's default is absent, so a price that depends on it needs an
  unconditioned line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, TypeVar

from app.errors import BadRequest
from app.generation.geometry import Placement, Shape, Target, explicit_tier, place
from app.generation.ratios import (
    MATCH_TOLERANCE,
    TIER_EDGES,
    offered_tiers,
    parse_ratio,
    parse_wxh,
    ratio_label,
    rel_diff,
)
from app.generation.request import (
    ASPECT_RATIOS,
    BACKGROUNDS,
    OUTPUT_FORMATS,
    QUALITIES,
    RESOLUTIONS,
    ImageGenerationRequest,
)
from providers.spec import EndpointSpec, EnumDescriptor, FixedSizes, RangeDescriptor

T = TypeVar("T", str, int)

COMPRESSIBLE_FORMATS = ("jpeg", "webp")
MAX_N = 10


@dataclass(frozen=True, slots=True)
class Normalized:
    """A request fitted to one endpoint: what the adapter sends, what billing matches."""

    width: int | None = None
    height: int | None = None
    size_wire: str | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None  # public tier ("1K", ...)
    resolution_wire: str | None = None  # the provider's spelling of the tier
    quality: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    background: str | None = None
    seed: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    batches: tuple[int, ...] = (1,)  # images per upstream call; sums to n
    warnings: tuple[str, ...] = ()
    pricing_params: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return sum(self.batches)


# Requests of the same shape are fitted to an endpoint the same way: the result (frozen) is
# kept per endpoint and request shape, bounded, for requests without passthrough options or a
# mask (whose checks read more than the shape). A request that cannot be honoured is refused
# anew every time. On the benchmark machine this took a tiny request's normalization from
# ~48 µs to a dictionary lookup (see bench/RESULTS.md).
_FITTED: dict[tuple[object, ...], tuple[EndpointSpec, Normalized]] = {}
_FITTED_MAX = 4096


def normalize(request: ImageGenerationRequest, endpoint: EndpointSpec) -> Normalized:
    """Fit ``request`` to ``endpoint``; raise :class:`BadRequest` when it cannot be honoured."""
    key = _shape_key(request, endpoint)
    if key is None:
        return fit(request, endpoint)
    found = _FITTED.get(key)
    if found is not None and found[0] is endpoint:
        return found[1]
    fitted = fit(request, endpoint)
    if len(_FITTED) >= _FITTED_MAX:
        _FITTED.clear()
    _FITTED[key] = (endpoint, fitted)  # the endpoint is held: its id names no other meanwhile
    return fitted


def _shape_key(
    request: ImageGenerationRequest, endpoint: EndpointSpec
) -> tuple[object, ...] | None:
    """Everything :func:`fit` reads of ``request``, or None when it reads more (options, a
    mask)."""
    if request.mask is not None or (request.provider is not None and request.provider.options):
        return None
    return (
        id(endpoint),
        request.model,
        request.aspect_ratio,
        request.resolution,
        request.size,
        request.quality,
        request.output_format,
        request.output_compression,
        request.background,
        request.seed,
        request.n,
        len(request.input_references or ()),
    )


def fit(request: ImageGenerationRequest, endpoint: EndpointSpec) -> Normalized:
    """:func:`normalize`, computed."""
    target = Target(endpoint.provider_slug, request.model)
    check_canonical(request)
    shape = request_shape(request.aspect_ratio, request.resolution, request.size)
    _check_shape(shape, endpoint, target)
    placement = place(endpoint, with_pixel_tier(shape, endpoint), target)
    quality, quality_warnings = _quality(request.quality, endpoint, target)
    output_format = _checked(endpoint, target, "output_format", request.output_format)
    compression, compression_warnings = _compression(
        request.output_compression, output_format, endpoint, target
    )
    background = _auto_or_checked(endpoint, target, "background", request.background)
    seed = _checked(endpoint, target, "seed", request.seed)
    _check_references(len(request.input_references or ()), endpoint, target)
    _check_mask(request, endpoint, target)
    n = _checked_n(request.n, endpoint, target)
    return Normalized(
        width=placement.width,
        height=placement.height,
        size_wire=placement.size_wire,
        aspect_ratio=placement.aspect_ratio,
        resolution=placement.resolution,
        resolution_wire=placement.resolution_wire,
        quality=quality,
        output_format=output_format,
        output_compression=compression,
        background=background,
        seed=seed,
        options=_options(request, endpoint, target),
        batches=split_batches(n, images_per_call(endpoint, len(request.input_references or ()))),
        warnings=placement.warnings + quality_warnings + compression_warnings,
        pricing_params=_pricing_params(placement, quality),
    )


# ------------------------------------------------------------------------------------------
# Canonical values (endpoint-independent)
# ------------------------------------------------------------------------------------------

_CANONICAL: dict[str, tuple[str, ...]] = {
    "aspect_ratio": tuple(ASPECT_RATIOS),
    "resolution": RESOLUTIONS,
    "quality": QUALITIES,
    "output_format": OUTPUT_FORMATS,
    "background": BACKGROUNDS,
}


def check_canonical(request: ImageGenerationRequest) -> None:
    """Values outside the public enums, and endpoint-independent contradictions → 400."""
    for param, allowed in _CANONICAL.items():
        value = getattr(request, param)
        if value is not None and value not in allowed:
            raise BadRequest(
                f"{param} '{value}' is not a valid {param}; allowed: {', '.join(allowed)}",
                param=param,
                allowed=list(allowed),
            )
    if request.n is not None and not 1 <= request.n <= MAX_N:
        raise BadRequest(
            f"n '{request.n}' is out of range; allowed: 1..{MAX_N}",
            param="n",
            allowed=[f"1..{MAX_N}"],
        )
    if request.background == "transparent" and request.output_format == "jpeg":
        raise BadRequest(
            "background 'transparent' needs an output_format with alpha (png, webp), not "
            "'jpeg'; allowed: auto, opaque",
            param="background",
            allowed=["auto", "opaque"],
        )


# ------------------------------------------------------------------------------------------
# The request's shape (reference §2.2), before any endpoint is considered
# ------------------------------------------------------------------------------------------


def request_shape(aspect_ratio: str | None, resolution: str | None, size: str | None) -> Shape:
    """Fold ``size`` into ratio/tier/pixels; 400 on malformed or conflicting values."""
    ratio = None if aspect_ratio in (None, "auto") else aspect_ratio
    if size is None:
        return Shape(ratio=ratio, tier=resolution)
    if size in TIER_EDGES:
        if resolution is not None and resolution != size:
            raise BadRequest(
                f"resolution '{resolution}' conflicts with size '{size}' (a tier size sets the "
                f"resolution); allowed: {size}",
                param="resolution",
                allowed=[size],
            )
        return Shape(
            ratio=ratio, tier=size, tier_param="size" if resolution is None else "resolution"
        )
    pixels = parse_wxh(size)
    if pixels is None:
        allowed = [*TIER_EDGES, "<W>x<H>"]
        raise BadRequest(
            f"size '{size}' is not a valid size: use a tier or <W>x<H> pixels; allowed: "
            + ", ".join(allowed),
            param="size",
            allowed=allowed,
        )
    width, height = pixels
    if (
        ratio is not None
        and rel_diff(Fraction(width, height), parse_ratio(ratio)) > MATCH_TOLERANCE
    ):
        shown = ratio_label(width, height)
        raise BadRequest(
            f"aspect_ratio '{ratio}' conflicts with size '{width}x{height}' (aspect ratio "
            f"{shown}; explicit pixels are authoritative); allowed: {shown}",
            param="aspect_ratio",
            allowed=[shown],
        )
    return Shape(ratio=ratio, tier=resolution, pixels=pixels)


def with_pixel_tier(shape: Shape, endpoint: EndpointSpec) -> Shape:
    """Give explicit pixels their tier; a different explicit ``resolution`` is a 400."""
    tiers = offered_tiers(endpoint)
    if shape.pixels is None or not tiers:
        return shape
    width, height = shape.pixels
    implied, why = explicit_tier(endpoint, width, height, tiers)
    if shape.tier is None:
        return replace(shape, tier=implied)
    if shape.tier != implied:
        raise BadRequest(
            f"resolution '{shape.tier}' conflicts with size '{width}x{height}' ({why}); "
            f"allowed: {implied}",
            param="resolution",
            allowed=[implied],
        )
    return shape


# ------------------------------------------------------------------------------------------
# Descriptor checks
# ------------------------------------------------------------------------------------------


def _check_value(
    endpoint: EndpointSpec, target: Target, key: str, value: str | int, param: str | None = None
) -> None:
    """``value`` must fit the endpoint's descriptor for ``key`` (absent: unsupported)."""
    param = param or key
    desc = endpoint.parameters.get(key)
    if desc is None:
        raise target.reject(param, value, [], reason=f"this endpoint has no {key} parameter")
    if isinstance(desc, EnumDescriptor) and str(value) not in desc.values:
        raise target.reject(param, value, list(desc.values))
    if isinstance(desc, RangeDescriptor) and not (
        isinstance(value, int) and desc.min <= value <= desc.max
    ):
        raise target.reject(param, value, [f"{desc.min}..{desc.max}"])


def _checked(endpoint: EndpointSpec, target: Target, key: str, value: T | None) -> T | None:
    if value is not None:
        _check_value(endpoint, target, key, value)
    return value


def _check_shape(shape: Shape, endpoint: EndpointSpec, target: Target) -> None:
    """The caller's own ratio, tier and pixels against the descriptors."""
    if shape.ratio is not None:
        if isinstance(endpoint.geometry, FixedSizes):
            # Membership is decided by the size list (5 % rule) in geometry; presence here.
            if "aspect_ratio" not in endpoint.parameters:
                raise target.reject(
                    "aspect_ratio",
                    shape.ratio,
                    [],
                    reason="this endpoint has no aspect_ratio parameter",
                )
        else:
            _check_value(endpoint, target, "aspect_ratio", shape.ratio)
    if shape.tier is not None:
        _check_value(endpoint, target, "resolution", shape.tier, param=shape.tier_param)
    desc = endpoint.parameters.get("size")
    if shape.pixels is not None and isinstance(desc, EnumDescriptor):
        width, height = shape.pixels
        allowed = [v for v in desc.values if parse_wxh(v) is not None]
        if (width, height) not in {parse_wxh(v) for v in allowed}:
            raise target.reject("size", f"{width}x{height}", allowed)


def _auto_or_checked(
    endpoint: EndpointSpec, target: Target, key: str, value: str | None
) -> str | None:
    """``auto`` passes when the endpoint lists it and is dropped otherwise."""
    if value == "auto":
        desc = endpoint.parameters.get(key)
        return value if isinstance(desc, EnumDescriptor) and "auto" in desc.values else None
    return _checked(endpoint, target, key, value)


def _quality(
    quality: str | None, endpoint: EndpointSpec, target: Target
) -> tuple[str | None, tuple[str, ...]]:
    if quality is None or "quality" in endpoint.parameters:
        return _auto_or_checked(endpoint, target, "quality", quality), ()
    if quality == "auto":
        return None, ()
    return None, (
        f"quality '{quality}' ignored: {target.provider} has no quality setting for {target.model}",
    )


def _compression(
    compression: int | None, output_format: str | None, endpoint: EndpointSpec, target: Target
) -> tuple[int | None, tuple[str, ...]]:
    if compression is None:
        return None, ()
    if "output_compression" not in endpoint.parameters:
        return None, (
            f"output_compression '{compression}' ignored: {target.provider} has no compression "
            f"setting for {target.model}",
        )
    if output_format not in COMPRESSIBLE_FORMATS:
        shown = f"'{output_format}'" if output_format else "not set (provider default)"
        return None, (
            f"output_compression '{compression}' ignored: it applies to jpeg and webp output "
            f"only, and output_format is {shown}",
        )
    _check_value(endpoint, target, "output_compression", compression)
    return compression, ()


def _check_references(count: int, endpoint: EndpointSpec, target: Target) -> None:
    if count:
        _check_value(endpoint, target, "input_references", count)


def _check_mask(request: ImageGenerationRequest, endpoint: EndpointSpec, target: Target) -> None:
    if request.mask is None:
        return
    if not endpoint.accepts_mask:
        raise target.reject("mask", "mask", [], reason="this endpoint takes no mask")
    if not request.input_references:
        raise BadRequest("mask needs an input image to apply to", param="mask")


def _checked_n(n: int | None, endpoint: EndpointSpec, target: Target) -> int:
    n = 1 if n is None else n
    if "n" in endpoint.parameters:
        _check_value(endpoint, target, "n", n)
    elif n != 1:
        raise target.reject("n", n, [1], reason="this endpoint makes one image per request")
    return n


def images_per_call(endpoint: EndpointSpec, references: int) -> int:
    """``max_images_per_call``, shrunk so references + images fit a combined upstream cap."""
    per_call = endpoint.max_images_per_call
    cap = endpoint.max_images_with_references
    if cap is not None:
        per_call = max(1, min(per_call, cap - references))
    return per_call


def split_batches(n: int, per_call: int) -> tuple[int, ...]:
    """``n`` images as upstream calls of at most ``per_call`` each: full ones, then the rest."""
    full, rest = divmod(n, per_call)
    return (per_call,) * full + ((rest,) if rest else ())


def _options(
    request: ImageGenerationRequest, endpoint: EndpointSpec, target: Target
) -> dict[str, Any]:
    """``provider.options[<slug>]`` for this endpoint, restricted to its passthrough keys."""
    options = request.provider.options if request.provider else None
    mine = (options or {}).get(endpoint.provider_slug) or {}
    unknown = sorted(set(mine) - set(endpoint.passthrough))
    if unknown:
        param = f"provider.options.{endpoint.provider_slug}"
        raise target.reject(
            param,
            ", ".join(unknown),
            list(endpoint.passthrough),
            reason="unknown passthrough key" + ("s" if len(unknown) > 1 else ""),
        )
    return dict(mine)


def _pricing_params(placement: Placement, quality: str | None) -> dict[str, str]:
    params = {
        "resolution": placement.resolution,
        "quality": quality,
        "aspect_ratio": placement.aspect_ratio,
        "size": f"{placement.width}x{placement.height}" if placement.width else None,
    }
    return {k: v for k, v in params.items() if v is not None}


__all__ = [
    "Normalized",
    "check_canonical",
    "fit",
    "images_per_call",
    "normalize",
    "split_batches",
]
