"""Every client people already use, through the one pipeline: chat completions, the
OpenAI-compatible images API and general model discovery, judged by the real SDKs.

The gateway (``sim_gateway``) has every provider configured against its simulator; the cost
each door reports must equal the ledger row, and the row must name the door.
"""

from __future__ import annotations

import base64
import io
from decimal import Decimal
from typing import Any

import httpx
import openai
import orjson
import pytest
from openrouter import OpenRouter
from PIL import Image

from app.api.chat import ChatCompletions
from app.api.serving import Exchange
from app.catalog import load_catalog
from app.errors import GatewayError
from app.generation.adapters import FACTORIES
from tests.conftest import MASTER_KEY, SimServer
from tests.e2e.helpers import generation, png_data_url
from tests.e2e.test_js_clients import _node
from tests.servers import ServerThread

CATALOG = load_catalog()
MODEL = "openai/gpt-image-1.5"
AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
SERVABLE = [m.id for m in CATALOG.models() if any(e.adapter in FACTORIES for e in m.endpoints)]


def _image(data_url_or_b64: str) -> Image.Image:
    b64 = (
        data_url_or_b64.split(",", 1)[1]
        if data_url_or_b64.startswith("data:")
        else (data_url_or_b64)
    )
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


@pytest.fixture
def sims(simulators: SimServer) -> SimServer:
    simulators.reset()
    return simulators


def _chat_body(**extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You draw flat vector art."},
            {"role": "user", "content": [{"type": "text", "text": "a red fox"}]},
        ],
        "modalities": ["image", "text"],
        "image_config": {"aspect_ratio": "3:2", "quality": "low"},
        **extra,
    }


# ------------------------------------------------------------------------------------------
# Chat completions
# ------------------------------------------------------------------------------------------


def test_openrouter_sdk_chat_send_reads_the_images(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{sim_gateway.url}/api/v1") as client:
        body = _chat_body()
        result = client.chat.send(
            model=body["model"],
            messages=body["messages"],
            modalities=["image", "text"],
            image_config={"aspect_ratio": "3:2", "quality": "low"},
        )
    assert result.object == "chat.completion"
    message = result.choices[0].message
    assert message.images and len(message.images) == 1
    url = message.images[0].image_url.url
    assert url.startswith("data:image/png;base64,")
    assert _image(url).size == (1536, 1024)
    assert result.usage is not None and result.usage.cost and result.usage.cost > 0
    row = generation(sim_gateway.url, result.id)
    assert row["route"] == "chat"
    assert Decimal(row["cost_usd"]) == Decimal(str(result.usage.cost))
    # the system text and the last user text make the prompt
    (call,) = sims.sim("openai").log.entries
    assert call["body"]["prompt"] == "You draw flat vector art.\n\na red fox"


def test_openrouter_sdk_chat_integer_image_config_values_arrive_as_numbers(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    """The SDK types image_config values as string | number and sends ``n: 2`` as ``2.0``."""
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{sim_gateway.url}/api/v1") as client:
        body = _chat_body()
        result = client.chat.send(
            model=body["model"],
            messages=body["messages"],
            modalities=["image", "text"],
            image_config={"n": 2, "quality": "low", "output_compression": 80,
                          "output_format": "jpeg"},
        )  # fmt: skip
    message = result.choices[0].message
    assert message.images and len(message.images) == 2
    (call,) = sims.sim("openai").log.entries
    assert call["body"]["n"] == 2 and call["body"]["output_compression"] == 80


def test_chat_image_parts_of_the_last_user_message_are_references(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    body = _chat_body()
    body["messages"][-1]["content"].append(
        {"type": "image_url", "image_url": {"url": png_data_url(64, 64, "green")}}
    )
    resp = httpx.post(f"{sim_gateway.url}/api/v1/chat/completions", json=body, headers=AUTH)
    assert resp.status_code == 200, resp.text
    (call,) = sims.sim("openai").log.entries
    assert call["path"].endswith("/images/edits")


def test_chat_streams_chunks_with_images_and_a_final_usage_chunk(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    body = _chat_body(stream=True)
    with httpx.stream(
        "POST", f"{sim_gateway.url}/api/v1/chat/completions", json=body, headers=AUTH
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [orjson.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    with_images = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("images")]
    assert len(with_images) == 1  # no partial image was sent as a final one
    url = with_images[0]["choices"][0]["delta"]["images"][0]["image_url"]["url"]
    assert _image(url).size == (1536, 1024)
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "stop" for c in chunks)
    final = chunks[-1]
    assert final["choices"] == [] and final["usage"]["cost"] > 0


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (403, "content_policy_violation"),
        (413, "payload_too_large"),  # reference images over the limit, found after the commit
        (529, "provider_overloaded"),
        (502, "provider_unavailable"),
    ],
)
def test_a_chat_stream_error_carries_openrouters_error_type(status: int, error_type: str) -> None:
    ex = Exchange("gen-x", 1_700_000_000, 0.0, MODEL)
    frame = ChatCompletions().sse_error(GatewayError(status, "it failed"), ex)
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    chunk = orjson.loads(frame[6:])
    assert chunk["error"]["code"] == status
    assert chunk["error"]["metadata"]["error_type"] == error_type
    assert chunk["choices"] == [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]


def test_openai_sdk_chat_completions_with_modalities(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    client = openai.OpenAI(api_key=MASTER_KEY, base_url=f"{sim_gateway.url}/api/v1")
    body = _chat_body()
    completion = client.chat.completions.create(
        model=MODEL,
        messages=body["messages"],
        extra_body={"modalities": ["image", "text"], "image_config": {"aspect_ratio": "1:1"}},
    )
    images = completion.choices[0].message.model_extra["images"]  # type: ignore[index]
    assert _image(images[0]["image_url"]["url"]).size == (1024, 1024)


def test_openai_sdk_on_the_images_base_url_reaches_chat_completions(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    """One OpenAI client at ``/v1`` (the images API's base URL) generates through chat too,
    instead of a bare 404; its errors there are OpenAI-shaped."""
    client = openai.OpenAI(api_key=MASTER_KEY, base_url=f"{sim_gateway.url}/v1", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=_chat_body()["messages"], extra_body={"modalities": ["image"]}
    )
    completion = raw.parse()
    images = completion.choices[0].message.model_extra["images"]  # type: ignore[index]
    assert _image(images[0]["image_url"]["url"]).size == (1024, 1024)
    cost = completion.usage.model_extra["cost"]  # type: ignore[union-attr]
    row = generation(sim_gateway.url, raw.headers["x-generation-id"])
    assert row["route"] == "chat" and Decimal(row["cost_usd"]) == Decimal(str(cost))
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=MODEL, messages=_chat_body()["messages"])
    assert "serves image generation" in bad.value.message
    assert bad.value.body["type"] == "invalid_request_error"  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"modalities": None}, 400, "serves image generation"),
        ({"modalities": ["text"]}, 400, "serves image generation"),
        ({"model": "openai/gpt-4o"}, 404, "image generation models only"),
        ({"image_config": {"aspect_ratio": "7:3"}}, 400, "aspect_ratio"),
        ({"image_config": {"strength": 0.5}}, 400, "image_config.strength"),
        ({"messages": [{"role": "system", "content": "x"}]}, 400, "user message"),
    ],
)
def test_chat_requests_that_cannot_be_served_get_clear_4xx(
    sim_gateway: ServerThread, change: dict[str, Any], status: int, needle: str
) -> None:
    body = {**_chat_body(), **change}
    resp = httpx.post(f"{sim_gateway.url}/api/v1/chat/completions", json=body, headers=AUTH)
    assert resp.status_code == status, resp.text
    assert needle in resp.json()["error"]["message"]


def test_ts_sdk_chat_send_reads_the_images(sim_gateway: ServerThread) -> None:
    body = _chat_body()
    out = _node(
        "sdk.mjs", "chat", f"{sim_gateway.url}/api/v1", MASTER_KEY, orjson.dumps(body).decode()
    )
    assert "error" not in out, out
    assert out["object"] == "chat.completion"
    (image,) = out["images"]
    assert image["prefix"] == "data:image/png;base64"
    assert (image["width"], image["height"]) == (1536, 1024)
    assert out["usage"]["cost"] > 0


def test_ts_sdk_reads_every_chunk_of_a_chat_stream(sim_gateway: ServerThread) -> None:
    """@openrouter/sdk's chunk schema takes ``system_fingerprint`` as a string or absent: a
    null in a chunk fails the whole stream (its completion takes the null)."""
    body = _chat_body()
    out = _node(
        "sdk.mjs",
        "chatstream",
        f"{sim_gateway.url}/api/v1",
        MASTER_KEY,
        orjson.dumps(body).decode(),
    )
    assert "error" not in out, out
    assert out["objects"] == ["chat.completion.chunk"] and out["chunks"] >= 3
    assert out["finish_reasons"] == ["stop"] and out["errors"] == []
    assert out["usage"]["cost"] > 0


# ------------------------------------------------------------------------------------------
# The OpenAI-compatible images API
# ------------------------------------------------------------------------------------------


@pytest.fixture
def oai(sim_gateway: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(api_key=MASTER_KEY, base_url=f"{sim_gateway.url}/v1", max_retries=0)


@pytest.mark.parametrize("model", ["openai/gpt-image-1.5", "gpt-image-1.5"])
def test_openai_sdk_generates(
    oai: openai.OpenAI, sim_gateway: ServerThread, sims: SimServer, model: str
) -> None:
    raw = oai.images.with_raw_response.generate(
        model=model, prompt="a fox", size="1536x1024", quality="low", n=2, background="auto"
    )
    result = raw.parse()
    assert result.data is not None and len(result.data) == 2
    assert _image(result.data[0].b64_json or "").size == (1536, 1024)
    assert result.size == "1536x1024" and result.output_format == "png"
    assert result.quality == "low" and result.background is None  # never "auto" (left to OpenAI)
    assert result.usage is not None and result.usage.output_tokens > 0
    cost = result.usage.model_extra["cost"]  # type: ignore[index]
    row = generation(sim_gateway.url, raw.headers["x-generation-id"])
    assert row["route"] == "openai.generations"
    assert Decimal(row["cost_usd"]) == Decimal(str(cost))


def test_openai_sdk_edits_with_several_images_and_a_mask(
    oai: openai.OpenAI, sims: SimServer
) -> None:
    def png(color: str) -> bytes:
        buf = io.BytesIO()
        Image.new("RGBA", (64, 64), color).save(buf, "PNG")
        return buf.getvalue()

    result = oai.images.edit(
        model="openai/gpt-image-1.5",
        prompt="merge them",
        image=[("a.png", png("red"), "image/png"), ("b.png", png("blue"), "image/png")],
        mask=("m.png", png("#00000000"), "image/png"),
        size="1024x1024",
        quality="low",
    )
    assert result.data and _image(result.data[0].b64_json or "").size == (1024, 1024)
    (call,) = sims.sim("openai").log.entries
    assert call["path"].endswith("/images/edits")
    assert len(call["body"]["image[]"]) == 2 and call["body"]["mask"]


def test_openai_sdk_streams_partial_and_completed_events(oai: openai.OpenAI) -> None:
    stream = oai.images.generate(
        model="openai/gpt-image-1.5",
        prompt="a comet",
        size="1024x1024",
        quality="low",
        stream=True,
        partial_images=2,
    )
    events = list(stream)
    kinds = [event.type for event in events]
    assert kinds.count("image_generation.partial_image") == 2
    assert kinds[-1] == "image_generation.completed"
    partial = events[0]  # OpenAI's partial events carry the request's shape
    assert (partial.size, partial.quality, partial.background) == ("1024x1024", "low", "auto")
    assert partial.output_format == "png" and partial.partial_image_index == 0


def test_openai_sdk_completed_events_carry_every_required_field(oai: openai.OpenAI) -> None:
    """``quality``/``background``/``size`` are required in the SDK's completed event (``auto``
    included), and every event's ``usage`` has ``input_tokens_details``."""
    stream = oai.images.generate(model="openai/gpt-image-1.5", prompt="a comet", n=2, stream=True)
    completed = [event for event in stream if event.type == "image_generation.completed"]
    assert len(completed) == 2
    for event in completed:
        assert event.quality in ("low", "medium", "high", "auto"), event
        assert event.background in ("transparent", "opaque", "auto"), event
        assert event.size and event.output_format == "png"
        assert event.usage.input_tokens_details is not None
    assert completed[0].usage.total_tokens == 0 and completed[-1].usage.total_tokens > 0


def test_openai_sdk_raises_the_error_of_a_partial_cut_by_the_provider(
    oai: openai.OpenAI, sims: SimServer
) -> None:
    """The provider breaks inside a partial image being relayed piece by piece: the event is
    completed as the error, which OpenAI's SDK raises (left unfinished, it ended silently)."""
    sims.sim("openai").knobs.update({"fixed_image": "noise", "cut_partial": True})
    try:
        stream = oai.images.generate(
            model=MODEL,
            prompt="cut",
            size="1024x1024",
            quality="low",
            stream=True,
            partial_images=2,
        )
        with pytest.raises(openai.APIError) as caught:
            list(stream)
        assert "the stream ended inside an image" in caught.value.message
        assert caught.value.body == {
            "message": caught.value.message,
            "type": "server_error",
            "param": None,
            "code": "upstream_error",
        }
    finally:
        sims.reset()


def test_openai_door_streams_no_partial_images_unless_asked(oai: openai.OpenAI) -> None:
    """OpenAI's default is ``partial_images: 0``: a stream that does not ask gets the final image
    alone and pays no partial-image tokens (~100 each); one that asks gets them."""
    plain = list(oai.images.generate(model=MODEL, prompt="p", quality="low", stream=True))
    assert [e.type for e in plain] == ["image_generation.completed"]
    asked = list(
        oai.images.generate(model=MODEL, prompt="p", quality="low", stream=True, partial_images=1)
    )
    assert [e.type for e in asked] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    plain_usage, asked_usage = plain[-1].usage, asked[-1].usage
    assert plain_usage is not None and asked_usage is not None
    assert asked_usage.output_tokens - plain_usage.output_tokens == 100


def test_a_refusal_after_partial_images_is_moderation_blocked_in_the_stream(
    oai: openai.OpenAI, sims: SimServer
) -> None:
    """Output moderation after the partials went out: the stream's error event says
    ``moderation_blocked`` as OpenAI's own does, not a permission problem."""
    sims.sim("openai").knobs.update({"partial_delay_s": 0.2})
    try:
        stream = oai.images.generate(
            model=MODEL,
            prompt="late [sim:moderate=output]",
            quality="low",
            stream=True,
            partial_images=2,
        )
        with pytest.raises(openai.APIError) as caught:
            list(stream)
        assert (caught.value.code, caught.value.type) == (
            "moderation_blocked",
            "image_generation_user_error",
        )
    finally:
        sims.reset()


def test_large_images_reach_every_door_whole(
    oai: openai.OpenAI, sim_gateway: ServerThread, sims: SimServer
) -> None:
    """4 MB images are never re-parsed: partials are passed on piece by piece (cut-through) and
    buffered answers go out in the buffers they arrived in. What each SDK gets is still the
    whole image, the very text the provider sent, as a JSON string; chat shows no partials."""
    sims.sim("openai").knobs.update({"fixed_image": "noise"})
    try:
        _large_images_through_every_door(oai, sim_gateway)
    finally:
        sims.reset()  # tests that do not reset the simulators come after this one


def _large_images_through_every_door(oai: openai.OpenAI, sim_gateway: ServerThread) -> None:
    kinds: list[str] = []
    texts: set[str | None] = set()
    for event in oai.images.generate(
        model=MODEL,
        prompt="noise",
        size="1024x1024",
        quality="low",
        stream=True,
        partial_images=2,
    ):
        kinds.append(event.type)
        texts.add(event.b64_json)
    assert kinds.count("image_generation.partial_image") == 2
    (noise,) = texts  # the fixed picture: partials and final image are the same text
    assert isinstance(noise, str) and len(noise) > 4_000_000
    assert _image(noise).size == (1024, 1024)
    buffered = oai.images.generate(model=MODEL, prompt="noise", size="1024x1024", quality="low")
    assert buffered.data and buffered.data[0].b64_json == noise
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{sim_gateway.url}/api/v1") as client:
        events = list(
            client.images.generate(model=MODEL, prompt="noise", quality="low", stream=True)
        )
        result = client.images.generate(model=MODEL, prompt="noise", quality="low")
    partials = [e for e in events if getattr(e, "type", None) == "image_generation.partial_image"]
    assert len(partials) == 2 and all(p.b64_json == noise for p in partials)
    assert [image.b64_json for image in result.data] == [noise]
    for url in (_chat_streamed_url(sim_gateway), _chat_buffered_url(sim_gateway)):
        assert url.split(",", 1)[1] == noise


def _chat_streamed_url(sim_gateway: ServerThread) -> str:
    chat = _chat_body(stream=True)
    with httpx.stream(
        "POST", f"{sim_gateway.url}/api/v1/chat/completions", json=chat, headers=AUTH, timeout=60
    ) as resp:
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    chunks = [orjson.loads(line[6:]) for line in lines[:-1]]
    images = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("images")]
    assert len(images) == 1  # no partial shown as an image
    url: str = images[0]["choices"][0]["delta"]["images"][0]["image_url"]["url"]
    return url


def _chat_buffered_url(sim_gateway: ServerThread) -> str:
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/chat/completions",
        json=_chat_body(),
        headers=AUTH,
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    url: str = resp.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
    return url


def test_openai_sdk_sees_openai_shaped_errors(
    oai: openai.OpenAI, sim_gateway: ServerThread
) -> None:
    with pytest.raises(openai.NotFoundError):
        oai.images.generate(model="dall-e-3", prompt="x")
    with pytest.raises(openai.BadRequestError) as bad:
        oai.images.generate(model=MODEL, prompt="x", size="333x333")
    assert bad.value.code and "size" in bad.value.message
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="nope", base_url=f"{sim_gateway.url}/v1").images.generate(
            model=MODEL, prompt="x"
        )
    with pytest.raises(openai.BadRequestError):
        oai.images.generate(model=MODEL, prompt="x", style="vivid")


def test_a_content_refusal_is_openais_400_moderation_blocked(oai: openai.OpenAI) -> None:
    """OpenAI's API refuses on content grounds with 400 ``moderation_blocked`` (BadRequestError
    in its SDKs); OpenRouter's door says 403 for the same refusal."""
    with pytest.raises(openai.BadRequestError) as bad:
        oai.images.generate(model=MODEL, prompt="a fox [sim:moderate]")
    assert bad.value.status_code == 400
    assert (bad.value.code, bad.value.type) == ("moderation_blocked", "image_generation_user_error")
    assert "content grounds" in bad.value.message


def test_openai_sdk_options_reach_the_endpoints_that_take_them(
    oai: openai.OpenAI, sims: SimServer
) -> None:
    """``complexity`` (newer GPT image models) and ``style`` (Recraft V3's own styles) go
    upstream where the endpoint's allowlist has them, and nowhere else."""
    oai.images.generate(model="openai/gpt-image-2", prompt="x", extra_body={"complexity": "low"})
    (call,) = sims.sim("openai").log.entries
    assert call["body"]["complexity"] == "low"
    oai.images.generate(model="recraft/recraft-v3", prompt="x", style="digital_illustration")
    (call,) = [e for e in sims.sim("recraft").log.entries if e.get("body")]  # not the download
    assert call["body"]["style"] == "digital_illustration"
    with pytest.raises(openai.BadRequestError) as bad:
        oai.images.generate(
            model="recraft/recraft-v3", prompt="x", extra_body={"complexity": "low"}
        )
    assert "complexity" in bad.value.message


def test_a_null_provider_options_entry_is_no_options_on_every_door(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    """Explicit ``null`` is accepted on any optional field (reference §2, checklist 11),
    ``provider.options.<slug>`` included, also where a door adds its own keys to that entry."""
    null = {"options": {"openai": None, "xai": None}}
    moderation = {"model": MODEL, "prompt": "x", "quality": "low", "moderation": "low"}
    for path, body in (
        ("/api/v1/images", {"model": MODEL, "prompt": "x", "quality": "low", "provider": null}),
        ("/v1/images/generations", {**moderation, "provider": null}),
        ("/api/v1/chat/completions", _chat_body(provider=null)),
    ):
        resp = httpx.post(f"{sim_gateway.url}{path}", json=body, headers=AUTH, timeout=60)
        assert resp.status_code == 200, (path, resp.text)
    calls = sims.sim("openai").log.entries
    assert len(calls) == 3 and calls[1]["body"]["moderation"] == "low"


def test_openai_sdk_lists_models(oai: openai.OpenAI) -> None:
    ids = [m.id for m in oai.models.list()]
    assert ids == SERVABLE


# ------------------------------------------------------------------------------------------
# General discovery
# ------------------------------------------------------------------------------------------


def test_openrouter_sdk_models_list(sim_gateway: ServerThread) -> None:
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{sim_gateway.url}/api/v1") as client:
        res = client.models.list(output_modalities="image")
        assert res is not None
        listed = res.result.data
    assert [m.id for m in listed] == SERVABLE
    for item in listed:
        assert "image" in item.architecture.output_modalities
        assert float(item.pricing.prompt) >= 0
        assert "modalities" in item.supported_parameters


def test_models_list_filters_and_pages(sim_gateway: ServerThread) -> None:
    url = f"{sim_gateway.url}/api/v1/models"
    assert httpx.get(url, params={"output_modalities": "audio"}).json()["data"] == []
    first = httpx.get(url, params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["total_count"] == len(SERVABLE)
    assert first["links"]["next"].endswith("offset=2&limit=2")
    assert httpx.get(url, params={"limit": 0}).status_code == 400
    assert httpx.get(url, params={"output_modalities": "smell"}).status_code == 400
    # the filter matches what the entries list: every entry lists image_config
    listed = httpx.get(url, params={"supported_parameters": "image_config,modalities"}).json()
    assert listed["total_count"] == len(SERVABLE)
    seeded = httpx.get(url, params={"supported_parameters": "seed"}).json()["data"]
    assert seeded and all("seed" in m["supported_parameters"] for m in seeded)


def test_models_list_next_link_keeps_the_filters(sim_gateway: ServerThread) -> None:
    """Following ``links.next`` page by page lists what the filtered query lists at once."""
    wanted = httpx.get(
        f"{sim_gateway.url}/api/v1/models", params={"supported_parameters": "seed"}
    ).json()["data"]
    assert 2 < len(wanted) < len(SERVABLE)
    seen: list[str] = []
    link: str | None = "/api/v1/models?supported_parameters=seed&limit=2"
    while link is not None:
        page = httpx.get(f"{sim_gateway.url}{link}").json()
        assert page["total_count"] == len(wanted)
        seen += [m["id"] for m in page["data"]]
        link = page["links"]["next"]
    assert seen == [m["id"] for m in wanted]


def test_ts_sdk_models_list(sim_gateway: ServerThread) -> None:
    out = _node("sdk.mjs", "modelslist", f"{sim_gateway.url}/api/v1", MASTER_KEY, "image")
    assert "error" not in out, out
    assert out["ids"] == SERVABLE and out["total_count"] == len(SERVABLE)


# ------------------------------------------------------------------------------------------
# The OpenAI Node SDK
# ------------------------------------------------------------------------------------------


def test_openai_node_sdk_generates_edits_streams_and_lists(sim_gateway: ServerThread) -> None:
    base = f"{sim_gateway.url}/v1"
    body = {"model": "gpt-image-1.5", "prompt": "a fox", "size": "1024x1536", "quality": "low"}
    out = _node("openai.mjs", "generate", base, MASTER_KEY, orjson.dumps(body).decode())
    assert "error" not in out, out
    ((width, height),) = [(i["width"], i["height"]) for i in out["images"]]
    assert (width, height) == (1024, 1536) and out["usage"]["cost"] > 0
    out = _node("openai.mjs", "edit", base, MASTER_KEY, orjson.dumps(body).decode())
    assert "error" not in out and len(out["images"]) == 1, out
    stream = {**body, "partial_images": 1}
    out = _node("openai.mjs", "stream", base, MASTER_KEY, orjson.dumps(stream).decode())
    assert [e["type"] for e in out["events"]] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert _node("openai.mjs", "models", base, MASTER_KEY)["ids"] == SERVABLE
    out = _node("openai.mjs", "generate", base, MASTER_KEY, '{"model": "nope", "prompt": "x"}')
    assert out["error"]["statusCode"] == 404


def test_chat_content_carries_the_text_the_model_returned(sim_gateway: ServerThread) -> None:
    body = {
        "model": "google/gemini-2.5-flash-image",
        "messages": [{"role": "user", "content": "a lighthouse"}],
        "modalities": ["image", "text"],
    }
    resp = httpx.post(f"{sim_gateway.url}/api/v1/chat/completions", json=body, headers=AUTH)
    assert resp.status_code == 200, resp.text
    message = resp.json()["choices"][0]["message"]
    assert message["content"]  # Gemini 2.5 answers a caption beside its image
    assert message["images"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def _chat_to(sim_gateway: ServerThread, model: str, config: dict[str, Any]) -> httpx.Response:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "a poster"}],
        "modalities": ["image"],
        "image_config": config,
    }
    return httpx.post(
        f"{sim_gateway.url}/api/v1/chat/completions", json=body, headers=AUTH, timeout=30
    )


@pytest.mark.parametrize(
    "model", ["black-forest-labs/flux.1-kontext-pro", "google/gemini-2.5-flash-image"]
)
def test_chat_image_size_1k_the_documented_default_serves_models_without_tiers(
    sim_gateway: ServerThread, model: str
) -> None:
    resp = _chat_to(sim_gateway, model, {"image_size": "1K", "aspect_ratio": "1:1"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["images"]
    # a tier such a model cannot make is still the caller's 400
    assert _chat_to(sim_gateway, model, {"image_size": "2K"}).status_code == 400


def test_chat_rgb_colors_reach_recraft_as_its_controls(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    config = {"rgb_colors": [[255, 0, 0], [0, 0, 128]], "background_rgb_color": [250, 250, 240]}
    resp = _chat_to(sim_gateway, "recraft/recraft-v3", config)
    assert resp.status_code == 200, resp.text
    (call,) = [e for e in sims.sim("recraft").log.entries if e.get("body")]
    assert call["body"]["controls"] == {
        "colors": [{"rgb": [255, 0, 0]}, {"rgb": [0, 0, 128]}],
        "background_color": {"rgb": [250, 250, 240]},
    }
    bad = _chat_to(sim_gateway, "recraft/recraft-v3", {"rgb_colors": [[300, 0, 0]]})
    assert bad.status_code == 400 and "rgb_colors" in bad.json()["error"]["message"]
    elsewhere = _chat_to(sim_gateway, MODEL, {"rgb_colors": [[1, 2, 3]]})
    message = elsewhere.json()["error"]["message"]
    assert elsewhere.status_code == 400 and "image_config.rgb_colors is not a parameter" in message
