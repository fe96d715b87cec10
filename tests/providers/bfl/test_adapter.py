"""BflAdapter over real HTTP: the BFL simulator (simulator/bfl.py) on a loopback port.

The simulator answers ``polling_url`` on the other loopback alias under a cluster path, and
its delivery route refuses ``x-key``: an adapter that rebuilds URLs or leaks the key fails here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.generation.normalize import Normalized, normalize
from app.generation.request import ImageGenerationRequest
from providers.bfl.adapter import BflAdapter
from providers.bfl.errors import DEFAULT_RETRY_AFTER_S
from providers.errors import (
    AuthError,
    ContentModerated,
    InsufficientCredit,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
    UpstreamTimeout,
)
from providers.spec import Accepted, Completed, GenerateCall, GenerationEvent, Progress
from simulator.bfl import BflSimState, create_app
from tests.providers.bfl.calls import call, endpoint, reference
from tests.servers import ServerThread, fresh, served_simulator

KEY = "bfl-adapter-test-key-0123"


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, BflSimState]]:
    yield from served_simulator(create_app(api_key=KEY), "/v1")


@pytest.fixture
def sim(simulator: tuple[str, BflSimState]) -> BflSimState:
    return fresh(simulator[1])


def make(client: httpx.AsyncClient, base_url: str, **kw: Any) -> BflAdapter:
    kw.setdefault("poll_interval", 0.02)
    kw.setdefault("max_poll_interval", 0.05)
    return BflAdapter(client, api_key=kw.pop("api_key", KEY), base_url=base_url, **kw)


@pytest.fixture
def adapter(
    client: httpx.AsyncClient, simulator: tuple[str, BflSimState], sim: BflSimState
) -> BflAdapter:
    return make(client, simulator[0])


async def collect(adapter: BflAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


async def fails(adapter: BflAdapter, generate: GenerateCall) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await collect(adapter, generate)
    return info.value


def done(events: list[GenerationEvent]) -> Completed:
    assert isinstance(events[-1], Completed)
    return events[-1]


# -- the happy path --------------------------------------------------------------------------


async def test_submit_poll_download(adapter: BflAdapter, sim: BflSimState) -> None:
    # long enough that a first poll delayed by a busy machine still sees Pending and Generating
    sim.bfl.update({"latency_s": 0.3, "generating_s": 0.3})
    events = await collect(adapter, call("a fox", width=1024, height=768, seed=5))
    accepted = events[0]
    assert isinstance(accepted, Accepted) and accepted.upstream_id
    statuses = [e.status for e in events if isinstance(e, Progress)]
    assert statuses == ["Pending", "Generating", "Ready"]
    result = done(events)
    (image,) = result.images
    assert (image.media_type, image.width, image.height) == ("image/jpeg", 1024, 768)
    assert result.upstream_id == accepted.upstream_id
    assert result.usage.images == 1 and result.usage.pixels == 1024 * 768
    assert result.usage.provider_cost_usd == Decimal("0.03")  # 3 credits


async def test_wire_traffic_key_only_to_the_api(adapter: BflAdapter, sim: BflSimState) -> None:
    await collect(adapter, call(width=512, height=512))
    entries = sim.log.entries
    submit, *polls, fetch = entries
    assert (submit["method"], submit["path"]) == ("POST", "/v1/flux-2-pro")
    assert submit["headers"]["x-key"] == "<redacted>"
    assert submit["body"] == {"prompt": "a red fox", "width": 512, "height": 512}
    # polled exactly where BFL said: the other host alias, the cluster path, with the key
    assert polls and all(p["path"] == "/cluster2/v1/get_result" for p in polls)
    assert all(p["headers"]["host"].startswith("localhost:") for p in polls)
    assert all(p["headers"].get("x-key") == "<redacted>" for p in polls)
    # the signed result, fetched at once and without the key
    assert fetch["path"].startswith("/delivery/results/") and fetch["status"] == 200
    assert "x-key" not in fetch["headers"]


async def test_a_polling_url_on_another_local_port_gets_no_key(client: httpx.AsyncClient) -> None:
    """The same simulator on two ports: its polling_url names the second one. That is not the
    base URL's origin, so the adapter refuses it rather than send the key there."""
    app = create_app(api_key=KEY)
    state: BflSimState = app.state.sim
    with ServerThread(app, lifespan="off") as first, ServerThread(app, lifespan="off") as second:
        state.bfl.update({"polling_port": second.port})
        with pytest.raises(ProtocolError, match="unexpected host") as info:
            await collect(make(client, f"{first.url}/v1"), call())
    assert f":{second.port}" in str(info.value) and KEY not in str(info.value)
    assert [(e["method"], e["headers"]["host"]) for e in state.log.entries] == [
        ("POST", f"127.0.0.1:{first.port}")
    ]


async def test_references_go_as_input_images(adapter: BflAdapter, sim: BflSimState) -> None:
    refs = (reference(96, 64), reference(40, 40))
    result = done(await collect(adapter, call(width=1024, height=1024, input_images=refs)))
    body = sim.log.entries[0]["body"]
    assert body["input_image"]["size"] == [96, 64] and body["input_image_2"]["size"] == [40, 40]
    assert result.usage.input_images == 2 and result.usage.input_pixels == 96 * 64 + 1600
    assert result.usage.provider_cost_usd == Decimal("0.045")  # 3 + 1.5 credits


async def test_kontext_takes_a_ratio_and_answers_png(adapter: BflAdapter, sim: BflSimState) -> None:
    result = done(
        await collect(
            adapter, call(model="black-forest-labs/flux.1-kontext-pro", aspect_ratio="16:9")
        )
    )
    (image,) = result.images
    assert image.media_type == "image/png" and image.width and image.height
    assert abs(image.width / image.height - 16 / 9) < 0.02
    assert sim.log.entries[0]["body"] == {"prompt": "a red fox", "aspect_ratio": "16:9"}
    assert result.usage.provider_cost_usd == Decimal("0.04")


async def test_ultra_sends_image_prompt_and_passthrough(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    generate = call(
        model="black-forest-labs/flux.1.1-pro-ultra",
        input_images=(reference(),),
        options={"raw": True, "safety_tolerance": 6},
        output_format="png",
    )
    result = done(await collect(adapter, generate))
    body = sim.log.entries[0]["body"]
    assert body["raw"] is True and body["safety_tolerance"] == 6 and "image_prompt" in body
    assert result.images[0].media_type == "image/png"


async def test_no_cost_in_the_answer_leaves_pricing_to_the_catalog(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    sim.bfl.update({"report_cost": False})
    assert done(await collect(adapter, call())).usage.provider_cost_usd is None


async def test_a_failed_task_without_a_stated_cost_carries_no_charge(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    sim.bfl.update({"report_cost": False})
    assert (await fails(adapter, call("a fox [sim:moderate]"))).charge is None


# -- polling tolerance -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "directive", ["[sim:noid]", "[sim:queued]", "[sim:http202]", "[sim:pollfail=503]"]
)
async def test_polling_tolerates(adapter: BflAdapter, sim: BflSimState, directive: str) -> None:
    sim.bfl.update({"latency_s": 0.1})
    events = await collect(adapter, call(f"a fox {directive}"))
    assert done(events).images
    if directive == "[sim:queued]":
        assert Progress("Queued") in events


async def test_a_poll_connection_broken_mid_answer_is_retried(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    events = await collect(adapter, call("a fox [sim:pollfail=reset*3]"))
    assert done(events).images
    polls = [e for e in sim.log.entries if e["method"] == "GET" and "get_result" in e["path"]]
    assert len(polls) >= 4  # three dropped, then the answers


async def test_broken_poll_connections_count_toward_the_poll_errors(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    error = await fails(adapter, call("a fox [sim:pollfail=reset*19]"))
    assert type(error) is ProtocolError and error.upstream_request_id
    polls = [e for e in sim.log.entries if e["method"] == "GET"]
    assert len(polls) == 11  # the first try and 10 retries, as for a 503


async def test_a_poll_429_waits_its_retry_after(adapter: BflAdapter, sim: BflSimState) -> None:
    started = time.monotonic()
    assert done(await collect(adapter, call("a fox [sim:pollfail=429]"))).images
    assert time.monotonic() - started >= 1.0  # the simulator says retry-after: 1


class RecordedSleep:
    """The adapter's sleep, recorded and not waited out: what it asked for is asserted."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


async def test_repeated_poll_failures_give_up(
    client: httpx.AsyncClient, simulator: tuple[str, BflSimState], sim: BflSimState
) -> None:
    sleep = RecordedSleep()
    adapter = make(client, simulator[0], sleep=sleep)
    events: list[GenerationEvent] = []
    with pytest.raises(Unavailable) as info:
        async for event in adapter.run(call("a fox [sim:pollfail=503*19]")):
            events.append(event)
    assert info.value.status_code == 503
    (accepted,) = events
    assert isinstance(accepted, Accepted)
    assert accepted.upstream_id == info.value.upstream_request_id  # the task id rides on the error
    # BFL states its charge at submit (3 credits for FLUX.2 [pro] at 1 MP)
    assert accepted.charge is not None and accepted.charge.provider_cost_usd == Decimal("0.03")
    assert info.value.charge == accepted.charge  # the task was taken, and billed, at submit
    polls = [e for e in sim.log.entries if e["method"] == "GET"]
    assert len(polls) == 11  # the first try and 10 retries
    # a failed poll waits at least the default retry-after (1 s) before the next
    failed_waits = [w for w in sleep.waits if w >= DEFAULT_RETRY_AFTER_S]
    assert len(failed_waits) == 10


async def test_a_run_of_poll_failures_short_of_the_limit_still_delivers(
    client: httpx.AsyncClient, simulator: tuple[str, BflSimState], sim: BflSimState
) -> None:
    """§4: "Retry transient 5xx and 429 responses on the poll with backoff; a poll is not a
    new generation": six failing polls in a row cost the caller nothing but time."""
    sleep = RecordedSleep()
    adapter = make(client, simulator[0], sleep=sleep)
    assert done(await collect(adapter, call("a fox [sim:pollfail=503*6]"))).images
    assert len([w for w in sleep.waits if w >= DEFAULT_RETRY_AFTER_S]) == 6
    polls = [e for e in sim.log.entries if e["method"] == "GET" and "get_result" in e["path"]]
    assert len(polls) >= 7


@pytest.mark.parametrize("status", [404, 422])
async def test_a_rejected_poll_is_unavailable_and_not_retried(
    adapter: BflAdapter, sim: BflSimState, status: int
) -> None:
    error = await fails(adapter, call(f"a fox [sim:pollfail={status}*9]"))
    assert type(error) is Unavailable and error.status_code == status
    assert len([e for e in sim.log.entries if e["method"] == "GET"]) == 1


async def test_an_unknown_model_route_is_unavailable_not_the_callers_fault(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    generate = call(endpoint=endpoint(upstream_model="flux-9-nonexistent"))
    error = await fails(adapter, generate)
    assert type(error) is Unavailable and error.status_code == 404 and error.retryable
    assert [(e["method"], e["status"]) for e in sim.log.entries] == [("POST", 404)]


async def test_a_poll_auth_failure_is_not_retried(adapter: BflAdapter, sim: BflSimState) -> None:
    error = await fails(adapter, call("a fox [sim:pollfail=401]"))
    assert isinstance(error, AuthError)
    assert len([e for e in sim.log.entries if e["method"] == "GET"]) == 1


@pytest.mark.parametrize(
    ("directive", "kind", "code"),
    [
        ("[sim:moderate]", ContentModerated, "request_moderated"),
        ("[sim:moderate=output]", ContentModerated, "content_moderated"),
        ("[sim:error]", Unavailable, "task_error"),
        ("[sim:failed]", Unavailable, "task_failed"),
        ("[sim:notfound]", ProtocolError, "task_not_found"),
    ],
)
async def test_terminal_statuses(
    adapter: BflAdapter, sim: BflSimState, directive: str, kind: type[ProviderError], code: str
) -> None:
    events: list[GenerationEvent] = []
    with pytest.raises(kind) as info:
        async for event in adapter.run(call(f"a fox {directive}")):
            events.append(event)
    error = info.value
    assert error.code == code and error.provider == "black-forest-labs"
    assert isinstance(events[0], Accepted) and error.upstream_request_id == events[0].upstream_id
    if kind is ContentModerated:
        assert "Protected Content" in error.message
    # a submitted task is billed at the cost BFL stated for it (3 credits), whatever its end
    assert isinstance(events[0], Accepted) and events[0].charge is not None
    assert error.charge == events[0].charge
    assert error.charge.images == 1 and error.charge.provider_cost_usd == Decimal("0.03")
    assert not [e for e in sim.log.entries if e["path"].startswith("/delivery")]


async def test_the_deadline_is_the_read_timeout(
    client: httpx.AsyncClient, simulator: tuple[str, BflSimState], sim: BflSimState
) -> None:
    adapter = make(client, simulator[0], timeout=httpx.Timeout(5.0, read=0.4))
    started = time.monotonic()
    error = await fails(adapter, call("slow [sim:sleep=3]"))
    elapsed = time.monotonic() - started
    assert isinstance(error, UpstreamTimeout) and "Pending" in error.message
    assert 0.4 <= elapsed < 1.0
    assert error.charge is not None and error.charge.provider_cost_usd == Decimal("0.03")


async def test_result_url_must_be_fetched_before_it_expires(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    sim.bfl.update({"result_ttl_s": 0.5})
    assert done(await collect(adapter, call())).images  # fetched at once: in time
    sim.bfl.update({"result_ttl_s": 0.0})
    error = await fails(adapter, call())
    assert isinstance(error, ProtocolError) and error.status_code == 403
    assert error.charge is not None and error.charge.provider_cost_usd == Decimal("0.03")


# -- cancellation ----------------------------------------------------------------------------


async def _calls_after(sim: BflSimState, wait_s: float = 0.3) -> int:
    before = sim.log.count
    await asyncio.sleep(wait_s)
    return sim.log.count - before


async def test_closing_after_accepted_stops_polling(adapter: BflAdapter, sim: BflSimState) -> None:
    sim.bfl.update({"latency_s": 1.0})
    events = adapter.run(call())
    assert isinstance(await anext(events), Accepted)
    await events.aclose()
    assert await _calls_after(sim) == 0
    assert [e["method"] for e in sim.log.entries] == ["POST"]


async def test_closing_mid_polling_stops_polling(adapter: BflAdapter, sim: BflSimState) -> None:
    sim.bfl.update({"latency_s": 1.0})
    events = adapter.run(call())
    await anext(events)
    assert await anext(events) == Progress("Pending")
    await events.aclose()
    assert await _calls_after(sim) == 0


async def test_cancelling_the_consumer_stops_polling(adapter: BflAdapter, sim: BflSimState) -> None:
    sim.bfl.update({"latency_s": 2.0})
    task = asyncio.create_task(collect(adapter, call()))
    await asyncio.sleep(0.2)
    assert sim.log.count >= 2  # submitted and polling
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _calls_after(sim) == 0


# -- submit errors (§6) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("directive", "kind", "status"),
    [
        ("[sim:429]", RateLimited, 429),
        ("[sim:500]", Unavailable, 500),
        ("[sim:503]", Unavailable, 503),
        ("[sim:401]", AuthError, 401),
        ("[sim:403]", AuthError, 403),
        ("[sim:402]", InsufficientCredit, 402),
        ("[sim:quota]", InsufficientCredit, 402),
        ("[sim:422]", InvalidRequest, 422),
    ],
)
async def test_submit_errors(
    adapter: BflAdapter, sim: BflSimState, directive: str, kind: type[ProviderError], status: int
) -> None:
    error = await fails(adapter, call(f"a fox {directive}"))
    assert type(error) is kind and error.status_code == status
    assert error.charge is None  # no task was taken: nothing billed
    if kind is RateLimited:
        assert error.retry_after is not None and error.retry_after >= 1
    assert [e["method"] for e in sim.log.entries] == ["POST"]


@pytest.mark.parametrize("directive", ["[sim:reset]", "[sim:malformed]", "[sim:truncate]"])
async def test_broken_submit_answers(adapter: BflAdapter, sim: BflSimState, directive: str) -> None:
    assert isinstance(await fails(adapter, call(f"a fox {directive}")), ProtocolError)


async def test_a_wrong_key_is_an_auth_error_without_the_key_in_it(
    client: httpx.AsyncClient, simulator: tuple[str, BflSimState], sim: BflSimState
) -> None:
    adapter = make(client, simulator[0], api_key="bfl-wrong-key-987654")
    error = await fails(adapter, call())
    assert isinstance(error, AuthError) and "Not authenticated" in error.message
    assert "bfl-wrong-key-987654" not in str(error) and "bfl-wrong-key-987654" not in repr(adapter)


async def test_validation_errors_name_the_field(adapter: BflAdapter, sim: BflSimState) -> None:
    error = await fails(adapter, call(options={"safety_tolerance": 9}))
    assert isinstance(error, InvalidRequest) and error.status_code == 422
    assert "safety_tolerance" in error.message


async def test_out_of_credits_and_the_active_task_cap(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    sim.bfl.update({"credits": 1})
    assert isinstance(await fails(adapter, call(width=1024, height=1024)), InsufficientCredit)
    sim.bfl.update({"credits": None, "max_active_tasks": 0})
    error = await fails(adapter, call())
    assert isinstance(error, RateLimited) and error.retry_after is not None
    assert "active tasks" in error.message


async def test_a_call_bfl_cannot_take_fails_before_any_request(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    error = await fails(adapter, call(options={"steps": 20}))  # flex only
    assert isinstance(error, InvalidRequest) and error.provider == "black-forest-labs"
    assert sim.log.entries == []


# -- sizes, ratios and 202 answers as the reference has them (bfl.md §2, §4, §9) -------------


async def test_the_2k_tier_is_4_megapixels_and_bfl_takes_it(
    adapter: BflAdapter, sim: BflSimState
) -> None:
    norm = fit("black-forest-labs/flux.2-pro", resolution="2K")
    result = done(await collect(adapter, call(width=norm.width, height=norm.height)))
    body = sim.log.entries[0]["body"]
    assert (body["width"], body["height"]) == (2000, 2000)  # not 2048x2048: over 4 MP
    (image,) = result.images
    assert (image.width, image.height) == (2000, 2000)
    assert result.usage.provider_cost_usd == Decimal("0.075")  # 3 + 3 x 1.5 credits


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"size": "2560x1440"}, (2560, 1440)),  # 3.7 MP: refused by the old 2048 px edge cap
        ({"resolution": "2K", "aspect_ratio": "4:1"}, (4000, 992)),  # was shrunk to 2048x512
    ],
)
async def test_wide_sizes_up_to_4_megapixels_reach_bfl_whole(
    adapter: BflAdapter, sim: BflSimState, fields: dict[str, Any], size: tuple[int, int]
) -> None:
    norm = fit("black-forest-labs/flux.2-klein-4b", **fields)
    generate = call(model="black-forest-labs/flux.2-klein-4b", width=norm.width, height=norm.height)
    (image,) = done(await collect(adapter, generate)).images
    body = sim.log.entries[0]["body"]
    assert (body["width"], body["height"]) == size == (image.width, image.height)


async def test_more_than_4_megapixels_is_bfls_422(adapter: BflAdapter, sim: BflSimState) -> None:
    error = await fails(adapter, call(width=2048, height=2048))
    assert isinstance(error, InvalidRequest) and error.status_code == 422
    assert [(e["method"], e["status"]) for e in sim.log.entries] == [("POST", 422)]


@pytest.mark.parametrize(("ratio", "wire"), [("9:19.5", "6:13"), ("19.5:9", "13:6")])
@pytest.mark.parametrize(
    "model", ["black-forest-labs/flux.1-kontext-max", "black-forest-labs/flux.1.1-pro-ultra"]
)
async def test_a_decimal_ratio_goes_to_bfl_in_whole_numbers(
    adapter: BflAdapter, sim: BflSimState, model: str, ratio: str, wire: str
) -> None:
    norm = fit(model, aspect_ratio=ratio)
    (image,) = done(
        await collect(adapter, call(model=model, aspect_ratio=norm.aspect_ratio))
    ).images
    assert sim.log.entries[0]["body"]["aspect_ratio"] == wire
    width, height = (int(edge) for edge in wire.split(":"))
    assert image.width and image.height
    assert abs(image.width / image.height - width / height) < 0.02


@pytest.mark.parametrize("directive", ["[sim:http202=bare]", "[sim:http202=empty]"])
async def test_a_202_poll_without_a_status_is_pending(
    adapter: BflAdapter, sim: BflSimState, directive: str
) -> None:
    sim.bfl.update({"latency_s": 0.3})
    events = await collect(adapter, call(f"a fox {directive}"))
    assert done(events).images
    polls = [e["status"] for e in sim.log.entries if "get_result" in e["path"]]
    assert polls[0] == 202 and polls[-1] == 200
    assert next(e.status for e in events if isinstance(e, Progress)) == "Pending"


def fit(model: str, **fields: Any) -> Normalized:
    """The shipped catalog's placement of a public request (what the gateway would send)."""
    request = ImageGenerationRequest.model_validate({"model": model, "prompt": "p", **fields})
    return normalize(request, endpoint(model))
