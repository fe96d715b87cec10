"""Generations through the official SDK: images, resolved fields, usage, validation."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.simulator.conftest import LiveSim, decode

FIXED_SIZES_ERROR = (
    "Invalid value: '1254x836'. Supported values are: '1024x1024', '1024x1536', '1536x1024', "
    "and 'auto'."
)


def test_generation_returns_real_image_and_reference_usage(
    client: openai.OpenAI, sim: LiveSim
) -> None:
    result = client.images.generate(
        model="gpt-image-1.5",
        prompt="a red fox, flat vector",
        size="1536x1024",
        quality="low",
        output_format="webp",
        output_compression=80,
        background="opaque",
        moderation="auto",
    )
    assert (result.size, result.quality, result.background, result.output_format) == (
        "1536x1024",
        "low",
        "opaque",
        "webp",
    )
    assert result.data is not None and len(result.data) == 1
    assert result.data[0].url is None and result.data[0].revised_prompt is None
    img = decode(result.data[0].b64_json)
    assert (img.format, img.size) == ("WEBP", (1536, 1024))
    assert result.usage is not None
    assert result.usage.output_tokens == 400  # §8.2 low, 1536x1024
    assert result.usage.input_tokens == result.usage.input_tokens_details.text_tokens == 12
    assert result.usage.input_tokens_details.image_tokens == 0
    assert result.usage.total_tokens == 412
    assert sim.state.log.count == 1


@pytest.mark.parametrize(
    ("quality", "size", "tokens"),
    [("low", "1024x1024", 272), ("medium", "1024x1536", 1584), ("high", "1536x1024", 6208)],
)
def test_output_tokens_follow_the_reference_table(
    client: openai.OpenAI, quality: Any, size: str, tokens: int
) -> None:
    result = client.images.generate(
        model="gpt-image-1-mini", prompt="tokens", quality=quality, size=size, output_format="jpeg"
    )
    assert result.usage is not None and result.usage.output_tokens == tokens
    assert decode(result.data[0].b64_json if result.data else None).size == tuple(
        int(v) for v in size.split("x")
    )


@pytest.mark.parametrize(
    ("fmt", "pil_format", "mode"), [("png", "PNG", "RGBA"), ("webp", "WEBP", "RGBA")]
)
def test_transparent_background_has_alpha(
    client: openai.OpenAI, fmt: Any, pil_format: str, mode: str
) -> None:
    result = client.images.generate(
        model="gpt-image-1.5", prompt="sticker", background="transparent", output_format=fmt
    )
    assert result.background == "transparent"
    img = decode(result.data[0].b64_json if result.data else None)
    assert (img.format, img.mode) == (pil_format, mode)
    alpha_min, alpha_max = img.getchannel("A").getextrema()
    assert alpha_min == 0 and alpha_max == 255


def test_auto_values_resolve(client: openai.OpenAI) -> None:
    result = client.images.generate(model="chatgpt-image-latest", prompt="defaults")
    assert (result.size, result.quality, result.background, result.output_format) == (
        "1024x1024",
        "high",
        "opaque",
        "png",
    )
    img = decode(result.data[0].b64_json if result.data else None)
    assert (img.format, img.size, img.mode) == ("PNG", (1024, 1024), "RGB")
    assert result.usage is not None and result.usage.output_tokens == 4160


def test_free_size_model_scales_tokens_by_area(client: openai.OpenAI) -> None:
    result = client.images.generate(
        model="gpt-image-2", prompt="wide", size="1280x720", quality="medium", n=3
    )
    assert result.size == "1280x720"
    assert result.data is not None and len(result.data) == 3
    images = [decode(d.b64_json) for d in result.data]
    assert all(img.size == (1280, 720) for img in images)
    assert len({img.tobytes() for img in images}) == 3  # each of the n images differs
    assert result.usage is not None
    assert result.usage.output_tokens == 3 * round(1056 * 1280 * 720 / 1024**2)


def test_xhigh_quality_only_for_the_25_family(client: openai.OpenAI) -> None:
    ok = client.images.generate(model="gpt-image-2.5-flare", prompt="detail", quality="xhigh")
    assert ok.quality == "xhigh"
    with pytest.raises(openai.BadRequestError) as err:
        client.images.generate(model="gpt-image-2.6-flare", prompt="detail", quality="xhigh")
    assert (err.value.code, err.value.param) == ("invalid_value", "quality")


def test_safety_identifier_is_echoed(client: openai.OpenAI) -> None:
    result = client.images.generate(model="gpt-image-1.5", prompt="id", user="u-1")
    assert result.safety_identifier == "u-1"


def test_response_format_gives_the_verbatim_unknown_parameter_error(
    client: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.generate(model="gpt-image-1-mini", prompt="a cat", response_format="url")
    assert err.value.body == {
        "message": "Unknown parameter: 'response_format'.",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": "unknown_parameter",
    }
    assert err.value.request_id is not None and err.value.request_id.startswith("req_")


def test_fixed_size_error_message_is_verbatim(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.generate(model="gpt-image-1.5", prompt="x", size="1254x836")
    assert err.value.body == {
        "message": FIXED_SIZES_ERROR,
        "type": "invalid_request_error",
        "param": "size",
        "code": "invalid_value",
    }


@pytest.mark.parametrize(
    ("model", "kwargs", "param", "code"),
    [
        ("gpt-image-1.5", {"style": "vivid"}, "style", "unknown_parameter"),
        ("gpt-image-1.5", {"extra_body": {"seed": 3}}, "seed", "unknown_parameter"),
        # edits-only (§3.1); §2.1 has no input_fidelity
        (
            "gpt-image-1.5",
            {"extra_body": {"input_fidelity": "high"}},
            "input_fidelity",
            "unknown_parameter",
        ),
        ("gpt-image-1.5", {"quality": "hd"}, "quality", "invalid_value"),
        ("gpt-image-2", {"size": "1000x1000"}, "size", "invalid_value"),  # not multiples of 16
        ("gpt-image-2", {"size": "3360x1024"}, "size", "invalid_value"),  # wider than 3:1
        ("gpt-image-2", {"size": "3984x2048"}, "size", "invalid_value"),  # edge above 3840
        ("gpt-image-2", {"size": "512x512"}, "size", "invalid_value"),  # below 655 360 px
        ("gpt-image-2.5-sunburst", {"size": "3840x2176"}, "size", "invalid_value"),  # too many px
        (
            "gpt-image-1.5",
            {"background": "transparent", "output_format": "jpeg"},
            "background",
            "invalid_value",
        ),
        ("gpt-image-1.5", {"output_compression": 50}, "output_compression", "invalid_value"),
        ("gpt-image-1.5", {"output_format": "gif"}, "output_format", "invalid_value"),
        ("gpt-image-1.5", {"n": 11}, "n", "integer_above_max_value"),
        ("gpt-image-1.5", {"n": 0}, "n", "integer_below_min_value"),
        ("gpt-image-1.5", {"partial_images": 4}, "partial_images", "integer_above_max_value"),
        ("gpt-image-1.5", {"moderation": "off"}, "moderation", "invalid_value"),
        ("gpt-image-1.5", {"prompt": "x" * 32_001}, "prompt", "string_above_max_length"),
        ("gpt-image-1.5", {"extra_body": {"n": "2"}}, "n", "invalid_type"),
    ],
)
def test_invalid_parameters_are_400s_naming_the_parameter(
    client: openai.OpenAI, model: str, kwargs: dict[str, Any], param: str, code: str
) -> None:
    kwargs = {"prompt": "a cat", **kwargs}
    with pytest.raises(openai.BadRequestError) as err:
        client.images.generate(model=model, **kwargs)
    assert (err.value.code, err.value.param, err.value.type) == (
        code,
        param,
        "invalid_request_error",
    )


def test_largest_free_size_is_accepted(client: openai.OpenAI) -> None:
    result = client.images.generate(
        model="gpt-image-2.6-sunburst", prompt="big", size="3840x2160", output_format="jpeg"
    )
    assert decode(result.data[0].b64_json if result.data else None).size == (3840, 2160)


@pytest.mark.parametrize("model", ["dall-e-3", "dall-e-2", "gpt-image-1", "gpt-image-9"])
def test_retired_and_unknown_models_are_404(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.images.generate(model=model, prompt="a cat")
    assert err.value.code == "model_not_found"
    assert err.value.body == {
        "message": f"The model `{model}` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }


def test_missing_model_means_retired_dall_e_2(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        client.images.generate(prompt="a cat")
    assert "dall-e-2" in err.value.message


def test_images_directive_answers_fewer_images(client: openai.OpenAI) -> None:
    """``[sim:images=K]``: an upstream that makes fewer images than ``n``, billed for those."""
    result = client.images.generate(
        model="gpt-image-1.5", prompt="two [sim:images=1]", n=2, quality="low", size="1024x1024"
    )
    assert result.data is not None and len(result.data) == 1
    assert result.usage is not None and result.usage.output_tokens == 272
