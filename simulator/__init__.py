"""Provider simulators: small ASGI apps speaking each upstream's real wire format.

Used by the test suite, benchmarks and demo mode. Each simulator module exposes
``create_app(knobs=None, *, api_key=None) -> Starlette``; ``create_combined_app`` mounts them all
under ``/<name>`` (e.g. the OpenAI base URL becomes ``http://host:port/openai/v1``).
"""

from __future__ import annotations

from typing import Protocol

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from simulator import azure_mai, bfl, bytedance, google, openai, recraft, runware, xai
from simulator.knobs import Knobs


class SimulatorFactory(Protocol):
    def __call__(self, knobs: Knobs | None = None, *, api_key: str | None = None) -> Starlette: ...


SIMULATORS: dict[str, SimulatorFactory] = {
    "openai": openai.create_app,
    "xai": xai.create_app,
    "bytedance": bytedance.create_app,
    "google": google.create_app,
    "recraft": recraft.create_app,
    "azure_mai": azure_mai.create_app,
    "runware": runware.create_app,
    "bfl": bfl.create_app,
}


def create_combined_app(
    knobs: dict[str, Knobs] | None = None, *, api_keys: dict[str, str] | None = None
) -> Starlette:
    """Every simulator mounted under ``/<name>``; ``GET /`` lists them.

    Each keeps its own knobs and request log, reachable at ``/<name>/_sim/…`` and in-process at
    ``app.state.simulators[name].state.sim``.
    """
    knobs, api_keys = knobs or {}, api_keys or {}
    apps = {
        name: factory(knobs.get(name), api_key=api_keys.get(name))
        for name, factory in SIMULATORS.items()
    }

    async def index(_: Request) -> Response:
        listing = {name: {"base_path": f"/{name}", "admin": f"/{name}/_sim"} for name in apps}
        return Response(orjson.dumps({"simulators": listing}), media_type="application/json")

    app = Starlette(
        routes=[Route("/", index), *(Mount(f"/{name}", app=sub) for name, sub in apps.items())]
    )
    app.state.simulators = apps
    return app


__all__ = ["SIMULATORS", "Knobs", "SimulatorFactory", "create_combined_app"]
