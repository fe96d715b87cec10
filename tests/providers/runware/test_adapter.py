"""RunwareAdapter over real HTTP: the Runware simulator (simulator/runware.py) on a loopback port.

Failures are driven with the simulator's knobs and ``[sim:…]`` prompt directives, each in
Runware's own wire shape; a small stand-in server covers answers the simulator never gives
(image URLs on a foreign host).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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
from providers.runware.adapter import RunwareAdapter
from providers.spec import Accepted, Completed, GenerateCall, GenerationEvent
from simulator.runware import create_app
from simulator.runware_state import RunwareState
from tests.providers.runware.calls import (
    V2_FAST,
    V2_PRO,
    V25_FAST,
    V25_PRO,
    call,
    endpoint,
    image_bytes,
    reference,
)
from tests.servers import ServerThread, free_port, fresh, served_simulator

KEY = "rw-adapter-test-key-0123"


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, RunwareState]]:
    yield from served_simulator(create_app(api_key=KEY), "/v1")


@pytest.fixture
def sim(simulator: tuple[str, RunwareState]) -> RunwareState:
    return fresh(simulator[1])


@pytest.fixture
def adapter(
    client: httpx.AsyncClient, simulator: tuple[str, RunwareState], sim: RunwareState
) -> RunwareAdapter:
    return RunwareAdapter(client, api_key=KEY, base_url=simulator[0], provider="sourceful")


async def collect(adapter: RunwareAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


async def done(adapter: RunwareAdapter, generate: GenerateCall) -> Completed:
    events = await collect(adapter, generate)
    assert isinstance(events[0], Accepted) and isinstance(events[-1], Completed)
    return events[-1]


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def tasks(sim: RunwareState) -> list[dict[str, Any]]:
    (entry,) = sim.log.entries
    assert entry["method"] == "POST" and entry["path"] == "/v1"
    body = entry["body"]
    assert isinstance(body, list)
    return body


# -- success --------------------------------------------------------------------------------------


async def test_one_image_with_the_cost_runware_reports(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    result = await done(adapter, call(width=1024, height=768, quality="low"))
    (image,) = result.images
    assert (image.media_type, image.width, image.height) == ("image/png", 1024, 768)
    assert decode(image.b64).size == (1024, 768)
    assert result.usage.images == 1 and result.usage.pixels == 1024 * 768
    assert result.usage.provider_cost_usd == Decimal("0.021")
    (task,) = tasks(sim)
    assert result.upstream_id == task["taskUUID"]
    assert task["settings"] == {"thinkingLevel": "low"}
    assert sim.log.entries[0]["headers"]["authorization"] == "Bearer <redacted>"


async def test_n_images_are_n_tasks_in_one_request(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    result = await done(adapter, call(n=3, width=2048, height=1152))
    assert len(result.images) == 3
    assert result.usage.provider_cost_usd == Decimal("0.132")  # 3 x 2K medium $0.044
    sent = tasks(sim)
    assert len(sent) == 3 and len({t["taskUUID"] for t in sent}) == 3


@pytest.mark.parametrize(
    ("model_id", "size", "cost"),
    [
        (V2_FAST, (1280, 720), "0.02"),
        (V2_PRO, (6048, 2592), "0.33"),
        (V25_PRO, (4096, 2304), "0.33"),
    ],
)
async def test_each_family_and_tier(
    adapter: RunwareAdapter, sim: RunwareState, model_id: str, size: tuple[int, int], cost: str
) -> None:
    result = await done(
        adapter, call(model_id=model_id, width=size[0], height=size[1], output_format="jpeg")
    )
    assert (result.images[0].width, result.images[0].height) == size
    assert result.images[0].media_type == "image/jpeg"
    assert result.usage.provider_cost_usd == Decimal(cost)


async def test_transparent_background_on_both_families(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    for model_id in (V2_FAST, V25_FAST):
        result = await done(adapter, call(model_id=model_id, background="transparent"))
        assert decode(result.images[0].b64).mode == "RGBA"


async def test_references_and_fonts_reach_runware_in_its_field_names(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    font = {"font_url": "https://cdn.example.com/agu.woff2", "text": "LIMITED EDITION"}
    generate = call(
        model_id=V2_PRO,
        input_images=(reference(),),
        options={
            "font_inputs": [font],
            "super_resolution_references": ["https://example.com/d.png"],
        },
    )
    await done(adapter, generate)
    (task,) = tasks(sim)
    assert task["inputs"]["referenceImages"][0].startswith("<image/png 320x320")
    assert task["inputs"]["superResolutionReferences"] == ["https://example.com/d.png"]
    assert task["providerSettings"]["sourceful"]["fontInputs"] == [
        {"fontUrl": "https://cdn.example.com/agu.woff2", "text": "LIMITED EDITION"}
    ]


async def test_an_operator_fixed_url_output_is_downloaded(
    client: httpx.AsyncClient, simulator: tuple[str, RunwareState], sim: RunwareState
) -> None:
    generate = GenerateCall(
        endpoint=endpoint(V25_FAST, fixed={"outputType": "URL"}), prompt="a jar"
    )
    adapter = RunwareAdapter(client, api_key=KEY, base_url=simulator[0])
    result = await done(adapter, generate)
    assert decode(result.images[0].b64).size == (1024, 1024)
    assert tasks(sim)[0]["outputType"] == "URL"


# -- failures -------------------------------------------------------------------------------------


async def test_a_wrong_key_is_an_auth_error(
    client: httpx.AsyncClient, simulator: tuple[str, RunwareState], sim: RunwareState
) -> None:
    adapter = RunwareAdapter(client, api_key="rw-wrong-key-4567", base_url=simulator[0])
    with pytest.raises(AuthError) as err:
        await collect(adapter, call())
    assert err.value.status_code == 401 and err.value.code == "invalidApiKey"
    assert "rw-wrong-key-4567" not in str(err.value)


FAULTS: list[tuple[str, type[ProviderError], str | None]] = [
    ("[sim:429]", RateLimited, "rateLimitExceeded"),
    ("[sim:429] [sim:prestream]", RateLimited, "rateLimitExceeded"),
    ("[sim:quota]", InsufficientCredit, "insufficientCredits"),
    ("[sim:402]", InsufficientCredit, "insufficientCredits"),
    ("[sim:403]", AuthError, "forbidden"),
    ("[sim:500]", Unavailable, None),
    ("[sim:503]", Unavailable, None),
    ("[sim:moderate]", ContentModerated, "contentPolicyViolation"),
    ("[sim:moderate=output]", ContentModerated, "providerContentPolicyViolation"),
    ("[sim:taskfail]", Unavailable, "timeoutProvider"),
    ("[sim:reset]", ProtocolError, None),
    ("[sim:malformed]", ProtocolError, None),
    ("[sim:truncate]", ProtocolError, None),
    ("[sim:400]", InvalidRequest, "invalidParameter"),
    ("[sim:404]", Unavailable, "modelNotFound"),  # our catalog's AIR, not the caller's input
]


@pytest.mark.parametrize(("directive", "cls", "code"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_faults_map_to_provider_errors(
    adapter: RunwareAdapter, sim: RunwareState, directive: str, cls: type, code: str | None
) -> None:
    with pytest.raises(cls) as err:
        await collect(adapter, call(f"a storm {directive}"))
    assert err.value.code == code
    assert err.value.provider == "sourceful"
    assert err.value.upstream_request_id == tasks(sim)[0]["taskUUID"]
    if cls is RateLimited:
        assert err.value.retry_after == 1.0


async def test_a_validation_error_is_invalid_request(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    # a positive prompt takes at least 2 characters
    with pytest.raises(InvalidRequest) as err:
        await collect(adapter, call("x", model_id=V2_FAST))
    assert err.value.status_code == 400 and "positivePrompt" in err.value.message
    assert err.value.provider == "sourceful"


@pytest.mark.parametrize("size", [(96, 96), (2400, 1600), (200, 1200)])
async def test_riverflow_2_0_references_outside_its_side_limits_are_scaled_to_fit(
    adapter: RunwareAdapter, sim: RunwareState, size: tuple[int, int]
) -> None:
    """§3.1: 2.0 takes 300-2048 px per side (the simulator enforces it); the gateway takes
    more, so the adapter scales rather than fail what a 2.5 endpoint would serve."""
    events = await collect(adapter, call(model_id=V2_FAST, input_images=(reference(*size),)))
    assert isinstance(events[-1], Completed) and events[-1].images


async def test_a_reference_no_scaling_can_fit_is_the_callers_400_before_any_request(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    with pytest.raises(InvalidRequest, match="300-2048 pixels per side") as err:
        await collect(adapter, call(model_id=V2_FAST, input_images=(reference(4000, 200),)))
    assert err.value.provider == "sourceful" and sim.log.entries == []


async def test_an_unknown_air_is_unavailable_not_the_callers_fault(
    client: httpx.AsyncClient, simulator: tuple[str, RunwareState], sim: RunwareState
) -> None:
    generate = GenerateCall(
        endpoint=endpoint(V25_FAST, upstream_model="acme:nope@1"), prompt="a jar"
    )
    adapter = RunwareAdapter(client, api_key=KEY, base_url=simulator[0])
    with pytest.raises(Unavailable) as err:  # the AIR is the operator's: another endpoint may do
        await collect(adapter, generate)
    assert err.value.code == "invalidModel" and err.value.retryable


async def test_a_per_task_failure_returns_the_others_and_bills_only_them(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    result = await done(adapter, call("kites [sim:taskfail]", n=3))
    assert len(result.images) == 2
    assert result.usage.images == 2
    assert result.usage.provider_cost_usd == Decimal("0.044")  # 2 x $0.022
    assert result.warnings == (
        "1 of 3 images failed upstream: timeoutProvider: Provider timed out",
    )


async def test_every_task_failing_is_the_error(adapter: RunwareAdapter, sim: RunwareState) -> None:
    with pytest.raises(Unavailable) as err:
        await collect(adapter, call("kites [sim:taskfail=all]", n=2))
    assert err.value.code == "timeoutProvider"
    with pytest.raises(ContentModerated):
        await collect(adapter, call("kites [sim:moderate]", n=2))


async def test_insufficient_credit_once_the_balance_runs_out(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    sim.config.balance_usd = Decimal("0.01")
    await done(adapter, call())
    with pytest.raises(InsufficientCredit):
        await collect(adapter, call())


async def test_a_slow_answer_is_an_upstream_timeout(
    client: httpx.AsyncClient, simulator: tuple[str, RunwareState], sim: RunwareState
) -> None:
    timeout = httpx.Timeout(connect=2.0, read=0.3, write=2.0, pool=2.0)
    adapter = RunwareAdapter(client, api_key=KEY, base_url=simulator[0], timeout=timeout)
    with pytest.raises(UpstreamTimeout):
        await collect(adapter, call("slow [sim:sleep=1]"))


async def test_nobody_listening_is_unavailable(client: httpx.AsyncClient) -> None:
    adapter = RunwareAdapter(client, api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(Unavailable):
        await collect(adapter, call())


async def test_closing_after_accepted_closes_the_request(
    adapter: RunwareAdapter, sim: RunwareState
) -> None:
    events = adapter.run(call())
    assert isinstance(await events.__anext__(), Accepted)
    await events.aclose()  # no error, no second event
    assert sim.log.count == 1


def test_repr_hides_the_key(client: httpx.AsyncClient) -> None:
    assert KEY not in repr(RunwareAdapter(client, api_key=KEY))


# -- result URLs (a stand-in server) ---------------------------------------------------------------


class UrlServer:
    """Answers every task with an ``imageURL`` (on itself or elsewhere) and logs image fetches."""

    def __init__(self) -> None:
        self.fetches: list[dict[str, str]] = []
        self.elsewhere = False
        png = image_bytes(32, 24)

        async def api(request: Request) -> Response:
            body = await request.json()
            url = (
                "https://cdn.example.com/x.png"
                if self.elsewhere
                else str(request.url_for("img", name="x.png"))
            )
            data = [
                {
                    "taskType": "imageInference",
                    "taskUUID": t["taskUUID"],
                    "imageURL": url,
                    "cost": 0.02,
                }
                for t in body
            ]
            return JSONResponse({"data": data})

        async def img(request: Request) -> Response:
            self.fetches.append(dict(request.headers))
            return Response(png, media_type="image/png")

        self.app = Starlette(
            routes=[Route("/v1", api, methods=["POST"]), Route("/img/{name}", img, name="img")]
        )


@pytest.fixture(scope="module")
def url_server() -> Iterator[tuple[str, UrlServer]]:
    stand_in = UrlServer()
    with ServerThread(stand_in.app, lifespan="off") as server:
        yield f"{server.url}/v1", stand_in


async def test_result_urls_are_fetched_without_the_key(
    client: httpx.AsyncClient, url_server: tuple[str, UrlServer]
) -> None:
    base_url, stand_in = url_server
    stand_in.elsewhere = False
    stand_in.fetches.clear()
    adapter = RunwareAdapter(client, api_key=KEY, base_url=base_url)
    result = await done(adapter, call(n=2))
    assert [(i.width, i.height) for i in result.images] == [(32, 24), (32, 24)]
    assert result.usage.provider_cost_usd == Decimal("0.04")
    assert len(stand_in.fetches) == 2
    assert all("authorization" not in h for h in stand_in.fetches)


async def test_result_urls_on_foreign_hosts_are_refused(
    client: httpx.AsyncClient, url_server: tuple[str, UrlServer]
) -> None:
    base_url, stand_in = url_server
    stand_in.elsewhere = True
    adapter = RunwareAdapter(client, api_key=KEY, base_url=base_url)
    with pytest.raises(ProtocolError) as err:
        await collect(adapter, call())
    assert "unexpected host" in err.value.message
    stand_in.elsewhere = False
