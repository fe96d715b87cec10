"""The request path: resolve → route → normalize → fetch references → call with fallback.

``prepare`` does everything that can fail deterministically (so it fails with a proper 4xx
before any byte is sent); ``execute`` calls the adapters and yields :class:`Partial` events
followed by one :class:`Outcome`, or raises :class:`GatewayError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import ip_network

from app.auth import Principal
from app.billing.pricing import Cost, compute_cost
from app.errors import GatewayError
from app.generation.convert import conform
from app.generation.normalize import Normalized, normalize
from app.generation.references import FetchPolicy, resolve_references
from app.generation.request import ImageGenerationRequest
from app.generation.routing import choose_endpoints
from app.state import AppState
from providers.errors import ContentModerated, ProviderError, RateLimited
from providers.spec import (
    Accepted,
    Completed,
    EndpointSpec,
    GenerateCall,
    GeneratedImage,
    InputImage,
    ModelSpec,
    PartialImage,
    Progress,
    Usage,
)

log = logging.getLogger("imagegate.generation")


def new_generation_id() -> str:
    return f"gen-img-{int(time.time())}-{secrets.token_urlsafe(15)}"


@dataclass
class Plan:
    """A validated request, ready to run."""

    id: str
    request: ImageGenerationRequest
    principal: Principal
    model: ModelSpec
    attempts: list[tuple[EndpointSpec, Normalized]]
    images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class Partial:
    index: int
    b64: str
    media_type: str


@dataclass(frozen=True, slots=True)
class Note:
    """Progress while waiting: the provider's own status (e.g. BFL's ``Pending``)."""

    provider: str
    status: str


@dataclass(frozen=True)
class Outcome:
    endpoint: EndpointSpec
    normalized: Normalized
    images: tuple[GeneratedImage, ...]
    usage: Usage
    cost: Cost
    upstream_id: str | None
    attempts: int
    warnings: tuple[str, ...] = ()
    text: str = ""  # what the model said beside its images


def _model_or_404(state: AppState, model_id: str) -> ModelSpec:
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


def _normalized_attempts(
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


def _check_credit(principal: Principal) -> None:
    if principal.limit_usd is not None and principal.usage_usd >= principal.limit_usd:
        raise GatewayError(
            402,
            f"Insufficient credits: this key has used ${principal.usage_usd} of its "
            f"${principal.limit_usd} limit",
        )


async def prepare(
    state: AppState, request: ImageGenerationRequest, principal: Principal, generation_id: str
) -> Plan:
    """Everything deterministic, before any upstream call. Raises GatewayError (4xx/503)."""
    model = _model_or_404(state, request.model)
    endpoints = choose_endpoints(model.endpoints, request.provider, state.adapters.available)
    if not endpoints:
        raise no_endpoint_error(state, model)
    attempts = _normalized_attempts(request, endpoints)
    _check_credit(principal)
    refs = [r.image_url.url for r in request.input_references or ()]
    if request.mask is not None:
        refs.append(request.mask.image_url.url)
    images: tuple[InputImage, ...] = ()
    if refs:
        policy = FetchPolicy(
            allow_networks=tuple(ip_network(n) for n in state.settings.reference_allow_networks)
        )
        images = await resolve_references(refs, client=state.refs_http, policy=policy)
    mask = None
    if request.mask is not None:
        images, mask = images[:-1], images[-1]
    return Plan(generation_id, request, principal, model, attempts, images, mask)


def _hashed_user(user: str | None) -> str | None:
    """End-user ids are hashed before any upstream use, as OpenRouter does."""
    return None if user is None else hashlib.sha256(user.encode()).hexdigest()[:32]


def _call(
    plan: Plan, endpoint: EndpointSpec, norm: Normalized, n: int, stream: bool
) -> GenerateCall:
    return GenerateCall(
        endpoint=endpoint,
        prompt=plan.request.prompt,
        n=n,
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
        input_images=plan.images,
        mask=plan.mask,
        options=dict(norm.options),
        stream=stream,
        request_id=plan.id,
        user=_hashed_user(plan.request.user),
    )


def provider_error_to_gateway(
    exc: ProviderError, endpoint: EndpointSpec, model_id: str
) -> GatewayError:
    """Map an upstream failure to OpenRouter's status codes and error metadata."""
    metadata: dict[str, object] = {"provider_name": endpoint.provider_name}
    if exc.code:
        metadata["provider_code"] = exc.code
    if exc.upstream_request_id:
        metadata["upstream_request_id"] = exc.upstream_request_id
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        headers["retry-after"] = str(max(1, int(exc.retry_after + 0.999)))
    if isinstance(exc, ContentModerated):
        metadata.update({"reasons": [exc.message], "flagged_input": None, "model_slug": model_id})
        message = f"{endpoint.provider_name} refused the request on content grounds: {exc.message}"
    else:
        message = f"{endpoint.provider_name}: {exc.message}"
    return GatewayError(exc.gateway_status, message, metadata=metadata, headers=headers)


def _merge(
    results: Sequence[Completed],
) -> tuple[tuple[GeneratedImage, ...], Usage, str | None, tuple[str, ...]]:
    images: tuple[GeneratedImage, ...] = ()
    usage = Usage()
    warnings: tuple[str, ...] = ()
    for r in results:
        images += r.images
        usage = usage + r.usage
        warnings += r.warnings
    upstream_id = next((r.upstream_id for r in results if r.upstream_id), None)
    return images, usage, upstream_id, warnings


class Executor:
    """Runs a :class:`Plan` against its endpoints, falling back on retryable failures."""

    def __init__(
        self, state: AppState, plan: Plan, on_progress: Callable[[Note], None] | None = None
    ) -> None:
        self.state = state
        self.plan = plan
        self.attempts = 0
        self.partials_sent = 0
        self.last_endpoint: EndpointSpec | None = None
        self.on_progress = on_progress
        self.accepted = False  # some upstream call was accepted by its provider

    async def _call_events(
        self, endpoint: EndpointSpec, norm: Normalized, n: int, stream: bool
    ) -> AsyncGenerator[Partial | Completed, None]:
        """One upstream call: its partial images (numbered across calls), then its result."""
        adapter = self.state.adapters.get(endpoint)
        completed: Completed | None = None
        if self.on_progress is not None:
            self.on_progress(Note(endpoint.provider_slug, "generating"))
        async with aclosing(adapter.run(_call(self.plan, endpoint, norm, n, stream))) as events:
            async for event in events:
                if isinstance(event, PartialImage):
                    yield Partial(self.partials_sent, event.b64, event.media_type)
                    self.partials_sent += 1
                elif isinstance(event, Completed):
                    completed = event
                elif isinstance(event, Accepted):
                    self.accepted = True
                elif isinstance(event, Progress) and self.on_progress is not None:
                    self.on_progress(Note(endpoint.provider_slug, event.status))
        if completed is None:
            raise ProviderError("upstream ended without a result", provider=endpoint.provider_slug)
        yield completed

    async def _drain(self, endpoint: EndpointSpec, norm: Normalized, n: int) -> Completed:
        async with aclosing(self._call_events(endpoint, norm, n, stream=False)) as events:
            async for event in events:
                if isinstance(event, Completed):
                    return event
        raise AssertionError("unreachable: _call_events always ends with Completed")

    async def _buffered(self, endpoint: EndpointSpec, norm: Normalized) -> list[Completed]:
        """All batches concurrently; keep what succeeded, fail only if every batch failed."""
        outcomes = await asyncio.gather(
            *(self._drain(endpoint, norm, n) for n in norm.batches), return_exceptions=True
        )
        done = [o for o in outcomes if isinstance(o, Completed)]
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        for err in errors:
            if not isinstance(err, ProviderError):
                raise err
        if not done:
            raise errors[0]
        return done

    async def _streamed(
        self, endpoint: EndpointSpec, norm: Normalized
    ) -> AsyncGenerator[Partial | Completed, None]:
        """Batches one after another; partial indexes run on across batches."""
        for n in norm.batches:
            async with aclosing(self._call_events(endpoint, norm, n, stream=True)) as events:
                async for event in events:
                    yield event

    async def _outcome(
        self, endpoint: EndpointSpec, norm: Normalized, results: Sequence[Completed]
    ) -> Outcome:
        images, usage, upstream_id, warnings = _merge(results)
        images, notes = await conform(images, norm.output_format, norm.output_compression)
        warnings += notes
        text = "\n\n".join(r.text for r in results if r.text)
        pixels = [(i.width or 0) * (i.height or 0) for i in images if i.width and i.height]
        cost = compute_cost(
            endpoint.pricing,
            usage,
            # The provider's defaults price what the caller left unset (e.g. xAI's quality).
            {**endpoint.defaults, **norm.pricing_params},
            pixels if len(pixels) == len(images) else (),
        )
        return Outcome(
            endpoint,
            norm,
            images,
            usage,
            cost,
            upstream_id,
            self.attempts,
            norm.warnings + warnings,
            text,
        )

    async def run(self, stream: bool) -> AsyncGenerator[Partial | Outcome, None]:
        """Yield partial images (streaming) and then one Outcome; raise GatewayError."""
        last: GatewayError | None = None
        for endpoint, norm in self.plan.attempts:
            self.attempts += 1
            self.last_endpoint = endpoint
            try:
                if stream and endpoint.supports_streaming:
                    results: list[Completed] = []
                    async with aclosing(self._streamed(endpoint, norm)) as items:
                        async for item in items:
                            if isinstance(item, Completed):
                                results.append(item)
                            else:
                                yield item
                else:
                    results = await self._buffered(endpoint, norm)
                yield await self._outcome(endpoint, norm, results)
                return
            except ProviderError as exc:
                last = provider_error_to_gateway(exc, endpoint, self.plan.model.id)
                log.warning(
                    "generation %s: %s failed (%s, retryable=%s): %s",
                    self.plan.id,
                    endpoint.provider_slug,
                    type(exc).__name__,
                    exc.retryable,
                    exc.message,
                )
                # Never fall back on a deterministic failure, nor once partials reached the client.
                if not exc.retryable or self.partials_sent:
                    raise last from exc
        assert last is not None
        raise last


__all__ = ["Executor", "Note", "Outcome", "Partial", "Plan", "new_generation_id", "prepare"]
