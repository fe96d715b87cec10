"""One entry per adapter: which model the scenario matrix drives, and how to read its simulator.

Adding a provider to the matrix is adding a :class:`Case` here; the scenarios themselves
(:mod:`tests.contract.test_matrix`) are the same for every provider. Each simulator triggers the
faults from the shared prompt directives (``[sim:429]``, ``[sim:reset]`` …, see
``simulator.knobs``) in its own provider's wire format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Entry = dict[str, Any]


def _posts(entries: list[Entry]) -> int:
    return sum(1 for e in entries if e["method"] == "POST")


@dataclass(frozen=True)
class Case:
    """How the matrix exercises one adapter against its simulator."""

    adapter: str  # adapter name = simulator name
    model: str  # a catalog model served by this adapter
    # Extra request fields for every scenario (a shape the model accepts).
    body: dict[str, Any] = field(default_factory=dict)
    # Did this logged upstream request carry a reference image?
    reference_seen: Callable[[Entry], bool] = lambda _: False
    # How many upstream generation calls the simulator log shows.
    calls: Callable[[list[Entry]], int] = _posts
    # A model of this adapter that streams partial images, for the truncated-stream scenario.
    stream_model: str | None = None

    def __str__(self) -> str:
        return self.adapter


def _openai_reference(entry: Entry) -> bool:
    body = entry.get("body") or {}
    found = body.get("image") or body.get("image[]") or body.get("images")
    return entry["path"].endswith("/images/edits") and bool(found)


def _bfl_reference(entry: Entry) -> bool:
    body = entry.get("body") or {}
    return entry["method"] == "POST" and bool(body.get("input_image"))


CASES: tuple[Case, ...] = (
    Case(
        adapter="openai",
        model="openai/gpt-image-1.5",
        body={"size": "1024x1024", "quality": "low"},
        reference_seen=_openai_reference,
        stream_model="openai/gpt-image-1.5",
    ),
    Case(
        adapter="bfl",
        model="black-forest-labs/flux.2-pro",
        body={"aspect_ratio": "1:1"},
        reference_seen=_bfl_reference,
    ),
)
