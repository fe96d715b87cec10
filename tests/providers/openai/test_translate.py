"""translate.py against payloads from OpenAI's published Images API reference."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest

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
from providers.openai import translate as t
from providers.openai.errors import error_from_response
from providers.spec import PartialImage, PricingLine, TokenBudget, Usage
from tests.providers.openai.calls import call, endpoint, image_b64, reference

# ------------------------------------------------------------------------------------------
# Requests
# ------------------------------------------------------------------------------------------


def test_generation_body_matches_reference_2_3() -> None:
    """§2.3: the constructed request, field for field."""
    request = t.build_request(
        call(
            "a red fox, flat vector",
            size_wire="1024x1024",
            quality="low",
            output_format="webp",
            output_compression=80,
            background="opaque",
            options={"moderation": "auto"},
        )
    )
    assert request.path == "/images/generations"
    assert request.data is None and request.files == ()
    assert request.json == {
        "model": "gpt-image-1.5",
        "prompt": "a red fox, flat vector",
        "n": 1,
        "size": "1024x1024",
        "quality": "low",
        "output_format": "webp",
        "output_compression": 80,
        "background": "opaque",
        "moderation": "auto",
    }
    assert list(request.json)[:2] == ["model", "prompt"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # size: the fixed-size spelling wins, else WxH, else omitted (upstream default auto)
        ({"size_wire": "1536x1024", "width": 1, "height": 1}, {"size": "1536x1024"}),
        ({"width": 1920, "height": 1088}, {"size": "1920x1088"}),
        ({}, {}),
        # output_compression only with jpeg/webp (§9.5)
        ({"output_format": "png", "output_compression": 50}, {"output_format": "png"}),
        (
            {"output_format": "jpeg", "output_compression": 50},
            {"output_format": "jpeg", "output_compression": 50},
        ),
        ({"output_compression": 50}, {}),
        # user -> safety_identifier (user is deprecated, §2.1)
        ({"user": "u-hash"}, {"safety_identifier": "u-hash"}),
        # passthrough options, None dropped
        ({"options": {"complexity": "low", "moderation": None}}, {"complexity": "low"}),
        # first-class fields win over options
        ({"quality": "high", "options": {"quality": "low"}}, {"quality": "high"}),
        # partial_images only with stream (default 2), never without
        ({"stream": True}, {"stream": True, "partial_images": 2}),
        ({"stream": True, "options": {"partial_images": 0}}, {"stream": True, "partial_images": 0}),
        ({"options": {"partial_images": 3}}, {}),
        # seed/aspect_ratio/resolution have no OpenAI parameter
        ({"seed": 7, "aspect_ratio": "1:1", "resolution": "1K"}, {}),
        ({"n": 4}, {"n": 4}),
    ],
)
def test_generation_parameters(overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    body = t.build_request(call("p", **overrides)).json
    assert body is not None
    base = {"model": "gpt-image-1.5", "prompt": "p", "n": 1}
    assert body == base | expected


def test_response_format_and_style_are_never_sent() -> None:
    for key in ("response_format", "style", "model", "image"):
        with pytest.raises(InvalidRequest) as info:
            t.build_request(call(options={key: "x"}))
        assert key in info.value.message
    body = t.build_request(call(quality="high", output_format="png", stream=True)).json
    assert body is not None and "response_format" not in body and "style" not in body


@pytest.mark.parametrize(
    "options",
    [
        {"partial_images": 5},
        {"partial_images": -1},
        {"partial_images": True},
        {"partial_images": "2"},
        {"moderation": "none"},
        {"complexity": "max"},
    ],
)
def test_passthrough_values_openai_refuses_are_a_400_before_sending(
    options: dict[str, Any],
) -> None:
    """OpenAI answers 400 to these: the adapter says so itself, naming the option."""
    with pytest.raises(InvalidRequest) as info:
        t.build_request(call(stream=True, options=options))
    (key,) = options
    assert f".{key} must be one of" in info.value.message


def test_passthrough_values_openai_takes_are_sent() -> None:
    options = {"partial_images": 0, "moderation": "low", "complexity": "high"}
    body = t.build_request(call(stream=True, options=options)).json
    assert body is not None
    assert (body["partial_images"], body["moderation"], body["complexity"]) == (0, "low", "high")


def test_endpoint_fixed_parameters_win() -> None:
    """An operator can pin parameters for an OpenAI-compatible server."""
    ep = endpoint("local-sd", fixed={"response_format": "b64_json"})
    body = t.build_request(call(endpoint=ep)).json
    assert body == {
        "model": "local-sd",
        "prompt": "a red fox",
        "n": 1,
        "response_format": "b64_json",
    }


def test_single_reference_edit_uses_image_field() -> None:
    ref = reference(32, 32)
    request = t.build_request(
        call("edit", input_images=(ref,), options={"input_fidelity": "high"}, quality="low")
    )
    assert request.path == "/images/edits" and request.json is None
    assert request.data == {
        "model": "gpt-image-1.5",
        "prompt": "edit",
        "input_fidelity": "high",
        "n": "1",
        "quality": "low",
    }
    assert request.files == (("image", ("image_0.png", ref.data, "image/png")),)


def test_several_references_use_image_array_and_text_parts() -> None:
    refs = (reference(), reference(fmt="JPEG"), reference(fmt="WEBP"))
    request = t.build_request(
        call("edit", input_images=refs, stream=True, options={"svg": {"model": "x"}})
    )
    assert [name for name, _ in request.files] == ["image[]"] * 3
    assert [f[1][0] for f in request.files] == ["image_0.png", "image_1.jpg", "image_2.webp"]
    assert request.data is not None
    assert request.data["stream"] == "true"
    assert request.data["partial_images"] == "2"
    assert request.data["svg[model]"] == "x"


def test_too_many_references() -> None:
    with pytest.raises(InvalidRequest, match="at most 16"):
        t.build_request(call(input_images=(reference(8, 8),) * 17))


def test_input_fidelity_is_never_sent_on_a_generation() -> None:
    """§2.1 has no ``input_fidelity`` (edits only, §3.1); unknown fields are a 400 (§6)."""
    request = t.build_request(call("p", options={"input_fidelity": "high", "moderation": "low"}))
    assert request.path == "/images/generations"
    assert request.json == {"model": "gpt-image-1.5", "prompt": "p", "moderation": "low", "n": 1}
    (warning,) = request.warnings
    assert "input_fidelity" in warning and "edits" in warning


def test_input_fidelity_pinned_by_the_operator_is_dropped_silently_on_generations() -> None:
    ep = endpoint(fixed={"input_fidelity": "high"})
    generation = t.build_request(call("p", endpoint=ep))
    assert generation.json is not None and "input_fidelity" not in generation.json
    assert generation.warnings == ()
    edit = t.build_request(call("p", endpoint=ep, input_images=(reference(),)))
    assert edit.data is not None and edit.data["input_fidelity"] == "high"


def test_edit_with_moderation_uses_the_json_form() -> None:
    """§3.1: no ``moderation`` in the multipart edit; §3.3: the JSON form takes it, with the
    references (and mask) as ``data:`` URLs and JSON-typed values."""
    refs = (reference(32, 32), reference(16, 16, "JPEG"))
    mask = reference(32, 32)
    request = t.build_request(
        call(
            "edit",
            input_images=refs,
            mask=mask,
            n=2,
            stream=True,
            quality="low",
            options={"moderation": "low", "input_fidelity": "high"},
        )
    )
    assert request.path == "/images/edits"
    assert request.data is None and request.files == () and request.warnings == ()
    body = request.json
    assert body is not None
    assert list(body)[:3] == ["model", "prompt", "images"]
    assert body["images"] == [
        {"image_url": "data:image/png;base64," + base64.b64encode(refs[0].data).decode()},
        {"image_url": "data:image/jpeg;base64," + base64.b64encode(refs[1].data).decode()},
    ]
    assert body["mask"] == {
        "image_url": "data:image/png;base64," + base64.b64encode(mask.data).decode()
    }
    rest = {k: v for k, v in body.items() if k not in ("images", "mask")}
    assert rest == {
        "model": "gpt-image-1.5",
        "prompt": "edit",
        "moderation": "low",
        "input_fidelity": "high",
        "n": 2,
        "quality": "low",
        "stream": True,
        "partial_images": 2,
    }


def test_edit_with_moderation_pinned_by_the_operator_uses_the_json_form() -> None:
    request = t.build_request(
        call(endpoint=endpoint(fixed={"moderation": "low"}), input_images=(reference(),))
    )
    assert request.json is not None and request.json["moderation"] == "low"
    assert request.data is None and request.files == ()


def test_edit_without_moderation_stays_multipart() -> None:
    request = t.build_request(
        call(input_images=(reference(),), options={"moderation": None, "input_fidelity": "low"})
    )
    assert request.json is None and request.data is not None
    assert "moderation" not in request.data and request.data["input_fidelity"] == "low"


def test_images_cannot_be_passed_as_an_option() -> None:
    """The JSON edit form's ``images`` is the adapter's, like ``image``/``image[]``."""
    with pytest.raises(InvalidRequest, match="images"):
        t.build_request(call(input_images=(reference(),), options={"images": []}))


# ------------------------------------------------------------------------------------------
# Buffered responses (§4)
# ------------------------------------------------------------------------------------------

REFERENCE_RESPONSE = {
    "created": 1764000000,
    "background": "opaque",
    "output_format": "webp",
    "quality": "low",
    "size": "1024x1024",
    "data": [{"b64_json": "UklGRmQAAABXRUJQVlA4IFgAAA..."}],
    "usage": {
        "input_tokens": 12,
        "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
        "output_tokens": 272,
        "output_tokens_details": {"text_tokens": 0, "image_tokens": 272},
        "total_tokens": 284,
    },
}


def test_reference_response_is_relayed_as_is() -> None:
    done = t.parse_images_response(orjson.dumps(REFERENCE_RESPONSE), call(), upstream_id="req_1")
    (image,) = done.images
    assert image.b64 == "UklGRmQAAABXRUJQVlA4IFgAAA..."  # untouched, not re-encoded
    assert (image.media_type, image.width, image.height) == ("image/webp", 1024, 1024)
    assert done.upstream_id == "req_1"
    assert done.usage == Usage(
        images=1,
        pixels=1024 * 1024,
        input_text_tokens=12,
        input_image_tokens=0,
        output_image_tokens=272,
        output_text_tokens=0,
    )
    assert done.warnings == ()


def test_edit_usage_counts_image_tokens_and_references() -> None:
    body = {
        "output_format": "png",
        "size": "1536x1024",
        "data": [{"b64_json": image_b64(4, 4)}, {"b64_json": image_b64(4, 4)}],
        "usage": {
            "input_tokens": 300,
            "input_tokens_details": {"text_tokens": 20, "image_tokens": 280},
            "output_tokens": 800,
            "total_tokens": 1100,
        },
    }
    done = t.parse_images_response(
        orjson.dumps(body), call(n=2, input_images=(reference(64, 48), reference(10, 10)))
    )
    assert done.usage == Usage(
        images=2,
        pixels=2 * 1536 * 1024,
        input_text_tokens=20,
        input_image_tokens=280,
        output_image_tokens=800,  # no output_tokens_details: all image tokens
        input_images=2,
        input_pixels=64 * 48 + 100,
    )


def test_request_warnings_come_first_on_the_answer() -> None:
    body = {"data": [{"b64_json": image_b64(4, 4)}]}
    done = t.parse_images_response(orjson.dumps(body), call(n=2), warnings=("dropped x",))
    assert done.warnings == ("dropped x", "upstream returned 1 of 2 requested images")


def test_compatible_server_without_format_or_size_is_sniffed() -> None:
    """No output_format/size/usage (a thin OpenAI-compatible server): read the bytes' header."""
    body = {"data": [{"b64_json": image_b64(40, 30, "JPEG")}]}
    done = t.parse_images_response(orjson.dumps(body), call(n=2))
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/jpeg", 40, 30)
    assert done.usage == Usage(images=1, pixels=1200)
    assert done.warnings == ("upstream returned 1 of 2 requested images",)


def test_size_auto_reads_dimensions_from_header() -> None:
    body = {"output_format": "png", "size": "auto", "data": [{"b64_json": image_b64(48, 16)}]}
    (image,) = t.parse_images_response(orjson.dumps(body), call()).images
    assert (image.width, image.height) == (48, 16)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>bad gateway</html>", "not valid JSON"),
        (b'{"data": []}', "no images"),
        (b'{"data": "nope"}', "unexpected images response shape"),
        (b'{"data": [{"url": "https://x/img.png"}]}', "URL instead of b64_json"),
    ],
)
def test_unparseable_success_is_protocol_error(body: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match) as info:
        t.parse_images_response(body, call(), upstream_id="req_9")
    assert info.value.retryable


def test_success_status_with_error_body() -> None:
    body = b'{"error": {"message": "rejected", "code": "moderation_blocked"}}'
    with pytest.raises(ContentModerated):
        t.parse_images_response(body, call())


# ------------------------------------------------------------------------------------------
# Errors (§6)
# ------------------------------------------------------------------------------------------

MODERATION = {
    "error": {
        "message": "Your request was rejected by the safety system. If you believe this is an "
        "error, contact us at help.openai.com and include the request ID 1234. "
        "safety_violations=[sexual].",
        "type": "image_generation_user_error",
        "param": None,
        "code": "moderation_blocked",
        "moderation_details": {"moderation_stage": "output", "categories": ["sexual"]},
    }
}
ERROR_CASES: list[tuple[int, Any, dict[str, str], type[ProviderError], str | None]] = [
    (
        400,
        {
            "error": {
                "message": "Unknown parameter: 'response_format'.",
                "type": "invalid_request_error",
                "param": "response_format",
                "code": "unknown_parameter",
            }
        },
        {},
        InvalidRequest,
        "unknown_parameter",
    ),
    (
        400,
        {
            "error": {
                "message": "Invalid value: '1254x836'. Supported values are: '1024x1024', "
                "'1024x1536', '1536x1024', and 'auto'.",
                "type": "invalid_request_error",
                "param": "size",
                "code": "invalid_value",
            }
        },
        {},
        InvalidRequest,
        "invalid_value",
    ),
    (400, MODERATION, {}, ContentModerated, "moderation_blocked"),
    (
        400,
        {
            "error": {
                "code": "content_policy_violation",
                "message": "Your request was rejected as a result of our safety system.",
                "param": None,
                "type": "invalid_request_error",
            }
        },
        {},
        ContentModerated,
        "content_policy_violation",
    ),
    (
        400,  # type alone is enough; relays send param ""
        {
            "error": {
                "message": "refused",
                "type": "image_generation_user_error",
                "param": "",
                "code": None,
            }
        },
        {},
        ContentModerated,
        None,
    ),
    (
        401,
        {
            "error": {
                "message": "Incorrect API key provided: sk-test. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
        {},
        AuthError,
        "invalid_api_key",
    ),
    (
        403,
        {
            "error": {
                "message": "Your organization must be verified to use the model `gpt-image-1`.",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        },
        {},
        AuthError,
        None,
    ),
    (
        404,  # §6; retired models (§0, §9 gotcha 1): our catalog's model, not the caller's input
        {
            "error": {
                "message": "The model `dall-e-3` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        },
        {},
        Unavailable,
        "model_not_found",
    ),
    (
        404,  # a wrong base URL answers OpenAI's "Invalid URL" 404
        {"error": {"message": "Invalid URL (POST /v1/images/generations)", "type": None}},
        {},
        Unavailable,
        None,
    ),
    (404, "<html>Not Found</html>", {}, Unavailable, None),
    (
        400,  # the code alone is enough, whatever the status a relay puts on it
        {"error": {"message": "no such model", "code": "model_not_found"}},
        {},
        Unavailable,
        "model_not_found",
    ),
    (
        429,
        {
            "error": {
                "message": "Rate limit reached for gpt-image-1 in organization org-XXX on images "
                "per minute (IPM): Limit 5, Used 5, Requested 1. Please try again in 12s.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
        {"retry-after": "12"},
        RateLimited,
        "rate_limit_exceeded",
    ),
    (
        429,
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing "
                "details.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        },
        {"x-should-retry": "false"},
        InsufficientCredit,
        "insufficient_quota",
    ),
    (
        400,
        {
            "error": {
                "message": "Billing hard limit has been reached",
                "type": "invalid_request_error",
                "param": None,
                "code": "billing_hard_limit_reached",
            }
        },
        {},
        InsufficientCredit,
        "billing_hard_limit_reached",
    ),
    (422, {"error": {"message": "bad", "type": "invalid_request_error"}}, {}, InvalidRequest, None),
    (408, {"error": {"message": "timeout"}}, {}, Unavailable, None),
    (
        500,
        {"error": {"message": "The server had an error", "type": "server_error"}},
        {},
        Unavailable,
        None,
    ),
    (503, "<html>Service Unavailable</html>", {"retry-after-ms": "1500"}, Unavailable, None),
    (502, "", {}, Unavailable, None),
]


@pytest.mark.parametrize(("status", "body", "headers", "cls", "code"), ERROR_CASES)
def test_error_bodies(
    status: int, body: Any, headers: dict[str, str], cls: type[ProviderError], code: str | None
) -> None:
    raw = body.encode() if isinstance(body, str) else orjson.dumps(body)
    err = error_from_response(
        status, raw, {"X-Request-ID": "req_abc", **headers}, provider="openai", secrets=("sk-test",)
    )
    assert type(err) is cls
    assert err.status_code == status
    assert err.upstream_request_id == "req_abc"
    assert err.code == code
    assert err.provider == "openai"
    assert "sk-test" not in err.message and "sk-test" not in repr(err.raw)
    if isinstance(body, dict):
        first_words = body["error"]["message"].split(":")[0]
        assert err.message.startswith(first_words)
    else:
        assert f"HTTP {status}" in err.message


def test_error_retry_after_and_moderation_not_retryable() -> None:
    limited = error_from_response(429, b"{}", {"retry-after-ms": "250", "retry-after": "9"})
    assert isinstance(limited, RateLimited) and limited.retry_after == 0.25 and limited.retryable
    moderated = error_from_response(400, orjson.dumps(MODERATION), {})
    assert isinstance(moderated, ContentModerated) and not moderated.retryable
    assert "safety_violations=[sexual]" in moderated.message
    assert moderated.raw["error"]["moderation_details"]["moderation_stage"] == "output"


def test_key_is_redacted_even_when_echoed_verbatim() -> None:
    body = orjson.dumps({"error": {"message": "Incorrect API key provided: my-secret-key-123."}})
    err = error_from_response(401, body, {}, secrets=("my-secret-key-123",))
    assert "my-secret-key-123" not in err.message and "***" in err.message


def test_model_not_found_names_the_model_and_falls_back() -> None:
    body = orjson.dumps(
        {
            "error": {
                "message": "The model `gpt-image-1` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        }
    )
    err = error_from_response(404, body, {}, provider="openai", model="gpt-image-1")
    assert isinstance(err, Unavailable) and err.retryable and err.gateway_status == 502
    assert err.message.startswith("The model `gpt-image-1` does not exist")
    assert "upstream model 'gpt-image-1'" in err.message and "openai" in err.message
    bare = error_from_response(404, b"", {}, provider="my-proxy", model="sd-xl")
    assert isinstance(bare, Unavailable) and "HTTP 404" in bare.message
    assert "upstream model 'sd-xl'" in bare.message and "my-proxy" in bare.message
    other = error_from_response(400, orjson.dumps({"error": {"message": "bad"}}), {}, model="m")
    assert isinstance(other, InvalidRequest) and "'m'" not in other.message


def test_redirect_status_is_protocol_error() -> None:
    assert isinstance(error_from_response(302, b"", {}), ProtocolError)


# ------------------------------------------------------------------------------------------
# Streaming (§5)
# ------------------------------------------------------------------------------------------

PARTIAL = {
    "type": "image_generation.partial_image",
    "b64_json": "iVBORw0KGgo...",
    "created_at": 1764000000,
    "size": "1024x1024",
    "quality": "low",
    "background": "opaque",
    "output_format": "png",
    "partial_image_index": 0,
}
COMPLETED = {
    "type": "image_generation.completed",
    "b64_json": "iVBORw0KGgo...",
    "created_at": 1764000003,
    "size": "1024x1024",
    "quality": "low",
    "background": "opaque",
    "output_format": "png",
    "usage": {
        "input_tokens": 12,
        "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
        "output_tokens": 372,
        "total_tokens": 384,
    },
}


def _json(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def test_reference_stream_5_1() -> None:
    acc = t.StreamAccumulator(call(stream=True), upstream_id="req_s")
    assert acc.feed(_json(PARTIAL)) == PartialImage(0, "iVBORw0KGgo...", "image/png")
    assert not acc.done
    assert acc.feed(_json(COMPLETED)) is None
    assert acc.done
    done = acc.finish()
    (image,) = done.images
    assert (image.b64, image.media_type, image.width, image.height) == (
        "iVBORw0KGgo...",
        "image/png",
        1024,
        1024,
    )
    assert done.upstream_id == "req_s"
    assert done.usage == Usage(
        images=1, pixels=1024 * 1024, input_text_tokens=12, output_image_tokens=372
    )


def test_edit_stream_events_and_n_completions() -> None:
    acc = t.StreamAccumulator(call(n=2, stream=True, input_images=(reference(),)))
    partial = {**PARTIAL, "type": "image_edit.partial_image", "partial_image_index": 1}
    assert acc.feed(_json(partial)) == PartialImage(1, "iVBORw0KGgo...", "image/png")
    acc.feed(_json({"type": "keepalive.unknown"}))  # unknown types are skipped
    acc.feed(
        _json(
            {
                **COMPLETED,
                "type": "image_edit.completed",
                "size": "auto",
                "b64_json": image_b64(20, 10),
            }
        )
    )
    assert not acc.done
    acc.feed(_json({**COMPLETED, "type": "image_edit.completed"}))
    assert acc.done
    done = acc.finish()
    assert [(i.width, i.height) for i in done.images] == [(20, 10), (1024, 1024)]
    assert done.usage.output_image_tokens == 744 and done.usage.images == 2
    assert done.usage.input_images == 1
    assert done.warnings == ()


def test_stream_with_fewer_completed_than_n_answers_what_came() -> None:
    """§5.1: only EOF before any ``completed`` is an error; the count for n > 1 is unverified
    (§11). The images that came are returned with a warning, billed by their events' usage."""
    acc = t.StreamAccumulator(call(n=3, stream=True), upstream_id="req_f", warnings=("w",))
    acc.feed(_json(PARTIAL))
    acc.feed(_json(COMPLETED))
    done = acc.finish()
    assert len(done.images) == 1 and done.upstream_id == "req_f"
    assert done.warnings == ("w", "upstream streamed 1 of 3 requested images")
    assert done.usage == Usage(
        images=1, pixels=1024 * 1024, input_text_tokens=12, output_image_tokens=372
    )


@pytest.mark.parametrize("n", [1, 2])
def test_truncated_stream_is_retryable_protocol_error(n: int) -> None:
    acc = t.StreamAccumulator(call(n=n, stream=True))
    acc.feed(_json(PARTIAL))
    with pytest.raises(ProtocolError, match=f"0 of {n}") as info:
        acc.finish()
    assert info.value.retryable


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (
            {
                "message": "Your request was rejected by the safety system.",
                "type": "image_generation_user_error",
                "param": None,
                "code": "moderation_blocked",
            },
            ContentModerated,
        ),
        ({"message": "slow down", "code": "rate_limit_exceeded"}, RateLimited),
        (
            {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"},
            InsufficientCredit,
        ),
        ({"message": "bad", "type": "invalid_request_error"}, InvalidRequest),
        (
            {
                "message": "The model `x` does not exist",
                "type": "invalid_request_error",
                "code": "model_not_found",
            },
            Unavailable,
        ),
        ({"message": "Generation failed", "code": "server_error"}, Unavailable),
        ("plain text error", Unavailable),
    ],
)
def test_stream_error_event_5_4(error: Any, cls: type[ProviderError]) -> None:
    acc = t.StreamAccumulator(call(stream=True), upstream_id="req_e")
    with pytest.raises(cls) as info:
        acc.feed(_json({"type": "error", "error": error}))
    assert info.value.status_code is None and info.value.upstream_request_id == "req_e"


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        "[1, 2]",
        _json({"type": "image_generation.completed"}),
        _json({"type": "image_generation.partial_image", "partial_image_index": "x"}),
    ],
)
def test_malformed_stream_events(data: str) -> None:
    with pytest.raises(ProtocolError):
        t.StreamAccumulator(call(stream=True)).feed(data)


def _large_png_b64() -> str:
    """A real PNG padded with a long tEXt-free tail of base64 so the answer is over 256 KB."""
    head = image_b64(64, 48)
    return head + "A" * (300 * 1024 - len(head) % 4)


def test_large_answer_images_are_lifted_as_the_bytes_that_came() -> None:
    b64 = _large_png_b64()
    body = {**REFERENCE_RESPONSE, "output_format": "png", "data": [{"b64_json": b64}] * 2}
    done = t.parse_images_response(orjson.dumps(body), call(n=2))
    assert [img.b64 for img in done.images] == [b64.encode()] * 2  # bytes, not re-encoded
    assert done.images[0].media_type == "image/png"
    assert done.usage.output_image_tokens == 272 and done.usage.images == 2


@pytest.mark.parametrize(
    "value",
    ["QUJD\\/RA==", "QUJDé"],  # an escape, non-ASCII: not plain base64 text
)
def test_large_answer_that_cannot_be_lifted_is_parsed_as_json(value: str) -> None:
    b64 = _large_png_b64()
    body = orjson.dumps({"output_format": "png", "data": [{"b64_json": b64 + value}]})
    (image,) = t.parse_images_response(body, call()).images
    assert image.b64 == orjson.loads(body)["data"][0]["b64_json"]  # the decoded string


def test_large_invalid_json_is_still_a_protocol_error() -> None:
    body = b'{"data": [{"b64_json": "' + _large_png_b64().encode() + b'"}], "usage": {'
    with pytest.raises(ProtocolError, match="not valid JSON"):
        t.parse_images_response(body, call())


def test_large_stream_event_is_lifted() -> None:
    acc = t.StreamAccumulator(call(stream=True))
    b64 = _large_png_b64()
    partial = acc.feed(
        orjson.dumps(
            {"type": "image_generation.partial_image", "b64_json": b64, "partial_image_index": 0}
        ).decode()
    )
    assert partial is not None and partial.b64 == b64.encode()


# ------------------------------------------------------------------------------------------
# Answers without usage (§8.3: bill from usage when present, else the per-image counts §8.2)
# ------------------------------------------------------------------------------------------

BUDGETS = (
    TokenBudget(
        when={"quality": "low"},
        output_image_tokens_per_mp=Decimal("272"),
        partial_image_tokens=100,
        source="§8.2",
    ),
    TokenBudget(
        output_image_tokens_per_mp=Decimal("4160"), partial_image_tokens=100, source="§8.2"
    ),
)


def _budgeted(**overrides: Any) -> Any:
    return call(endpoint=endpoint(token_budgets=BUDGETS), **overrides)


def test_answer_without_usage_is_billed_from_the_published_counts() -> None:
    """No ``usage`` used to bill zero tokens: a free image. The resolved quality's count."""
    body = {"quality": "low", "size": "1024x1024", "data": [{"b64_json": image_b64(4, 4)}] * 2}
    done = t.parse_images_response(orjson.dumps(body), _budgeted(n=2, quality="auto"))
    assert done.usage == Usage(images=2, pixels=2 * 1024 * 1024, output_image_tokens=2 * 272)
    assert done.warnings == (
        "upstream reported no usage; 544 output image tokens estimated from the catalog's "
        "published per-image counts",
    )


def test_answer_without_usage_on_a_per_image_endpoint_estimates_nothing() -> None:
    """An operator's per-image endpoint of a catalog model inherits its token budgets; with no
    token line the estimate bills nothing and its warning would be noise on every call."""
    per_image = PricingLine(
        billable="output_image",
        unit="image",
        cost_usd=Decimal("0.01"),
        source="own hardware",
        as_of=date(2026, 11, 24),
    )
    ep = endpoint(token_budgets=BUDGETS, pricing=(per_image,))
    body = {"data": [{"b64_json": image_b64(1024, 1024)}]}
    done = t.parse_images_response(orjson.dumps(body), call(endpoint=ep))
    assert done.usage == Usage(images=1, pixels=1024 * 1024)
    assert done.warnings == ()


def test_answer_without_usage_or_quality_takes_the_default_budget() -> None:
    body = {"data": [{"b64_json": image_b64(1536, 1024)}]}
    done = t.parse_images_response(orjson.dumps(body), _budgeted())
    assert done.usage.output_image_tokens == 4160 * 3 // 2


def test_stream_without_usage_is_billed_from_the_published_counts() -> None:
    acc = t.StreamAccumulator(_budgeted(stream=True, quality="low"))
    acc.feed(_json(PARTIAL))
    acc.feed(_json({k: v for k, v in COMPLETED.items() if k != "usage"}))
    done = acc.finish()
    assert done.usage == Usage(images=1, pixels=1024 * 1024, output_image_tokens=272 + 100)
    assert len(done.warnings) == 1


def test_stream_with_usage_is_not_estimated() -> None:
    acc = t.StreamAccumulator(_budgeted(stream=True, quality="low"))
    acc.feed(_json(COMPLETED))
    done = acc.finish()
    assert done.usage.output_image_tokens == 372 and done.warnings == ()
