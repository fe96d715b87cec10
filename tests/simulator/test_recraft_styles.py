"""Recraft simulator: which model takes which knob (styles, substyles, controls, text layout)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.simulator.recraft_helpers import LiveRecraft, json_error


@pytest.fixture(scope="module")
def live() -> Iterator[LiveRecraft]:
    with LiveRecraft() as sim:
        yield sim


@pytest.fixture
def sim(live: LiveRecraft) -> LiveRecraft:
    return live.reset()


@pytest.mark.parametrize(
    "knobs",
    [
        {"style": "realistic_image", "substyle": "hard_flash"},
        {"style": "digital_illustration", "substyle": "pixel_art"},
        {"style": "logo_raster", "substyle": "emblem_stamp"},
        {"style": "any"},
        {"negative_prompt": "blurry"},
        {"style_id": "0b0d6a8e-6a2b-4a37-9a3e-4c7f6d9f3c11", "style_match": "precise"},
        {"text_layout": [{"text": "Hi", "bbox": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.3]]}]},
    ],
)
def test_v3_takes_styles(sim: LiveRecraft, knobs: dict[str, Any]) -> None:
    resp = sim.generate(prompt="x", model="recraftv3", **knobs)
    assert resp.status_code == 200, resp.text
    (entry,) = sim.posts
    assert {k: entry["body"][k] for k in knobs} == knobs


def test_v3_vector_takes_vector_styles_only(sim: LiveRecraft) -> None:
    ok = sim.generate(prompt="x", model="recraftv3_vector", style="icon", substyle="outline")
    assert ok.status_code == 200 and ok.json()["data"][0]["url"].endswith(".svg")
    bad = sim.generate(prompt="x", model="recraftv3_vector", style="realistic_image")
    assert json_error(bad, 400)["code"] == "invalid_style"
    bad = sim.generate(prompt="x", model="recraftv3_raster", style="vector_illustration")
    assert json_error(bad, 400)["code"] == "invalid_style"


@pytest.mark.parametrize(
    ("knobs", "code"),
    [
        ({"style": "watercolor"}, "invalid_style"),
        ({"substyle": "hdr"}, "invalid_style"),
        ({"style": "realistic_image", "substyle": "pixel_art"}, "invalid_style"),
        ({"style": "any", "style_id": "0b0d6a8e-6a2b-4a37-9a3e-4c7f6d9f3c11"}, "invalid_style"),
        ({"style_id": "not-a-uuid"}, "invalid_parameter"),
        ({"style_match": "loose"}, "invalid_parameter"),
        ({"text_layout": [{"text": "Hi"}]}, "invalid_parameter"),
        ({"colour": "red"}, "unknown_parameter"),
    ],
)
def test_bad_style_values(sim: LiveRecraft, knobs: dict[str, Any], code: str) -> None:
    assert json_error(sim.generate(prompt="x", model="recraftv3", **knobs), 400)["code"] == code


@pytest.mark.parametrize(
    "model",
    ["recraftv4", "recraftv4_vector", "recraftv4_1", "recraftv4_1_pro", "recraftv4_1_flash"],
)
@pytest.mark.parametrize(
    "knobs",
    [{"style": "realistic_image"}, {"negative_prompt": "blurry"},
     {"text_layout": [{"text": "a", "bbox": [[0, 0]]}]}],
)  # fmt: skip
def test_v4_takes_no_v3_knobs(sim: LiveRecraft, model: str, knobs: dict[str, Any]) -> None:
    body = json_error(sim.generate(prompt="x", model=model, **knobs), 400)
    assert body["code"] == "unsupported_parameter" and model in body["message"]


CONTROLS = {
    "colors": [{"rgb": [255, 0, 0]}, {"rgb": [0, 0, 0]}],
    "background_color": {"rgb": [255, 255, 255]},
    "artistic_level": 3,
    "no_text": True,
}


@pytest.mark.parametrize("model", ["recraftv3", "recraftv4", "recraftv4_1_vector"])
def test_controls(sim: LiveRecraft, model: str) -> None:
    assert sim.generate(prompt="x", model=model, controls=CONTROLS).status_code == 200


def test_flash_takes_no_controls(sim: LiveRecraft) -> None:
    body = json_error(sim.generate(prompt="x", model="recraftv4_1_flash", controls={}), 400)
    assert body["code"] == "unsupported_parameter"


@pytest.mark.parametrize(
    "controls",
    [{"colors": [{"rgb": [256, 0, 0]}]}, {"colors": [{"rgb": [1, 2]}]},
     {"artistic_level": 6}, {"no_text": "yes"}, {"palette": []}, []],
)  # fmt: skip
def test_bad_controls(sim: LiveRecraft, controls: object) -> None:
    assert json_error(sim.generate(prompt="x", model="recraftv4", controls=controls), 400)


def test_styles_models_need_a_style_id(sim: LiveRecraft) -> None:
    body = json_error(sim.generate(prompt="x", model="recraftv4_styles"), 400)
    assert body["code"] == "missing_parameter" and "style_id" in body["message"]
    ok = sim.generate(
        prompt="x", model="recraftv4_styles", style_id="0b0d6a8e-6a2b-4a37-9a3e-4c7f6d9f3c11"
    )
    assert ok.status_code == 200


def test_image_format_is_refused_for_svg_output(sim: LiveRecraft) -> None:
    body = json_error(sim.generate(prompt="x", model="recraftv4_vector", image_format="png"), 400)
    assert body["code"] == "unsupported_parameter"
    assert json_error(sim.generate(prompt="x", model="recraftv4", image_format="jpeg"), 400)


@pytest.mark.parametrize(
    "field", [{"creativity": "eccentric"}, {"block_nsfw": True}, {"expire": False}]
)
def test_other_generation_knobs(sim: LiveRecraft, field: dict[str, Any]) -> None:
    assert sim.generate(prompt="x", model="recraftv4", **field).status_code == 200
    bad = {k: "maybe" for k in field}
    assert json_error(sim.generate(prompt="x", model="recraftv4", **bad), 400)
