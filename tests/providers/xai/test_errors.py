"""Pure mapping of xAI error answers (xai.md §3) to the ProviderError tree."""

from __future__ import annotations

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
from providers.xai.errors import error_from_response, normalise_code

KEY = "xai-0123456789abcdefSECRET"


def err(status: int, body: object, headers: dict[str, str] | None = None) -> ProviderError:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return error_from_response(status, raw, headers or {}, provider="xai", secrets=(KEY,))


@pytest.mark.parametrize(
    ("code", "normalised"),
    [
        ("Client specified an invalid argument", "invalid_argument"),
        ("invalid-argument", "invalid_argument"),
        ("invalid_argument", "invalid_argument"),
        ("INVALID ARGUMENT", "invalid_argument"),
        ("Some resource has been exhausted", "resource_exhausted"),
        ("resource-exhausted", "resource_exhausted"),
        (
            "The caller does not have permission to execute the specified operation",
            "permission_denied",
        ),
        ("Some requested entity was not found", "not_found"),
        ("The service is currently unavailable", "unavailable"),
        ("Something - New", "something_new"),
        ("", None),
        (None, None),
    ],
)
def test_codes_in_every_style(code: str | None, normalised: str | None) -> None:
    assert normalise_code(code) == normalised


def test_bad_key_400_is_an_auth_error_and_never_the_callers() -> None:
    body = {
        "code": "Client specified an invalid argument",
        "error": "Incorrect API key provided: xa***yz. You can obtain an API key from "
        "https://console.x.ai.",
    }
    e = err(400, body)
    assert type(e) is AuthError and e.retryable and e.status_code == 400
    assert e.code == "invalid_argument"
    assert "xa***yz" not in e.message and "Incorrect API key provided: ***." in e.message


def test_our_key_is_redacted_wherever_it_appears() -> None:
    e = err(400, {"code": "invalid-argument", "error": f"Incorrect API key provided: {KEY}."})
    assert KEY not in str(e) and KEY not in repr(e.raw)
    e = err(500, {"code": "internal", "error": f"failed for {KEY}"})
    assert KEY not in str(e)


def test_wrong_endpoint_400_verbatim_is_unavailable() -> None:
    """The model id is our catalog's: a model on the wrong endpoint is the operator's error."""
    body = {
        "code": "invalid-argument",
        "error": "The model grok-imagine-image-quality is an image model and is therefore not "
        "available on this endpoint. Please use a compatible endpoint such as "
        "https://api.x.ai/v1/images/generations.",
    }
    e = err(400, body)
    assert type(e) is Unavailable and e.retryable and e.code == "invalid_argument"
    assert e.message.startswith("The model grok-imagine-image-quality is an image model")


@pytest.mark.parametrize(
    "body",
    [
        {"code": "not_found", "error": "The model grok-9 does not exist."},
        {"code": "Some requested entity was not found", "error": "No such model."},
    ],
)
def test_not_found_code_is_unavailable_whatever_the_status(body: dict[str, str]) -> None:
    assert type(err(400, body)) is Unavailable


def test_argument_not_supported() -> None:
    e = err(400, {"code": "invalid_argument", "error": "Argument not supported: size"})
    assert type(e) is InvalidRequest and e.message == "Argument not supported: size"


@pytest.mark.parametrize("status", [422, 415, 400])
def test_plain_text_rejections(status: int) -> None:
    text = (
        b"Failed to deserialize the JSON body into the target type: missing field `prompt` "
        b"at line 10 column 1"
    )
    e = err(status, text, {"content-type": "text/plain; charset=utf-8"})
    assert type(e) is InvalidRequest and e.status_code == status and e.code is None
    assert e.message == text.decode()
    assert e.raw == {"text": text.decode()}


def test_credits_403() -> None:
    body = {
        "code": "The caller does not have permission to execute the specified operation",
        "error": "Your team abc has either used all available credits or reached its monthly "
        "spending limit.",
    }
    e = err(403, body)
    assert type(e) is InsufficientCredit and e.retryable and e.code == "permission_denied"


def test_permission_403_is_an_auth_error() -> None:
    e = err(403, {"code": "permission-denied", "error": "No access to model grok-imagine-image"})
    assert type(e) is AuthError and e.retryable


def test_429_with_retry_after() -> None:
    e = err(
        429,
        {"code": "Some resource has been exhausted", "error": "slow down"},
        {"Retry-After": "3"},
    )
    assert type(e) is RateLimited and e.retry_after == 3.0 and e.code == "resource_exhausted"


def test_429_about_credits_is_insufficient_credit() -> None:
    e = err(429, {"code": "resource-exhausted", "error": "You have run out of credits."})
    assert type(e) is InsufficientCredit


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthError),
        (402, InsufficientCredit),
        (404, Unavailable),  # no such model or route: the operator's, not the caller's
        (408, Unavailable),
        (500, Unavailable),
        (502, Unavailable),
        (503, Unavailable),
        (504, Unavailable),
        (302, ProtocolError),
    ],
)
def test_status_classes(status: int, cls: type[ProviderError]) -> None:
    e = err(status, {"code": "x", "error": "y"}, {"x-request-id": "rid"})
    assert type(e) is cls and e.upstream_request_id == "rid"


def test_code_refines_a_status_that_says_little() -> None:
    assert type(err(400, {"code": "unauthenticated", "error": "no"})) is AuthError
    assert type(err(400, {"code": "Some resource has been exhausted", "error": "x"})) is RateLimited


def test_error_objects_and_empty_bodies() -> None:
    e = err(400, {"code": "invalid-argument", "error": {"message": "nested"}})
    assert e.message == "nested"
    e = err(503, b"")
    assert type(e) is Unavailable and e.message == "xai returned HTTP 503"
    e = err(400, {"message": "openai-shaped"})
    assert type(e) is InvalidRequest and "openai-shaped" in e.message


# ------------------------------------------------------------------------------------------
# Input blocks answered as errors (xai.md §7: the status of an input block is unknown)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Generated image rejected by content moderation."),
        (400, "The prompt was blocked by input moderation."),
        (400, "Your request was moderated."),
        (400, "Prompt violates our usage policy."),
        (400, "This prompt violates xAI's acceptable use policy"),
        (400, "Content blocked: it may be against our policies"),
        (400, "Input flagged by our safety system"),
        (403, "Image input flagged as unsafe by moderation"),
        (422, "The prompt was blocked (content policy)."),
        (451, "Blocked by content moderation"),
    ],
)
def test_a_4xx_about_moderation_is_content_moderated(status: int, message: str) -> None:
    e = err(status, {"code": "invalid-argument", "error": message}, {"x-request-id": "r"})
    assert type(e) is ContentModerated and not e.retryable
    assert (e.status_code, e.code, e.message, e.upstream_request_id) == (
        status,
        "invalid_argument",
        message,
        "r",
    )


def test_a_plain_text_block_is_content_moderated_too() -> None:
    e = err(400, b"Prompt blocked by moderation", {"content-type": "text/plain"})
    assert type(e) is ContentModerated and e.message == "Prompt blocked by moderation"


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        # field names are not moderation: the 400 for an unsupported argument and serde's 422
        (400, {"code": "invalid-argument", "error": "Argument not supported: moderation"},
         InvalidRequest),
        (422, b"Failed to deserialize the JSON body into the target type: unknown field "
              b"`moderation`, expected one of `prompt`, `model` at line 1 column 30",
         InvalidRequest),
        # other signals win: a key, credits, a rate limit, an outage, a wrong endpoint
        (400, {"code": "invalid-argument", "error": "Incorrect API key provided: xa***yz."},
         AuthError),
        (403, {"code": "permission-denied", "error": "Your team has used all its credits; "
               "content moderation is unavailable."}, InsufficientCredit),
        (429, {"code": "resource-exhausted", "error": "Too many moderated prompts, slow down"},
         RateLimited),
        (503, {"code": "unavailable", "error": "The moderation service is down."}, Unavailable),
        (404, {"code": "not_found", "error": "Moderation model not found"}, Unavailable),
        # blocked, but not content: a proxy's words, and a plain permission problem
        (403, {"code": "permission-denied", "error": "Your request was blocked."}, AuthError),
        (400, {"code": "invalid-argument", "error": "n must be between 1 and 10"},
         InvalidRequest),
    ],
)  # fmt: skip
def test_what_is_not_a_moderation_refusal(
    status: int, body: object, cls: type[ProviderError]
) -> None:
    assert type(err(status, body)) is cls
