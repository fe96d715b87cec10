"""BFL tasks: the status each one shows over time, the per-key active-task count, the knobs.

A task's life is decided at submit and read off the clock at each poll:
``Pending`` for ``latency_s`` (or ``[sim:sleep=S]``), then ``Generating`` for
``generating_s``, then its outcome: ``Ready`` (with a signed ``result.sample`` that expires
``result_ttl_s`` later), ``Content Moderated``, ``Error`` or ``Failed``. ``Request Moderated``
is immediate (the input is checked before processing) and ``Task not found`` is what the poll
of an unknown id, or of a task asked to vanish, answers.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.bfl_errors import item, validation
from simulator.bfl_rules import Job
from simulator.knobs import DirectiveError, Directives, Knobs

Outcome = Literal[
    "Ready", "Request Moderated", "Content Moderated", "Error", "Failed", "Task not found"
]
IN_PROGRESS = frozenset({"Pending", "Generating", "Queued"})
HTTP202 = Literal["full", "bare", "empty"]
EXTRA_DIRECTIVES = frozenset(
    {"queued", "error", "failed", "notfound", "pollfail", "http202", "noid"}
)


@dataclass
class BflKnobs(Knobs):
    """The shared knobs plus BFL's own. ``latency_s`` is how long a task stays ``Pending``."""

    latency_s: float = 0.05
    generating_s: float = 0.05
    """How long a task shows ``Generating`` after ``Pending``."""
    result_ttl_s: float = 600.0
    """Lifetime of a ``result.sample`` URL (BFL: 10 minutes); afterwards the download is a 403."""
    max_active_tasks: int = 24
    """Active (not yet finished) tasks one key may have; one more is a 429."""
    kontext_max_active_tasks: int = 6
    """The same cap for flux-kontext-max tasks."""
    credits: float | None = None
    """Account balance in credits; a submit that would go below zero is a 402. None: no limit."""
    polling_cluster: str = "cluster2"
    """Path prefix of the cluster that takes the tasks (``/<cluster>/v1/get_result``); the
    global ``/v1/get_result`` does not know them, so a rebuilt polling URL finds nothing.
    Empty: tasks are polled on the global route."""
    host_alias: bool = True
    """Name the other loopback alias (``localhost`` <-> ``127.0.0.1``) in ``polling_url`` and
    ``result.sample`` than the client used, as BFL names another host (a cluster, a CDN)."""
    polling_port: int | None = None
    """Name this port in ``polling_url`` instead of the one the client used (a cluster answering
    on another port; serve the app there too). A client must not send its key there: it is
    not the origin of its base URL. None: the client's port."""
    unknown_status_rate: float = 0.0
    """Share of tasks that show the undocumented status ``Queued`` instead of ``Pending``."""
    report_cost: bool = True
    """Put ``cost``/``input_mp``/``output_mp`` in the submit answer (legacy answers may not)."""

    def update(self, changes: dict[str, Any]) -> None:
        """Validate BFL's own fields, then the shared ones; nothing changes on an error."""
        own = {f.name for f in dataclasses.fields(BflKnobs)} - {
            f.name for f in dataclasses.fields(Knobs)
        }
        staged = {k: _coerce(k, v) for k, v in changes.items() if k in own}
        super().update({k: v for k, v in changes.items() if k not in own})
        for name, value in staged.items():
            setattr(self, name, value)


def _coerce(name: str, value: Any) -> Any:
    if name in {"generating_s", "result_ttl_s", "unknown_status_rate"}:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
        if name == "unknown_status_rate" and value > 1:
            raise ValueError("unknown_status_rate must be between 0 and 1")
        return float(value)
    if name in {"max_active_tasks", "kontext_max_active_tasks"}:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
        return value
    if name == "credits":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError("credits must be a number or null")
        return None if value is None else float(value)
    if name == "polling_port":
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536
        ):
            raise ValueError("polling_port must be a TCP port number or null")
        return value
    if name == "polling_cluster":
        if not isinstance(value, str) or (value and not value.replace("-", "").isalnum()):
            raise ValueError("polling_cluster must be a path segment (letters, digits, -)")
        return value
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a boolean")
    return value


def as_bfl_knobs(knobs: Knobs | None) -> BflKnobs:
    """BFL knobs from shared ones (their values kept, BFL's own at their defaults)."""
    if knobs is None:
        return BflKnobs()
    if isinstance(knobs, BflKnobs):
        return knobs
    return BflKnobs(**copy.deepcopy(dataclasses.asdict(knobs)))


@dataclass
class Task:
    """One submitted task and the life it was given at submit."""

    id: str
    key: str
    job: Job
    cluster: str
    outcome: Outcome
    created: float  # monotonic
    pending_s: float
    generating_s: float
    ttl_s: float
    queued: bool = False  # shows `Queued` instead of `Pending`
    # Polls answer HTTP 202 while in progress (None: 200), with the full ResultResponse
    # ("full"), only {"id": …} ("bare", no status) or no body at all ("empty").
    http202: HTTP202 | None = None
    poll_faults: list[int] = field(default_factory=list)  # statuses for the next polls
    # (POLL_RESET: a dropped connection)
    reasons: tuple[str, ...] = ("Protected Content",)

    @property
    def finishes(self) -> float:
        """When the task leaves the in-progress statuses."""
        if self.outcome in ("Request Moderated", "Task not found"):
            return self.created
        if self.outcome in ("Error", "Failed"):
            return self.created + self.pending_s
        return self.created + self.pending_s + self.generating_s

    def status(self, now: float) -> str:
        if now >= self.finishes:
            return self.outcome
        if now < self.created + self.pending_s:
            return "Queued" if self.queued else "Pending"
        return "Generating"

    def progress(self, now: float) -> float | None:
        start = self.created + self.pending_s
        if self.status(now) != "Generating" or self.generating_s <= 0:
            return None
        return round(min(1.0, (now - start) / self.generating_s), 2)

    def expired(self, now: float) -> bool:
        """Has the signed result URL run out? (counted from when the result was ready)"""
        return now > self.finishes + self.ttl_s


class TaskStore:
    """Every task of one simulator app, thread-safe (the app may serve several threads)."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()

    def add(self, task: Task) -> None:
        with self._lock:
            self._tasks[task.id] = task

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def active(self, key: str, models: frozenset[str] | None = None) -> int:
        """Tasks of ``key`` still in progress (optionally of some models only)."""
        now = time.monotonic()
        with self._lock:
            return sum(
                1
                for t in self._tasks.values()
                if t.key == key and now < t.finishes and (models is None or t.job.model in models)
            )

    def take_poll_fault(self, task: Task) -> int | None:
        with self._lock:
            return task.poll_faults.pop(0) if task.poll_faults else None

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()


def parse_directives(prompt: str) -> Directives:
    """The prompt's ``[sim:…]`` tags; an unknown one is a 422 on ``prompt``."""
    try:
        return Directives.parse(prompt, extra=EXTRA_DIRECTIVES)
    except DirectiveError as exc:
        raise validation([item("value_error", ["body", "prompt"], str(exc), "…")]) from exc


def outcome_for(prompt: str, directives: Directives, knobs: BflKnobs) -> Outcome:
    """The terminal status a task will reach, from directives and the moderation knobs."""
    stage = directives.moderate
    if stage is None and any(w.lower() in prompt.lower() for w in knobs.moderate_words):
        stage = knobs.moderation_stage
    if stage == "input":
        return "Request Moderated"
    if stage == "output":
        return "Content Moderated"
    terminal: dict[str, Outcome] = {
        "error": "Error",
        "failed": "Failed",
        "notfound": "Task not found",
    }
    return next((v for k, v in terminal.items() if k in directives.extra), "Ready")


def http202_mode(extra: dict[str, str]) -> HTTP202 | None:
    """``[sim:http202]`` (the full answer), ``[sim:http202=bare]`` (``{"id": …}`` without a
    status) or ``[sim:http202=empty]`` (no body): how in-progress polls answer 202 (§4: old
    clients treated a 202 as "still pending"); a bad argument is a 422 on the prompt."""
    if "http202" not in extra:
        return None
    arg = extra["http202"] or "full"
    modes: dict[str, HTTP202] = {"full": "full", "bare": "bare", "empty": "empty"}
    if arg in modes:
        return modes[arg]
    message = f"Value error, [sim:http202={arg}] wants no argument, bare or empty"
    raise validation([item("value_error", ["body", "prompt"], message, "…")])


POLL_RESET = 0
"""A poll fault that is no HTTP status: the connection drops after the headers."""


def poll_faults(arg: str | None) -> list[int]:
    """``503`` or ``503*3`` → ``[503, 503, 503]``; ``reset*2`` → two dropped connections
    (:data:`POLL_RESET`); a bad argument is a 422 on the prompt."""
    if arg is None:
        return []
    status, _, count = arg.partition("*")
    if status == "reset":
        status = str(POLL_RESET)
    elif not status.isdigit() or not 400 <= int(status) <= 599:
        status = ""
    if not status or (count and not count.isdigit()):
        message = f"Value error, [sim:pollfail={arg}] wants STATUS, reset, or either *COUNT"
        raise validation([item("value_error", ["body", "prompt"], message, "…")])
    return [int(status)] * int(count or 1)
