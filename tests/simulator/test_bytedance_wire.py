"""Seedream simulator: auth, request validation per model, response shape, watermark, url mode
(reference bytedance.md §1-§3, §8 checklist)."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image, ImageStat

from simulator.bytedance_output import watermarked
from tests.simulator.seedream_sim import (
    LITE,
    PATH,
    PRO,
    V40,
    V45,
    LiveSeedream,
    data_uri,
    decode,
    error_of,
    live,
)


@pytest.fixture(scope="module")
def live_seedream() -> Iterator[LiveSeedream]:
    yield from live()


@pytest.fixture
def sim(live_seedream: LiveSeedream) -> LiveSeedream:
    return live_seedream.reset()


# -- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Basic abc", "Bearer"])
def test_missing_or_wrong_bearer_is_the_documented_401(
    sim: LiveSeedream, header: str | None
) -> None:
    headers = {} if header is None else {"authorization": header}
    resp = httpx.post(f"{sim.url}{PATH}", json={"model": V40, "prompt": "x"}, headers=headers)
    assert resp.status_code == 401
    error = error_of(resp)
    assert (error["code"], error["type"], error["param"]) == (
        "AuthenticationError",
        "Unauthorized",
        "",
    )
    assert error["message"].startswith(
        "the API key or AK/SK in the request is missing or invalid. request id: "
    )


# -- response shape --------------------------------------------------------------------------


def test_b64_answer_shape_and_usage_tokens(sim: LiveSeedream) -> None:
    resp = sim.post(size="1280x720", response_format="b64_json", watermark=False)
    assert resp.status_code == 200 and resp.headers["x-request-id"].startswith("021")
    body = resp.json()
    assert set(body) == {"model", "created", "data", "usage"}
    assert body["model"] == V40 and isinstance(body["created"], int)
    (item,) = body["data"]
    assert set(item) == {"b64_json", "size"} and item["size"] == "1280x720"
    assert not item["b64_json"].startswith("data:")  # bare base64 (§3)
    img = decode(item["b64_json"])
    assert (img.format, img.size) == ("JPEG", (1280, 720))  # 4.x always jpeg
    assert body["usage"] == {
        "generated_images": 1,
        "output_tokens": 1280 * 720 // 256,
        "total_tokens": 1280 * 720 // 256,
    }


def test_url_is_the_default_response_format_and_expires_after_its_ttl(sim: LiveSeedream) -> None:
    (item,) = sim.ok(size="1280x720")["data"]
    assert set(item) == {"url", "size"}
    got = httpx.get(item["url"])
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(got.content)).size == (1280, 720)
    sim.app.state.files.ttl_s = 0.05
    (item,) = sim.ok(size="1280x720", prompt="short-lived")["data"]
    time.sleep(0.1)
    expired = httpx.get(item["url"])
    assert expired.status_code == 403 and b"expired" in expired.content
    assert httpx.get(item["url"] + "x").status_code == 404


def _mark_region(img: Image.Image) -> float:
    """Mean brightness of the bottom-right corner where the mark's dark box sits."""
    w, h = img.size
    corner = img.convert("L").crop((w - w // 10, h - h // 40, w, h))
    mean: float = ImageStat.Stat(corner).mean[0]
    return mean


def test_watermark_defaults_to_true_and_is_visible(sim: LiveSeedream) -> None:
    marked = sim.ok(response_format="b64_json", size="1280x720", prompt="mark")["data"][0]
    clean = sim.ok(response_format="b64_json", size="1280x720", prompt="mark", watermark=False)[
        "data"
    ][0]
    marked_bytes = base64.b64decode(marked["b64_json"])
    clean_bytes = base64.b64decode(clean["b64_json"])
    assert watermarked(marked_bytes) and not watermarked(clean_bytes)
    assert _mark_region(decode(marked["b64_json"])) < _mark_region(decode(clean["b64_json"]))


def test_output_format_png_on_the_5_0_family_only(sim: LiveSeedream) -> None:
    (item,) = sim.ok(model=LITE, size="2560x1440", output_format="png", response_format="b64_json")[
        "data"
    ]
    assert item["output_format"] == "png" and decode(item["b64_json"]).format == "PNG"
    (item,) = sim.ok(model=PRO, size="1280x720", response_format="b64_json")["data"]
    assert item["output_format"] == "jpeg" and decode(item["b64_json"]).format == "JPEG"
    for model, fmt in ((V40, "png"), (V45, "jpeg"), (LITE, "webp")):
        size = "1280x720" if model == V40 else "2560x1440"
        resp = sim.post(model=model, size=size, output_format=fmt)
        assert resp.status_code == 400 and error_of(resp)["param"] == "output_format"


# -- size: tiers and pixel ranges per model ----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "size", "ok"),
    [
        (V40, "1280x720", True),  # 921 600, the 4.0 floor
        (V40, "1270x720", False),
        (V40, "4096x4096", True),
        (V40, "4112x4096", False),
        (V45, "2560x1440", True),  # 3 686 400, the 4.5 floor
        (V45, "2048x1024", False),
        (LITE, "2048x1024", False),
        (PRO, "2144x2144", True),  # 4 596 736 ≤ 4 624 220
        (PRO, "2560x1920", False),
        (V40, "8192x480", False),  # 17:1 is outside 1:16..16:1
        (V40, "4096x256", True),  # exactly 16:1, 1 048 576 px
        (V40, "2048X1024", False),
        (V40, "big", False),
    ],
)
def test_wxh_within_each_models_pixel_range(
    sim: LiveSeedream, model: str, size: str, ok: bool
) -> None:
    resp = sim.post(model=model, size=size, response_format="b64_json")
    if ok:
        assert resp.status_code == 200, resp.text
        width, height = (int(v) for v in size.split("x"))
        assert decode(resp.json()["data"][0]["b64_json"]).size == (width, height)
    else:
        assert resp.status_code == 400, resp.text
        error = error_of(resp)
        assert (error["code"], error["param"], error["type"]) == (
            "InvalidParameter",
            "size",
            "BadRequest",
        )


@pytest.mark.parametrize(
    ("model", "tier", "ok"),
    [
        (V40, "1K", True),
        (V40, "2K", True),
        (V45, "1K", False),
        (V45, "4K", True),
        (LITE, "3K", True),
        (PRO, "1.5K", True),
        (PRO, "4K", False),
        (V40, "3K", False),
    ],
)
def test_tiers_per_model(sim: LiveSeedream, model: str, tier: str, ok: bool) -> None:
    resp = sim.post(model=model, size=tier, prompt="tier check")
    assert resp.status_code == (200 if ok else 400), resp.text
    if not ok:
        assert error_of(resp)["param"] == "size"


def test_a_tier_without_a_ratio_hint_gives_model_chosen_dimensions(sim: LiveSeedream) -> None:
    """§1 gotcha: read the real size from the answer, not from the request."""
    (item,) = sim.ok(size="1K", prompt="a fox")["data"]
    width, height = (int(v) for v in item["size"].split("x"))
    assert width != height and abs(width / height - 1.5) < 0.02
    (hinted,) = sim.ok(size="2K", prompt="a fox, 16:9 widescreen")["data"]
    width, height = (int(v) for v in hinted["size"].split("x"))
    assert abs(width / height - 16 / 9) < 0.02 and abs(width * height - 2048**2) < 2048 * 32


def test_no_size_is_2048_square(sim: LiveSeedream) -> None:
    assert sim.ok()["data"][0]["size"] == "2048x2048"


# -- other fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("seed", 42), ("n", 2), ("quality", "high"), ("guidance_scale", 2.5), ("aspect_ratio", "1:1")],
)
def test_fields_the_model_does_not_take_are_400_naming_them(
    sim: LiveSeedream, field: str, value: Any
) -> None:
    resp = sim.post(**{field: value})
    assert resp.status_code == 400
    error = error_of(resp)
    assert (error["code"], error["param"]) == ("InvalidParameter", field)
    assert sim.state.log.entries[-1]["status"] == 400


def test_unknown_model_is_404_and_missing_prompt_is_400(sim: LiveSeedream) -> None:
    resp = sim.post(model="seedream-9-9")
    assert resp.status_code == 404
    error = error_of(resp)
    assert (error["code"], error["type"]) == ("InvalidEndpoint.NotFound", "NotFound")
    resp = sim.client.post(PATH, json={"model": V40})
    assert resp.status_code == 400 and error_of(resp)["code"] == "MissingParameter"
    assert error_of(resp)["param"] == "prompt"


def test_the_1x1_probe(sim: LiveSeedream) -> None:
    """§5: `size: 1x1` is a 400 for a model the key has, a 404 otherwise."""
    assert sim.post(size="1x1").status_code == 400
    assert sim.post(model="nope", size="1x1").status_code == 404


def test_streaming_and_multi_image_are_rejected_on_5_0_pro(sim: LiveSeedream) -> None:
    resp = sim.post(model=PRO, size="1K", stream=True)
    assert resp.status_code == 400 and resp.headers["content-type"] == "application/json"
    assert error_of(resp)["param"] == "stream"
    resp = sim.post(model=PRO, sequential_image_generation="disabled")
    assert resp.status_code == 400 and error_of(resp)["param"] == "sequential_image_generation"
    assert sim.post(model=PRO, stream=False).status_code == 200


def test_optimize_prompt_fast_mode_only_where_supported(sim: LiveSeedream) -> None:
    assert sim.post(optimize_prompt_options={"mode": "fast"}, size="1K").status_code == 200
    resp = sim.post(model=V45, optimize_prompt_options={"mode": "fast"})
    assert resp.status_code == 400 and "mode must be 'standard'" in error_of(resp)["message"]


# -- multi-image -----------------------------------------------------------------------------


def test_sequential_auto_makes_up_to_max_images(sim: LiveSeedream) -> None:
    body = sim.ok(
        size="1280x720",
        sequential_image_generation="auto",
        sequential_image_generation_options={"max_images": 3},
        response_format="b64_json",
    )
    assert len(body["data"]) == 3 and body["usage"]["generated_images"] == 3
    assert body["usage"]["output_tokens"] == 3 * 1280 * 720 // 256
    assert len({item["b64_json"] for item in body["data"]}) == 3  # distinct images
    one = sim.ok(size="1280x720", sequential_image_generation="disabled")
    assert len(one["data"]) == 1
    fewer = sim.ok(
        prompt="fewer [sim:fewer=2]",
        size="1280x720",
        sequential_image_generation="auto",
        sequential_image_generation_options={"max_images": 4},
    )
    assert len(fewer["data"]) == 2 and fewer["usage"]["generated_images"] == 2


def test_references_plus_max_images_at_most_15(sim: LiveSeedream) -> None:
    refs = [data_uri() for _ in range(12)]
    base: dict[str, Any] = {"size": "1280x720", "sequential_image_generation": "auto"}
    resp = sim.post(image=refs, sequential_image_generation_options={"max_images": 4}, **base)
    assert resp.status_code == 400
    assert error_of(resp)["param"] == "sequential_image_generation_options.max_images"
    ok = sim.ok(image=refs, sequential_image_generation_options={"max_images": 3}, **base)
    assert len(ok["data"]) == 3
    resp = sim.post(sequential_image_generation_options={"max_images": 16}, **base)
    assert resp.status_code == 400


# -- reference images ------------------------------------------------------------------------


def test_one_reference_as_a_string_and_several_as_an_array(sim: LiveSeedream) -> None:
    sim.ok(image=data_uri(), size="1280x720")
    sim.ok(image=[data_uri(fmt="jpeg"), "https://example.com/a.png"], size="1280x720")
    single, several = (e["body"]["image"] for e in sim.state.log.entries)
    assert single == {"data_url": "data:image/png;base64,…", "bytes": single["bytes"]}
    assert single["bytes"] > 0
    assert several[0]["data_url"] == "data:image/jpeg;base64,…"
    assert several[1] == "https://example.com/a.png"
    assert "base64," + "iVBOR" not in str(sim.state.log.entries)  # payloads never stored


@pytest.mark.parametrize(
    ("image", "why"),
    [
        (data_uri().replace("image/png", "image/PNG"), "lowercase"),
        (data_uri().replace("image/png", "image/svg+xml"), "unsupported"),
        ("data:image/png;base64,!!!", "base64"),
        (data_uri(10, 10), "14 px"),
        (data_uri(1000, 50), "aspect ratio"),
        ("ftp://example.com/a.png", "data:image"),
        ([], "non-empty"),
    ],
)
def test_bad_references_are_400_on_image(sim: LiveSeedream, image: Any, why: str) -> None:
    resp = sim.post(image=image, size="1280x720")
    assert resp.status_code == 400, resp.text
    error = error_of(resp)
    assert (error["code"], error["param"]) == ("InvalidParameter", "image")
    assert why in error["message"]


@pytest.mark.parametrize(("model", "limit"), [(V40, 14), (V45, 14), (LITE, 14), (PRO, 10)])
def test_reference_count_limit_per_model(sim: LiveSeedream, model: str, limit: int) -> None:
    size = "1280x720" if model in (V40, PRO) else "2560x1440"
    assert sim.post(model=model, image=[data_uri()] * limit, size=size).status_code == 200
    resp = sim.post(model=model, image=[data_uri()] * (limit + 1), size=size)
    assert resp.status_code == 400 and error_of(resp)["param"] == "image"


def test_an_edit_blends_the_first_reference(sim: LiveSeedream) -> None:
    plain = sim.ok(prompt="edit me", size="1280x720", response_format="b64_json", watermark=False)
    edited = sim.ok(
        prompt="edit me",
        size="1280x720",
        response_format="b64_json",
        watermark=False,
        image=data_uri(),
    )
    assert plain["data"][0]["b64_json"] != edited["data"][0]["b64_json"]


def test_unknown_paths_use_the_envelope(sim: LiveSeedream) -> None:
    resp = sim.client.get("/api/v3/images/nothing")
    assert resp.status_code == 404 and resp.json()["error"]["type"] == "NotFound"
