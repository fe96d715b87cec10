"""Discovery: ``GET /api/v1/images/models`` and ``…/{author}/{slug}/endpoints`` (no key needed).

Discovery tells the truth about this deployment: a model is listed only when at least one of
its endpoints can be called now (its adapter exists and its provider has credentials), and
``/endpoints`` lists only such endpoints. ``?include_unavailable=true`` shows the whole catalog,
each model and endpoint with ``available`` (and endpoints with ``unavailable_reason``), so an
operator can see what a missing key leaves out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from app.errors import GatewayError
from app.generation.service import no_endpoint_error
from app.state import AppState
from providers.spec import (
    BooleanDescriptor,
    Descriptor,
    EndpointSpec,
    EnumDescriptor,
    ModelSpec,
    RangeDescriptor,
)

router = APIRouter(prefix="/api/v1")


def _merge(a: Descriptor, b: Descriptor) -> Descriptor:
    """The union of two descriptors of one parameter (coarse, as OpenRouter's model list)."""
    if isinstance(a, EnumDescriptor) and isinstance(b, EnumDescriptor):
        return EnumDescriptor(values=a.values + tuple(v for v in b.values if v not in a.values))
    if isinstance(a, RangeDescriptor) and isinstance(b, RangeDescriptor):
        return RangeDescriptor(min=min(a.min, b.min), max=max(a.max, b.max))
    return a if not isinstance(a, BooleanDescriptor) else b


def union_parameters(model: ModelSpec) -> dict[str, Descriptor]:
    merged: dict[str, Descriptor] = {}
    for endpoint in model.endpoints:
        for name, desc in endpoint.parameters.items():
            merged[name] = _merge(merged[name], desc) if name in merged else desc
    return merged


def _descriptors(params: dict[str, Descriptor]) -> dict[str, Any]:
    return {name: desc.model_dump(mode="json") for name, desc in params.items()}


def model_created(model: ModelSpec) -> int:
    return int(
        datetime(model.created.year, model.created.month, model.created.day, tzinfo=UTC).timestamp()
    )


def model_item(model: ModelSpec) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "description": model.description,
        "created": model_created(model),
        "architecture": {
            "input_modalities": list(model.input_modalities),
            "output_modalities": list(model.output_modalities),
        },
        "supported_parameters": _descriptors(union_parameters(model)),
        "supports_streaming": any(e.supports_streaming for e in model.endpoints),
        "endpoints": f"/api/v1/images/models/{model.id}/endpoints",
    }


def endpoint_item(endpoint: EndpointSpec) -> dict[str, Any]:
    pricing = []
    for line in endpoint.pricing:
        entry: dict[str, Any] = {
            "billable": line.billable,
            "unit": line.unit,
            "cost_usd": float(line.cost_usd),  # display only; billing uses the Decimal
        }
        if line.variant is not None:
            entry["variant"] = line.variant
        pricing.append(entry)
    return {
        "provider_name": endpoint.provider_name,
        "provider_slug": endpoint.provider_slug,
        "provider_tag": endpoint.provider_slug,
        "supported_parameters": _descriptors(endpoint.parameters),
        "allowed_passthrough_parameters": list(endpoint.passthrough),
        "supports_streaming": endpoint.supports_streaming,
        "pricing": pricing,
    }


def servable(state: AppState, model: ModelSpec) -> bool:
    """At least one endpoint of ``model`` can be called by this deployment."""
    return any(state.adapters.available(e) for e in model.endpoints)


@router.get("/images/models")
async def list_models(request: Request, include_unavailable: bool = False) -> dict[str, Any]:
    state: AppState = request.app.state.ig
    data = []
    for model in state.catalog.models():
        available = servable(state, model)
        if available or include_unavailable:
            item = model_item(model)
            if include_unavailable:
                item["available"] = available
            data.append(item)
    return {"data": data}


@router.get("/images/models/{author}/{slug:path}/endpoints")
async def list_endpoints(
    author: str, slug: str, request: Request, include_unavailable: bool = False
) -> dict[str, Any]:
    state: AppState = request.app.state.ig
    model_id = f"{author}/{slug}"
    model = state.catalog.get(model_id)
    if model is None:
        raise GatewayError(404, f"Model '{model_id}' not found")
    endpoints = []
    for endpoint in model.endpoints:
        reason = state.adapters.unavailable_reason(endpoint)
        if reason is None or include_unavailable:
            item = endpoint_item(endpoint)
            if include_unavailable:
                item["available"] = reason is None
                item["unavailable_reason"] = reason
            endpoints.append(item)
    if not endpoints:
        raise no_endpoint_error(state, model)
    return {"id": model.id, "endpoints": endpoints}
