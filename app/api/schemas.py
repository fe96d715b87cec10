"""Public request schema of ``POST /api/v1/images``.

The OpenRouter Images API request *is* the gateway's internal request
(:mod:`app.generation.request`); the other doors (chat completions, the OpenAI-compatible
images API) translate their own shapes into it at their edge.
"""

from __future__ import annotations

from app.generation.request import (
    ASPECT_RATIOS,
    BACKGROUNDS,
    OUTPUT_FORMATS,
    QUALITIES,
    RESOLUTIONS,
    ImageGenerationRequest,
    ImageUrl,
    InputReference,
    ProviderPreferences,
    SortConfig,
)

__all__ = [
    "ASPECT_RATIOS",
    "BACKGROUNDS",
    "OUTPUT_FORMATS",
    "QUALITIES",
    "RESOLUTIONS",
    "ImageGenerationRequest",
    "ImageUrl",
    "InputReference",
    "ProviderPreferences",
    "SortConfig",
]
