"""Fault knobs, per-request prompt directives and the request log shared by all simulators.

Two ways to steer a simulator:

* ``Knobs`` — process-wide settings, set in-process (``app.state.sim.knobs``) or over HTTP with
  ``POST /_sim/knobs`` (see ``simulator.admin``).
* Directives embedded in the prompt, e.g. ``"a cat [sim:429]"``, so black-box tests that only
  control the prompt sent through the gateway can still pick a failure:

  ==========================  ==================================================================
  ``[sim:<status>]``          answer with that HTTP error (e.g. 400, 401, 403, 408, 429, 500, 503)
  ``[sim:quota]``             429 ``insufficient_quota`` with ``x-should-retry: false``
  ``[sim:moderate]``          moderation refusal before any output (input stage)
  ``[sim:moderate=output]``   output-stage refusal: a 400 after the latency, or, when streaming,
                              an ``error`` event after the partial images
  ``[sim:sleep=2.5]``         wait 2.5 s before answering (replaces ``latency_s``)
  ``[sim:truncate]``          streaming: close the stream after the partials, without completion;
                              buffered: send half of the JSON body, then close the connection
  ``[sim:done]``              streaming: end with ``data: [DONE]``
  ``[sim:reset]``             send the response headers, then drop the connection (no body)
  ``[sim:malformed]``         answer 200 with a body that is not valid JSON
  ==========================  ==================================================================

  Every simulator understands these; a simulator may accept more, provider-specific ones (a
  Gemini prompt block, a Seedream per-image failure), passed to :meth:`Directives.parse` as
  ``extra`` names and found in :attr:`Directives.extra`. An unknown directive is a 400 from the
  simulator itself, so typos in tests fail loudly.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

ModerationStage = Literal["input", "output"]

_DIRECTIVE = re.compile(r"\[sim:([^\]\s]*)\]", re.IGNORECASE)


class DirectiveError(ValueError):
    """A ``[sim:…]`` directive the simulators do not understand."""


@dataclass
class Knobs:
    """Process-wide behaviour switches; every field has a harmless default."""

    latency_s: float = 0.0
    """Delay before answering a request that passed validation (also before a stream starts)."""
    fail_next: list[int] = field(default_factory=list)
    """HTTP statuses to answer the next requests with, one per request, e.g. ``[429, 500]``;
    ``200`` lets that request through (``[200, 500]``: the second request fails)."""
    moderate_words: tuple[str, ...] = ("forbidden",)
    """A prompt containing any of these words (case-insensitive) is refused by moderation."""
    moderation_stage: ModerationStage = "input"
    """Stage of refusals from ``moderate_words``: ``input`` (a 400 up front) or ``output``."""
    truncate_stream: bool = False
    """Streaming: close the stream after the partial images, before any completion event."""
    partial_delay_s: float = 0.0
    """Streaming: delay before each stream event."""
    partial_split_s: float = 0.0
    """Streaming: send each partial image event in two writes, the first ending halfway through
    its base64, this many seconds apart (an image arriving over a slow link); 0: one write."""
    cut_partial: bool = False
    """Streaming: close the stream halfway through the first partial image event."""
    emit_done: bool = False
    """Streaming: append ``data: [DONE]`` after the last event."""
    retry_after_s: float = 0.02
    """Sent on 429/503 as ``retry-after-ms`` (rounded up in ``retry-after``); small for tests."""
    fixed_image: str = ""
    """Answer every image (partials too) with one pre-encoded picture instead of rendering:
    ``tiny`` (a 64x64 PNG), ``noise`` (a 1024x1024 noise PNG, about 4 MB once base64-encoded)
    or the path of an image file; empty: render. For benchmarks, where rendering must cost
    nothing; the wire format stays exact (the picture is sent as is, whatever size or format
    was asked for)."""

    def update(self, changes: dict[str, Any]) -> None:
        """Apply JSON-ish changes, rejecting unknown fields and wrong types (``ValueError``)."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        staged = copy.copy(self)
        for name, value in changes.items():
            if name not in fields:
                raise ValueError(f"unknown knob {name!r}; known: {sorted(fields)}")
            setattr(staged, name, _coerce(name, value))
        for name in changes:
            setattr(self, name, getattr(staged, name))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready snapshot."""
        data = dataclasses.asdict(self)
        data["moderate_words"] = list(self.moderate_words)
        return data


def _coerce(name: str, value: Any) -> Any:
    if name in {"latency_s", "partial_delay_s", "partial_split_s", "retry_after_s"}:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
        return float(value)
    if name == "fail_next":
        if not isinstance(value, list) or not all(_is_status(v) or v == 200 for v in value):
            raise ValueError("fail_next must be a list of HTTP error statuses (400-599) or 200")
        return list(value)
    if name == "moderate_words":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("moderate_words must be a list of strings")
        return tuple(value)
    if name == "moderation_stage":
        if value not in ("input", "output"):
            raise ValueError("moderation_stage must be 'input' or 'output'")
        return value
    if name == "fixed_image":
        if not isinstance(value, str):
            raise ValueError("fixed_image must be a string: '', 'tiny', 'noise' or a file path")
        return value
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a boolean")
    return value


def _is_status(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599


@dataclass(frozen=True)
class Directives:
    """What the ``[sim:…]`` tags in one prompt ask for."""

    fail_status: int | None = None
    quota: bool = False
    moderate: ModerationStage | None = None
    sleep_s: float | None = None
    truncate: bool = False
    done: bool = False
    reset: bool = False
    malformed: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    """Provider-specific directives: name → argument (``""`` when none was given)."""

    @classmethod
    def parse(cls, prompt: str, extra: frozenset[str] | set[str] = frozenset()) -> Directives:
        """Read every ``[sim:…]`` tag; raises ``DirectiveError`` for unknown ones.

        ``extra`` names the provider-specific directives the calling simulator understands.
        """
        found: dict[str, Any] = {}
        extras: dict[str, str] = {}
        for raw in _DIRECTIVE.findall(prompt):
            key, _, arg = raw.lower().partition("=")
            if key.isdigit() and not arg and _is_status(int(key)):
                found["fail_status"] = int(key)
            elif key == "quota" and not arg:
                found["quota"] = True
            elif key == "moderate" and arg in ("", "input", "output"):
                found["moderate"] = arg or "input"
            elif key == "sleep" and _is_seconds(arg):
                found["sleep_s"] = float(arg)
            elif key in ("truncate", "done", "reset", "malformed") and not arg:
                found[key] = True
            elif key in extra:
                extras[key] = arg
            else:
                raise DirectiveError(f"unknown simulator directive [sim:{raw}]")
        return cls(**found, extra=extras)


def _is_seconds(text: str) -> bool:
    try:
        return 0 <= float(text) < 3600
    except ValueError:
        return False


def strip_directives(prompt: str) -> str:
    """The prompt without its ``[sim:…]`` tags (what gets rendered)."""
    return " ".join(_DIRECTIVE.sub(" ", prompt).split())


class RequestLog:
    """Every request a simulator received (API routes only, not ``/_sim``), oldest first.

    Entries are JSON-ready dicts: ``method``, ``path``, ``headers`` (lower-cased; the
    ``authorization`` value redacted), ``body`` (parsed fields; files and data URLs summarised,
    never their bytes), ``request_id``, ``status`` (filled in once answered) and ``time``.
    """

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record(
        self, method: str, path: str, headers: dict[str, str], request_id: str
    ) -> dict[str, Any]:
        """Add an entry and return it, so the caller can fill in ``body`` and ``status``."""
        redacted = {
            k: ("Bearer <redacted>" if k == "authorization" else v) for k, v in headers.items()
        }
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "headers": redacted,
            "body": None,
            "request_id": request_id,
            "status": None,
            "time": time.time(),
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    @property
    def entries(self) -> list[dict[str, Any]]:
        """A snapshot copy of the entries."""
        with self._lock:
            return list(self._entries)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class SimState:
    """Knobs plus request log of one simulator app (lives on ``app.state.sim``)."""

    def __init__(self, knobs: Knobs | None = None) -> None:
        self.knobs = knobs if knobs is not None else Knobs()
        self._initial = copy.deepcopy(self.knobs)
        self.log = RequestLog()
        self._lock = threading.Lock()

    def take_fault(self) -> int | None:
        """Pop the next status from ``knobs.fail_next`` (None when empty, or for a 200)."""
        with self._lock:
            status = self.knobs.fail_next.pop(0) if self.knobs.fail_next else None
        return None if status == 200 else status

    def reset(self) -> None:
        """Back to the knobs the app was created with, and an empty log."""
        with self._lock:
            self.knobs.update(copy.deepcopy(self._initial).as_dict())
        self.log.clear()
