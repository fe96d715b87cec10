"""``POST /api/v1/images``: buffered JSON or SSE.

Slow generations and the Python SDK's 5-second read timeout: the SDK re-sends a request whose
answer has not started within 5 s. So a buffered request that has not finished after
``IMAGEGATE_KEEPALIVE_S`` (default 3 s) is committed to ``200 application/json`` and the
gateway sends a newline every ``keepalive_s`` until the JSON body follows; leading whitespace is
valid JSON for every client. Failures found before that moment (validation, auth, credit,
routing and fast upstream errors) keep their proper 4xx/5xx status; a failure after it is sent
as the OpenRouter error object in the 200 body. SSE responses use ``:`` comments the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from app.api.schemas import ImageGenerationRequest
from app.auth import Principal, authenticate
from app.billing.ledger import GenerationRecord, write_with_retry
from app.errors import GatewayError, error_body, error_response
from app.generation import render
from app.generation.service import Executor, Outcome, Partial, Plan, new_generation_id, prepare
from app.state import AppState

log = logging.getLogger("imagegate.images")
router = APIRouter(prefix="/api/v1")

Caller = Annotated[Principal, Depends(authenticate)]
_END = object()


def _params(req: ImageGenerationRequest) -> dict[str, object]:
    """The request as recorded: everything but the prompt text and the image bytes."""
    data = req.model_dump(exclude_none=True, exclude={"input_references", "prompt"})
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
    ) -> None:
        self.state, self.gid, self.req, self.principal, self.ua = state, gid, req, principal, ua
        self.created_at = datetime.now(UTC)
        self.started = time.monotonic()
        self.done = False

    def _spawn(self, record: GenerationRecord) -> None:
        if not self.done:
            self.done = True
            self.state.spawn(write_with_retry(self.state.sessionmaker, record))
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
            "request_params": _params(self.req),
            "streamed": bool(self.req.stream),
            "latency_ms": int((time.monotonic() - self.started) * 1000),
            "attempts": attempts,
            "user_agent": self.ua,
        }

    def success(self, o: Outcome) -> None:
        u = o.usage
        self._spawn(
            GenerationRecord(
                **self._base("succeeded", o.endpoint.provider_slug, o.attempts),  # type: ignore[arg-type]
                images=len(o.images),
                pixels=u.pixels,
                resolution=o.normalized.resolution,
                input_text_tokens=u.input_text_tokens,
                input_image_tokens=u.input_image_tokens,
                output_image_tokens=u.output_image_tokens,
                output_text_tokens=u.output_text_tokens,
                cost_usd=o.cost.total,
                upstream_id=o.upstream_id,
            )
        )

    def failure(
        self, status: str, err: GatewayError | None, provider: str | None, attempts: int
    ) -> None:
        self._spawn(
            GenerationRecord(
                **self._base(status, provider, attempts),  # type: ignore[arg-type]
                error_code=err.status if err else None,
                error_message=err.message if err else None,
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
    except Exception:  # a bug: answered as a plain 500, logged with its trace, recorded
        log.exception("generation %s failed unexpectedly", executor.plan.id)
        await queue.put(GatewayError(500, "Internal error while generating the image"))
    finally:
        await queue.put(_END)


class Run:
    """Drives an Executor in a task, so the response can wait with keep-alives."""

    def __init__(self, state: AppState, plan: Plan, ledger: Ledger, stream: bool) -> None:
        self.executor = Executor(state, plan)
        self.ledger = ledger
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.task = asyncio.create_task(_produce(self.executor, stream, self.queue))

    async def next(self, wait_s: float | None) -> object | None:
        """The next item, or None if ``wait_s`` passed first (the task keeps running)."""
        try:
            return await asyncio.wait_for(self.queue.get(), wait_s)
        except TimeoutError:
            return None

    def record(self, item: object) -> None:
        provider = (
            self.executor.last_endpoint.provider_slug if self.executor.last_endpoint else None
        )
        if isinstance(item, Outcome):
            self.ledger.success(item)
        elif isinstance(item, GatewayError):
            self.ledger.failure("failed", item, provider, self.executor.attempts)

    async def cancel(self) -> None:
        if not self.task.done():
            self.task.cancel()
            # shield: this runs inside the response's cancelled scope, whose repeated
            # cancellations would otherwise reach the producer while it closes the upstream
            # connection, and leave that connection open.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.task)
            provider = (
                self.executor.last_endpoint.provider_slug if self.executor.last_endpoint else None
            )
            self.ledger.failure("cancelled", None, provider, self.executor.attempts)


def _headers(gid: str) -> dict[str, str]:
    return {"x-generation-id": gid}


def _gateway_error_response(exc: GatewayError, gid: str) -> Response:
    return error_response(exc.status, exc.message, exc.metadata, {**exc.headers, **_headers(gid)})


async def _buffered(run: Run, gid: str, keepalive: float) -> Response:
    created = int(time.time())
    first = await run.next(keepalive if keepalive > 0 else None)
    if first is not None:
        run.record(first)
        if isinstance(first, GatewayError):
            return _gateway_error_response(first, gid)
        assert isinstance(first, Outcome)
        return Response(
            render.buffered_body(first, created),
            media_type="application/json",
            headers=_headers(gid),
        )

    async def body() -> AsyncIterator[bytes]:
        try:
            item = None
            while item is None:
                yield b"\n"
                item = await run.next(keepalive)
            run.record(item)
            if isinstance(item, Outcome):
                yield render.buffered_body(item, created)
            elif isinstance(item, GatewayError):
                yield error_body(item.status, item.message, item.metadata)
        finally:
            await run.cancel()

    return StreamingResponse(body(), media_type="application/json", headers=_headers(gid))


async def _sse(run: Run, gid: str, keepalive: float) -> Response:
    created = int(time.time())
    first = await run.next(keepalive if keepalive > 0 else None)
    if isinstance(first, GatewayError):  # failed before any byte: a proper status
        run.record(first)
        return _gateway_error_response(first, gid)

    async def events() -> AsyncIterator[bytes]:
        item = first
        try:
            while True:
                if item is None:
                    yield render.KEEPALIVE
                elif isinstance(item, Partial):
                    yield render.partial_event(item)
                elif isinstance(item, Outcome):
                    run.record(item)
                    for event in render.completed_events(item, created):
                        yield event
                elif isinstance(item, GatewayError):
                    run.record(item)
                    yield render.error_event(item.status, item.message)
                else:  # _END
                    break
                item = await run.next(keepalive if keepalive > 0 else None)
            yield render.DONE
        finally:
            await run.cancel()

    headers = {**_headers(gid), "cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.post("/images")
async def create_image(body: ImageGenerationRequest, request: Request, caller: Caller) -> Response:
    state: AppState = request.app.state.ig
    gid = new_generation_id()
    limit = await state.limiter.hit(caller.key_id or "master", state.settings.rate_limit_rpm)
    if not limit.allowed:
        raise GatewayError(
            429,
            f"Rate limit exceeded: {limit.limit} requests per minute for this key",
            headers={"retry-after": str(limit.reset_s), **_headers(gid)},
        )
    ledger = Ledger(state, gid, body, caller, request.headers.get("user-agent"))
    try:
        plan = await prepare(state, body, caller, gid)
    except GatewayError as exc:
        ledger.failure("failed", exc, None, 0)
        return _gateway_error_response(exc, gid)
    stream = bool(body.stream) and any(e.supports_streaming for e, _ in plan.attempts)
    run = Run(state, plan, ledger, stream)
    keepalive = state.settings.keepalive_s
    if stream:
        return await _sse(run, gid, keepalive)
    return await _buffered(run, gid, keepalive)
