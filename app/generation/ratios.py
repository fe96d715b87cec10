"""Aspect ratios and resolution tiers: parsing, matching, labels and the tiers an endpoint offers.

Pure helpers shared by :mod:`app.generation.normalize` and :mod:`app.generation.geometry`.
Ratios are exact :class:`~fractions.Fraction` values (``"2.35:1"`` and ``"9:19.5"`` included);
two ratios are "the same" within :data:`MATCH_TOLERANCE` (1 %). The functions are pure and
their inputs few (catalog sizes and ratios), so the hot ones are memoized: exact Fraction
arithmetic on every request was a tenth of the gateway's CPU per generation.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from fractions import Fraction

from app.generation.request import ASPECT_RATIOS
from providers.spec import EndpointSpec, EnumDescriptor, FreePixels, RatioTier

TIER_EDGES: dict[str, int] = {  # nominal long edge of each public resolution tier
    "512": 512,
    "768": 768,
    "1K": 1024,
    "1.5K": 1536,
    "2K": 2048,
    "4K": 4096,
}
MATCH_TOLERANCE = Fraction(1, 100)  # "same ratio": size vs aspect_ratio, WxH → ratio label
PUBLIC_RATIOS: tuple[str, ...] = tuple(r for r in ASPECT_RATIOS if r != "auto")
_WXH = re.compile(r"([1-9][0-9]{0,4})[xX]([1-9][0-9]{0,4})")


@functools.lru_cache(maxsize=1024)
def parse_ratio(text: str) -> Fraction:
    """``"16:9"`` → 16/9; ``"2.35:1"`` and ``"9:19.5"`` are exact too."""
    width, height = text.split(":")
    return Fraction(width) / Fraction(height)


def rel_diff(a: Fraction, b: Fraction) -> Fraction:
    """How far apart two ratios are, symmetric: ``max/min - 1``."""
    return max(a, b) / min(a, b) - 1


def reduced(width: int, height: int) -> str:
    g = math.gcd(width, height)
    return f"{width // g}:{height // g}"


def match_ratio(ratio: Fraction, names: Sequence[str]) -> str | None:
    """The name in ``names`` nearest to ``ratio`` if within :data:`MATCH_TOLERANCE`."""
    return _match_ratio(ratio, tuple(names))


@functools.lru_cache(maxsize=4096)
def _match_ratio(ratio: Fraction, names: tuple[str, ...]) -> str | None:
    best = _nearest_ratio(ratio, names)
    if best is None or rel_diff(parse_ratio(best), ratio) > MATCH_TOLERANCE:
        return None
    return best


def nearest_ratio(ratio: Fraction, names: Sequence[str]) -> str | None:
    """The name in ``names`` nearest to ``ratio``, however far (first on a tie; None if empty)."""
    return _nearest_ratio(ratio, tuple(names))


@functools.lru_cache(maxsize=4096)
def _nearest_ratio(ratio: Fraction, names: tuple[str, ...]) -> str | None:
    return min(names, key=lambda n: rel_diff(parse_ratio(n), ratio), default=None)


@functools.lru_cache(maxsize=4096)
def ratio_label(width: int, height: int) -> str:
    """The public ratio a size shows (within 1 %), else its reduced ``W:H``."""
    return match_ratio(Fraction(width, height), PUBLIC_RATIOS) or reduced(width, height)


def nearest_tier(long_edge: int, tiers: Sequence[str]) -> str:
    return min(tiers, key=lambda t: (abs(TIER_EDGES[t] - long_edge), TIER_EDGES[t]))


def offered_tiers(endpoint: EndpointSpec) -> tuple[str, ...]:
    """Public tiers the endpoint offers, smallest first; () when it has no tier knob at all."""
    geometry = endpoint.geometry
    declared: Sequence[str] = ()
    if isinstance(geometry, RatioTier):
        declared = tuple(geometry.tiers)
        if not declared:
            return ()
    elif isinstance(geometry, FreePixels):
        declared = tuple(geometry.tier_megapixels)
    if not declared:
        desc = endpoint.parameters.get("resolution")
        declared = desc.values if isinstance(desc, EnumDescriptor) else ()
    public = tuple(t for t in TIER_EDGES if t in declared)
    return public or tuple(TIER_EDGES)


def parse_wxh(text: str) -> tuple[int, int] | None:
    match = _WXH.fullmatch(text)
    return (int(match[1]), int(match[2])) if match else None
