"""The request guard: a pure ASGI middleware that decides about a request before its body.

A URL holding a NUL character (which no database text can hold) is a 400 on every route. For
every request with a body (POST, PUT, PATCH, DELETE), then, in this order:

1. **Authenticate first** (:func:`app.auth.resolve`): a missing or unknown key is a 401 before a
   single body byte is read, so unauthenticated uploads cost nothing; the principal is left in
   the request scope for the route.
2. **Size**: a declared ``Content-Length`` above ``IMAGEGATE_MAX_BODY_BYTES`` is a 413 at once; a
   body without one is counted while it arrives and cut off at the limit.
3. **Time**: the whole body must arrive within ``IMAGEGATE_BODY_TIMEOUT_S``; a body that stalls
   is a 408 and the connection is closed.
4. **Memory**: a body above ``IMAGEGATE_LARGE_BODY_BYTES`` (references inlined as base64) needs
   one of ``IMAGEGATE_LARGE_BODY_SLOTS`` process-wide slots (a chunked body, of unknown size,
   once it grows past that size, before more of it is read), held until its response is done, so
   a burst of huge requests cannot exhaust memory; a request that cannot get a slot within
   ``IMAGEGATE_PROVIDER_WAIT_S`` is a 429 with ``Retry-After``.

Errors use the route's error shape (OpenAI's on the OpenAI-compatible routes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import SCOPE_KEY, bearer_token, resolve
from app.errors import OPENAI_STYLE_PREFIXES, GatewayError, error_response, openai_error_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestGuard:
    """Authenticate, bound the size and time of, and gate the memory of request bodies."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout_s: float = 30.0,
        large_bytes: int = 8 * 1024 * 1024,
        large_slots: int = 4,
        wait_s: float = 30.0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.large_bytes = large_bytes
        self.wait_s = wait_s
        self._large = asyncio.Semaphore(large_slots)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _has_nul(scope):  # no route can store or look up a NUL character (Postgres text)
            bad = GatewayError(400, "The URL contains a NUL character")
            await self._reject(scope, receive, send, bad)
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        async with contextlib.AsyncExitStack() as stack:
            try:
                headers = dict(scope["headers"])
                await self._authenticate(scope, headers)
                declared = _declared_length(headers)
                if declared is not None and declared > self.max_bytes:
                    raise self._too_large()
                large = declared is not None and declared > self.large_bytes
                if large:
                    await stack.enter_async_context(self._slot())
                # a body of unknown size (chunked) takes its slot once it grows past the mark
                grown = None if large else (lambda: stack.enter_async_context(self._slot()))
                holder = [await self._read(receive, grown)]
            except GatewayError as exc:
                await self._reject(scope, receive, send, exc)
                return
            # A large body keeps its slot until its response is done: its references live
            # that long. Small ones never wait.
            await self._run(scope, receive, send, holder)

    async def _authenticate(self, scope: Scope, headers: dict[bytes, bytes]) -> None:
        app: Any = scope.get("app")
        state = getattr(getattr(app, "state", None), "ig", None)
        if state is None:  # not started (tests that build bare apps): the route decides
            return
        token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        scope.setdefault("state", {})[SCOPE_KEY] = await resolve(state, token)

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._large.acquire(), self.wait_s)
        except TimeoutError:
            raise GatewayError(
                429,
                "Too many large requests in flight; retry shortly",
                headers={"retry-after": "1"},
            ) from None
        try:
            yield
        finally:
            self._large.release()

    async def _read(
        self, receive: Receive, grown: Callable[[], Awaitable[object]] | None = None
    ) -> bytes:
        """The whole body, within the size and time limits; ``grown`` is awaited (once) when
        the body passes ``large_bytes``, before more of it is read."""
        chunks: list[bytes] = []
        seen = 0
        try:
            async with asyncio.timeout(self.timeout_s) as deadline:
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    chunk = message.get("body", b"")
                    seen += len(chunk)
                    if seen > self.max_bytes:
                        raise self._too_large()
                    chunks.append(chunk)
                    if grown is not None and seen > self.large_bytes:
                        left = deadline.when()
                        deadline.reschedule(None)  # waiting for a slot is not a stalled body
                        started = asyncio.get_running_loop().time()
                        await grown()
                        grown = None
                        if left is not None:
                            waited = asyncio.get_running_loop().time() - started
                            deadline.reschedule(left + waited)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise GatewayError(
                408,
                f"The request body did not arrive within {self.timeout_s:g} s",
                headers={"connection": "close"},
            ) from None
        return b"".join(chunks)

    async def _run(self, scope: Scope, receive: Receive, send: Send, holder: list[bytes]) -> None:
        pending: bytes | None = holder.pop()  # nothing else keeps the bytes alive

        async def replay() -> Message:
            nonlocal pending
            if pending is not None:
                message: Message = {"type": "http.request", "body": pending, "more_body": False}
                pending = None  # the route owns the bytes now; ours go when it drops them
                return message
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> GatewayError:
        return GatewayError(413, f"Request body is larger than the limit of {self.max_bytes} bytes")

    async def _reject(self, scope: Scope, receive: Receive, send: Send, exc: GatewayError) -> None:
        render = (
            openai_error_response
            if scope["path"].startswith(OPENAI_STYLE_PREFIXES)
            else error_response
        )
        # The body may be unread: close the connection rather than read it to reuse it.
        headers = {**exc.headers, "connection": "close"}
        response = render(exc.status, exc.message, exc.metadata, headers)
        await response(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


def _declared_length(headers: dict[bytes, bytes]) -> int | None:
    declared = headers.get(b"content-length")
    if declared is None or not declared.strip().isdigit():
        return None
    return int(declared)


# The name the app knew before the guard authenticated too.
BodySizeLimit = RequestGuard

__all__ = ["BodySizeLimit", "RequestGuard"]
