"""Planning: everything about a request that can fail deterministically, before any upstream
call, so it fails with a proper 4xx before a byte is sent.

resolve the model → choose endpoints (routing preferences) → normalize per endpoint → fetch
references → quote each endpoint (when a limit or a price ceiling needs it) → drop endpoints
above the caller's ``max_price`` → hold the first endpoint's quote against the key's credit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from ipaddress import ip_network

from app.auth import Principal
from app.billing.budget import Budget, usd
from app.billing.quote import QuoteError, quote
from app.errors import GatewayError
from app.generation.normalize import Normalized, normalize
from app.generation.references import FetchPolicy, resolve_references, stills
from app.generation.request import ImageGenerationRequest, ImageUrl, InputReference, MaxPrice
from app.generation.routing import choose_endpoints
from app.state import AppState
from providers.spec import EndpointSpec, InputImage, ModelSpec

MILLION = Decimal(1_000_000)


@dataclass
class Plan:
    """A validated request, ready to run. ``quotes`` parallels ``attempts`` (None: not
    needed, the key has no limit and the caller set no price ceiling)."""

    id: str
    request: ImageGenerationRequest
    principal: Principal
    model: ModelSpec
    attempts: list[tuple[EndpointSpec, Normalized]]
    images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None
    quotes: list[Decimal | None] = field(default_factory=list)
    budget: Budget | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)

    def quote_for(self, index: int) -> Decimal | None:
        return self.quotes[index] if index < len(self.quotes) else None


def model_or_404(state: AppState, model_id: str) -> ModelSpec:
    model = state.catalog.get(model_id)
    if model is None:
        raise GatewayError(404, f"Model '{model_id}' not found", metadata={"param": "model"})
    return model


def no_endpoint_error(state: AppState, model: ModelSpec) -> GatewayError:
    """Nothing can serve this model (for these preferences): a deterministic 404, never a 5xx.

    A 5xx would make the official SDKs retry for up to an hour; OpenRouter answers "no
    endpoints found" with 404 too. The message names why each endpoint is out.
    """
    reasons: list[str] = []
    excluded: list[str] = []
    for endpoint in model.endpoints:
        reason = state.adapters.unavailable_reason(endpoint)
        if reason is None:
            excluded.append(endpoint.provider_name)
        else:
            reasons.append(reason)
    if excluded:
        reasons.append(f"{', '.join(excluded)}: excluded by the provider preferences")
    return GatewayError(
        404,
        f"No endpoint can serve model '{model.id}': {'; '.join(reasons)}",
        metadata={"param": "provider" if excluded else "model"},
    )


def normalized_attempts(
    request: ImageGenerationRequest, endpoints: Sequence[EndpointSpec]
) -> list[tuple[EndpointSpec, Normalized]]:
    """Keep the endpoints that can serve this request; if none can, the first one's 400."""
    attempts: list[tuple[EndpointSpec, Normalized]] = []
    first_error: GatewayError | None = None
    for endpoint in endpoints:
        try:
            attempts.append((endpoint, normalize(request, endpoint)))
        except GatewayError as exc:
            if str((exc.metadata or {}).get("param", "")).startswith("provider.options"):
                raise  # options addressed to this very provider: the caller's mistake
            first_error = first_error or exc
    if not attempts:
        assert first_error is not None
        raise first_error
    return attempts


def quote_attempt(
    request: ImageGenerationRequest,
    endpoint: EndpointSpec,
    norm: Normalized,
    images: Sequence[InputImage],
) -> Decimal:
    """The most this request can cost on ``endpoint`` (a 503 if the catalog cannot say)."""
    streams = bool(request.stream) and endpoint.supports_streaming
    try:
        return quote(
            endpoint,
            n=norm.n,
            width=norm.width,
            height=norm.height,
            params=norm.pricing_params,
            prompt=request.prompt,
            references=images,
            partials_per_image=3 if streams else 0,
        ).max_cost
    except QuoteError as exc:
        raise GatewayError(
            503, f"{endpoint.provider_name}: cannot quote this request ({exc})"
        ) from exc


def ceiling_problem(
    ceiling: MaxPrice, endpoint: EndpointSpec, norm: Normalized, cost: Decimal
) -> str | None:
    """Why ``endpoint`` is above the caller's ``max_price``, or None when it is within."""
    if ceiling.request is not None and cost > ceiling.request:
        return f"quote {usd(cost)} per request is above max_price.request {usd(ceiling.request)}"
    per_image = cost / norm.n
    if ceiling.image is not None and per_image > ceiling.image:
        return f"quote {usd(per_image)} per image is above max_price.image {usd(ceiling.image)}"
    for name, billable, limit in (
        ("prompt", "input_text", ceiling.prompt),
        ("completion", "output_text", ceiling.completion),
    ):
        if limit is None:
            continue
        for line in endpoint.pricing:
            if line.billable == billable and line.unit == "token":
                rate = line.cost_usd * MILLION
                if rate > limit:
                    return f"{name} costs {usd(rate)}/M tokens, above max_price.{name}"
    return None


def apply_ceiling(
    attempts: list[tuple[EndpointSpec, Normalized]],
    quotes: list[Decimal | None],
    ceiling: MaxPrice,
) -> tuple[list[tuple[EndpointSpec, Normalized]], list[Decimal | None]]:
    """Drop the endpoints above ``max_price``; a 404 with every quote when none remains."""
    kept: list[tuple[EndpointSpec, Normalized]] = []
    kept_quotes: list[Decimal | None] = []
    refused: list[str] = []
    for (endpoint, norm), cost in zip(attempts, quotes, strict=True):
        assert cost is not None
        problem = ceiling_problem(ceiling, endpoint, norm, cost)
        if problem is None:
            kept.append((endpoint, norm))
            kept_quotes.append(cost)
        else:
            refused.append(f"{endpoint.provider_name}: {problem}")
    if not kept:
        raise GatewayError(
            404,
            "No endpoint is within the request's max_price: " + "; ".join(refused),
            metadata={
                "param": "provider.max_price",
                "quotes": {
                    e.provider_slug: str(q) for (e, _), q in zip(attempts, quotes, strict=True)
                },
            },
        )
    return kept, kept_quotes


def _shown(url: str) -> str:
    """A reference as the request keeps it once fetched: inline data is not kept twice."""
    return "data:(inline)" if url[:5].lower() == "data:" else url


async def fetch_references(
    state: AppState, request: ImageGenerationRequest
) -> tuple[tuple[InputImage, ...], InputImage | None]:
    """The reference images (and mask), fetched and checked by the SSRF-safe fetcher."""
    refs = [r.image_url.url for r in request.input_references or ()]
    if request.mask is not None:
        refs.append(request.mask.image_url.url)
    if not refs:
        return (), None
    settings = state.settings
    policy = FetchPolicy(
        allow_networks=tuple(ip_network(n) for n in settings.reference_allow_networks),
        max_total_bytes=settings.max_reference_bytes,
        global_slots=state.reference_slots,
    )
    images = await resolve_references(refs, client=state.refs_http, policy=policy)
    if any(image.media_type == "image/gif" for image in images):
        images = await asyncio.to_thread(stills, images)
    # The decoded bytes are what the call needs: drop the (base64) text the body carried.
    request.input_references = [
        InputReference(type="image_url", image_url=ImageUrl(url=_shown(r.image_url.url)))
        for r in request.input_references or ()
    ] or None
    if request.mask is not None:
        request.mask = InputReference(type="image_url", image_url=ImageUrl(url="data:(mask)"))
    if request.mask is not None:
        return images[:-1], images[-1]
    return images, None


def request_price(request: ImageGenerationRequest) -> Callable[[EndpointSpec], Decimal | None]:
    """What ``request`` costs on an endpoint, for ``sort: "price"``: its quote there (before
    its references are fetched), or None when the endpoint cannot serve or quote it."""

    def price(endpoint: EndpointSpec) -> Decimal | None:
        try:
            return quote_attempt(request, endpoint, normalize(request, endpoint), ())
        except GatewayError:
            return None

    return price


def route(
    state: AppState, request: ImageGenerationRequest
) -> tuple[ModelSpec, list[tuple[EndpointSpec, Normalized]]]:
    """The model and the endpoints that can serve the request, each with the request
    normalized for it: the first steps of :func:`prepare`, computation only (no I/O, no
    side effect), so they can run while the request's rate check is on its way."""
    model = model_or_404(state, request.model)
    endpoints = choose_endpoints(
        model.endpoints, request.provider, state.adapters.available, request_price(request)
    )
    if not endpoints:
        raise no_endpoint_error(state, model)
    return model, normalized_attempts(request, endpoints)


async def prepare(
    state: AppState,
    request: ImageGenerationRequest,
    principal: Principal,
    generation_id: str,
    routed: tuple[ModelSpec, list[tuple[EndpointSpec, Normalized]]] | None = None,
) -> Plan:
    """Everything deterministic, before any upstream call. Raises GatewayError (4xx/503).
    ``routed``: what :func:`route` already gave for this request."""
    model, attempts = routed or route(state, request)
    images, mask = await fetch_references(state, request)
    budget = Budget(state, principal, generation_id)
    ceiling = request.provider.max_price if request.provider else None
    quotes: list[Decimal | None] = [None] * len(attempts)
    if budget.limited or ceiling is not None:
        quotes = [quote_attempt(request, e, n, images) for e, n in attempts]
    if ceiling is not None:
        attempts, quotes = apply_ceiling(attempts, quotes, ceiling)
    first = quotes[0]
    if budget.limited and first is not None:
        balance = await budget.cover(first)
        if balance is not None:
            raise budget.insufficient(balance, first)
    return Plan(generation_id, request, principal, model, attempts, images, mask, quotes, budget)


__all__ = [
    "Plan",
    "apply_ceiling",
    "fetch_references",
    "model_or_404",
    "no_endpoint_error",
    "normalized_attempts",
    "prepare",
    "quote_attempt",
    "request_price",
    "route",
]
