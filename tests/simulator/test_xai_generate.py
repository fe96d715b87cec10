"""xAI simulator, generations route: auth, body rules and the answer's shape (xai.md §2, §3, §6)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from simulator.xai_rules import output_size
from tests.simulator.xai_helpers import AUTH, GENERATIONS, KEY, XaiLive, decode, live


@pytest.fixture(scope="module")
def live_sim() -> Iterator[XaiLive]:
    with live() as sim:
        yield sim


@pytest.fixture
def sim(live_sim: XaiLive) -> XaiLive:
    live_sim.state.reset()
    return live_sim


# ------------------------------------------------------------------------------------------
# Auth: a bad key is a 400 {code, error}, not a 401
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "shown"),
    [
        ({"authorization": "Bearer xai-wrongkey-abcdyz"}, "xa***yz"),
        ({"authorization": f"Basic {KEY}"}, "xa***89"),
        ({}, "***"),
    ],
)
def test_bad_key_is_a_400_with_code_and_error(
    sim: XaiLive, headers: dict[str, str], shown: str
) -> None:
    resp = sim.post(GENERATIONS, {"prompt": "x"}, headers=headers)
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {
        "code": "Client specified an invalid argument",
        "error": f"Incorrect API key provided: {shown}. You can obtain an API key from "
        "https://console.x.ai.",
    }
    assert "wrongkey" not in resp.text


def test_the_key_is_checked_before_the_body(sim: XaiLive) -> None:
    resp = sim.http.post(GENERATIONS, content=b"not json", headers={"authorization": "Bearer no"})
    assert resp.status_code == 400 and "Incorrect API key" in resp.json()["error"]


# ------------------------------------------------------------------------------------------
# JSON only; extractor rejections are text/plain
# ------------------------------------------------------------------------------------------


def test_multipart_is_415_text(sim: XaiLive) -> None:
    resp = sim.http.post(
        GENERATIONS, data={"prompt": "x"}, files={"image": ("a.png", b"png")}, headers=AUTH
    )
    assert resp.status_code == 415
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.text == "Expected request with `Content-Type: application/json`"


def test_unparsable_json_is_400_text(sim: XaiLive) -> None:
    resp = sim.http.post(
        GENERATIONS, content=b'{"prompt": ', headers=AUTH | {"content-type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.text.startswith("Failed to parse the request body as JSON: ")


def test_missing_prompt_is_422_text_in_serde_words(sim: XaiLive) -> None:
    body = b'{\n  "model": "grok-imagine-image",\n  "n": 1\n}'
    resp = sim.http.post(
        GENERATIONS, content=body, headers=AUTH | {"content-type": "application/json"}
    )
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.text == (
        "Failed to deserialize the JSON body into the target type: "
        "missing field `prompt` at line 4 column 1"
    )


@pytest.mark.parametrize(
    "field", ["output_format", "background", "stream", "moderation", "seed", "image"]
)
def test_unknown_fields_are_422(sim: XaiLive, field: str) -> None:
    resp = sim.generate(**{field: "x"})
    assert resp.status_code == 422
    assert f"unknown field `{field}`, expected one of `prompt`, `model`" in resp.text


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("aspect_ratio", "5:4", "unknown variant `5:4`, expected one of `1:1`"),
        ("resolution", "4k", "unknown variant `4k`, expected `1k` or `2k`"),
        ("response_format", "png", "unknown variant `png`, expected `url` or `b64_json`"),
        ("n", "2", 'invalid type: string "2", expected u32'),
        ("n", -1, "invalid value: integer `-1`, expected u32"),
        ("prompt", None, "invalid type: null, expected a string"),
        ("user", 5, "invalid type: integer `5`, expected a string"),
    ],
)
def test_mistyped_values_are_422(sim: XaiLive, field: str, value: object, fragment: str) -> None:
    resp = sim.post(GENERATIONS, {"prompt": "x", field: value})
    assert resp.status_code == 422, resp.text
    assert fragment in resp.text


def test_quality_enum_on_2_0(sim: XaiLive) -> None:
    resp = sim.generate(model="grok-imagine-image-2.0", quality="high")
    assert resp.status_code == 422
    assert "unknown variant `high`, expected `low` or `medium`" in resp.text


def test_a_body_that_is_not_an_object_is_422(sim: XaiLive) -> None:
    resp = sim.post(GENERATIONS, ["prompt"])
    assert resp.status_code == 422
    assert "invalid type: sequence, expected struct ImageGenerationRequest" in resp.text


# ------------------------------------------------------------------------------------------
# API rules: 400/404 {code, error}
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["size", "style"])
def test_size_and_style_are_not_supported(sim: XaiLive, field: str) -> None:
    resp = sim.generate(**{field: "1024x1024"})
    assert resp.status_code == 400
    assert resp.json() == {"code": "invalid-argument", "error": f"Argument not supported: {field}"}


@pytest.mark.parametrize("model", ["grok-imagine-image", "grok-imagine-image-quality"])
def test_quality_only_for_2_0(sim: XaiLive, model: str) -> None:
    resp = sim.generate(model=model, quality="low")
    assert resp.status_code == 400
    assert resp.json()["error"] == "Argument not supported: quality"


@pytest.mark.parametrize("n", [0, 11])
def test_n_is_1_to_10(sim: XaiLive, n: int) -> None:
    resp = sim.generate(n=n, response_format="b64_json")
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid-argument" and "between 1 and 10" in resp.json()["error"]


def test_ten_images_in_one_call(sim: XaiLive) -> None:
    resp = sim.generate(n=10, response_format="b64_json")
    assert resp.status_code == 200 and len(resp.json()["data"]) == 10


@pytest.mark.parametrize("model", ["grok-imagine-image-pro", "grok-4", "dall-e-3"])
def test_unknown_model_is_404(sim: XaiLive, model: str) -> None:
    resp = sim.generate(model=model)
    assert resp.status_code == 404
    assert resp.json()["code"] == "not-found" and model in resp.json()["error"]


def test_empty_prompt_is_400(sim: XaiLive) -> None:
    assert sim.generate(prompt="  ").status_code == 400


def test_unknown_paths_and_methods(sim: XaiLive) -> None:
    assert sim.http.post("/v1/images/variations", json={}, headers=AUTH).status_code == 404
    assert sim.http.get(GENERATIONS, headers=AUTH).status_code == 405


# ------------------------------------------------------------------------------------------
# The answer
# ------------------------------------------------------------------------------------------


def test_b64_json_answer_shape(sim: XaiLive) -> None:
    resp = sim.generate(n=2, response_format="b64_json", aspect_ratio="16:9", resolution="1k")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"created", "data", "usage"}
    assert isinstance(body["created"], int) and abs(body["created"] - time.time()) < 60
    assert body["usage"] == {"cost_in_usd_ticks": 2 * 200_000_000}
    for item in body["data"]:
        assert set(item) == {"b64_json", "mime_type", "revised_prompt", "respect_moderation"}
        assert item["mime_type"] == "image/jpeg" and item["respect_moderation"] is True
        assert item["revised_prompt"] == ""
        assert item["b64_json"].startswith("data:image/jpeg;base64,/9j/")
        image = decode(item["b64_json"])
        assert image.format == "JPEG" and image.size == (1360, 768)


def test_bare_base64_switch(sim: XaiLive) -> None:
    sim.state.wire.b64_data_uri = False
    item = sim.generate(response_format="b64_json").json()["data"][0]
    assert item["b64_json"].startswith("/9j/")
    assert decode(item["b64_json"]).format == "JPEG"


def test_mime_type_follows_the_encoding_and_can_be_left_out(sim: XaiLive) -> None:
    sim.state.wire.image_format = "png"
    item = sim.generate(response_format="b64_json").json()["data"][0]
    assert item["mime_type"] == "image/png" and item["b64_json"].startswith("data:image/png;")
    assert decode(item["b64_json"]).format == "PNG"
    sim.state.wire.send_mime_type = False
    sim.state.wire.send_created = False
    body = sim.generate(response_format="b64_json").json()
    assert "mime_type" not in body["data"][0] and "created" not in body


def test_url_is_the_default_and_serves_the_image(sim: XaiLive) -> None:
    body = sim.generate(aspect_ratio="2:3").json()
    (item,) = body["data"]
    assert set(item) == {"url", "mime_type", "revised_prompt", "respect_moderation"}
    url = item["url"]
    assert url.startswith(f"{sim.url}/xai-imgen/xai-tmp-imgen-") and url.endswith(".jpeg")
    image = httpx.get(url)  # no key needed: the URL itself is the secret
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert decode_bytes(image.content) == output_size("2:3", "1k")
    assert all(e["path"] == GENERATIONS for e in sim.state.log.entries)  # downloads not logged


def test_urls_are_temporary(sim: XaiLive) -> None:
    sim.state.wire.url_ttl_s = 0.0
    url = sim.generate().json()["data"][0]["url"]
    assert httpx.get(url).status_code == 404
    assert httpx.get(f"{sim.url}/xai-imgen/xai-tmp-imgen-unknown.jpeg").status_code == 404


def decode_bytes(data: bytes) -> tuple[int, int]:
    import base64

    return decode(base64.b64encode(data).decode()).size


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [
        (None, None, (1024, 1024)),
        ("auto", "2k", (2048, 2048)),
        ("16:9", "2k", (2736, 1536)),
        ("9:19.5", "1k", (688, 1488)),
        ("20:9", "1k", (1536, 688)),
        ("1:2", "1k", (720, 1440)),
    ],
)
def test_output_sizes_by_ratio_and_tier(
    sim: XaiLive, ratio: str | None, resolution: str | None, size: tuple[int, int]
) -> None:
    body = {"response_format": "b64_json", "aspect_ratio": ratio, "resolution": resolution}
    item = sim.generate(**{k: v for k, v in body.items() if v is not None}).json()["data"][0]
    assert decode(item["b64_json"]).size == size


@pytest.mark.parametrize(
    ("model", "extra", "n", "ticks"),
    [
        ("grok-imagine-image", {}, 3, 3 * 200_000_000),
        ("grok-imagine-image-quality", {"resolution": "2k"}, 2, 2 * 500_000_000),
        ("grok-imagine-image-2.0", {}, 1, 480_000_000),  # default medium, 1k
        ("grok-imagine-image-2.0", {"quality": "low"}, 2, 2 * 320_000_000),
        ("grok-imagine-image-2.0", {"quality": "low", "resolution": "2k"}, 1, 480_000_000),
        ("grok-imagine-image-2.0", {"quality": "medium", "resolution": "2k"}, 1, 800_000_000),
    ],
)
def test_cost_in_ticks_is_n_times_the_model_price(
    sim: XaiLive, model: str, extra: dict[str, str], n: int, ticks: int
) -> None:
    resp = sim.generate(model=model, n=n, response_format="b64_json", **extra)
    assert resp.status_code == 200, resp.text
    assert resp.json()["usage"] == {"cost_in_usd_ticks": ticks}


def test_request_log_keeps_the_parsed_body(sim: XaiLive) -> None:
    sim.generate(model="grok-imagine-image", n=1, user="u-1", response_format="b64_json")
    entry = sim.last()
    assert entry["method"] == "POST" and entry["status"] == 200
    assert entry["body"] == {
        "prompt": "a red fox",
        "model": "grok-imagine-image",
        "n": 1,
        "user": "u-1",
        "response_format": "b64_json",
    }
    assert entry["headers"]["authorization"] == "Bearer <redacted>"
