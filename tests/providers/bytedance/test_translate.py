"""Pure Seedream mapping against the reference's payloads (bytedance.md §2-§5)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from providers.bytedance.errors import DEFAULT_RETRY_AFTER_S, error_from_response
from providers.bytedance.translate import (
    COMPLETED,
    Delivery,
    StreamAccumulator,
    build_request,
    completed,
    make_image,
    read_images_response,
)
from providers.bytedance.wire import ErrorDetail
from providers.errors import (
    AuthError,
    ContentModerated,
    InsufficientCredit,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.spec import GeneratedImage, InputImage
from tests.providers.bytedance.calls import LITE, PRO, V45, call, endpoint, jpeg_b64, reference

# -- request ---------------------------------------------------------------------------------


def test_the_reference_request_shape_for_an_edit() -> None:
    refs = (reference(fmt="PNG"), reference(fmt="JPEG"))
    body = build_request(
        call("Replace the clothing", V45, width=2560, height=1440, input_images=refs)
    )
    assert list(body)[:2] == ["model", "prompt"]
    assert body["model"] == "seedream-4-5-251128" and body["size"] == "2560x1440"
    assert body["response_format"] == "b64_json" and body["watermark"] is False
    assert isinstance(body["image"], list) and len(body["image"]) == 2
    assert body["image"][0].startswith("data:image/png;base64,iVBOR")
    assert body["image"][1].startswith("data:image/jpeg;base64,/9j/")
    for absent in ("sequential_image_generation", "stream", "output_format", "n", "seed"):
        assert absent not in body


def test_one_reference_is_a_string_with_a_lowercase_format() -> None:
    shouty = InputImage(data=reference().data, media_type="image/PNG")
    body = build_request(call(input_images=(shouty,)))
    assert isinstance(body["image"], str) and body["image"].startswith("data:image/png;base64,")
    sniffed = InputImage(data=reference(fmt="JPEG").data, media_type="")
    assert build_request(call(input_images=(sniffed,)))["image"].startswith("data:image/jpeg;")


def test_never_a_tier_nor_seed_quality_n_or_guidance() -> None:
    body = build_request(
        call(seed=7, quality="high", resolution="2K", resolution_wire="2K", aspect_ratio="16:9")
    )
    assert body["size"] == "1280x720"
    assert not {"seed", "quality", "n", "guidance_scale", "aspect_ratio", "resolution"} & set(body)


def test_several_images_are_one_sequential_call() -> None:
    body = build_request(call(n=3))
    assert body["sequential_image_generation"] == "auto"
    assert body["sequential_image_generation_options"] == {"max_images": 3}


def test_references_plus_images_above_15_are_refused_before_sending() -> None:
    with pytest.raises(InvalidRequest, match="15"):
        build_request(call(n=2, input_images=(reference(),) * 14))
    assert build_request(call(n=1, input_images=(reference(),) * 14))


def test_stream_and_output_format_only_when_asked() -> None:
    body = build_request(
        call(model_id=LITE, width=2560, height=1440, stream=True, output_format="png")
    )
    assert body["stream"] is True and body["output_format"] == "png"
    assert "output_format" not in build_request(call(model_id=PRO))


def test_operator_overrides_watermark_and_response_format() -> None:
    body = build_request(
        call(options={"watermark": True, "optimize_prompt_options": {"mode": "fast"}})
    )
    assert body["watermark"] is True and body["optimize_prompt_options"] == {"mode": "fast"}
    fixed = call(endpoint=endpoint(fixed={"response_format": "url"}))
    assert build_request(fixed)["response_format"] == "url"


@pytest.mark.parametrize(
    "key", ["seed", "n", "size", "image", "sequential_image_generation", "stream"]
)
def test_options_cannot_set_what_the_call_owns(key: str) -> None:
    with pytest.raises(InvalidRequest, match=key):
        build_request(call(options={key: 1}))


# -- buffered answers --------------------------------------------------------------------------

URL_SAMPLE = {  # §3 official sample
    "model": "seedream-5-0-260128",
    "created": 1757388756,
    "data": [{"url": "https://example.volces.com/a", "size": "2720x1536"}] * 3,
    "usage": {"generated_images": 3, "output_tokens": 48960, "total_tokens": 48960},
}


def test_url_sample_gives_three_url_deliveries() -> None:
    answer = read_images_response(orjson.dumps(URL_SAMPLE))
    assert [d.url for d in answer.deliveries] == ["https://example.volces.com/a"] * 3
    assert [d.index for d in answer.deliveries] == [0, 1, 2]
    assert answer.usage is not None and answer.usage.generated_images == 3
    assert answer.usage.output_tokens == 3 * 2720 * 1536 // 256  # the §3 arithmetic check


def test_b64_sample_and_a_failed_item() -> None:
    b64 = jpeg_b64(32, 16)
    body = {
        "model": "seedream-4-5-251128",
        "created": 1757323224,
        "data": [
            {"b64_json": b64, "size": "32x16"},
            {"error": {"code": "OutputImageSensitiveContentDetected", "message": "…"}},
        ],
        "usage": {"generated_images": 1, "output_tokens": 2, "total_tokens": 2},
    }
    answer = read_images_response(orjson.dumps(body))
    assert answer.deliveries == [Delivery(0, b64, None, "32x16", None)]
    assert [f.code for f in answer.failures] == ["OutputImageSensitiveContentDetected"]


def test_an_item_with_neither_image_nor_error_does_not_drop_the_others() -> None:
    """§3: "do not fail the whole request" over one item; it counts as a failed image."""
    b64 = jpeg_b64(32, 16)
    body = {"data": [{"size": "1x1"}, {"b64_json": b64}], "usage": {"generated_images": 1}}
    answer = read_images_response(orjson.dumps(body))
    assert answer.deliveries == [Delivery(1, b64, None, None, None)]
    assert [(f.code, f.message) for f in answer.failures] == [
        ("EmptyItem", "data[0] has neither an image nor an error")
    ]


def test_an_empty_item_does_not_hide_the_real_failure() -> None:
    body = {"data": [{}, {"error": {"code": "InvalidParameter", "message": "bad size"}}]}
    answer = read_images_response(orjson.dumps(body))
    with pytest.raises(InvalidRequest, match="bad size"):
        completed(call(n=2), [], answer.failures, None)


def test_top_level_error_in_a_200_is_raised() -> None:
    body = {"error": {"code": "OutputImageSensitiveContentDetected", "message": "no"}}
    with pytest.raises(ContentModerated):
        read_images_response(orjson.dumps(body))


@pytest.mark.parametrize(
    "body", [b'{"data": [{"b64_json": "iVBOR', b"[1, 2]", b'{"data": [{"size": "1x1"}]}']
)
def test_unreadable_answers_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_images_response(body)


def _image(b64: str | None = None) -> GeneratedImage:
    return make_image(b64 or jpeg_b64(32, 16), None, None, call())


def test_make_image_reads_the_real_format_and_size() -> None:
    image = make_image(jpeg_b64(40, 20), None, "png", call(output_format="png"))
    assert (image.media_type, image.width, image.height) == ("image/jpeg", 40, 20)
    assert make_image(jpeg_b64(40, 20), "2720x1536", None, call()).width == 2720


def test_completed_bills_generated_images_and_keeps_tokens_out() -> None:
    done = completed(
        call(n=3, input_images=(reference(20, 10),)),
        [_image(), _image()],
        [ErrorDetail(code="OutputImageSensitiveContentDetected", message="x")],
        read_images_response(orjson.dumps(URL_SAMPLE)).usage.model_copy(  # type: ignore[union-attr]
            update={"generated_images": 2}
        ),
        upstream_id="021abc",
    )
    assert done.usage.images == 2 and done.usage.pixels == 2 * 32 * 16
    assert (done.usage.input_images, done.usage.input_pixels) == (1, 200)
    assert done.usage.output_image_tokens == 0 and done.usage.output_text_tokens == 0
    assert done.warnings == (
        "1 of 3 images failed upstream (OutputImageSensitiveContentDetected) and are not billed",
    )
    fewer = completed(call(n=3), [_image()], [], None)
    assert fewer.usage.images == 1 and fewer.warnings == (
        "upstream returned 1 of 3 requested images",
    )


@pytest.mark.parametrize(
    ("codes", "error"),
    [
        (["InternalServiceError", "OutputImageSensitiveContentDetected"], ContentModerated),
        (["InternalServiceError"], Unavailable),
        ([], ProtocolError),
    ],
)
def test_nothing_succeeded_is_an_error(codes: list[str], error: type[ProviderError]) -> None:
    failures = [ErrorDetail(code=c, message=c) for c in codes]
    with pytest.raises(error):
        completed(call(n=2), [], failures, None)


# -- stream ------------------------------------------------------------------------------------


def _event(**payload: Any) -> str:
    return orjson.dumps(payload).decode()


SUCCEEDED = "image_generation.partial_succeeded"


def test_reference_events_fold_into_one_completed() -> None:
    acc = StreamAccumulator(call(n=3))
    first = acc.feed(
        _event(type=SUCCEEDED, model="seedream-5-0-260128", created=1, image_index=0,
               url="https://x.volces.com/a", size="2496x1664")
    )  # fmt: skip
    assert first == Delivery(0, None, "https://x.volces.com/a", "2496x1664", None)
    acc.add(_image())
    second = acc.feed(_event(type=SUCCEEDED, image_index=1, b64_json=jpeg_b64(), size="32x16"))
    assert second is not None and second.b64
    acc.add(_image())
    failed = _event(
        type="image_generation.partial_failed",
        image_index=2,
        error={"code": "OutputImageSensitiveContentDetected", "message": "sensitive"},
    )
    assert acc.feed(failed) is None and not acc.done
    assert acc.feed(_event(type="image_generation.something_new")) is None
    usage = {"generated_images": 2, "output_tokens": 48672, "total_tokens": 48672}
    acc.feed(_event(type="image_generation.completed", usage=usage))
    assert acc.done
    done = acc.finish()
    assert len(done.images) == 2 and done.usage.images == 2
    assert "1 of 3 images failed upstream" in done.warnings[0]


def test_a_stream_without_completed_is_truncated() -> None:
    acc = StreamAccumulator(call())
    acc.feed(_event(type=SUCCEEDED, image_index=0, b64_json=jpeg_b64()))
    acc.add(_image())
    with pytest.raises(ProtocolError, match="truncated") as info:
        acc.finish()
    # the image delivered before the cut was generated: the failure carries its charge
    assert info.value.charge is not None and info.value.charge.images == 1


def test_a_stream_cut_before_any_image_charges_nothing() -> None:
    with pytest.raises(ProtocolError, match="truncated") as info:
        StreamAccumulator(call()).finish()
    assert info.value.charge is None


def test_a_stream_level_error_keeps_the_images_already_received() -> None:
    error = {"error": {"code": "BadRequest", "message": "boom. Request ID: 021x"}}
    acc = StreamAccumulator(call(n=2))
    acc.feed(_event(type=SUCCEEDED, image_index=0, b64_json=jpeg_b64()))
    acc.add(_image())
    acc.feed(orjson.dumps(error).decode())
    assert acc.done
    done = acc.finish()
    assert (
        done.usage.images == 1 and "stopped with an upstream error (BadRequest)" in done.warnings[0]
    )
    empty = StreamAccumulator(call())
    empty.feed(orjson.dumps(error).decode())
    with pytest.raises(ProviderError) as info:
        empty.finish()
    assert info.value.upstream_request_id == "021x"


@pytest.mark.parametrize("data", ["not json", "[1]"])
def test_bad_events_are_protocol_errors(data: str) -> None:
    with pytest.raises(ProtocolError):
        StreamAccumulator(call()).feed(data)


def test_a_success_event_without_an_image_is_a_failure_not_the_end_of_the_stream() -> None:
    """§4: images already received are kept (and were billed upstream) whatever follows."""
    acc = StreamAccumulator(call(n=2))
    assert acc.feed(_event(type=SUCCEEDED, image_index=0)) is None
    acc.add(_image())
    acc.feed(_event(type=COMPLETED, usage={"generated_images": 1}))
    done = acc.finish()
    assert len(done.images) == 1 and done.usage.images == 1
    assert "1 of 2 images failed upstream (EmptyItem)" in done.warnings[0]
    lone = StreamAccumulator(call())
    lone.feed(_event(type=SUCCEEDED, image_index=0))
    lone.feed(_event(type=COMPLETED, usage={"generated_images": 0}))
    with pytest.raises(ProtocolError, match="no images"):
        lone.finish()


# -- errors (§5 table) ---------------------------------------------------------------------------


def _body(code: str, kind: str = "BadRequest", param: str = "") -> bytes:
    message = f"something about {code}. Request id: 0217000"
    return orjson.dumps({"error": {"code": code, "message": message, "param": param, "type": kind}})


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "MissingParameter", InvalidRequest),
        (400, "InvalidParameter", InvalidRequest),
        (400, "InvalidEndpoint.ClosedEndpoint", Unavailable),
        (400, "SensitiveContentDetected", ContentModerated),
        (400, "SensitiveContentDetected.SevereViolation", ContentModerated),
        (400, "SensitiveContentDetected.Violence", ContentModerated),
        (400, "InputTextSensitiveContentDetected", ContentModerated),
        (400, "InputImageSensitiveContentDetected", ContentModerated),
        (400, "OutputImageSensitiveContentDetected", ContentModerated),
        (401, "AuthenticationError", AuthError),
        (403, "AccountOverdueError", InsufficientCredit),
        (403, "AccessDenied", AuthError),
        (404, "InvalidEndpoint.NotFound", Unavailable),
        (404, "UnsupportedModel", Unavailable),
        (404, "ModelNotOpen", Unavailable),
        (429, "RateLimitExceeded.EndpointRPMExceeded", RateLimited),
        (429, "RateLimitExceeded.EndpointTPMExceeded", RateLimited),
        (500, "InternalServiceError", Unavailable),
        (503, "ServiceUnavailable", Unavailable),
    ],
)
def test_every_documented_code(status: int, code: str, expected: type[ProviderError]) -> None:
    error = error_from_response(status, _body(code), {"x-request-id": "021hdr"})
    assert type(error) is expected
    assert (error.code, error.status_code, error.upstream_request_id) == (code, status, "021hdr")
    assert error.provider == "seed" and code in error.message


def test_429_without_retry_after_gets_a_hint_and_with_one_keeps_it() -> None:
    body = _body("RateLimitExceeded.EndpointRPMExceeded", "TooManyRequests")
    assert error_from_response(429, body, {}).retry_after == DEFAULT_RETRY_AFTER_S
    assert error_from_response(429, body, {"Retry-After": "12"}).retry_after == 12


def test_request_id_from_the_message_and_key_redacted() -> None:
    body = orjson.dumps(
        {
            "error": {
                "code": "AuthenticationError",
                "message": "bad key ark-secret-123 request id: 021msg",
            }
        }
    )
    error = error_from_response(401, body, {}, secrets=("ark-secret-123",))
    assert error.upstream_request_id == "021msg"
    assert "ark-secret-123" not in error.message and "ark-secret-123" not in str(error.raw)


def test_non_json_error_bodies_fall_back_to_the_status() -> None:
    error = error_from_response(502, b"<html>bad gateway</html>", {})
    assert isinstance(error, Unavailable) and "bad gateway" in error.message
    assert isinstance(error_from_response(400, b"", {}), InvalidRequest)


def test_decoded_b64_is_relayed_untouched() -> None:
    b64 = jpeg_b64()
    assert _image(b64).b64 == b64 and base64.b64decode(b64)[:3] == b"\xff\xd8\xff"
