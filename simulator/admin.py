"""``/_sim/*`` admin endpoints, for driving a simulator that runs in another process.

* ``GET  /_sim/requests`` → ``{"count": n, "requests": [entry, …]}`` (see ``RequestLog``)
* ``GET  /_sim/knobs``    → current knobs
* ``POST /_sim/knobs``    → JSON object of knob fields to change; answers with all knobs;
  400 ``{"error": "…"}`` for unknown fields or wrong types (nothing is changed then)
* ``POST /_sim/reset``    → knobs back to their creation values, request log emptied

They need no API key: simulators are test tools meant for loopback.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.knobs import SimState


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def admin_routes(state: SimState) -> list[Route]:
    """The admin routes bound to one simulator's state."""

    async def requests(_: Request) -> Response:
        entries = state.log.entries
        return _json({"count": len(entries), "requests": entries})

    async def get_knobs(_: Request) -> Response:
        return _json(state.knobs.as_dict())

    async def set_knobs(request: Request) -> Response:
        try:
            changes = orjson.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of knob fields")
            state.knobs.update(changes)
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            return _json({"error": str(exc)}, status=400)
        return _json(state.knobs.as_dict())

    async def reset(_: Request) -> Response:
        state.reset()
        return _json({"ok": True})

    return [
        Route("/_sim/requests", requests, methods=["GET"]),
        Route("/_sim/knobs", get_knobs, methods=["GET"]),
        Route("/_sim/knobs", set_knobs, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
