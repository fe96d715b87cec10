"""MAI simulator: request validation, 2.6 options and edits (reference §3, §4, §8)."""

from __future__ import annotations

import pytest

from tests.simulator.mai_support import (
    LiveMai,
    decode,
    encoded,
    error_of,
    live_fixture,
    png_part,
    reset_fixture,
)

live_mai = live_fixture()
mai = reset_fixture()

CAPTURED_WIDTH_BODY = {
    "error": {
        "code": "unsupported_request_value",
        "message": "Model does not support request parameter value supplied: 'width' must be at least 768 pixels.",
        "details": "Model does not support request parameter value supplied: 'width' must be at least 768 pixels.",
    }
}


def _body(model: str = "MAI-Image-2.5", **extra: object) -> dict[str, object]:
    return {"model": model, "prompt": "a lighthouse", **extra}


# -- generations ----------------------------------------------------------------------------


def test_a_missing_prompt_is_a_400(mai: LiveMai) -> None:
    resp = mai.generate({"model": "MAI-Image-2.5", "width": 1024, "height": 1024})
    assert resp.status_code == 400
    assert "'prompt'" in error_of(resp)["message"]


@pytest.mark.parametrize("value", ["1024", 1024.5, True, None])
def test_non_integer_sizes_are_400s(mai: LiveMai, value: object) -> None:
    if value is None:  # null reads as "not given": the default size
        assert mai.generate(_body(width=value)).status_code == 200
        return
    resp = mai.generate(_body(width=value, height=1024))
    assert resp.status_code == 400
    assert error_of(resp)["message"] == "'width' must be an integer."


def test_a_side_under_768_is_the_captured_400(mai: LiveMai) -> None:
    resp = mai.generate(_body(width=512, height=1024))
    assert resp.status_code == 400
    assert resp.json() == CAPTURED_WIDTH_BODY
    resp = mai.generate(_body(width=1024, height=767))
    assert "'height' must be at least 768 pixels." in error_of(resp)["message"]


@pytest.mark.parametrize(
    ("model", "ok", "too_big"),
    [
        ("MAI-Image-2.5", (1360, 768), (1376, 768)),
        ("MAI-Image-2.5-Pro", (768, 1365), (1040, 1024)),
        ("MAI-Image-2", (1024, 1024), (1024, 1040)),
        ("MAI-Image-2.6", (1536, 1536), (1552, 1536)),
        ("MAI-Image-2.6-Flash", (3072, 768), (3088, 768)),
    ],
)
def test_the_pixel_cap_is_per_model(
    mai: LiveMai, model: str, ok: tuple[int, int], too_big: tuple[int, int]
) -> None:
    resp = mai.generate(_body(model, width=ok[0], height=ok[1]))
    assert resp.status_code == 200, resp.text
    assert decode(resp.json()["data"][0]["b64_json"]).size == ok
    resp = mai.generate(_body(model, width=too_big[0], height=too_big[1]))
    assert resp.status_code == 400
    error = error_of(resp)
    assert error["code"] == "unsupported_request_value"
    cap = 2_359_296 if "2.6" in model else 1_048_576
    assert f"must be at most {cap} pixels" in error["message"]


def test_missing_sizes_default_to_1024_square(mai: LiveMai) -> None:
    body = mai.generate(_body()).json()
    assert body["size"] == "1024x1024"
    body = mai.generate(_body(width=1000)).json()
    assert body["size"] == "1000x1024"  # no multiple-of-16 rule by default


def test_multiple_of_16_is_a_switch(mai: LiveMai) -> None:
    mai.state.config.multiple_of = 16
    resp = mai.generate(_body(width=1000, height=1024))
    assert resp.status_code == 400
    assert "'width' must be a multiple of 16" in error_of(resp)["message"]
    assert mai.generate(_body(width=1008, height=1024)).status_code == 200


def test_lenient_sizes_render_what_is_asked(mai: LiveMai) -> None:
    mai.state.config.strict_sizes = False
    resp = mai.generate(_body(width=512, height=512))
    assert resp.status_code == 200
    assert decode(resp.json()["data"][0]["b64_json"]).size == (512, 512)


def test_extras_are_ignored_and_one_image_comes_back(mai: LiveMai) -> None:
    resp = mai.generate(_body(n=4, size="1792x1024", seed=7, quality="hd", response_format="url"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["data"]) == 1 and body["size"] == "1024x1024"


def test_strict_keys_reject_unknown_fields(mai: LiveMai) -> None:
    mai.state.config.strict_keys = True
    resp = mai.generate(_body(n=2))
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "unknown_parameter"


def test_2_6_options_elsewhere_are_ignored_unless_strict(mai: LiveMai) -> None:
    resp = mai.generate(_body("MAI-Image-2.5", web_grounding=True, auto_aspect_ratio=True))
    assert resp.status_code == 200
    assert resp.json()["size"] == "1024x1024"
    mai.state.config.strict_keys = True
    resp = mai.generate(_body("MAI-Image-2.5", web_grounding=True))
    assert resp.status_code == 400
    assert "web_grounding" in error_of(resp)["message"]
    ok = mai.generate(_body("MAI-Image-2.6", web_grounding=True, auto_aspect_ratio=False))
    assert ok.status_code == 200


def test_2_6_options_must_be_booleans(mai: LiveMai) -> None:
    resp = mai.generate(_body("MAI-Image-2.6", web_grounding="yes"))
    assert resp.status_code == 400
    assert error_of(resp)["message"] == "'web_grounding' must be a boolean."


def test_auto_aspect_ratio_picks_the_shape_from_the_prompt(mai: LiveMai) -> None:
    resp = mai.generate(
        {
            "model": "MAI-Image-2.6",
            "prompt": "a wide landscape",
            "width": 1024,
            "height": 1024,
            "auto_aspect_ratio": True,
        }
    )
    body = resp.json()
    width, height = decode(body["data"][0]["b64_json"]).size
    assert body["size"] == f"{width}x{height}"
    assert abs(width / height - 16 / 9) < 0.05
    assert min(width, height) >= 768 and width * height <= 2_359_296
    assert width % 16 == 0 and height % 16 == 0


# -- edits ----------------------------------------------------------------------------------


def test_edits_need_multipart(mai: LiveMai) -> None:
    import httpx

    resp = httpx.post(
        f"{mai.url}/mai/v1/images/edits",
        json={"model": "MAI-Image-2.5", "prompt": "x", "image": "aGk="},
        headers={"api-key": "mai-test-key-0123456789abcdef"},
    )
    assert resp.status_code == 400
    assert "multipart/form-data" in error_of(resp)["message"]


@pytest.mark.parametrize(
    ("parts", "status"),
    [
        ([], 400),
        ([("a.webp", encoded(64, 64, "WEBP"), "image/webp")], 400),
        ([("a.gif", encoded(64, 64, "GIF"), "image/gif")], 400),
        ([("a.png", b"not an image", "image/png")], 400),
        ([("a.jpg", encoded(64, 64, "JPEG"), "image/jpeg")], 200),
        ([png_part(name=f"image-{i}.png") for i in range(5)], 200),
        ([png_part(name=f"image-{i}.png") for i in range(6)], 400),
    ],
)
def test_edit_images_are_one_to_five_png_or_jpeg(
    mai: LiveMai, parts: list[tuple[str, bytes, str]], status: int
) -> None:
    resp = mai.edit({"model": "MAI-Image-2.5", "prompt": "blue"}, parts)
    assert resp.status_code == status, resp.text
    if status == 400:
        assert error_of(resp)["code"] in ("invalid_image", "BadRequest")


def test_the_edit_image_limit_is_configurable(mai: LiveMai) -> None:
    mai.state.config.max_edit_images = 1
    two = [png_part(name="a.png"), png_part(name="b.png")]
    assert mai.edit({"model": "MAI-Image-2.5", "prompt": "x"}, two).status_code == 400
    assert mai.edit({"model": "MAI-Image-2.5", "prompt": "x"}, two[:1]).status_code == 200


def test_image_array_syntax_is_not_the_image_part(mai: LiveMai) -> None:
    resp = mai.edit({"model": "MAI-Image-2.5", "prompt": "x"}, [png_part()], part="image[]")
    assert resp.status_code == 400
    assert "'image'" in error_of(resp)["message"]


@pytest.mark.parametrize("model", ["MAI-Image-2", "MAI-Image-2e"])
def test_generation_only_models_refuse_edits(mai: LiveMai, model: str) -> None:
    resp = mai.edit({"model": model, "prompt": "x"}, [png_part()])
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "OperationNotSupported"


def test_edit_sizes_and_options_arrive_as_form_text(mai: LiveMai) -> None:
    fields = {
        "model": "MAI-Image-2.6",
        "prompt": "x",
        "width": "1536",
        "height": "768",
        "web_grounding": "false",
    }
    resp = mai.edit(fields, [png_part()])
    assert resp.status_code == 200, resp.text
    assert resp.json()["size"] == "1536x768"
    assert mai.state.log.entries[0]["body"]["width"] == 1536
    bad = mai.edit({**fields, "width": "wide"}, [png_part()])
    assert bad.status_code == 400


def test_auto_aspect_ratio_on_an_edit_follows_the_reference(mai: LiveMai) -> None:
    fields = {"model": "MAI-Image-2.6-Flash", "prompt": "x", "auto_aspect_ratio": "true"}
    resp = mai.edit(fields, [png_part(400, 300)])
    width, height = decode(resp.json()["data"][0]["b64_json"]).size
    assert abs(width / height - 4 / 3) < 0.03
