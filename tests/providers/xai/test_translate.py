"""Pure xAI mapping against the reference's payloads (xai.md §2.1, §2.2, §2.3)."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import orjson
import pytest

from providers.errors import (
    ContentModerated,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    Unavailable,
)
from providers.xai.translate import (
    Answer,
    Slot,
    build_request,
    completed,
    make_image,
    read_answer,
)
from tests.providers.xai.calls import QUALITY, V2, call, endpoint, image_b64, reference

# ------------------------------------------------------------------------------------------
# Requests
# ------------------------------------------------------------------------------------------


def test_generation_body_for_2_0_with_everything() -> None:
    request = build_request(
        call(
            "A collage of London landmarks",
            V2,
            n=2,
            aspect_ratio="16:9",
            resolution="2K",
            resolution_wire="2k",
            quality="low",
            user="hashed-user",
        )
    )
    assert request.path == "/images/generations"
    assert request.json == {
        "model": "grok-imagine-image-2.0",
        "prompt": "A collage of London landmarks",
        "n": 2,
        "response_format": "b64_json",
        "aspect_ratio": "16:9",
        "resolution": "2k",
        "quality": "low",
        "user": "hashed-user",
    }


def test_minimal_body_leaves_auto_to_xai() -> None:
    assert build_request(call()).json == {
        "model": "grok-imagine-image",
        "prompt": "a red fox",
        "n": 1,
        "response_format": "b64_json",
    }


def test_quality_only_where_the_endpoint_describes_it() -> None:
    body = build_request(call(model_id=QUALITY, quality="medium")).json
    assert "quality" not in body and body["model"] == "grok-imagine-image-quality"


def test_fields_xai_does_not_take_are_never_sent() -> None:
    body = build_request(
        call(
            width=1024,
            height=1024,
            size_wire="1024x1024",
            output_format="png",
            output_compression=80,
            background="opaque",
            seed=7,
            stream=True,
        )
    ).json
    for field in ("size", "style", "output_format", "output_compression", "background"):
        assert field not in body
    assert "seed" not in body and "stream" not in body and "width" not in body


@pytest.mark.parametrize("option", ["size", "output_format", "stream", "response_format", "n"])
def test_refused_options(option: str) -> None:
    with pytest.raises(InvalidRequest, match=option):
        build_request(call(options={option: "x"}))


def test_options_and_fixed_parameters() -> None:
    spec = endpoint(passthrough=("storage",), fixed={"resolution": "1k"})
    body = build_request(
        call(endpoint=spec, options={"storage": "keep", "gone": None}, resolution_wire="2k")
    ).json
    assert body["storage"] == "keep" and "gone" not in body
    assert body["resolution"] == "1k"  # the operator's fixed value wins


def test_one_reference_is_an_image_object() -> None:
    ref = reference(64, 48, "PNG")
    request = build_request(call("render as a pencil sketch", V2, input_images=(ref,)))
    assert request.path == "/images/edits"
    image = request.json["image"]
    assert image["type"] == "image_url"
    assert image["url"] == "data:image/png;base64," + base64.b64encode(ref.data).decode()
    assert "images" not in request.json
    assert request.json["response_format"] == "b64_json"


def test_several_references_are_an_images_array() -> None:
    refs = (reference(), reference(32, 32, "JPEG"), reference(16, 16, "WEBP"))
    request = build_request(call(input_images=refs))
    assert request.path == "/images/edits" and "image" not in request.json
    urls = [item["url"] for item in request.json["images"]]
    assert [u.split(";")[0] for u in urls] == [
        "data:image/png",
        "data:image/jpeg",
        "data:image/webp",
    ]
    assert all(item["type"] == "image_url" for item in request.json["images"])


def test_more_than_three_references() -> None:
    with pytest.raises(InvalidRequest, match="at most 3"):
        build_request(call(input_images=(reference(),) * 4))


# ------------------------------------------------------------------------------------------
# Responses
# ------------------------------------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def test_reference_url_example() -> None:
    body = {
        "created": 1776527939,
        "data": [
            {
                "url": "https://imgen.x.ai/xai-imgen/xai-tmp-imgen-6f1c.jpeg",
                "mime_type": "image/jpeg",
                "revised_prompt": "",
                "respect_moderation": True,
            },
            {
                "url": "https://imgen.x.ai/xai-imgen/xai-tmp-imgen-9ab2.jpeg",
                "mime_type": "image/jpeg",
                "revised_prompt": "",
                "respect_moderation": True,
            },
        ],
        "usage": {"cost_in_usd_ticks": 400000000},
    }
    answer = read_answer(dumps(body))
    assert answer.withheld == 0 and answer.ticks == 400_000_000
    assert [s.url for s in answer.slots] == [d["url"] for d in body["data"]]
    assert all(s.b64 is None and s.declared_type == "image/jpeg" for s in answer.slots)


@pytest.mark.parametrize("prefix", ["data:image/jpeg;base64,", ""])
def test_b64_with_or_without_a_data_uri(prefix: str) -> None:
    raw = image_b64(30, 20)
    answer = read_answer(dumps({"data": [{"b64_json": prefix + raw}]}))
    (slot,) = answer.slots
    assert slot.b64 == raw
    assert slot.declared_type == ("image/jpeg" if prefix else None)
    assert answer.ticks is None


def test_mime_type_is_preferred_over_the_data_uri_type() -> None:
    raw = image_b64(8, 8, "PNG")
    item = {"b64_json": "data:image/jpeg;base64," + raw, "mime_type": "image/png"}
    assert read_answer(dumps({"data": [item]})).slots[0].declared_type == "image/png"


def test_every_image_withheld_is_content_moderated() -> None:
    body = {
        "data": [{"respect_moderation": False, "mime_type": "image/jpeg"}] * 2,
        "usage": {"cost_in_usd_ticks": 400000000},
    }
    with pytest.raises(ContentModerated, match="all 2 images") as info:
        read_answer(dumps(body), upstream_id="req-1")
    assert info.value.code == "respect_moderation" and info.value.upstream_request_id == "req-1"
    assert not info.value.retryable
    # the answer reports a cost: that is the failed call's charge ($0.04)
    assert info.value.charge is not None
    assert info.value.charge.provider_cost_usd == Decimal("0.04")


def test_a_refusal_without_a_reported_cost_charges_nothing() -> None:
    body = {"data": [{"respect_moderation": False}], "usage": {"cost_in_usd_ticks": 0}}
    with pytest.raises(ContentModerated) as info:
        read_answer(dumps(body))
    assert info.value.charge is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": []}, "no image (blocked by moderation)"),
        ({"data": [], "block_reason": "Prompt violates policy"}, ": Prompt violates policy"),
        ({"block_reason": "Prompt violates policy"}, ": Prompt violates policy"),
    ],
)
def test_empty_data_is_content_moderated(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ContentModerated, match="xAI returned no image") as info:
        read_answer(dumps(body))
    assert fragment in str(info.value) and info.value.code == "no_image"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        # xai.md §2.3: the reason is "a top-level string" whose name is unknown; §5.5: no image
        # is a content-policy error. Nothing here is a broken answer to retry elsewhere.
        ({}, "no image (blocked by moderation)"),
        ({"created": 1776527939}, "no image (blocked by moderation)"),
        ({"data": None, "usage": {"cost_in_usd_ticks": 0}}, "no image (blocked by moderation)"),
        ({"created": 1, "reason": "Prompt rejected"}, ": Prompt rejected"),
        ({"data": [], "message": "Input moderation blocked this"}, ": Input moderation blocked"),
        ({"moderation_block_message": "unsafe"}, ": unsafe"),
        ({"created": 1, "model": "grok-imagine-image"}, "(blocked by moderation)"),
        ({"data": [], "blocked": {"why": "no string"}}, "(blocked by moderation)"),
    ],
)
def test_missing_data_is_content_moderated_with_any_recognisable_reason(
    body: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ContentModerated, match="xAI returned no image") as info:
        read_answer(dumps(body), upstream_id="req-9")
    err = info.value
    assert fragment in err.message and err.code == "no_image" and not err.retryable
    assert err.upstream_request_id == "req-9"
    assert "grok-imagine-image" not in err.message  # ``model`` is no reason


@pytest.mark.parametrize(
    "reason",
    [
        "Request rejected: prompt violates guidelines",
        "Generated image rejected",
        "Prompt contains unsafe content",
    ],
)
def test_a_refusal_text_beside_empty_data_is_the_blocks_reason(reason: str) -> None:
    """§5.5: ``data: []`` is "no image generated"; the reason's field name is unknown (§2.3),
    so an ``error`` text that reads as a refusal, without a ``code``, is the reason, not a
    broken answer to retry; a cost the body states is the refusal's charge."""
    body = {"data": [], "error": reason, "usage": {"cost_in_usd_ticks": 200_000_000}}
    with pytest.raises(ContentModerated, match="xAI returned no image") as info:
        read_answer(dumps(body), upstream_id="req-5")
    err = info.value
    assert err.message.endswith(": " + reason) and err.code == "no_image"
    assert not err.retryable and err.upstream_request_id == "req-5"
    assert err.charge is not None and err.charge.provider_cost_usd == Decimal("0.02")


@pytest.mark.parametrize("text", ["Internal server error", "service overloaded, retry"])
def test_an_outage_text_beside_empty_data_stays_a_broken_answer(text: str) -> None:
    with pytest.raises(ProtocolError, match="images response is an error") as info:
        read_answer(dumps({"data": [], "error": text}))
    assert info.value.retryable


def test_a_coded_error_beside_empty_data_is_still_read_as_an_error() -> None:
    with pytest.raises(ProtocolError, match="images response is an error: boom"):
        read_answer(dumps({"data": [], "code": "internal", "error": "boom"}))


def test_a_fractional_created_does_not_throw_the_images_away() -> None:
    body = {"created": 1776527939.5, "data": [{"b64_json": image_b64(8, 8)}]}
    assert len(read_answer(dumps(body)).slots) == 1


def test_a_block_reason_is_redacted_and_bounded() -> None:
    secret = "xai-0123456789abcdefSECRET"
    body = {"block_reason": f"blocked for {secret} " + "x" * 2000}
    with pytest.raises(ContentModerated) as info:
        read_answer(dumps(body), secrets=(secret,))
    assert secret not in info.value.message and len(info.value.message) < 600


def test_a_block_that_reports_a_cost_carries_it_as_the_charge() -> None:
    with pytest.raises(ContentModerated) as info:
        read_answer(dumps({"usage": {"cost_in_usd_ticks": 200_000_000}}))
    assert info.value.charge is not None
    assert info.value.charge.provider_cost_usd == Decimal("0.02")


@pytest.mark.parametrize(
    ("body", "cls", "fragment"),
    [
        (
            {"code": "invalid-argument", "error": "Prompt blocked by content moderation."},
            ContentModerated,
            "Prompt blocked by content moderation.",
        ),
        (
            {"data": [], "error": "Your prompt was flagged by our safety system."},
            ContentModerated,
            "flagged by our safety system",
        ),
        ({"code": "not_found", "error": "No such model."}, Unavailable, "No such model."),
        (
            {"code": "internal", "error": "boom"},
            ProtocolError,
            "images response is an error: boom",
        ),
    ],
)
def test_an_error_body_under_a_2xx_is_read_as_an_error(
    body: dict[str, Any], cls: type[ProviderError], fragment: str
) -> None:
    """Not a silent block: xAI's ``{code, error}`` shape (§3), classified like an error answer."""
    with pytest.raises(ProviderError) as info:
        read_answer(dumps(body), upstream_id="req-2")
    err = info.value
    assert type(err) is cls and fragment in err.message
    assert err.status_code is None and err.upstream_request_id == "req-2"


def test_partial_withholding_keeps_the_rest() -> None:
    body = {
        "data": [
            {"b64_json": image_b64(8, 8), "respect_moderation": True},
            {"respect_moderation": False, "b64_json": ""},
        ]
    }
    answer = read_answer(dumps(body))
    assert len(answer.slots) == 1 and answer.withheld == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"data": "x"}', "unexpected images response shape"),
        (b'{"data": [{"mime_type": "image/jpeg"}]}', "neither b64_json nor url"),
        (b'{"data": [{"b64_json": "data:image/jpeg,abc"}]}', "without base64"),
    ],
)
def test_unreadable_answers_are_protocol_errors(body: bytes, fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment):
        read_answer(body)


# ------------------------------------------------------------------------------------------
# The final event and its usage
# ------------------------------------------------------------------------------------------


def test_ticks_are_the_exact_cost() -> None:
    raw = image_b64(40, 30)
    answer = Answer(slots=(Slot(raw, None, "image/jpeg"),) * 2, withheld=0, ticks=400_000_000)
    done = completed(answer, [(raw, "image/jpeg")] * 2, call(n=2), upstream_id="u")
    assert done.usage.provider_cost_usd == Decimal("0.04")
    assert done.usage.images == 2 and done.usage.pixels == 2 * 40 * 30
    assert done.upstream_id == "u" and done.warnings == ()
    assert [(i.media_type, i.width, i.height) for i in done.images] == [("image/jpeg", 40, 30)] * 2


def test_odd_ticks_stay_exact() -> None:
    raw = image_b64(8, 8)
    answer = Answer(slots=(Slot(raw, None, None),), withheld=0, ticks=123_456_789_013)
    done = completed(answer, [(raw, None)], call())
    assert done.usage.provider_cost_usd == Decimal("12.3456789013")


def test_no_ticks_leaves_the_catalog_to_price_it() -> None:
    raw = image_b64(8, 8)
    done = completed(Answer((Slot(raw, None, None),), 0, None), [(raw, None)], call())
    assert done.usage.provider_cost_usd is None and done.usage.images == 1


def test_partial_withholding_bills_what_xai_reports() -> None:
    raw = image_b64(8, 8)
    answer = Answer(slots=(Slot(raw, None, None),) * 2, withheld=1, ticks=600_000_000)
    done = completed(answer, [(raw, None)] * 2, call(n=3))
    assert done.usage.images == 2 and done.usage.provider_cost_usd == Decimal("0.06")
    (warning,) = done.warnings
    assert "withheld 1 of 3" in warning and "2 returned" in warning
    assert "covers all of them" in warning


def test_partial_withholding_without_ticks_bills_the_delivered_images() -> None:
    raw = image_b64(8, 8)
    answer = Answer(slots=(Slot(raw, None, None),) * 2, withheld=1, ticks=None)
    done = completed(answer, [(raw, None)] * 2, call(n=3))
    assert done.usage.images == 2 and done.usage.provider_cost_usd is None
    (warning,) = done.warnings
    assert "2 billed at the catalog price" in warning


def test_fewer_images_than_asked_is_a_warning() -> None:
    raw = image_b64(8, 8)
    done = completed(Answer((Slot(raw, None, None),), 0, 200_000_000), [(raw, None)], call(n=2))
    assert done.warnings == ("xAI returned 1 of 2 requested images",)


def test_references_count_as_input_images() -> None:
    raw = image_b64(8, 8)
    refs = (reference(64, 48), reference(10, 10, "JPEG"))
    done = completed(
        Answer((Slot(raw, None, None),), 0, None), [(raw, None)], call(input_images=refs)
    )
    assert done.usage.input_images == 2 and done.usage.input_pixels == 64 * 48 + 100


def test_media_type_is_the_bytes_own() -> None:
    png = image_b64(12, 9, "PNG")
    assert make_image(png, "image/jpeg").media_type == "image/png"  # mislabelled: trust bytes
    assert make_image("AAAA", "image/webp").media_type == "image/webp"  # unknown bytes: label
    assert make_image("AAAA", None).media_type == "image/jpeg"  # neither: xAI's JPEG
    image = make_image(image_b64(33, 17, "WEBP"), None)
    assert (image.media_type, image.width, image.height) == ("image/webp", 33, 17)
