"""The upstream call the gateway makes for a public request, for adapter tests of size rules."""

from __future__ import annotations

from typing import Any

from app.generation.normalize import Normalized, normalize
from app.generation.request import ImageGenerationRequest
from app.generation.service import upstream_call
from providers.spec import EndpointSpec, GenerateCall


def planned_call(
    endpoint: EndpointSpec, model_id: str, **fields: Any
) -> tuple[Normalized, GenerateCall]:
    """Normalize a request for ``endpoint`` and build its call as the executor does (prompt
    "a red fox", one batch of ``n``), so an adapter test sees what a real request sends."""
    request = ImageGenerationRequest.model_validate(
        {"model": model_id, "prompt": "a red fox", **fields}
    )
    norm = normalize(request, endpoint)
    return norm, upstream_call(endpoint, norm, request.prompt, norm.n)
