"""Pure Gemini mapping against the reference's example payloads (§2 request, §3 response)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from providers.errors import (
    ContentModerated,
    InvalidRequest,
    ProtocolError,
    RateLimited,
    Unavailable,
)
from providers.google.translate import build_body, build_request, parse_response
from providers.spec import Completed, InputImage
from tests.providers.google.calls import call, endpoint, image_b64, image_bytes, reference

# ---------------------------------------------------------------------------------------------
# Requests (§2)
# ---------------------------------------------------------------------------------------------


def test_request_matches_the_reference_body() -> None:
    refs = (reference(64, 48, "JPEG"), reference(32, 32, "PNG"))
    request = build_request(
        call(
            "Put the cat from image 1 on the sofa from image 2, golden hour",
            aspect_ratio="16:9",
            resolution="2K",
            resolution_wire="2K",
            seed=7,
            input_images=refs,
            options={"thinking_level": "high"},
        )
    )
    assert request.path == "/models/gemini-3.1-flash-image:generateContent"
    assert request.json == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Put the cat from image 1 on the sofa from image 2, golden hour"},
                    {
                        "inlineData": {
                            "mimeType": "image/jpeg",
                            "data": base64.b64encode(refs[0].data).decode(),
                        }
                    },
                    {
                        "inlineData": {
                            "mimeType": "image/png",
                            "data": base64.b64encode(refs[1].data).decode(),
                        }
                    },
                ],
            }
        ],
        "generationConfig": {
            "responseModalities": ["TEXT", "IMAGE"],
            "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
            "seed": 7,
            "thinkingConfig": {"thinkingLevel": "HIGH"},
        },
    }


def test_reference_base64_is_the_standard_alphabet() -> None:
    data = bytes([0xFB, 0xFF, 0xBF]) * 20  # encodes to '+' and '/' in the standard alphabet
    body = build_body(call(input_images=(InputImage(data, "image/webp"),)))
    encoded = body["contents"][0]["parts"][1]["inlineData"]["data"]
    assert "+" in encoded and "/" in encoded and "-" not in encoded and "_" not in encoded
    assert base64.b64decode(encoded, validate=True) == data


def test_minimal_request_sends_nothing_the_call_did_not_ask_for() -> None:
    """2.5 Flash Image has no tier; no ratio asked: no imageConfig; never output_format/n."""
    body = build_body(call(model="gemini-2.5-flash-image", output_format="webp"))
    assert body["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"]}
    text = orjson.dumps(body).decode()
    for absent in ("candidateCount", "outputMimeType", "imageOutputOptions", "webp", "seed"):
        assert absent not in text


def test_ratio_without_tier() -> None:
    body = build_body(call(model="gemini-2.5-flash-image", aspect_ratio="21:9"))
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "21:9"}


def test_operator_fixed_values_are_merged() -> None:
    fixed = {
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {"responseModalities": ["IMAGE"]},
    }
    body = build_body(call(endpoint=endpoint(fixed=fixed), aspect_ratio="1:1"))
    assert body["safetySettings"] == fixed["safetySettings"]
    assert body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "1:1"}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"n": 2}, "unsupported_n"),
        ({"input_images": (InputImage(b"GIF89a", "image/gif"),)}, "unsupported_image_type"),
        ({"options": {"temperature": 0.2}}, "unsupported_parameter"),
        ({"options": {"thinking_level": "medium"}}, "invalid_value"),
        ({"options": {"thinking_level": 3}}, "invalid_value"),
    ],
)
def test_requests_gemini_cannot_take_are_refused_before_sending(
    overrides: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        build_request(call(**overrides))
    assert info.value.code == code and not info.value.retryable


# ---------------------------------------------------------------------------------------------
# Responses (§3)
# ---------------------------------------------------------------------------------------------


def _answer(parts: list[dict[str, Any]] | None, finish: str | None = "STOP", **extra: Any) -> bytes:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"} if parts else {}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    body = {"candidates": [candidate], "modelVersion": "gemini-3.1-flash-image", **extra}
    return orjson.dumps(body)


FLASH_USAGE = {  # §3 recorded fixture
    "promptTokenCount": 10,
    "candidatesTokenCount": 1392,
    "totalTokenCount": 1402,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}],
    "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
    "serviceTier": "standard",
}


def _parse(body: bytes, **overrides: Any) -> Completed:
    return parse_response(body, call(**overrides))


def test_the_recorded_flash_fixture() -> None:
    data = image_b64(1376, 768)
    part = {"inlineData": {"mimeType": "image/jpeg", "data": data}, "thoughtSignature": "c2ln"}
    done = _parse(_answer([part], usageMetadata=FLASH_USAGE, responseId="dTOras2iGqLc-sAPiO2BiAw"))
    (image,) = done.images
    assert image.b64 == data  # relayed as sent
    assert (image.media_type, image.width, image.height) == ("image/jpeg", 1376, 768)
    assert done.upstream_id == "dTOras2iGqLc-sAPiO2BiAw"
    usage = done.usage
    assert (usage.images, usage.pixels) == (1, 1376 * 768)
    assert usage.output_image_tokens == 1120
    assert usage.output_text_tokens == 1392 - 1120  # the remainder is billed as text
    assert (usage.input_text_tokens, usage.input_image_tokens) == (10, 0)
    assert done.warnings == ()


def test_pro_usage_adds_thinking_to_text_output() -> None:
    usage = {
        "promptTokenCount": 8,
        "candidatesTokenCount": 1219,
        "thoughtsTokenCount": 167,
        "totalTokenCount": 1394,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
    }
    part = {"inlineData": {"mimeType": "image/jpeg", "data": image_b64(64, 64)}}
    done = _parse(_answer([part], usageMetadata=usage))
    assert done.usage.output_image_tokens == 1120
    assert done.usage.output_text_tokens == (1219 - 1120) + 167
    assert done.usage.input_text_tokens == 8  # no details: all prompt tokens are text


def test_input_image_tokens_come_from_prompt_details() -> None:
    usage = {
        "promptTokenCount": 1130,
        "candidatesTokenCount": 1120,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 10},
            {"modality": "IMAGE", "tokenCount": 1120},
        ],
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
    }
    part = {"inlineData": {"mimeType": "image/jpeg", "data": image_b64(64, 64)}}
    done = _parse(_answer([part], usageMetadata=usage), input_images=(reference(80, 40),))
    assert (done.usage.input_text_tokens, done.usage.input_image_tokens) == (10, 1120)
    assert (done.usage.input_images, done.usage.input_pixels) == (1, 80 * 40)
    assert done.usage.output_text_tokens == 0


def test_thought_drafts_are_skipped_and_the_final_image_kept() -> None:
    draft, final = image_b64(32, 32), image_b64(64, 64)
    parts = [
        {"text": "**Composing**", "thought": True},
        {"inlineData": {"mimeType": "image/jpeg", "data": draft}, "thought": True},
        {"inlineData": {"mimeType": "image/jpeg", "data": final}, "thoughtSignature": "x"},
        {"text": "Here you go."},
    ]
    done = _parse(_answer(parts))
    assert [i.b64 for i in done.images] == [final]


def test_true_media_type_is_read_from_the_bytes() -> None:
    """The declared mimeType may be wrong; ``media_type`` describes the bytes returned."""
    png = image_b64(40, 30, "PNG")
    done = _parse(_answer([{"inlineData": {"mimeType": "image/jpeg", "data": png}}]))
    assert (done.images[0].media_type, done.images[0].width) == ("image/png", 40)


def test_snake_case_and_url_safe_answers_are_read_and_relayed_standard() -> None:
    raw = image_bytes(48, 48, "PNG") + bytes([0xFB, 0xFF, 0xBF]) * 30
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    assert "-" in urlsafe or "_" in urlsafe
    body = orjson.dumps(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [{"inline_data": {"mime_type": "image/png", "data": urlsafe}}]
                    },
                    "finish_reason": "STOP",
                }
            ]
        }
    )
    (image,) = _parse(body).images
    assert base64.b64decode(image.b64, validate=True) == raw
    assert (image.width, image.height) == (48, 48)


@pytest.mark.parametrize("extra", [b"\x00", b"\x00\x00"])
def test_unpadded_answers_are_relayed_padded(extra: bytes) -> None:
    """Proto-JSON bytes may come without ``=`` padding; ``b64_json`` must still decode."""
    raw = image_bytes(48, 48, "PNG") + extra
    unpadded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert len(unpadded) % 4
    (image,) = _parse(_answer([{"inlineData": {"mimeType": "image/png", "data": unpadded}}])).images
    assert base64.b64decode(image.b64, validate=True) == raw


def test_unknown_finish_reason_with_an_image_is_a_success_with_a_warning() -> None:
    part = {"inlineData": {"mimeType": "image/jpeg", "data": image_b64(8, 8)}}
    done = _parse(_answer([part], finish="SOMETHING_NEW", usageMetadata=FLASH_USAGE))
    assert len(done.images) == 1
    assert done.warnings == ("Gemini finished with SOMETHING_NEW after returning an image",)


def test_missing_usage_is_estimated_from_the_published_table() -> None:
    part = {"inlineData": {"mimeType": "image/jpeg", "data": image_b64(8, 8)}}
    done = _parse(_answer([part]), resolution_wire="4K")
    assert done.usage.output_image_tokens == 2520
    assert "estimated" in done.warnings[0]


def test_usage_without_an_image_breakdown_prices_the_image_share_as_image_tokens() -> None:
    """usageMetadata without candidatesTokensDetails: the image's published token count is
    billed as image output, and only the rest of the candidates' tokens as text."""
    part = {"inlineData": {"mimeType": "image/jpeg", "data": image_b64(8, 8)}}
    usage = {"promptTokenCount": 10, "candidatesTokenCount": 1392, "totalTokenCount": 1402}
    done = _parse(_answer([part], usageMetadata=usage), resolution_wire="1K")
    assert done.usage.output_image_tokens == 1120
    assert done.usage.output_text_tokens == 1392 - 1120
    assert done.usage.input_text_tokens == 10
    assert "no image token breakdown" in done.warnings[0]


# ---------------------------------------------------------------------------------------------
# Refusals and failures (§3.1, §3.2): never an empty success
# ---------------------------------------------------------------------------------------------


def test_prompt_block_fixture_is_content_moderated() -> None:
    body = orjson.dumps(
        {  # §3.2, recorded
            "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
            "modelVersion": "gemini-3.1-flash-image-preview",
            "responseId": "FHGPatmJMfqI1MkP28uN-Qg",
        }
    )
    with pytest.raises(ContentModerated) as info:
        _parse(body)
    assert "PROHIBITED_CONTENT" in info.value.message
    assert info.value.code == "PROHIBITED_CONTENT"
    assert info.value.upstream_request_id == "FHGPatmJMfqI1MkP28uN-Qg"


@pytest.mark.parametrize(
    "reason",
    ["IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "SAFETY", "PROHIBITED_CONTENT", "NO_IMAGE"],
)
def test_image_refusals_are_content_moderated(reason: str) -> None:
    with pytest.raises(ContentModerated) as info:
        _parse(_answer(None, reason))  # content: {} as in the §3.1 NO_IMAGE fixture
    assert reason in info.value.message and not info.value.retryable


def test_finish_message_is_surfaced() -> None:
    body = _answer(None, "IMAGE_SAFETY")
    obj = orjson.loads(body)
    obj["candidates"][0]["finishMessage"] = "The image was filtered."
    with pytest.raises(ContentModerated, match="The image was filtered"):
        _parse(orjson.dumps(obj))


def test_text_only_stop_is_a_refusal_carrying_the_text() -> None:
    text = "I can't make images of real people in that situation."
    with pytest.raises(ContentModerated) as info:
        _parse(_answer([{"text": text}]))
    assert text in info.value.message


@pytest.mark.parametrize("reason", ["IMAGE_OTHER", "OTHER", "MAX_TOKENS", "A_FUTURE_REASON"])
def test_other_failures_are_retryable(reason: str) -> None:
    with pytest.raises(Unavailable) as info:
        _parse(_answer(None, reason))
    assert reason in info.value.message and info.value.retryable


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"{not json",
        orjson.dumps({"modelVersion": "x"}),
        _answer([{"text": "draft", "thought": True}], None),
    ],
)
def test_unusable_answers_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        _parse(body)


def test_an_error_inside_a_200_body_is_mapped() -> None:
    body = orjson.dumps(
        {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down"}}
    )
    with pytest.raises(RateLimited):
        _parse(body)


def test_image_data_that_is_no_image_is_a_protocol_error() -> None:
    part = {"inlineData": {"mimeType": "image/jpeg", "data": "!!!!"}}
    with pytest.raises(ProtocolError, match="not a readable image"):
        _parse(_answer([part]))


@pytest.mark.parametrize("seed", [2**31, -(2**31) - 1, 2**40])
def test_a_seed_outside_int32_is_our_400_not_googles(seed: int) -> None:
    """``generationConfig.seed`` is a proto int32: the gateway says so before sending."""
    with pytest.raises(InvalidRequest, match="out of range for Gemini") as info:
        build_request(call(seed=seed))
    assert info.value.code == "invalid_seed"


@pytest.mark.parametrize("seed", [0, 2**31 - 1, -(2**31)])
def test_int32_seeds_are_sent(seed: int) -> None:
    assert build_request(call(seed=seed)).json["generationConfig"]["seed"] == seed
