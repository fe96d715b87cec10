"""General model discovery: ``GET /api/v1/models`` (OpenRouter's shape) and ``GET /v1/models``.

Both list what this deployment can serve (the same rule as ``/api/v1/images/models``). Choices
where OpenRouter's models API does not fit an image-only gateway:

* ``output_modalities`` defaults to ``all`` here (OpenRouter defaults to ``text``, which would
  hide every image model); ``text``, ``image`` or a comma list filter as on OpenRouter.
* ``pricing`` comes from the model's first servable endpoint, as strings in USD:
  ``prompt``/``completion`` per text token, ``image_token`` per input image token,
  ``image_output`` per output image token, ``image`` per output image (per-megapixel prices at
  1 MP: a per-image line and a per-megapixel line add up), ``request`` per request. A price with
  variants (quality or resolution tiers) shows its cheapest variant;
  ``/api/v1/images/models/{id}/endpoints`` lists every line.
* ``supported_parameters`` names the image parameters the model accepts, plus ``modalities``
  and ``image_config`` (chat completions) and ``provider``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from app.api.models import model_created, servable, union_parameters
from app.errors import BadRequest
from app.state import AppState
from providers.spec import EndpointSpec, ModelSpec

router = APIRouter()

_PRICE_KEYS = {
    ("input_text", "token"): "prompt",
    ("output_text", "token"): "completion",
    ("input_image", "token"): "image_token",
    ("input_reference", "token"): "image_token",
    ("output_image", "token"): "image_output",
    ("output_image", "image"): "image",
    ("output_image", "megapixel"): "image",
    ("output_image", "request"): "request",
}


PAGING = ("offset", "limit")


def _price_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def pricing(endpoint: EndpointSpec) -> dict[str, str]:
    """OpenRouter's ``pricing`` object (strings) for one endpoint's lines."""
    cheapest: dict[str, Decimal] = {}  # of the lines that apply to one variant only
    always: dict[str, Decimal] = {}  # lines without a condition add up (FLUX.2: 1st MP + MP)
    for line in endpoint.pricing:
        key = _PRICE_KEYS.get((line.billable, line.unit))
        if key is None:
            continue
        if line.when:
            cheapest[key] = min(cheapest.get(key, line.cost_usd), line.cost_usd)
        else:
            always[key] = always.get(key, Decimal(0)) + line.cost_usd
    merged = {
        key: always.get(key, Decimal(0)) + cheapest.get(key, Decimal(0))
        for key in always.keys() | cheapest.keys()
    }
    out = {"prompt": "0", "completion": "0"}
    out.update({k: _price_text(v) for k, v in merged.items()})
    return out


def _modality(model: ModelSpec) -> str:
    return f"{'+'.join(model.input_modalities)}->{'+'.join(model.output_modalities)}"


def supported_parameters(model: ModelSpec) -> list[str]:
    """What a model's entry lists under ``supported_parameters`` (and what the filter of the
    same name matches): its public parameters and the chat-completion keys every model takes."""
    return [*union_parameters(model), "modalities", "image_config", "provider"]


def model_entry(model: ModelSpec, endpoint: EndpointSpec) -> dict[str, Any]:
    """One ``Model`` of ``GET /api/v1/models``: every key the official SDKs require."""
    params = supported_parameters(model)
    return {
        "id": model.id,
        "canonical_slug": model.id,
        "name": model.name,
        "created": model_created(model),
        "description": model.description,
        "context_length": None,
        "architecture": {
            "input_modalities": list(model.input_modalities),
            "output_modalities": list(model.output_modalities),
            "modality": _modality(model),
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": pricing(endpoint),
        "top_provider": {
            "is_moderated": True,
            "context_length": None,
            "max_completion_tokens": None,
        },
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": None,
        "supported_voices": None,
        "links": {"details": f"/api/v1/images/models/{model.id}/endpoints"},
    }


def _wanted(value: str | None) -> set[str] | None:
    if value is None or value.strip().lower() == "all":
        return None
    return {v.strip().lower() for v in value.split(",") if v.strip()}


def _matches(
    model: ModelSpec, outputs: set[str] | None, inputs: set[str] | None, params: set[str] | None
) -> bool:
    if outputs is not None and not outputs & set(model.output_modalities):
        return False
    if inputs is not None and not inputs <= set(model.input_modalities):
        return False
    return params is None or params <= set(supported_parameters(model))


@router.get("/api/v1/models")
async def list_models(
    request: Request,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    output_modalities: str | None = None,
    input_modalities: str | None = None,
    supported_parameters: str | None = None,
) -> dict[str, Any]:
    state: AppState = request.app.state.ig
    outputs, inputs = _wanted(output_modalities), _wanted(input_modalities)
    params = _wanted(supported_parameters)
    known = {"text", "image", "audio", "embeddings", "file", "video"}
    for name, chosen in (("output_modalities", outputs), ("input_modalities", inputs)):
        if chosen is not None and not chosen <= known:
            raise BadRequest(
                f"{name}: unknown modality {sorted(chosen - known)}; allowed: "
                + ", ".join(sorted(known))
                + ", all",
                param=name,
            )
    entries = []
    for model in state.catalog.models():
        endpoint = next((e for e in model.endpoints if state.adapters.available(e)), None)
        if endpoint is not None and _matches(model, outputs, inputs, params):
            entries.append(model_entry(model, endpoint))
    page = entries[offset : offset + limit]
    more = offset + limit < len(entries)
    next_link = None
    if more:  # the same query (its filters too), one page on
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in PAGING]
        query += [("offset", str(offset + limit)), ("limit", str(limit))]
        next_link = f"/api/v1/models?{urlencode(query)}"
    return {"data": page, "total_count": len(entries), "links": {"next": next_link}}


@router.get("/v1/models")
async def list_openai_models(request: Request) -> dict[str, Any]:
    """The OpenAI SDK's ``models.list()``: every servable model, by catalog id."""
    state: AppState = request.app.state.ig
    data = [
        {
            "id": model.id,
            "object": "model",
            "created": model_created(model),
            "owned_by": model.id.split("/", 1)[0],
        }
        for model in state.catalog.models()
        if servable(state, model)
    ]
    return {"object": "list", "data": data}


__all__ = ["model_entry", "pricing", "router"]
