"""Pure mapping of the MAI adapter against the reference's payloads (microsoft.md §2-§5)."""

from __future__ import annotations

import orjson
import pytest

from providers.errors import ContentModerated, InvalidRequest, ProtocolError
from providers.microsoft.translate import (
    EDITS_PATH,
    GENERATIONS_PATH,
    build_request,
    endpoint_url,
    parse_response,
)
from providers.spec import Usage
from tests.providers.microsoft.calls import call, endpoint, image_b64, reference

# -- requests -------------------------------------------------------------------------------


def test_generation_is_the_documented_json() -> None:
    """The §3 example: model = deployment name, prompt, width, height; nothing else."""
    prompt = "A photorealistic concept art poster of a university at sunset, cinematic lighting"
    request = build_request(
        call(prompt, endpoint=endpoint(upstream_model="mai-img-prod"), width=1024, height=1024)
    )
    assert request.path == GENERATIONS_PATH == "/images/generations"
    assert request.json == {
        "model": "mai-img-prod",
        "prompt": prompt,
        "width": 1024,
        "height": 1024,
    }
    assert request.data is None and request.files == ()


def test_a_call_without_a_shape_still_sends_1024_square() -> None:
    request = build_request(call(width=None, height=None))
    assert request.json is not None
    assert (request.json["width"], request.json["height"]) == (1024, 1024)


def test_parameters_mai_does_not_take_are_never_sent() -> None:
    request = build_request(
        call(
            n=3,
            quality="high",
            output_format="jpeg",
            output_compression=80,
            background="opaque",
            seed=7,
            aspect_ratio="16:9",
            resolution="1K",
            user="hashed-user",
            width=1360,
            height=768,
        )
    )
    assert request.json == {
        "model": "MAI-Image-2.5",
        "prompt": "a red fox",
        "width": 1360,
        "height": 768,
    }


def test_2_6_options_pass_through_as_json_booleans() -> None:
    ep = endpoint("microsoft/mai-image-2.6")
    request = build_request(
        call(endpoint=ep, options={"auto_aspect_ratio": True, "web_grounding": False})
    )
    assert request.json == {
        "model": "MAI-Image-2.6",
        "prompt": "a red fox",
        "auto_aspect_ratio": True,
        "web_grounding": False,
        "width": 1024,
        "height": 1024,
    }


@pytest.mark.parametrize("key", ["model", "prompt", "width", "height", "image", "n"])
def test_options_cannot_replace_what_the_adapter_sets(key: str) -> None:
    with pytest.raises(InvalidRequest, match=key):
        build_request(call(options={key: "x"}))


def test_operator_fixed_parameters_come_last() -> None:
    ep = endpoint("microsoft/mai-image-2.6", fixed={"web_grounding": False})
    request = build_request(call(endpoint=ep, options={"web_grounding": True}))
    assert request.json is not None and request.json["web_grounding"] is False


def test_an_edit_is_multipart_with_an_image_part() -> None:
    """The §4 curl: -F model -F prompt -F image=@in.png (plus width/height, as Vercel sends)."""
    ref = reference(96, 64)
    request = build_request(
        call("Turn this image into a clean futuristic product shot", input_images=(ref,))
    )
    assert request.path == EDITS_PATH == "/images/edits"
    assert request.json is None
    assert request.data == {
        "model": "MAI-Image-2.5",
        "prompt": "Turn this image into a clean futuristic product shot",
        "width": "1024",
        "height": "1024",
    }
    assert request.files == (("image", ("image-1.png", ref.data, "image/png")),)


def test_several_references_repeat_the_image_part_and_options_are_form_text() -> None:
    refs = (reference(fmt="PNG"), reference(fmt="JPEG"))
    ep = endpoint("microsoft/mai-image-2.6-flash")
    request = build_request(call(endpoint=ep, input_images=refs, options={"web_grounding": True}))
    assert [(name, f[0], f[2]) for name, f in request.files] == [
        ("image", "image-1.png", "image/png"),
        ("image", "image-2.jpg", "image/jpeg"),
    ]
    assert request.data is not None and request.data["web_grounding"] == "true"


def test_references_must_be_png_or_jpeg_on_the_wire() -> None:
    """The adapter converts a WebP before building the request; the builder stays strict."""
    with pytest.raises(InvalidRequest, match="PNG or JPEG"):
        build_request(call(input_images=(reference(fmt="WEBP"),)))


def test_at_most_five_references() -> None:
    with pytest.raises(InvalidRequest, match="at most 5"):
        build_request(call(input_images=tuple(reference() for _ in range(6))))


@pytest.mark.parametrize(
    ("base", "url"),
    [
        (
            "https://myres.services.ai.azure.com/mai/v1",
            "https://myres.services.ai.azure.com/mai/v1/images/edits",
        ),
        (
            "https://myres.services.ai.azure.com/mai/v1/",
            "https://myres.services.ai.azure.com/mai/v1/images/edits",
        ),
        (
            "https://myres.services.ai.azure.com",
            "https://myres.services.ai.azure.com/mai/v1/images/edits",
        ),
        (
            "https://myres.services.ai.azure.com/",
            "https://myres.services.ai.azure.com/mai/v1/images/edits",
        ),
        (
            "https://myres.services.ai.azure.com/mai/v1?api-version=preview",
            "https://myres.services.ai.azure.com/mai/v1/images/edits?api-version=preview",
        ),
        (
            "http://127.0.0.1:9000/azure_mai/mai/v1",
            "http://127.0.0.1:9000/azure_mai/mai/v1/images/edits",
        ),
    ],
)
def test_endpoint_url(base: str, url: str) -> None:
    assert endpoint_url(base, EDITS_PATH) == url


# -- responses ------------------------------------------------------------------------------


def _body(**fields: object) -> bytes:
    return orjson.dumps(fields)


def test_the_reference_response_example() -> None:
    """§5, constructed from the Vercel fixture values (768x768 → 576 output tokens)."""
    body = _body(
        created=1791229019,
        model="MAI-Image-2.6-Flash",
        size="768x768",
        usage={"num_output_tokens": 576, "num_input_text_tokens": 10, "num_input_image_tokens": 0},
        data=[{"b64_json": image_b64(768, 768)}],
    )
    done = parse_response(body, call(width=768, height=768), upstream_id="req-1")
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/png", 768, 768)
    assert done.usage == Usage(
        images=1,
        pixels=589_824,
        input_text_tokens=10,
        input_image_tokens=0,
        output_image_tokens=576,
    )
    assert done.upstream_id == "req-1" and done.warnings == ()


def test_the_size_is_read_from_the_image_itself() -> None:
    body = _body(
        size="1024x1024",
        data=[{"b64_json": image_b64(1360, 768)}],
        usage={"num_output_tokens": 1020},
    )
    (image,) = parse_response(body, call()).images
    assert (image.width, image.height) == (1360, 768)


def test_edit_usage_counts_image_input_tokens_and_references() -> None:
    refs = (reference(96, 64),)
    body = _body(
        data=[{"b64_json": image_b64(1024, 1024)}],
        usage={"num_output_tokens": 1024, "num_input_text_tokens": 5, "num_input_image_tokens": 6},
    )
    usage = parse_response(body, call(input_images=refs)).usage
    assert (usage.input_text_tokens, usage.input_image_tokens, usage.output_image_tokens) == (
        5,
        6,
        1024,
    )
    assert (usage.input_images, usage.input_pixels) == (1, 96 * 64)


@pytest.mark.parametrize(
    "fields",
    [
        {"usage": {"output_image_tokens": 1024, "num_input_text_tokens": 3}},  # LiteLLM fixtures
        {"num_output_tokens": 1024},  # legacy root shape (promptfoo)
        {"usage": {"num_output_tokens": 1024, "output_image_tokens": 999}},  # preferred key wins
    ],
)
def test_output_token_fallbacks(fields: dict[str, object]) -> None:
    body = _body(data=[{"b64_json": image_b64(1024, 1024)}], **fields)
    done = parse_response(body, call())
    assert done.usage.output_image_tokens == 1024 and done.warnings == ()


def test_missing_usage_is_estimated_from_the_image_with_a_warning() -> None:
    body = _body(data=[{"b64_json": image_b64(1360, 768)}])
    done = parse_response(body, call())
    assert done.usage.output_image_tokens == 1020  # 1360*768/1024
    assert done.usage.input_text_tokens == 0
    assert "estimated" in done.warnings[0]


@pytest.mark.parametrize(
    ("fields", "tokens"),
    [
        ({"created": "2026-11-02T10:00:00Z"}, (5, 6, 1024)),
        ({"created": 1.5e9, "model": {"id": "x"}, "size": 1024}, (5, 6, 1024)),
        ({"created": [1], "num_output_tokens": "many"}, (5, 6, 1024)),
    ],
)
def test_secondary_fields_of_another_type_do_not_lose_the_image(
    fields: dict[str, object], tokens: tuple[int, int, int]
) -> None:
    usage = {"num_output_tokens": 1024, "num_input_text_tokens": 5, "num_input_image_tokens": 6}
    body = _body(data=[{"b64_json": image_b64(1024, 1024)}], usage=usage, **fields)
    done = parse_response(body, call())
    assert len(done.images) == 1 and done.images[0].width == 1024
    got = done.usage
    assert (got.input_text_tokens, got.input_image_tokens, got.output_image_tokens) == tokens


def test_usage_numbers_as_strings_or_floats_are_read_when_whole() -> None:
    usage = {"num_output_tokens": "1024", "num_input_text_tokens": 5.0, "num_input_image_tokens": 6}
    done = parse_response(_body(data=[{"b64_json": image_b64(1024, 1024)}], usage=usage), call())
    got = done.usage
    assert (got.input_text_tokens, got.input_image_tokens, got.output_image_tokens) == (5, 6, 1024)
    assert done.warnings == ()


@pytest.mark.parametrize(
    "usage",
    [
        {"num_output_tokens": "lots", "num_input_text_tokens": 7.5},
        {"num_output_tokens": -3, "num_input_text_tokens": True},
        {"num_output_tokens": {"n": 1}, "num_input_text_tokens": None},
        ["num_output_tokens", 1020],  # not an object at all
        "1020",
    ],
)
def test_unreadable_usage_is_estimated_and_the_image_kept(usage: object) -> None:
    done = parse_response(_body(data=[{"b64_json": image_b64(1360, 768)}], usage=usage), call())
    assert len(done.images) == 1
    assert done.usage.output_image_tokens == 1020 and "estimated" in done.warnings[0]
    assert done.usage.input_text_tokens == 0


@pytest.mark.parametrize("item", [{"b64_json": 12345}, {"b64_json": ["iVBOR"]}, "iVBOR"])
def test_the_image_data_itself_stays_strict(item: object) -> None:
    with pytest.raises(ProtocolError):
        parse_response(_body(data=[item], usage={"num_output_tokens": 1}), call())


def test_an_empty_image_item_is_the_output_filter() -> None:
    with pytest.raises(ContentModerated, match="output was filtered"):
        parse_response(_body(created=1, data=[{}]), call())


def test_an_error_envelope_in_a_200_is_raised() -> None:
    body = _body(
        error={
            "code": "content_filter",
            "message": "filtered",
            "innererror": {"code": "ResponsibleAIPolicyViolation"},
        }
    )
    with pytest.raises(ContentModerated):
        parse_response(body, call())


@pytest.mark.parametrize(
    "body", [b"{}", _body(data=[]), b"[1]", b'{"data": [{"b64_json": "iVBOR', _body(data="x")]
)
def test_unusable_bodies_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_response(body, call())


def test_n_above_one_is_reported_as_a_shortfall() -> None:
    body = _body(data=[{"b64_json": image_b64(1024, 1024)}], usage={"num_output_tokens": 1024})
    done = parse_response(body, call(n=2))
    assert len(done.images) == 1
    assert done.warnings == ("upstream returned 1 of 2 requested images",)
