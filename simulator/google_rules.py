"""Gemini image models: what each accepts, what it returns, what it reports (reference §1-§3).

Pure data and functions. Choices where the reference is unsure are marked "Choice".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.render import ImageFormat

STANDARD_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
EXTREME_RATIOS = ("1:4", "4:1", "1:8", "8:1")
IMAGE_SIZES = ("512", "1K", "2K", "4K")  # every spelling the API knows; uppercase K only
INPUT_MIME_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
MAX_INLINE_IMAGES = 14  # Choice: the 3.x limit, applied to 2.5 too (its ~3 is a recommendation)
MAX_REQUEST_BYTES = 20 * 1024 * 1024  # "~20 MB" total inline request [DOCS/INF]
THINKING_LEVELS = ("MINIMAL", "HIGH")  # 3.1 flash and flash-lite [DOCS via 3P]

# Output pixels at 1K of the 3.x models (Google's published table for 3 Pro Image); other tiers
# scale it (512: half, 2K: double, 4K: four times). Choice for the 3.1-only extreme ratios: the
# 1K pixel budget at that exact ratio, multiples of 16.
GEMINI3_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (368, 2944),
    "8:1": (2944, 368),
}
# Gemini 2.5 Flash Image's published sizes (1K only; imageSize is not honoured).
GEMINI25: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
TIER_SCALE = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}


@dataclass(frozen=True)
class ModelRules:
    """One Gemini image model as the simulator serves it."""

    sizes: tuple[str, ...]  # imageSize values honoured; empty: any valid value is ignored (1K)
    ratios: tuple[str, ...]
    image_tokens: dict[str, int]  # output tokens per image, by tier (§3 table)
    input_image_tokens: int  # per reference image
    fmt: ImageFormat  # what the model answers with (§10: JPEG for 3.x, PNG for 2.5)
    thinking_levels: tuple[str, ...] = ()  # empty: thinkingLevel is a 400
    # Thinking tokens reported when the model thinks (Pro always; flash at level HIGH).
    thoughts_tokens: int = 0
    always_thinks: bool = False
    # Output tokens the model reports beyond its image and text parts, as the live fixtures
    # show (3.1 flash: 1392 candidates for a 1120-token image and no text; Pro: 1219 for 1120).
    hidden_tokens: int = 0

    def pixels(self, ratio: str, tier: str) -> tuple[int, int]:
        """The output size for a ratio and tier (``tier`` already checked against ``sizes``)."""
        if not self.sizes:
            return GEMINI25[ratio]
        width, height = GEMINI3_1K[ratio]
        scale = TIER_SCALE[tier]
        return _mult16(width * scale), _mult16(height * scale)


def _mult16(value: float) -> int:
    return max(16, round(value / 16) * 16)


_FLASH = ModelRules(
    sizes=("512", "1K", "2K", "4K"),
    ratios=STANDARD_RATIOS + EXTREME_RATIOS,
    image_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
    input_image_tokens=1120,
    fmt="jpeg",
    thinking_levels=THINKING_LEVELS,
    thoughts_tokens=244,
    hidden_tokens=272,
)
_FLASH_LITE = ModelRules(
    sizes=("1K",),
    ratios=STANDARD_RATIOS + EXTREME_RATIOS,
    image_tokens={"1K": 1120},  # Choice: ≈$0.034 at ≈$30/M (§7) is ~1120 tokens
    input_image_tokens=1120,
    fmt="jpeg",
    thinking_levels=THINKING_LEVELS,
    thoughts_tokens=120,
)
_PRO = ModelRules(
    sizes=("1K", "2K", "4K"),
    ratios=STANDARD_RATIOS,
    image_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
    input_image_tokens=1120,  # Choice: as 3.1 flash (the reference gives no Pro figure)
    fmt="jpeg",
    thoughts_tokens=167,
    always_thinks=True,
    hidden_tokens=99,
)
_NANO_BANANA = ModelRules(
    sizes=(),
    ratios=STANDARD_RATIOS,
    image_tokens={"1K": 1290},
    input_image_tokens=258,  # Choice: the Gemini 2.x per-image input rate [INF]
    fmt="png",
)

MODELS: dict[str, ModelRules] = {
    "gemini-3.1-flash-image": _FLASH,
    "gemini-3.1-flash-image-preview": _FLASH,
    "gemini-3.1-flash-lite-image": _FLASH_LITE,
    "gemini-3-pro-image": _PRO,
    "gemini-3-pro-image-preview": _PRO,
    "nano-banana-pro-preview": _PRO,
    "gemini-2.5-flash-image": _NANO_BANANA,
    "gemini-2.5-flash-image-preview": _NANO_BANANA,
}


def text_tokens(text: str) -> int:
    """Choice: about four characters per token, at least one for any text."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def nearest_ratio(width: int, height: int, ratios: tuple[str, ...]) -> str:
    """The supported ratio closest to an input image's (the default with references, §1)."""

    def distance(name: str) -> float:
        w, h = (int(x) for x in name.split(":"))
        return abs(math.log((w / h) / (width / height)))

    return min(ratios, key=distance)
