"""Edits through the official SDK (multipart ``image``/``image[]`` + ``mask``), reference §3."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.simulator.conftest import LiveSim, decode, png


def test_single_image_edit_uses_the_image_part(client: openai.OpenAI, sim: LiveSim) -> None:
    source = png(512, 512)
    result = client.images.edit(
        model="gpt-image-1.5",
        prompt="add a hat",
        image=("in.png", source, "image/png"),
        size="1024x1024",
        quality="low",
    )
    assert decode(result.data[0].b64_json if result.data else None).size == (1024, 1024)
    assert result.usage is not None
    assert result.usage.input_tokens_details.image_tokens > 0
    assert result.usage.output_tokens == 272
    body = sim.state.log.entries[0]["body"]
    assert body["image"] == {
        "filename": "in.png",
        "content_type": "image/png",
        "bytes": len(source),
    }
    assert body["prompt"] == "add a hat" and body["model"] == "gpt-image-1.5"


def test_multiple_images_and_mask(client: openai.OpenAI, sim: LiveSim) -> None:
    result = client.images.edit(
        model="gpt-image-1.5",
        prompt="combine",
        image=[("a.png", png(640, 480), "image/png"), ("b.png", png(300, 200), "image/png")],
        mask=("m.png", png(640, 480, "RGBA", (0, 0, 0, 0)), "image/png"),
        input_fidelity="high",
        output_format="jpeg",
    )
    # size auto follows the first (landscape) input on fixed-size models
    assert result.size == "1536x1024"
    img = decode(result.data[0].b64_json if result.data else None)
    assert (img.format, img.size) == ("JPEG", (1536, 1024))
    entry = sim.state.log.entries[0]
    assert [part["filename"] for part in entry["body"]["image[]"]] == ["a.png", "b.png"]
    assert entry["body"]["mask"]["filename"] == "m.png"
    assert entry["body"]["input_fidelity"] == "high"
    assert len(json.dumps(entry)) < 4_000  # summaries only, never the image bytes


def test_more_images_cost_more_input_tokens(client: openai.OpenAI) -> None:
    def image_tokens(count: int) -> int:
        result = client.images.edit(
            model="gpt-image-2",
            prompt="edit",
            image=[(f"{i}.png", png(1024, 1024), "image/png") for i in range(count)],
        )
        assert result.usage is not None
        return result.usage.input_tokens_details.image_tokens

    assert image_tokens(2) == 2 * image_tokens(1) > 0


def test_mask_must_match_the_first_image(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(
            model="gpt-image-1.5",
            prompt="x",
            image=("a.png", png(640, 480), "image/png"),
            mask=("m.png", png(512, 512, "RGBA"), "image/png"),
        )
    assert (err.value.param, err.value.code) == ("mask", "invalid_value")


def test_at_most_16_images(client: openai.OpenAI) -> None:
    images = [(f"{i}.png", png(32, 32), "image/png") for i in range(17)]
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(model="gpt-image-1.5", prompt="x", image=images)
    assert (err.value.param, err.value.code) == ("image", "array_above_max_length")
    ok = client.images.edit(model="gpt-image-1.5", prompt="x", image=images[:16], quality="low")
    assert ok.usage is not None and ok.usage.input_tokens_details.image_tokens > 0


def test_non_image_upload_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(
            model="gpt-image-1.5", prompt="x", image=("a.txt", b"hello", "text/plain")
        )
    assert (err.value.param, err.value.code) == ("image", "invalid_image_format")


@pytest.mark.parametrize(
    ("model", "fidelity", "code"),
    [
        ("gpt-image-2", "low", "unsupported_parameter"),
        ("gpt-image-1-mini", "high", "invalid_value"),
    ],
)
def test_input_fidelity_per_model(
    client: openai.OpenAI, model: str, fidelity: Any, code: str
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(
            model=model,
            prompt="x",
            image=("a.png", png(64, 64), "image/png"),
            input_fidelity=fidelity,
        )
    assert (err.value.param, err.value.code) == ("input_fidelity", code)


def test_response_format_on_edits_is_unknown(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(
            model="gpt-image-1.5",
            prompt="x",
            image=("a.png", png(64, 64), "image/png"),
            response_format="b64_json",
        )
    assert err.value.code == "unknown_parameter"


def test_markup_needs_a_25_model_and_no_mask(client: openai.OpenAI) -> None:
    image = ("a.png", png(256, 256), "image/png")
    markup = ("k.png", png(256, 256, "RGBA", (0, 0, 0, 0)), "image/png")
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(model="gpt-image-1.5", prompt="x", image=image, markup=markup)
    assert (err.value.param, err.value.code) == ("markup", "unsupported_parameter")
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(
            model="gpt-image-2.5-flare", prompt="x", image=image, markup=markup, mask=markup
        )
    assert err.value.param == "markup"
    ok = client.images.edit(model="gpt-image-2.5-flare", prompt="x", image=image, markup=markup)
    assert ok.data is not None and len(ok.data) == 1


def test_edit_without_image_is_a_missing_parameter(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(model="gpt-image-1.5", prompt="x", image=[])
    assert (err.value.param, err.value.code) == ("image", "missing_required_parameter")
