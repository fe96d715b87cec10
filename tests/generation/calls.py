"""The upstream call the gateway makes for a public request, for adapter tests of size rules."""

from __future__ import annotations

from typing import Any

from app.generation.normalize import Normalized, normalize
from app.generation.request import ImageGenerationRequest
from providers.spec import EndpointSpec, GenerateCall


def planned_call(
    endpoint: EndpointSpec, model_id: str, **fields: Any
) -> tuple[Normalized, GenerateCall]:
    """Normalize a request for ``endpoint`` and build its call as the executor does.

    The fields copied are those ``app.generation.service`` puts in a :class:`GenerateCall`
    (prompt "a red fox", one batch of ``n``), so an adapter test sees what a real request sends.
    """
    request = ImageGenerationRequest.model_validate(
        {"model": model_id, "prompt": "a red fox", **fields}
    )
    norm = normalize(request, endpoint)
    call = GenerateCall(
        endpoint=endpoint,
        prompt=request.prompt,
        n=norm.n,
        width=norm.width,
        height=norm.height,
        size_wire=norm.size_wire,
        aspect_ratio=norm.aspect_ratio,
        resolution=norm.resolution,
        resolution_wire=norm.resolution_wire,
        quality=norm.quality,
        output_format=norm.output_format,
        output_compression=norm.output_compression,
        background=norm.background,
        seed=norm.seed,
        options=dict(norm.options),
    )
    return norm, call
