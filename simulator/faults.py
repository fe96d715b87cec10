"""Transport-level faults every simulator can produce: a dropped connection, a cut body, junk.

These are ASGI responses that deliberately break HTTP. Under uvicorn, an application that
returns without finishing its response makes the server close the connection, which the
client sees as the peer going away (httpx: ``RemoteProtocolError``). The headers go out first,
because an ASGI application cannot close a connection before answering.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class DroppedConnection(Response):
    """Send the status line and headers of a 200 with a promised body, then drop the connection.

    ``body`` is what a well-behaved server would have sent; only ``body[:cut_at]`` goes out.
    ``cut_at=0`` (the default) is a reset right after the headers.
    """

    def __init__(
        self, body: bytes = b"{}", *, cut_at: int = 0, media_type: str = "application/json"
    ) -> None:
        super().__init__(content=body, status_code=200, media_type=media_type)
        self._cut_at = max(0, min(cut_at, len(body) - 1))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if self._cut_at:
            await send(
                {"type": "http.response.body", "body": self.body[: self._cut_at], "more_body": True}
            )
        # Returning without the final body message: the server closes the connection.


def truncated(body: bytes, media_type: str = "application/json") -> DroppedConnection:
    """The first half of ``body`` under a Content-Length that promises all of it."""
    return DroppedConnection(body, cut_at=max(1, len(body) // 2), media_type=media_type)


def malformed_json(media_type: str = "application/json") -> Response:
    """A 200 whose body claims to be JSON and is not."""
    return Response(b'{"data": [{"b64_json": "iVBOR', status_code=200, media_type=media_type)


__all__ = ["DroppedConnection", "malformed_json", "truncated"]
