"""Runware-specific simulator state: config switches, the account balance, stored images and
async jobs, on top of the shared knobs and request log.

``GET/POST /_sim/runware`` reads and changes the config (``strict``, ``balance_usd``,
``async_polls``); ``POST /_sim/reset`` (shared) restores everything, including these.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.knobs import Knobs, SimState
from simulator.runware_errors import TaskError
from simulator.runware_images import ImageStore


@dataclass
class RunwareConfig:
    """Switches the shared knobs do not have."""

    strict: bool = False
    """Unknown task keys → 400 ``unsupportedParameter`` (default: ignored, as §9 says)."""
    balance_usd: Decimal | None = None
    """Account balance; None is unlimited. At or below zero every request is a 402."""
    async_polls: int = 2
    """``getResponse`` answers ``processing`` this many times before the results."""

    def update(self, changes: dict[str, Any]) -> None:
        """Apply JSON changes; ``ValueError`` (nothing changed) for unknown fields or types."""
        staged = dataclasses.replace(self)
        for name, value in changes.items():
            if name == "strict" and isinstance(value, bool):
                staged.strict = value
            elif name == "balance_usd" and value is None:
                staged.balance_usd = None
            elif name == "balance_usd" and isinstance(value, int | float | str):
                try:
                    staged.balance_usd = Decimal(str(value))
                except InvalidOperation as exc:
                    raise ValueError("balance_usd must be a number") from exc
            elif name == "async_polls" and isinstance(value, int) and value >= 0:
                staged.async_polls = value
            else:
                raise ValueError(f"bad runware setting {name}={value!r}")
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(staged, f.name))

    def as_dict(self) -> dict[str, Any]:
        balance = None if self.balance_usd is None else str(self.balance_usd)
        return {"strict": self.strict, "balance_usd": balance, "async_polls": self.async_polls}


@dataclass
class AsyncJob:
    """An ``async`` task: its final items (or error) and how many polls remain."""

    items: list[dict[str, Any]] = field(default_factory=list)
    error: TaskError | None = None
    polls_left: int = 0
    polls: int = 0


class RunwareState(SimState):
    """Shared knobs and log, plus the Runware config, balance, images and async jobs."""

    def __init__(self, knobs: Knobs | None = None, config: RunwareConfig | None = None) -> None:
        super().__init__(knobs)
        self.config = config if config is not None else RunwareConfig()
        self._initial_config = dataclasses.replace(self.config)
        self.images = ImageStore()
        self.jobs: dict[str, AsyncJob] = {}
        self._money = threading.Lock()

    def charge(self, amount: Decimal) -> None:
        with self._money:
            if self.config.balance_usd is not None:
                self.config.balance_usd -= amount

    def out_of_credit(self) -> bool:
        with self._money:
            return self.config.balance_usd is not None and self.config.balance_usd <= 0

    def reset(self) -> None:
        super().reset()
        self.config.update(self._initial_config.as_dict())
        self.images.clear()
        self.jobs.clear()


def config_routes(state: RunwareState) -> list[Route]:
    """``GET/POST /_sim/runware``."""

    def _json(payload: Any, status: int = 200) -> Response:
        return Response(orjson.dumps(payload), status, media_type="application/json")

    async def get_config(_: Request) -> Response:
        return _json(state.config.as_dict())

    async def set_config(request: Request) -> Response:
        try:
            changes = orjson.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            state.config.update(changes)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        return _json(state.config.as_dict())

    return [
        Route("/_sim/runware", get_config, methods=["GET"]),
        Route("/_sim/runware", set_config, methods=["POST"]),
    ]
