"""BflAdapter on BFL's real host names (an in-memory httpx transport playing api.bfl.ai, a
cluster and a delivery host): which host gets ``x-key``, which URLs are refused, and the
polling pace on an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from providers.bfl.adapter import BflAdapter
from providers.errors import ProtocolError, UpstreamTimeout
from providers.spec import Completed, Progress
from tests.providers.bfl.calls import call, image_bytes

KEY = "bfl-real-hosts-key-42"
TASK = "2fa25140-591f-4839-b377-9945a7a3881a"
POLL = f"https://api.eu2.bfl.ai/v1/get_result?id={TASK}"
SAMPLE = f"https://delivery-eu1.bfl.ai/results/{TASK}/sample.png?se=x&sig=y"


class FakeBfl:
    """Answers submit, ``pending`` Pending polls then Ready, and the delivery download."""

    def __init__(self, *, polling_url: str = POLL, sample: str = SAMPLE, pending: int = 1) -> None:
        self.polling_url = polling_url
        self.sample = sample
        self.pending = pending
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.method == "POST":
            answer = {"id": TASK, "polling_url": self.polling_url, "cost": 3.0}
            return httpx.Response(200, content=orjson.dumps(answer))
        if request.url.path.endswith("/get_result"):
            polls = sum(1 for r in self.seen if r.url.path.endswith("/get_result"))
            if polls <= self.pending:
                return httpx.Response(200, json={"id": TASK, "status": "Pending", "result": None})
            result = {"sample": self.sample}
            return httpx.Response(200, json={"id": TASK, "status": "Ready", "result": result})
        return httpx.Response(
            200, content=image_bytes(64, 64, "PNG"), headers={"content-type": "image/png"}
        )


class Clock:
    """A monotonic clock that only moves when the adapter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 4))
        self.now += seconds


def adapter_for(fake: FakeBfl, clock: Clock | None = None, **kw: Any) -> BflAdapter:
    clock = clock or Clock()
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    return BflAdapter(client, api_key=KEY, clock=clock, sleep=clock.sleep, **kw)


async def run(adapter: BflAdapter) -> list[Any]:
    return [event async for event in adapter.run(call(width=64, height=64))]


def hosts_with_key(fake: FakeBfl) -> list[tuple[str, bool]]:
    return [(r.url.host, r.headers.get("x-key") == KEY) for r in fake.seen]


async def test_key_goes_to_the_api_and_the_cluster_never_to_delivery() -> None:
    fake = FakeBfl()
    events = await run(adapter_for(fake))
    assert isinstance(events[-1], Completed)
    assert hosts_with_key(fake) == [
        ("api.bfl.ai", True),
        ("api.eu2.bfl.ai", True),
        ("api.eu2.bfl.ai", True),
        ("delivery-eu1.bfl.ai", False),
    ]
    assert str(fake.seen[1].url) == POLL  # used exactly as given


async def test_a_bfl_host_that_is_not_an_api_host_is_polled_without_the_key() -> None:
    fake = FakeBfl(polling_url=f"https://results.bfl.ai/v1/get_result?id={TASK}", pending=0)
    await run(adapter_for(fake))
    assert hosts_with_key(fake)[1] == ("results.bfl.ai", False)


async def test_the_old_azure_delivery_host_is_accepted_without_the_key() -> None:
    fake = FakeBfl(sample="https://bfldeliveryprod.blob.core.windows.net/r/sample.png?sig=1")
    await run(adapter_for(fake))
    assert hosts_with_key(fake)[-1] == ("bfldeliveryprod.blob.core.windows.net", False)


async def test_a_cluster_on_another_port_is_polled_without_the_key() -> None:
    fake = FakeBfl(polling_url=f"https://api.eu2.bfl.ai:8443/v1/get_result?id={TASK}", pending=0)
    await run(adapter_for(fake))
    seen = [(r.url.port, r.headers.get("x-key") == KEY) for r in fake.seen[:2]]
    assert seen == [(None, True), (8443, False)]


@pytest.mark.parametrize(
    "polling_url",
    [
        f"https://evil.test/v1/get_result?id={TASK}",
        f"http://api.eu2.bfl.ai/v1/get_result?id={TASK}",  # not https
        f"http://api.bfl.ai/v1/get_result?id={TASK}",  # the base host, but not https
        f"https://api.eu2.bfl.ai.evil.test/v1/get_result?id={TASK}",
    ],
)
async def test_a_polling_url_elsewhere_is_refused_before_any_request(polling_url: str) -> None:
    fake = FakeBfl(polling_url=polling_url)
    with pytest.raises(ProtocolError, match="unexpected host"):
        await run(adapter_for(fake))
    assert [r.method for r in fake.seen] == ["POST"]


@pytest.mark.parametrize(
    "sample", ["https://evil.test/sample.png", "http://delivery-eu1.bfl.ai/sample.png"]
)
async def test_a_sample_elsewhere_is_refused(sample: str) -> None:
    fake = FakeBfl(sample=sample)
    with pytest.raises(ProtocolError):
        await run(adapter_for(fake))
    assert all(r.url.host != "evil.test" for r in fake.seen)


async def test_backoff_grows_by_half_up_to_the_cap() -> None:
    clock = Clock()
    fake = FakeBfl(pending=8)
    events = await run(adapter_for(fake, clock))
    assert clock.sleeps == [0.5, 0.75, 1.125, 1.6875, 2.5312, 3.0, 3.0, 3.0]
    assert [e.status for e in events if isinstance(e, Progress)] == ["Pending", "Ready"]


async def test_the_deadline_cuts_the_last_wait_and_ends_in_a_timeout() -> None:
    clock = Clock()
    fake = FakeBfl(pending=1000)
    adapter = adapter_for(fake, clock, timeout=httpx.Timeout(10.0, read=4.0))
    with pytest.raises(UpstreamTimeout, match="not ready after 4 s"):
        await run(adapter)
    assert clock.sleeps == [0.5, 0.75, 1.125, 1.625]  # 4 s in all, the last one cut short
    # polled at 0, 0.5, 1.25, 2.375 and one last time at the deadline
    assert sum(1 for r in fake.seen if r.method == "GET") == 5


def _timeouts(fake: FakeBfl) -> Callable[[int], dict[str, float]]:
    def timeout(index: int) -> dict[str, float]:
        value: dict[str, float] = fake.seen[index].extensions["timeout"]
        return value

    return timeout


async def test_each_poll_waits_no_longer_than_the_budget_left() -> None:
    clock = Clock()
    fake = FakeBfl(pending=3)
    await run(adapter_for(fake, clock, timeout=httpx.Timeout(10.0, read=3.0)))
    timeout = _timeouts(fake)
    assert timeout(1)["read"] == 3.0  # the first poll, at once
    assert timeout(2)["read"] == 2.5  # after 0.5 s
    assert timeout(3)["read"] == 1.75  # after 0.75 s more
    assert timeout(4)["read"] == 1.0  # after 1.125 s more: 0.625 s left, floored at 1 s
