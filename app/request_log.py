"""One structured line per request, with its request id, and the facts the pipeline learned.

:class:`RequestLog` is pure ASGI (it never buffers a body, so streaming responses stream): it
honours an incoming ``x-request-id`` (or makes one), returns it on the response, and logs one
line on ``imagegate.request`` when the response has ended. Code deeper in the request (auth,
the ledger) adds what it learns with :func:`note` (key id, generation id, model, provider,
outcome, cost); it goes through a context variable holding one mutable record per request, so
tasks spawned by the request write to the same record.

Never logged: the prompt, image bytes, the query string, headers, keys. The path is logged as
the server decoded it: a path with spaces or quotes is shown quoted, and the text format escapes
control characters (see :mod:`app.logs`), so a crafted URL cannot forge a log line or its fields.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, fields
from decimal import Decimal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.generation.ids import GENERATION_PATHS, new_generation_id
from app.logs import text_value

log = logging.getLogger("imagegate.request")
REQUEST_ID_HEADER = b"x-request-id"
GENERATION_ID_HEADER = b"x-generation-id"
# an incoming id is kept only when it is short and cannot break a log line
# fields the text line already shows in its message (JSON has them as fields)
IN_MESSAGE = frozenset({"method", "path", "status", "latency_ms"})
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:/+=-]{1,128}$")


@dataclass(slots=True)
class RequestFacts:
    """What one request's log line says besides method, path, status and latency."""

    request_id: str
    key_id: str | None = None
    generation_id: str | None = None
    model: str | None = None
    provider: str | None = None
    outcome: str | None = None  # the generation's status: succeeded, failed, cancelled
    cost_usd: Decimal | None = None


_FACTS = tuple(f.name for f in fields(RequestFacts))  # (asdict() deep-copies: 60 µs a line)
_current: ContextVar[RequestFacts | None] = ContextVar("imagegate_request", default=None)


def note(**facts: object) -> None:
    """Add facts to the current request's log line (no-op outside a request)."""
    current = _current.get()
    if current is None:
        return
    for name, value in facts.items():
        setattr(current, name, value)


def current_request_id() -> str | None:
    current = _current.get()
    return current.request_id if current else None


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _VALID_ID.match(value):
            return bytes(value).decode("ascii")
    return uuid.uuid4().hex


class RequestLog:
    """Pure ASGI middleware: ``x-request-id`` in and out, one log line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        facts = RequestFacts(_request_id(scope))
        token = _current.set(facts)
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering
        # every answer of a generation door carries an ``x-generation-id``, the ones refused
        # before a generation began (401, 413, a body that does not validate) too; theirs
        # names no record (``GET /api/v1/generation`` answers 404, as OpenRouter's does until
        # its record exists)
        door = scope.get("method") == "POST" and scope.get("path") in GENERATION_PATHS

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                named = False
                for name, value in headers:
                    if name == GENERATION_ID_HEADER:
                        named = True
                        if facts.generation_id is None:
                            facts.generation_id = value.decode("latin-1")
                if not named and door:
                    facts.generation_id = new_generation_id()
                    headers.append((GENERATION_ID_HEADER, facts.generation_id.encode("ascii")))
                headers.append((REQUEST_ID_HEADER, facts.request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
            latency_ms = round((time.perf_counter() - started) * 1000)
            method, path = scope.get("method", ""), scope.get("path", "")
            fields = {
                "method": method,
                "path": path,
                "status": status,
                "latency_ms": latency_ms,
                **{name: getattr(facts, name) for name in _FACTS},
            }
            log.info(
                "%s %s %d %dms",
                method,
                text_value(path),  # quoted when it has spaces: it cannot fake the fields after it
                status,
                latency_ms,
                extra={"fields": fields, "in_message": IN_MESSAGE},
            )
