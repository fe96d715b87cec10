"""Serving one generation over HTTP, whichever door it came in by.

Every door (the OpenRouter Images API, chat completions, the OpenAI-compatible images API)
translates its request into the one internal :class:`ImageGenerationRequest`, then calls
:func:`serve` with a :class:`Door` that renders outcomes, partial images, progress and errors in
its own response shape. Rate limiting, planning, the generation task, keep-alives, the ledger
row and cancellation exist once, here.

Slow generations and the Python SDK's 5-second read timeout: the OpenRouter SDK re-sends a
request whose answer has not started within 5 s. So a buffered request that has not finished
after ``IMAGEGATE_KEEPALIVE_S`` (default 3 s) is committed to ``200 application/json`` and the
gateway sends a newline every ``keepalive_s`` until the JSON body follows; leading whitespace is
valid JSON for every client. Failures found before that moment (validation, auth, credit,
routing and fast upstream errors) keep their proper 4xx/5xx status; a failure after it is sent
as the door's error object in the 200 body. Reference images named by URL are fetched inside
that window too (a slow host would otherwise hold the first byte past the SDK's timeout): a
request still fetching after one keep-alive period is committed the same way, and a fetch that
fails after that is its error object. SSE responses use ``:`` comments the same way; a
progress note the door does not show commits nothing. A door whose clients wait long and read
any 200 as success (the OpenAI-compatible one, ``commits_early = False``) never commits early.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from fastapi import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.auth import Principal
from app.billing.ledger import GenerationRecord
from app.billing.pricing import compute_cost
from app.db.outage import is_outage
from app.errors import GatewayError
from app.generation.ids import new_generation_id
from app.generation.normalize import Normalized
from app.generation.planning import quote_attempt, route
from app.generation.render import Body
from app.generation.request import ImageGenerationRequest
from app.generation.service import (
    Executor,
    Note,
    Outcome,
    Partial,
    Plan,
    prepare,
)
from app.ratelimit import Decision
from app.request_log import note
from app.state import AppState
from providers.spec import B64Flow, EndpointSpec, FlowBroken, ModelSpec

log = logging.getLogger("imagegate.serving")
_END = object()


@dataclass(frozen=True, slots=True)
class Exchange:
    """What a door needs to render one response."""

    generation_id: str
    created: int  # unix seconds, fixed when the request arrived
    started: float  # monotonic
    model: str  # the model id as the caller named it


class Door(Protocol):
    """How one API shape renders the pipeline's results."""

    route: str  # recorded in the ledger row: which door the request came in by
    # Whether a slow buffered answer is committed to 200 and kept alive with whitespace: the
    # OpenRouter Python SDK reads with a 5 s timeout and re-sends the request. OpenAI's SDKs wait
    # 10 minutes and read a 200 as success, so that door keeps every failure's real status.
    commits_early: bool

    def error_response(self, err: GatewayError, headers: dict[str, str]) -> Response:
        """A failure known before any byte was sent, with its real status."""
        ...

    def body(self, outcome: Outcome, ex: Exchange) -> Body:
        """The buffered success body."""
        ...

    def late_error(self, err: GatewayError, ex: Exchange) -> bytes:
        """A failure after a buffered 200 was committed: the error object as the body."""
        ...

    def sse_keepalive(self) -> bytes: ...

    def sse_progress(self, note: Note, ex: Exchange) -> bytes | None:
        """A progress event, or None when this door (or this caller) does not show progress."""
        ...

    def sse_partial(self, partial: Partial, ex: Exchange) -> Body | None: ...

    def sse_outcome(self, outcome: Outcome, ex: Exchange) -> Sequence[Body]: ...

    def sse_error(self, err: GatewayError, ex: Exchange) -> bytes: ...

    def sse_done(self) -> bytes: ...


MAX_ATTRIBUTION = 256  # characters of an attribution header kept


def recorded_params(req: ImageGenerationRequest) -> dict[str, object]:
    """The request as recorded: everything but the prompt text and the image bytes."""
    data = req.model_dump(
        mode="json", exclude_none=True, exclude={"input_references", "prompt", "mask"}
    )
    data["prompt_chars"] = len(req.prompt)
    data["input_references"] = len(req.input_references or ())
    return data


class Ledger:
    """Records one generation, once, from whichever way the request ends."""

    def __init__(
        self,
        state: AppState,
        gid: str,
        req: ImageGenerationRequest,
        principal: Principal,
        ua: str | None,
        route: str,
    ) -> None:
        self.state, self.gid, self.req, self.principal, self.ua = state, gid, req, principal, ua
        self.route = route
        self.hold_id: str | None = None  # set once the request holds credit
        self.created_at = datetime.now(UTC)
        self.started = time.monotonic()
        self.done = False
        self.extra_params: dict[str, object] = {}

    def attribution(self, referer: str | None, session: str | None) -> None:
        """OpenRouter's attribution headers, recorded with the parameters (``GET /generation``
        reports them): ``HTTP-Referer``, and ``x-session-id`` unless the body has a
        ``session_id`` (which wins)."""
        if referer:
            self.extra_params["http_referer"] = referer[:MAX_ATTRIBUTION]
        if session and self.req.session_id is None:
            self.extra_params["session_id"] = session[:MAX_ATTRIBUTION]

    def _spawn(self, record: GenerationRecord) -> None:
        if not self.done:
            self.done = True
            note(
                generation_id=record.id,
                model=record.model,
                provider=record.provider,
                outcome=record.status,
                cost_usd=record.cost_usd,
            )
            self.state.ledger.submit(record)
            self.state.metrics.record(
                model=record.model,
                provider=record.provider,
                status=record.status,
                images=record.images,
                cost=record.cost_usd,
                seconds=time.monotonic() - self.started,
            )

    def _base(self, status: str, provider: str | None, attempts: int) -> dict[str, object]:
        return {
            "id": self.gid,
            "api_key_id": self.principal.key_id,
            "model": self.req.model,
            "provider": provider,
            "status": status,
            "created_at": self.created_at,
            "completed_at": datetime.now(UTC),
            "request_params": {**recorded_params(self.req), **self.extra_params},
            "streamed": bool(self.req.stream),
            "latency_ms": int((time.monotonic() - self.started) * 1000),
            "attempts": attempts,
            "user_agent": self.ua,
            "route": self.route,
        }

    def success(self, o: Outcome, status: str = "succeeded") -> None:
        u = o.usage
        self._spawn(
            GenerationRecord(
                **self._base(status, o.endpoint.provider_slug, o.attempts),  # type: ignore[arg-type]
                images=len(o.images),
                pixels=u.pixels,
                resolution=o.normalized.resolution,
                input_text_tokens=u.input_text_tokens,
                input_image_tokens=u.input_image_tokens,
                output_image_tokens=u.output_image_tokens,
                output_text_tokens=u.output_text_tokens,
                cost_usd=o.cost.total,
                upstream_id=o.upstream_id,
                hold_id=self.hold_id,
            )
        )

    def failure(
        self,
        status: str,
        err: GatewayError | None,
        provider: str | None,
        attempts: int,
        cost: Decimal = Decimal(0),
        note: str | None = None,
    ) -> None:
        message = err.message if err else note
        self._spawn(
            GenerationRecord(
                **self._base(status, provider, attempts),  # type: ignore[arg-type]
                error_code=err.status if err else None,
                error_message=message,
                cost_usd=cost,
                hold_id=self.hold_id,
            )
        )


async def _produce(executor: Executor, stream: bool, queue: asyncio.Queue[object]) -> None:
    try:
        # aclosing: a cancelled producer closes the generator chain, and so the upstream
        # response, at once instead of whenever the loop finalizes abandoned generators.
        async with contextlib.aclosing(executor.run(stream)) as items:
            async for item in items:
                await queue.put(item)
    except GatewayError as exc:
        await queue.put(exc)
    except Exception as exc:
        if is_outage(exc):  # the database went away (a credit re-quote): retry later
            await queue.put(
                GatewayError(
                    503,
                    "The gateway's database is unreachable; retry shortly",
                    headers={"retry-after": "5"},
                )
            )
        else:  # a bug: answered as a plain 500, logged with its trace, recorded
            log.exception("generation %s failed unexpectedly", executor.plan.id)
            await queue.put(GatewayError(500, "Internal error while generating the image"))
    finally:
        await queue.put(_END)


class Run:
    """Drives an Executor in a task, so the response can wait with keep-alives.

    When the client leaves (:meth:`cancel`): before any upstream call started, the work is
    cancelled and costs nothing. Once a call is in flight the provider may bill it, so the
    generation runs on in the background for up to ``IMAGEGATE_DISCONNECT_DRAIN_S`` to learn
    its cost (recorded as ``cancelled`` with that cost); past the bound it is cancelled and
    settled at its quote. A provider that stated its charge up front is cancelled at once and
    settled at that charge.
    """

    def __init__(
        self, state: AppState, plan: Plan, ledger: Ledger, stream: bool, progress: bool = True
    ) -> None:
        self.state = state
        self.plan = plan
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        # progress notes are for event streams: a buffered answer never shows them, and each
        # one would wake it for nothing
        notes = self.queue.put_nowait if progress else None
        self.executor = Executor(state, plan, on_progress=notes)
        self.ledger = ledger
        self.task = asyncio.create_task(_produce(self.executor, stream, self.queue))

    async def next(self, wait_s: float | None) -> object | None:
        """The next item, or None if ``wait_s`` passed first (the task keeps running)."""
        if not self.queue.empty():  # no timer, no task: most items are already waiting
            return self.queue.get_nowait()
        try:
            # asyncio.timeout, not wait_for: wait_for wraps the get in a task of its own
            async with asyncio.timeout(wait_s):
                return await self.queue.get()
        except TimeoutError:
            return None

    async def result(self, wait_s: float | None) -> object | None:
        """The next item that is not progress, or None if ``wait_s`` passed first."""
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            item = await self.next(left)
            if not isinstance(item, Note | Partial):
                return item

    def _provider(self) -> str | None:
        endpoint = self.executor.last_endpoint
        return endpoint.provider_slug if endpoint else None

    def record(self, item: object) -> None:
        if isinstance(item, Outcome):
            self.ledger.success(item)
        elif isinstance(item, GatewayError):
            ex = self.executor
            self.ledger.failure("failed", item, self._provider(), ex.attempts, ex.failed_cost)

    async def cancel(self) -> None:
        """The client is gone (or the response ended): settle what the work cost."""
        if self.ledger.done:
            return
        if self.task.done():  # finished, but the response never took its result
            self._record_finished()
            return
        ex = self.executor
        drain_s = self.state.settings.disconnect_drain_s
        if ex.in_flight and not ex.all_priced:
            # a call the provider may have taken states no charge (yet): learn it, or settle
            # at the quote when no drain is allowed
            if drain_s > 0:
                self.state.spawn(self._drain(drain_s))
            else:
                await self._stop()
                self._settle_at_quote("the client went away while a call was in flight")
            return
        await self._stop()
        cost = (self._charge_cost() if ex.in_flight else Decimal(0)) + ex.failed_cost
        self.ledger.failure(
            "cancelled",
            None,
            self._provider(),
            ex.attempts,
            cost,
            note="the client went away" + (" after the provider accepted the job" if cost else ""),
        )

    async def _stop(self) -> None:
        self.task.cancel()
        # shield: this runs inside the response's cancelled scope, whose repeated
        # cancellations would otherwise reach the producer while it closes the upstream
        # connection, and leave that connection open.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self.task)

    def _charge_cost(self) -> Decimal:
        """What the provider said up front it bills for the current call."""
        charge, endpoint = self.executor.known_charge, self.executor.last_endpoint
        if charge is None or endpoint is None:
            return Decimal(0)
        norm = next(n for e, n in self.plan.attempts if e is endpoint)
        return compute_cost(
            endpoint.pricing, charge, {**endpoint.defaults, **norm.pricing_params}
        ).total

    async def _drain(self, drain_s: float) -> None:
        """Let an accepted generation finish unobserved, to record what it cost; stop it
        as soon as every call sent has stated its charge (BFL's submit answers)."""
        ex = self.executor
        deadline = time.monotonic() + drain_s
        while not self.task.done() and not ex.all_priced:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ex.priced.clear()
            priced = asyncio.ensure_future(ex.priced.wait())
            try:
                await asyncio.wait(
                    {self.task, priced}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                priced.cancel()
        if self.task.done():
            self._record_finished()
        elif ex.all_priced:
            await self._stop()
            self.ledger.failure(
                "cancelled",
                None,
                self._provider(),
                ex.attempts,
                self._charge_cost() + ex.failed_cost,
                note="the client went away after the provider accepted the job",
            )
        else:
            await self._stop()
            self._settle_at_quote(
                f"the client went away and the provider did not answer within {drain_s} s"
            )

    def _settle_at_quote(self, why: str) -> None:
        self.ledger.failure(
            "cancelled",
            None,
            self._provider(),
            self.executor.attempts,
            self._quote_cost() + self.executor.failed_cost,
            note=f"{why}: settled at the quote",
        )

    def _record_finished(self) -> None:
        """The generation ended after the client left: record its result as ``cancelled``,
        at the cost of what was made (an outcome is billed in full)."""
        result = None
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if isinstance(item, Outcome | GatewayError):
                result = item
        if isinstance(result, Outcome):
            self.ledger.success(result, status="cancelled")
        else:
            self.ledger.failure(
                "cancelled",
                result if isinstance(result, GatewayError) else None,
                self._provider(),
                self.executor.attempts,
                self.executor.failed_cost,
            )

    def _quote_cost(self) -> Decimal:
        endpoint = self.executor.last_endpoint
        for index, (e, norm) in enumerate(self.plan.attempts):
            if e is endpoint:
                held = self.plan.quote_for(index)
                if held is not None:
                    return held
                try:
                    return quote_attempt(self.plan.request, e, norm, self.plan.images)
                except GatewayError:
                    log.warning("generation %s: no quote to settle at", self.plan.id)
        return Decimal(0)


def _headers(gid: str) -> dict[str, str]:
    return {"x-generation-id": gid}


class PartsResponse(Response):
    """A JSON body sent as its pieces, in order, with one Content-Length: a multi-megabyte
    image goes to the socket as the bytes it arrived in, without being joined into a copy.

    ``then`` runs once the answer is sent, or failed to be (it never raises): what only the
    books need (the ledger row, the metrics) waits until the client has its answer."""

    def __init__(
        self, parts: list[bytes], headers: dict[str, str], then: Callable[[], None] | None = None
    ) -> None:
        # Starlette's own header building, given the parts' length: one pass, where building
        # the headers and then replacing the length took two (every buffered answer's response)
        self.status_code = 200
        self.media_type = "application/json"
        self.background = None
        self.body = b""
        self.parts = [p for p in parts if p]
        self.init_headers({**headers, "content-length": str(sum(len(p) for p in self.parts))})
        self.then = then

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            last = len(self.parts) - 1
            for i, part in enumerate(self.parts):
                await send({"type": "http.response.body", "body": part, "more_body": i < last})
            if last < 0:
                await send({"type": "http.response.body", "body": b""})
        finally:
            if self.then is not None:
                then, self.then = self.then, None
                then()


def _json_response(
    body: Body, headers: dict[str, str], then: Callable[[], None] | None = None
) -> Response:
    return PartsResponse(_pieces(body), headers, then)


def _pieces(body: Body) -> list[bytes]:
    return [body] if isinstance(body, bytes) else body


async def _buffered(run: Run, door: Door, ex: Exchange, keepalive: float) -> Response:
    gid = ex.generation_id
    first = await run.result(keepalive if keepalive > 0 else None)
    if first is not None:
        if isinstance(first, GatewayError):
            run.record(first)
            return door.error_response(first, {**first.headers, **_headers(gid)})
        assert isinstance(first, Outcome)
        try:
            answer = door.body(first, ex)
        except BaseException:
            run.record(first)
            raise
        # recorded once the answer is on its way: the client does not wait for the books
        return _json_response(answer, _headers(gid), functools.partial(run.record, first))

    return StreamingResponse(
        _kept_alive(run, door, ex, keepalive), media_type="application/json", headers=_headers(gid)
    )


async def _kept_alive(
    run: Run, door: Door, ex: Exchange, keepalive: float
) -> AsyncGenerator[bytes, None]:
    """A buffered answer committed to 200: newlines until the result, then its body."""
    try:
        item = None
        while item is None:
            yield b"\n"
            item = await run.result(keepalive)
        run.record(item)
        if isinstance(item, Outcome):
            for piece in _pieces(door.body(item, ex)):
                yield piece
        elif isinstance(item, GatewayError):
            yield door.late_error(item, ex)
    finally:
        await run.cancel()


# Stands in for a flowing image while its event is rendered; found again by identity.
_FLOW_SLOT = bytes(bytearray(b"flow"))


def _sse_partial(partial: Partial, door: Door, ex: Exchange) -> list[bytes | B64Flow]:
    """A partial image's event. A flowing image is rendered around a stand-in, which is then
    replaced by the flow itself, so its text is written out while it arrives."""
    flow = partial.b64
    if not isinstance(flow, B64Flow):
        frame = door.sse_partial(partial, ex)
        return list(_pieces(frame)) if frame else []
    frame = door.sse_partial(replace(partial, b64=_FLOW_SLOT), ex)
    pieces = _pieces(frame) if frame else []
    if not any(p is _FLOW_SLOT for p in pieces):  # the door shows no partials
        flow.discard()
        return []
    return [flow if p is _FLOW_SLOT else p for p in pieces]


def _sse_frame(item: object, run: Run, door: Door, ex: Exchange) -> list[bytes | B64Flow]:
    if item is None:
        return [door.sse_keepalive()]
    if isinstance(item, Note):
        frame = door.sse_progress(item, ex)
        return [frame] if frame else []
    if isinstance(item, Partial):
        return _sse_partial(item, door, ex)
    run.record(item)
    if isinstance(item, Outcome):
        return [piece for event in door.sse_outcome(item, ex) for piece in _pieces(event)]
    if isinstance(item, GatewayError):
        return [door.sse_error(item, ex)]
    return []


async def _first_shown(run: Run, door: Door, ex: Exchange, wait_s: float | None) -> object | None:
    """The first item that puts bytes on the wire, or None once ``wait_s`` passed (a keep-alive
    is due). A progress note this door does not show (every call queues one before it goes
    upstream) does not commit the stream, so an upstream failure right after it keeps its
    status, as it does on a buffered request."""
    deadline = None if wait_s is None else time.monotonic() + wait_s
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        item = await run.next(left)
        if not (isinstance(item, Note) and door.sse_progress(item, ex) is None):
            return item


async def _sse(
    run: Run, door: Door, ex: Exchange, keepalive: float, *, commit_at_once: bool
) -> Response:
    wait = keepalive if keepalive > 0 else None
    first = None if commit_at_once else await _first_shown(run, door, ex, wait)
    if isinstance(first, GatewayError):  # failed before any byte: a proper status
        run.record(first)
        return door.error_response(first, {**first.headers, **_headers(ex.generation_id)})

    headers = {**_headers(ex.generation_id), **_SSE_HEADERS}
    events = _events(run, door, ex, keepalive, first, commit_at_once=commit_at_once)
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


async def _events(
    run: Run, door: Door, ex: Exchange, keepalive: float, first: object | None, *,
    commit_at_once: bool,
) -> AsyncGenerator[bytes, None]:  # fmt: skip
    """A committed event stream: ``first`` (None: a keep-alive), then the run's items."""
    wait = keepalive if keepalive > 0 else None
    item: object | None = first
    try:
        if commit_at_once:
            yield door.sse_keepalive()
            item = await run.next(wait)
        while item is not _END:
            for frame in _sse_frame(item, run, door, ex):
                if not isinstance(frame, B64Flow):
                    yield frame
                    continue
                try:
                    async for chunk in frame.chunks():
                        yield chunk
                except FlowBroken as broken:
                    # The provider failed inside an image already half sent: what was sent
                    # cannot be taken back, but the event can still end as the failure (see
                    # _cut_short); the generation's failure is recorded as usual.
                    failure = await run.result(keepalive or None)
                    run.record(failure)
                    if not isinstance(failure, GatewayError):
                        failure = GatewayError(502, f"The provider's stream broke: {broken}")
                    closing = _cut_short(door.sse_error(failure, ex))
                    if closing is not None:
                        yield closing
                        yield door.sse_done()
                    return
            item = await run.next(wait)
        yield door.sse_done()
    finally:
        await run.cancel()


def _cut_short(error_frame: bytes) -> bytes | None:
    """The bytes that end an image event cut inside its base64 as ``error_frame``'s error.

    The cut event's ``data:`` line stops inside its ``b64_json`` string. Left so, the Python
    SDK raises a validation error on it and the TypeScript SDK silently ends the stream with
    neither image nor error. Closed with ``","type":"error","error":{…}}``, the line is one JSON
    object whose later ``type`` wins (JSON parsers keep the last of duplicate keys, as
    Python's, JavaScript's and Go's do): both SDKs, and OpenAI's, then read the error event the
    door would have sent. None if the door's error frame is not one ``data: {…}`` line.
    """
    opening = b"data: {"
    if not (error_frame.startswith(opening) and error_frame.endswith(b"}\n\n")):
        return None
    if b"\n" in error_frame[:-2]:
        return None
    return b'",' + error_frame[len(opening) :]


async def serve(
    http: Request,
    caller: Principal,
    body: ImageGenerationRequest,
    door: Door,
    *,
    sse: Callable[[Sequence[tuple[EndpointSpec, Normalized]]], bool],
    upstream_stream: bool,
    commit_at_once: bool = False,
) -> Response:
    """Run ``body`` through the pipeline and answer in ``door``'s shape.

    ``sse(attempts)`` decides, from the endpoints that can serve the request, whether to answer
    as an event stream (a request still fetching its references when the answer is committed
    is decided on the endpoints routing found, before its price ceiling is applied);
    ``upstream_stream`` asks streaming endpoints for partial images; ``commit_at_once`` opens
    the event stream before the first result (progress mode), instead of waiting up to one
    keep-alive period for a failure that could still get its real status.
    """
    state: AppState = http.app.state.ig
    gid = new_generation_id()
    ex = Exchange(gid, int(time.time()), time.monotonic(), body.model)
    rate = await _begin_rate_check(state, caller)
    # While the rate check is on its way to Redis: the request's routing, which is
    # computation only. Its failure is answered only once the check allowed the request, so
    # a caller over its limit gets the 429 either way, as before.
    routed: tuple[ModelSpec, list[tuple[EndpointSpec, Normalized]]] | None = None
    unroutable: GatewayError | None = None
    try:
        routed = route(state, body)
    except GatewayError as exc:
        unroutable = exc
    except BaseException:
        if inspect.iscoroutine(rate):
            rate.close()  # never awaited: said so, not warned about
        raise
    refused = await _admit(state, caller, gid, rate)
    if refused is not None:
        return door.error_response(refused, {**refused.headers, **_headers(gid)})
    slot = _slot_name(state, caller)
    ledger = Ledger(state, gid, body, caller, http.headers.get("user-agent"), door.route)
    ledger.attribution(http.headers.get("http-referer"), http.headers.get("x-session-id"))
    keepalive = state.settings.keepalive_s
    prep: asyncio.Future[Plan] | None = None
    try:
        if unroutable is not None:
            raise unroutable
        assert routed is not None
        as_sse = sse(routed[1])
        if keepalive > 0 and (as_sse or door.commits_early) and _fetches(body):
            # Reference images are fetched while preparing, from hosts as slow as they like:
            # past one keep-alive period the answer is committed, as a slow generation's is.
            prep = asyncio.ensure_future(prepare(state, body, caller, gid, routed))
            await asyncio.wait({prep}, timeout=keepalive)
            if not prep.done():
                prepared = Prepared(state, prep, ledger, slot, upstream_stream if as_sse else False)
                return _while_preparing(prepared, door, ex, keepalive, as_sse=as_sse)
            plan = prep.result()
        else:
            plan = await prepare(state, body, caller, gid, routed)
    except GatewayError as exc:
        ledger.failure("failed", exc, None, 0)
        await _release(state, slot, gid)
        return door.error_response(exc, {**exc.headers, **_headers(gid)})
    except BaseException:
        if prep is not None and not prep.done():
            prep.cancel()
        await _release(state, slot, gid)
        raise
    as_sse = sse(plan.attempts)
    run = _start(state, plan, ledger, slot, upstream_stream if as_sse else False, as_sse)
    if as_sse:
        return await _sse(run, door, ex, keepalive, commit_at_once=commit_at_once)
    return await _buffered(run, door, ex, keepalive if door.commits_early else 0)


def _fetches(body: ImageGenerationRequest) -> bool:
    """Whether preparing the request fetches images (a URL, not inline data)."""
    refs = [r.image_url.url for r in body.input_references or ()]
    if body.mask is not None:
        refs.append(body.mask.image_url.url)
    return any(url[:5].lower() != "data:" for url in refs)


def _start(
    state: AppState, plan: Plan, ledger: Ledger, slot: str | None, stream: bool, as_sse: bool
) -> Run:
    """The generation's task, once its plan is ready (``as_sse``: answered as an event
    stream, which shows progress)."""
    if plan.budget is not None and plan.budget.held is not None:
        ledger.hold_id = plan.id
    run = Run(state, plan, ledger, stream, progress=as_sse)
    if slot is not None:
        # the key's concurrency slot is held until the generation ends, drained or not
        run.task.add_done_callback(lambda _: state.spawn(_release(state, slot, plan.id)))
    return run


@dataclass(slots=True)
class Prepared:
    """A plan still being prepared (reference images on their way) once the answer is
    committed: what starting its generation, or settling its failure, needs."""

    state: AppState
    task: asyncio.Future[Plan]
    ledger: Ledger
    slot: str | None
    stream: bool
    taken: bool = False  # the plan (or failure) was taken by the answer: not abandoned

    async def plan(self, keepalive: float) -> Plan | GatewayError | None:
        """The plan, the request's failure, or None once ``keepalive`` passed first."""
        await asyncio.wait({self.task}, timeout=keepalive)
        if not self.task.done():
            return None
        self.taken = True
        try:
            return self.task.result()
        except GatewayError as exc:
            self.ledger.failure("failed", exc, None, 0)
            await _release(self.state, self.slot, self.ledger.gid)
            return exc
        except BaseException:
            await _release(self.state, self.slot, self.ledger.gid)
            raise

    def abandon(self) -> None:
        """The client left before the plan was ready: its generation never starts; what the
        preparation took (a credit hold, the concurrency slot) is given back once it ends."""
        self.state.spawn(self._settle())

    async def _settle(self) -> None:
        try:
            plan = await self.task
        except Exception as exc:  # the client left: nobody to tell
            error = exc if isinstance(exc, GatewayError) else None
            self.ledger.failure("cancelled", error, None, 0, note="the client went away")
        else:
            if plan.budget is not None and plan.budget.held is not None:
                self.ledger.hold_id = plan.id  # the row releases the hold
            self.ledger.failure("cancelled", None, None, 0, note="the client went away")
        finally:
            await _release(self.state, self.slot, self.ledger.gid)


def _while_preparing(
    prepared: Prepared, door: Door, ex: Exchange, keepalive: float, *, as_sse: bool
) -> Response:
    """An answer committed while the plan is still being prepared: keep-alives until it is
    ready, then the generation as on any committed answer (or the request's failure)."""

    async def body() -> AsyncIterator[bytes]:
        try:
            result: Plan | GatewayError | None = None
            while result is None:
                yield door.sse_keepalive() if as_sse else b"\n"
                result = await prepared.plan(keepalive)
            if isinstance(result, GatewayError):
                if as_sse:
                    yield door.sse_error(result, ex)
                    yield door.sse_done()
                else:
                    yield door.late_error(result, ex)
                return
            run = _start(
                prepared.state, result, prepared.ledger, prepared.slot, prepared.stream, as_sse
            )
            if as_sse:
                tail = _events(run, door, ex, keepalive, None, commit_at_once=False)
            else:
                tail = _kept_alive(run, door, ex, keepalive)
            async with contextlib.aclosing(tail) as pieces:  # closed (run settled) at once
                async for piece in pieces:
                    yield piece
        finally:
            if not prepared.taken:
                prepared.abandon()

    headers = _headers(ex.generation_id)
    if as_sse:
        headers.update(_SSE_HEADERS)
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
    return StreamingResponse(body(), media_type="application/json", headers=headers)


def _slot_name(state: AppState, caller: Principal) -> str | None:
    """The key's concurrency slot set, or None when its concurrency is unlimited."""
    if not (caller.concurrency_limit or state.settings.concurrency_per_key):
        return None
    return f"key:{caller.key_id or 'master'}"


async def _begin_rate_check(state: AppState, caller: Principal) -> Awaitable[Decision]:
    """The key's request rate (sliding 60 s window): sent now, decided when awaited."""
    rpm = caller.rate_limit_rpm or state.settings.rate_limit_rpm
    return await state.limiter.begin_hit(f"key:{caller.key_id or 'master'}", rpm)


async def _admit(
    state: AppState, caller: Principal, gid: str, rate: Awaitable[Decision]
) -> GatewayError | None:
    """The key's rate check's decision, then its concurrent generations; None: admitted."""
    settings = state.settings
    decision = await rate
    if not decision.allowed:
        return GatewayError(
            429,
            f"Rate limit exceeded: {decision.limit} requests per 60 seconds for this key",
            headers={"retry-after": str(decision.reset_s)},
        )
    concurrency = caller.concurrency_limit or settings.concurrency_per_key
    if concurrency:
        lease = 2 * settings.upstream_timeout_s + settings.disconnect_drain_s + 60
        name = _slot_name(state, caller)
        assert name is not None
        if not await state.limiter.acquire(name, gid, concurrency, lease):
            return GatewayError(
                429,
                f"Too many concurrent generations: this key may run {concurrency} at once",
                headers={"retry-after": "1"},
            )
    return None


async def _release(state: AppState, slot: str | None, gid: str) -> None:
    if slot is not None:
        await state.limiter.release(slot, gid)


__all__ = ["Door", "Exchange", "Ledger", "Run", "recorded_params", "serve"]
