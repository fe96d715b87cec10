"""Recraft simulator: image-to-image (``strength`` required, §3) and vectorize (singular image)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.simulator.recraft_helpers import (
    LiveRecraft,
    data_url,
    image,
    json_error,
    png_bytes,
)

I2I = "/v1/images/imageToImage"


@pytest.fixture(scope="module")
def live() -> Iterator[LiveRecraft]:
    with LiveRecraft() as sim:
        yield sim


@pytest.fixture
def sim(live: LiveRecraft) -> LiveRecraft:
    return live.reset()


def _i2i(**extra: Any) -> dict[str, Any]:
    return {
        "prompt": "recolour",
        "model": "recraftv3",
        "image_url": data_url(png_bytes(300, 200)),
        "strength": 0.5,
        **extra,
    }


def test_image_to_image_keeps_the_inputs_shape(sim: LiveRecraft) -> None:
    resp = sim.post(I2I, _i2i(response_format="b64_json", image_format="png"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["credits"] == 40
    got = image(base64.b64decode(body["data"][0]["b64_json"]))
    assert got.size == (1536, 1024) and got.format == "PNG"  # 3:2, V3's table
    (entry,) = sim.posts
    assert entry["path"] == I2I
    summary = entry["body"]["image_url"]
    assert summary["data_url"] is True and summary["media_type"] == "image/png"
    assert "iVBOR" not in str(entry["body"])  # bytes never stored


def test_vector_image_to_image(sim: LiveRecraft) -> None:
    resp = sim.post(I2I, _i2i(model="recraftv3_vector", n=2))
    assert resp.json()["credits"] == 160
    assert httpx.get(resp.json()["data"][0]["url"]).headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"strength": None}, "missing_parameter"),
        ({"strength": 1.5}, "invalid_parameter"),
        ({"strength": "0.5"}, "invalid_parameter"),
        ({"image_url": None}, "invalid_image"),
        ({"image_url": "data:image/png;base64,!!!"}, "invalid_image"),
        ({"image_url": data_url(b"not an image")}, "invalid_image"),
        ({"image_url": "https://example.com/cat.png"}, "invalid_image"),
        ({"size": "1:1"}, "unknown_parameter"),
        ({"model": "recraftv4"}, "invalid_model"),
    ],
)
def test_image_to_image_validation(sim: LiveRecraft, change: dict[str, Any], code: str) -> None:
    body = {k: v for k, v in {**_i2i(), **change}.items() if v is not None}
    assert json_error(sim.post(I2I, body), 400)["code"] == code


def test_a_previous_result_url_can_be_the_input(sim: LiveRecraft) -> None:
    first = sim.generate(prompt="x", model="recraftv3").json()["data"][0]["url"]
    assert sim.post(I2I, _i2i(image_url=first)).status_code == 200


def test_vectorize_answers_a_singular_svg_image(sim: LiveRecraft) -> None:
    resp = sim.post("/v1/images/vectorize", {"image_url": data_url(png_bytes(64, 48))})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"created", "credits", "image"} and body["credits"] == 10
    svg = httpx.get(body["image"]["url"])
    assert svg.headers["content-type"] == "image/svg+xml"
    assert b'viewBox="0 0 64 48"' in svg.content
    b64 = sim.post(
        "/v1/images/vectorize",
        {"image_url": data_url(png_bytes(8, 8)), "response_format": "b64_json"},
    ).json()
    assert base64.b64decode(b64["image"]["b64_json"]).startswith(b"<svg ")
    bad = sim.post("/v1/images/vectorize", {"image_url": "x", "svg_compression": "maybe"})
    assert json_error(bad, 400)["code"] == "invalid_parameter"
