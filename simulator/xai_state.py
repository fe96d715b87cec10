"""Wire switches of the xAI simulator, its state, the temporary image store and admin routes.

Some of xAI's answers come in more than one observed form (``b64_json`` with or without a
``data:`` prefix, ``mime_type`` present or not, error codes in three spellings). The defaults
follow the reference's best evidence; :class:`XaiWire` switches to the other forms, in process
(``app.state.sim.wire``) or over HTTP (``GET``/``POST /_sim/xai``).
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.knobs import Knobs, SimState
from simulator.xai_errors import CODE_STYLES

IMAGE_FORMATS = ("jpeg", "png", "webp")
INPUT_BLOCKS = ("empty_data", "no_data", "error_400")


@dataclass
class XaiWire:
    """How the simulator spells its answers."""

    b64_data_uri: bool = True
    """``b64_json`` as ``data:image/jpeg;base64,…`` (the SDK splits on ``base64,``); False: bare."""
    send_mime_type: bool = True
    """Include ``data[].mime_type``."""
    image_format: str = "jpeg"
    """Encoding of generated images ("JPEG-encoded"; ``image/png`` and ``image/webp`` listed)."""
    code_style: str = "documented"
    """``code`` spelling: the reference's own per error, or all ``prose``/``hyphen``/``snake``."""
    send_created: bool = True
    """Include ``created`` (seen only through a relay)."""
    url_ttl_s: float = 600.0
    """How long a ``url`` answer stays downloadable ("Generated URLs are temporary")."""
    input_block: str = "empty_data"
    """How an input block answers; its status and shape are open questions (§2.3, §7):
    ``empty_data`` a 200 with ``data: []`` and the reason (§5.5: "an empty ``data`` array"),
    ``no_data`` a 200 with the reason and no ``data`` at all, ``error_400`` a 400
    ``{code, error}`` whose ``error`` gives the reason."""
    block_reason_field: str = "block_reason"
    """Top-level name of the reason in a 200 block ("field name unknown", §2.3); "" omits it."""

    def update(self, changes: dict[str, Any]) -> None:
        """Apply JSON changes, rejecting unknown fields and wrong values (``ValueError``)."""
        staged = copy.copy(self)
        names = {f.name for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown xai switch {name!r}; known: {sorted(names)}")
            setattr(staged, name, _checked(name, value))
        for name in changes:
            setattr(self, name, getattr(staged, name))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checked(name: str, value: Any) -> Any:
    if name == "image_format":
        if value not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}")
        return value
    if name == "code_style":
        if value not in CODE_STYLES:
            raise ValueError(f"code_style must be one of {CODE_STYLES}")
        return value
    if name == "input_block":
        if value not in INPUT_BLOCKS:
            raise ValueError(f"input_block must be one of {INPUT_BLOCKS}")
        return value
    if name == "block_reason_field":
        if not isinstance(value, str) or value in ("data", "usage", "created"):
            raise ValueError("block_reason_field must be a string naming no other field")
        return value
    if name == "url_ttl_s":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError("url_ttl_s must be a non-negative number")
        return float(value)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a boolean")
    return value


class XaiState(SimState):
    """Shared knobs and request log, plus the xAI wire switches; ``reset`` restores both."""

    def __init__(self, knobs: Knobs | None = None) -> None:
        super().__init__(knobs)
        self.wire = XaiWire()

    def reset(self) -> None:
        super().reset()
        self.wire = XaiWire()


class TempImages:
    """Images served for ``response_format: url``, each under a random path until it expires.

    Bounded, oldest first out: an expired or evicted image answers 404, like a lapsed URL.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[bytes, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, data: bytes, media_type: str, ttl_s: float) -> str:
        """Store an image; returns its file name (``xai-tmp-imgen-<hex>.<ext>``)."""
        ext = media_type.rpartition("/")[2]
        name = f"xai-tmp-imgen-{secrets.token_hex(16)}.{ext}"
        with self._lock:
            self._entries[name] = (data, media_type, time.monotonic() + ttl_s)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return name

    def get(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return None
            data, media_type, expires = entry
            if time.monotonic() >= expires:
                del self._entries[name]
                return None
            return data, media_type


def wire_routes(state: XaiState) -> list[Route]:
    """``GET /_sim/xai`` → switches; ``POST /_sim/xai`` → change some (400 on a bad one)."""

    def _json(payload: Any, status: int = 200) -> Response:
        return Response(orjson.dumps(payload), status_code=status, media_type="application/json")

    async def get_wire(_: Request) -> Response:
        return _json(state.wire.as_dict())

    async def set_wire(request: Request) -> Response:
        try:
            changes = orjson.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of switches")
            state.wire.update(changes)
        except ValueError as exc:
            return _json({"error": str(exc)}, status=400)
        return _json(state.wire.as_dict())

    return [
        Route("/_sim/xai", get_wire, methods=["GET"]),
        Route("/_sim/xai", set_wire, methods=["POST"]),
    ]
