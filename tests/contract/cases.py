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


def _xai_reference(entry: Entry) -> bool:
    body = entry.get("body") or {}
    found = body.get("image") or body.get("images")
    return entry["path"].endswith("/images/edits") and bool(found)


def _seedream_reference(entry: Entry) -> bool:
    body = entry.get("body") or {}
    return entry["path"].endswith("/images/generations") and bool(body.get("image"))


def _google_reference(entry: Entry) -> bool:
    """A generateContent call whose contents carried an ``inlineData`` image part."""
    body = entry.get("body") or {}
    parts = [p for c in body.get("contents") or [] for p in c.get("parts") or []]
    return entry["path"].endswith(":generateContent") and any(
        str((p.get("inlineData") or {}).get("mimeType", "")).startswith("image/") for p in parts
    )


def _recraft_reference(entry: Entry) -> bool:
    """Recraft takes a reference on ``/v1/images/imageToImage`` as a JSON ``image_url``."""
    body = entry.get("body") or {}
    return entry["path"].endswith("/images/imageToImage") and bool(body.get("image_url"))


def _azure_mai_reference(entry: Entry) -> bool:
    """A multipart edit with at least one ``image`` file part (summarised in the log)."""
    body = entry.get("body") or {}
    return entry["path"].endswith("/images/edits") and bool(body.get("image"))


def _runware_reference(entry: Entry) -> bool:
    """A task of the logged JSON array carries ``inputs.referenceImages``."""
    tasks = entry.get("body")
    return isinstance(tasks, list) and any(
        isinstance(t, dict) and bool((t.get("inputs") or {}).get("referenceImages")) for t in tasks
    )


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
        adapter="xai",
        model="x-ai/grok-imagine-image",
        body={"aspect_ratio": "1:1", "resolution": "1K"},
        reference_seen=_xai_reference,
    ),
    Case(
        adapter="bytedance",
        model="bytedance-seed/seedream-4.0",
        body={"resolution": "1K"},
        reference_seen=_seedream_reference,
        stream_model="bytedance-seed/seedream-4.0",
    ),
    Case(
        adapter="google",
        model="google/gemini-3.1-flash-image",
        body={"aspect_ratio": "16:9", "resolution": "1K"},
        reference_seen=_google_reference,
    ),
    Case(
        adapter="recraft",
        model="recraft/recraft-v3",  # raster, and the Recraft model that takes a reference
        body={"size": "1024x1024"},
        reference_seen=_recraft_reference,
    ),
    Case(
        adapter="azure_mai",
        model="microsoft/mai-image-2.5",
        body={"aspect_ratio": "16:9"},
        reference_seen=_azure_mai_reference,
    ),
    Case(
        adapter="runware",
        model="sourceful/riverflow-v2.5-fast",
        body={"aspect_ratio": "4:3", "quality": "low"},
        reference_seen=_runware_reference,
    ),
    Case(
        adapter="bfl",
        model="black-forest-labs/flux.2-pro",
        body={"aspect_ratio": "1:1"},
        reference_seen=_bfl_reference,
    ),
)
