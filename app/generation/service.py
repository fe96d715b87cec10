"""The request path: :mod:`app.generation.planning` resolves, routes, normalizes, fetches
references, quotes and reserves (everything that can fail with a proper 4xx before a byte is
sent); the :class:`Executor` here calls the adapters with fallback and yields :class:`Partial`
images and :class:`Note` progress followed by one :class:`Outcome`, or raises
:class:`GatewayError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from decimal import Decimal

from app.billing.budget import usd
from app.billing.pricing import Cost, compute_cost
from app.db.credit import Balance
from app.errors import GatewayError
from app.generation.convert import conform
from app.generation.normalize import Normalized
from app.generation.planning import Plan, no_endpoint_error, prepare
from app.generation.slots import provider_slots
from app.state import AppState
from providers.errors import ContentModerated, ProviderError, RateLimited
from providers.spec import (
    Accepted,
    B64Flow,
    B64Text,
    Completed,
    EndpointSpec,
    GenerateCall,
    GeneratedImage,
    GenerationEvent,
    InputImage,
    PartialImage,
    Progress,
    Usage,
)

log = logging.getLogger("imagegate.generation")


@dataclass(frozen=True, slots=True)
class Partial:
    index: int
    b64: B64Text | B64Flow  # as PartialImage.b64
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


def _hashed_user(user: str | None) -> str | None:
    """End-user ids are hashed before any upstream use, as OpenRouter does."""
    return None if user is None else hashlib.sha256(user.encode()).hexdigest()[:32]


def upstream_call(
    endpoint: EndpointSpec,
    norm: Normalized,
    prompt: str,
    n: int,
    *,
    input_images: tuple[InputImage, ...] = (),
    mask: InputImage | None = None,
    stream: bool = False,
    request_id: str = "",
    user: str | None = None,
) -> GenerateCall:
    """The call an adapter gets for ``n`` images of a normalized request."""
    return GenerateCall(
        endpoint=endpoint,
        prompt=prompt,
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
        options=dict(norm.options),
        input_images=input_images,
        mask=mask,
        stream=stream,
        request_id=request_id,
        user=user,
    )


def _call(
    plan: Plan, endpoint: EndpointSpec, norm: Normalized, n: int, stream: bool
) -> GenerateCall:
    return upstream_call(
        endpoint,
        norm,
        plan.request.prompt,
        n,
        input_images=plan.images,
        mask=plan.mask,
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
    if len(results) == 1:  # the usual case: one call's result, as it is
        only = results[0]
        return only.images, only.usage, only.upstream_id or None, only.warnings
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
        self._balances: dict[int, Balance] = {}
        self.accepted = False  # some upstream call was accepted by its provider
        self.in_flight = False  # some upstream call was sent: the provider may bill for it
        # What the provider said up front it bills for the current attempt's calls, by call
        # (e.g. BFL's one task per image); reset per attempt. A call that then fails with a
        # charge leaves it: its cost moved to ``failed_cost``.
        self._announced: dict[str, Usage] = {}
        # Calls sent whose charge is not known yet (not announced, not ended): the provider
        # may have taken them, so a client leaving now cannot be settled at ``known_charge``.
        self._unpriced: set[str] = set()
        self.priced = asyncio.Event()  # set whenever a call states its charge or ends
        # What failed calls cost: billed by their provider although they produced no result.
        self.failed_cost = Decimal(0)
        self._failed_notes: list[str] = []

    @property
    def all_priced(self) -> bool:
        """Every call sent stated its charge up front (or ended): ``known_charge`` is then
        what the provider bills if the work stops now."""
        return not self._unpriced and self.known_charge is not None

    @property
    def known_charge(self) -> Usage | None:
        """What the provider said up front it bills for the current attempt's calls still
        running or done (summed over concurrent calls); None when none said."""
        charges = list(self._announced.values())
        if not charges:
            return None
        total = charges[0]
        for charge in charges[1:]:
            total = total + charge
        return total

    async def _call_events(
        self, endpoint: EndpointSpec, norm: Normalized, n: int, stream: bool
    ) -> AsyncGenerator[Partial | Completed, None]:
        """One upstream call: its partial images (numbered across calls), then its result."""
        adapter = self.state.adapters.get(endpoint)
        completed: Completed | None = None
        token = f"{self.plan.id}:{secrets.token_hex(4)}"
        async with provider_slots(
            self.state, endpoint, self.plan.model.id, token, self._queued(endpoint)
        ):
            if self.on_progress is not None:
                self.on_progress(Note(endpoint.provider_slug, "generating"))
            self.in_flight = True
            self._unpriced.add(token)
            call = _call(self.plan, endpoint, norm, n, stream)
            try:
                async with aclosing(adapter.run(call)) as events:
                    async for item in self._relay(endpoint, events, token):
                        if isinstance(item, Completed):
                            completed = item
                        else:
                            yield item
            except ProviderError as exc:
                self._call_failed(endpoint, norm, token, exc)
                raise
            finally:
                self._priced(token)
        if completed is None:
            raise ProviderError("upstream ended without a result", provider=endpoint.provider_slug)
        yield completed

    def _queued(self, endpoint: EndpointSpec) -> Callable[[], None]:
        def note() -> None:
            if self.on_progress is not None:
                self.on_progress(Note(endpoint.provider_slug, "queued"))

        return note

    async def _relay(
        self,
        endpoint: EndpointSpec,
        events: AsyncGenerator[GenerationEvent, None],
        token: str = "",
    ) -> AsyncGenerator[Partial | Completed, None]:
        """Adapter events → partials (numbered across calls) and the result; note the rest."""
        async for event in events:
            if isinstance(event, PartialImage):
                yield Partial(self.partials_sent, event.b64, event.media_type)
                self.partials_sent += 1
            elif isinstance(event, Completed):
                yield event
            elif isinstance(event, Accepted):
                self.accepted = True
                if event.charge is not None:
                    known = self._announced.get(token)
                    self._announced[token] = event.charge if known is None else known + event.charge
                    self._priced(token)
            elif isinstance(event, Progress) and self.on_progress is not None:
                self.on_progress(Note(endpoint.provider_slug, event.status))

    def _priced(self, token: str) -> None:
        self._unpriced.discard(token)
        self.priced.set()

    def _call_failed(
        self, endpoint: EndpointSpec, norm: Normalized, token: str, exc: ProviderError
    ) -> None:
        """A call failed: what its provider bills for it (``exc.charge``) joins ``failed_cost``
        and replaces what the call announced up front, so a client leaving later is not
        charged for it twice."""
        if exc.charge is not None:
            self._spent(endpoint, norm, exc.charge)
            self._announced.pop(token, None)

    def _spent(self, endpoint: EndpointSpec, norm: Normalized, charge: Usage) -> None:
        """A failed call the provider bills anyway: its cost joins the request's."""
        cost = compute_cost(endpoint.pricing, charge, {**endpoint.defaults, **norm.pricing_params})
        self.failed_cost += cost.total
        self._failed_notes.append(
            f"a call to {endpoint.provider_name} failed after the provider billed it; its "
            f"{usd(cost.total)} is included in the cost"
        )

    async def _drain(self, endpoint: EndpointSpec, norm: Normalized, n: int) -> Completed:
        async with aclosing(self._call_events(endpoint, norm, n, stream=False)) as events:
            async for event in events:
                if isinstance(event, Completed):
                    return event
        raise AssertionError("unreachable: _call_events always ends with Completed")

    async def _buffered(self, endpoint: EndpointSpec, norm: Normalized) -> list[Completed]:
        """All batches concurrently; keep what succeeded, fail only if every batch failed."""
        if len(norm.batches) == 1:  # the usual case: no task and no gather for one call
            return [await self._drain(endpoint, norm, norm.batches[0])]
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
        if errors:  # fewer images than asked for: the caller is told which part failed, and why
            lost = sum(
                n
                for n, o in zip(norm.batches, outcomes, strict=True)
                if isinstance(o, BaseException)
            )
            first = errors[0]
            assert isinstance(first, ProviderError)
            note = (
                f"{endpoint.provider_name}: {lost} of {sum(norm.batches)} images failed upstream "
                f"and are not billed ({first.message})"
            )
            done[0] = replace(done[0], warnings=(*done[0].warnings, note))
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
        self,
        endpoint: EndpointSpec,
        norm: Normalized,
        results: Sequence[Completed],
        warning: str | None = None,
    ) -> Outcome:
        images, usage, upstream_id, warnings = _merge(results)
        images, notes = await conform(
            images, norm.output_format, norm.output_compression, endpoint.provider_slug
        )
        warnings += notes + tuple(self._failed_notes) + ((warning,) if warning else ())
        text = "\n\n".join(r.text for r in results if r.text)
        cost = _price(endpoint, norm, results, images)
        if self.failed_cost:
            cost = Cost(
                total=cost.total + self.failed_cost,
                prompt=cost.prompt,
                completion=cost.completion + self.failed_cost,
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

    async def _requote(self, index: int) -> bool:
        """Fallback re-quotes: hold the next endpoint's quote instead (False: unaffordable).
        What the failed attempts were billed stays held beside it: the request's cost is
        both."""
        budget, cost = self.plan.budget, self.plan.quote_for(index)
        if budget is None or cost is None or not budget.limited:
            return True
        balance = await budget.cover(self.failed_cost + cost)
        if balance is None:
            return True
        self._balances[index] = balance
        return False

    def _unaffordable(self, index: int) -> GatewayError:
        budget, cost = self.plan.budget, self.plan.quote_for(index)
        assert budget is not None and cost is not None
        return budget.insufficient(self._balances[index], self.failed_cost + cost)

    async def run(self, stream: bool) -> AsyncGenerator[Partial | Outcome, None]:
        """Yield partial images (streaming) and then one Outcome; raise GatewayError."""
        last: GatewayError | None = None
        for index, (endpoint, norm) in enumerate(self.plan.attempts):
            if index and not await self._requote(index):
                last = last or self._unaffordable(index)
                continue
            self.attempts += 1
            self.last_endpoint = endpoint
            self._announced.clear()
            results: list[Completed] = []
            try:
                if stream and endpoint.supports_streaming:
                    async with aclosing(self._streamed(endpoint, norm)) as items:
                        async for item in items:
                            if isinstance(item, Completed):
                                results.append(item)
                            else:
                                yield item
                else:
                    results = await self._buffered(endpoint, norm)
            except ProviderError as exc:
                if not results:
                    last = self._failed(exc, endpoint)
                    if not exc.retryable or self.partials_sent:
                        raise last from exc
                    continue
                # Streamed batches: the first ones were made (and billed); answer with them,
                # as buffered batches do, rather than fail or pay a second provider.
                warning = f"{endpoint.provider_name}: a later batch failed ({exc.message})"
                yield await self._outcome(endpoint, norm, results, warning)
                return
            try:
                yield await self._outcome(endpoint, norm, results)
                return
            except ProviderError as exc:
                last = self._failed(exc, endpoint)
                # Never fall back on a deterministic failure, nor once partials reached the client.
                if not exc.retryable or self.partials_sent:
                    raise last from exc
        assert last is not None
        raise last

    def _failed(self, exc: ProviderError, endpoint: EndpointSpec) -> GatewayError:
        log.warning(
            "generation %s: %s failed (%s, retryable=%s): %s",
            self.plan.id,
            endpoint.provider_slug,
            type(exc).__name__,
            exc.retryable,
            exc.message,
        )
        return provider_error_to_gateway(exc, endpoint, self.plan.model.id)


def _price(
    endpoint: EndpointSpec,
    norm: Normalized,
    results: Sequence[Completed],
    delivered: tuple[GeneratedImage, ...],
) -> Cost:
    """The cost of ``results``: the provider's own figure for the calls that reported one,
    the catalog's lines for the others (merged, so per-request lines apply once; per-image
    sizes from ``delivered``, the images as returned, when no call reported a cost)."""
    # The provider's defaults price what the caller left unset (e.g. xAI's quality).
    params = {**endpoint.defaults, **norm.pricing_params}
    reported = [r for r in results if r.usage.provider_cost_usd is not None]
    priced = [r for r in results if r.usage.provider_cost_usd is None]
    parts: list[Cost] = []
    if reported:
        usage = _merge(reported)[1]
        parts.append(compute_cost(endpoint.pricing, usage, params))
    if priced or not results:
        images, usage, _, _ = _merge(priced)
        images = images if reported else delivered
        pixels = [(i.width or 0) * (i.height or 0) for i in images if i.width and i.height]
        parts.append(
            compute_cost(
                endpoint.pricing, usage, params, pixels if len(pixels) == len(images) else ()
            )
        )
    if len(parts) == 1:
        return parts[0]
    return Cost(
        total=sum((p.total for p in parts), Decimal(0)),
        prompt=sum((p.prompt for p in parts), Decimal(0)),
        completion=sum((p.completion for p in parts), Decimal(0)),
    )


__all__ = [
    "Executor",
    "Note",
    "Outcome",
    "Partial",
    "Plan",
    "no_endpoint_error",
    "prepare",
]
