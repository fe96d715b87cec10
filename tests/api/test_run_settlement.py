"""How a generation is settled: whose client went away (app.api.serving.Run.cancel), and
when a buffered answer's row is recorded.

The e2e tests drive disconnects over real sockets; where the outcome depends on a race (the
generation finishing in the instant the client leaves), the race is set up here directly: the
producer task has finished and its result sits in the queue, never taken by the response.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import pytest

from app.api.images import OpenRouterImages
from app.api.serving import _END, Exchange, Run, _buffered
from app.billing.pricing import Cost
from app.catalog import load_catalog
from app.errors import GatewayError
from app.generation.normalize import normalize
from app.generation.request import ImageGenerationRequest
from app.generation.service import Outcome
from providers.spec import GeneratedImage, Usage


class RecordingLedger:
    def __init__(self) -> None:
        self.done = False
        self.calls: list[tuple[Any, ...]] = []

    def success(self, outcome: Outcome, status: str = "succeeded") -> None:
        self.done = True
        self.calls.append(("success", status, outcome))

    def failure(
        self,
        status: str,
        err: GatewayError | None,
        provider: str | None,
        attempts: int,
        cost: Decimal = Decimal(0),
        note: str | None = None,
    ) -> None:
        self.done = True
        self.calls.append(("failure", status, err, cost))


class FinishedExecutor:
    attempts = 1
    last_endpoint = None
    in_flight = True
    known_charge = None
    failed_cost = Decimal(0)


async def _finished_run(*items: object) -> tuple[Run, RecordingLedger]:
    async def nothing() -> None:
        return None

    run = Run.__new__(Run)  # no state or plan needed: the work is already over
    run.queue = asyncio.Queue()
    for item in (*items, _END):
        run.queue.put_nowait(item)
    run.task = asyncio.create_task(nothing())
    await run.task
    run.executor = FinishedExecutor()  # type: ignore[assignment]
    ledger = RecordingLedger()
    run.ledger = ledger  # type: ignore[assignment]
    return run, ledger


def _outcome() -> Outcome:
    model = load_catalog().get("openai/gpt-image-1.5")
    assert model is not None
    endpoint = model.endpoints[0]
    request = ImageGenerationRequest(model=model.id, prompt="x")
    image = GeneratedImage(b64="iVBORw0KGgo=", media_type="image/png", width=1024, height=1024)
    cost = Cost(total=Decimal("0.0087"), prompt=Decimal("0.0000"), completion=Decimal("0.0087"))
    return Outcome(endpoint, normalize(request, endpoint), (image,), Usage(images=1), cost, None, 1)


async def test_a_result_the_response_never_took_is_recorded_as_cancelled_and_billed() -> None:
    outcome = _outcome()
    run, ledger = await _finished_run(outcome)
    await run.cancel()
    assert ledger.calls == [("success", "cancelled", outcome)]


async def test_a_failure_the_response_never_took_is_recorded_with_its_error() -> None:
    err = GatewayError(502, "OpenAI: upstream error")
    run, ledger = await _finished_run(err)
    await run.cancel()
    assert ledger.calls == [("failure", "cancelled", err, Decimal(0))]


async def test_a_recorded_generation_is_not_recorded_again() -> None:
    run, ledger = await _finished_run(_outcome())
    ledger.done = True
    await run.cancel()
    assert ledger.calls == []


async def _answer(outcome: Outcome) -> tuple[Any, RecordingLedger]:
    run, ledger = await _finished_run(outcome)
    ex = Exchange("gen-test", 1_700_000_000, 0.0, "openai/gpt-image-1.5")
    return await _buffered(run, OpenRouterImages(), ex, keepalive=0), ledger


async def test_a_buffered_answer_is_recorded_once_it_is_sent() -> None:
    # The books wait until the client has its answer: the row is recorded after the last
    # byte went to the server, not before the first.
    outcome = _outcome()
    response, ledger = await _answer(outcome)
    seen: list[tuple[str, int]] = []
    sent = bytearray()

    async def send(message: dict[str, Any]) -> None:
        seen.append((message["type"], len(ledger.calls)))
        sent.extend(message.get("body", b""))

    async def receive() -> dict[str, Any]:
        raise AssertionError("not read")

    assert ledger.calls == []
    await response({"type": "http"}, receive, send)
    assert seen[0] == ("http.response.start", 0)
    assert seen[-1] == ("http.response.body", 0)
    assert ledger.calls == [("success", "succeeded", outcome)]
    assert orjson.loads(sent)["usage"]["cost"] == 0.0087


async def test_a_buffered_answer_that_cannot_be_sent_is_recorded_all_the_same() -> None:
    outcome = _outcome()
    response, ledger = await _answer(outcome)

    async def send(message: dict[str, Any]) -> None:
        raise OSError("connection reset")

    async def receive() -> dict[str, Any]:
        raise AssertionError("not read")

    with pytest.raises(OSError):
        await response({"type": "http"}, receive, send)
    assert ledger.calls == [("success", "succeeded", outcome)]


def test_a_cut_image_event_is_closed_as_the_doors_error_frame() -> None:
    from app.api.serving import _cut_short

    head = b'data: {"type":"image_generation.partial_image","b64_json":"iVBORw0KGgoAAAA'
    frame = b'data: {"type":"error","error":{"message":"broke","code":"upstream_error"}}\n\n'
    closing = _cut_short(frame)
    assert closing is not None and closing.endswith(b"\n\n")
    event = orjson.loads((head + closing)[len(b"data: ") : -2])
    assert event["type"] == "error" and event["error"]["message"] == "broke"
    # frames that are not one data line of an object cannot close the event
    assert _cut_short(b'event: error\ndata: {"type":"error"}\n\n') is None
    assert _cut_short(b'data: {"type":"error",\ndata: "x":1}\n\n') is None
    assert _cut_short(b"data: [DONE]\n\n") is None


@pytest.mark.parametrize("as_sse", [True, False])
async def test_only_an_event_streams_run_takes_progress_notes(as_sse: bool) -> None:
    """Progress notes are shown by event streams only: a buffered answer's run takes none
    (each would wake the answer for nothing)."""
    import contextlib

    from app.generation.service import Note

    run = Run(None, None, None, stream=False, progress=as_sse)  # type: ignore[arg-type]
    run.task.cancel()  # never started: nothing to run here
    with contextlib.suppress(asyncio.CancelledError):
        await run.task
    notes = run.executor.on_progress
    assert (notes is not None) is as_sse
    if notes is not None:
        notes(Note("openai", "generating"))
        assert run.queue.get_nowait() == Note("openai", "generating")
