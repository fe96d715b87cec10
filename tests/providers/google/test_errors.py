"""Gemini error answers → ProviderError (reference §5), from bodies in the reference's shapes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from providers.errors import (
    AuthError,
    InsufficientCredit,
    InvalidRequest,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.google.errors import error_from_response, error_from_status, retry_delay
from providers.google.wire import ErrorEnvelope

KEY = "AIzaSyA-our-own-secret-key-0123456789xyz"


def _envelope(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return orjson.dumps({"error": error})


def _map(status: int, body: bytes, headers: dict[str, str] | None = None) -> ProviderError:
    return error_from_response(
        status, body, headers or {}, provider="google-ai-studio", secrets=(KEY,)
    )


BAD_KEY = _envelope(  # §5, verbatim
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": "API key not valid. Please pass a valid API key.",
        },
    ],
)
RATE_LIMITED = _envelope(  # §5 recorded 429
    429,
    "RESOURCE_EXHAUSTED",
    "You exceeded your current quota, please check your plan.",
    [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"},
    ],
)


def test_a_bad_key_is_an_auth_error_not_the_callers_400() -> None:
    err = _map(400, BAD_KEY)
    assert isinstance(err, AuthError) and err.retryable and err.gateway_status == 502
    assert (err.status_code, err.code) == (400, "API_KEY_INVALID")
    assert err.message == "API key not valid. Please pass a valid API key."


def test_a_bad_key_without_details_is_recognised_from_the_message() -> None:
    body = _envelope(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
    assert isinstance(_map(400, body), AuthError)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "API_KEY_EXPIRED"),
        (400, "API_KEY_SERVICE_BLOCKED"),
        (403, "API_KEY_HTTP_REFERRER_BLOCKED"),
        (400, "API_KEY_IP_ADDRESS_BLOCKED"),
    ],
)
def test_every_api_key_reason_is_an_auth_error(status: int, reason: str) -> None:
    detail = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}
    err = _map(status, _envelope(status, "INVALID_ARGUMENT", "Key trouble.", [detail]))
    assert type(err) is AuthError and err.gateway_status == 502 and err.retryable
    assert err.code == reason


def test_a_not_found_inside_a_200_is_unavailable() -> None:
    body = _envelope(404, "NOT_FOUND", "models/gemini-0 is not found for API version v1beta")
    detail = ErrorEnvelope.model_validate(orjson.loads(body)).error
    assert type(error_from_status(detail, None)) is Unavailable


def test_other_400s_are_the_callers() -> None:
    body = _envelope(400, "INVALID_ARGUMENT", "Unsupported aspect ratio: 7:3.")
    err = _map(400, body)
    assert isinstance(err, InvalidRequest) and not err.retryable and err.code == "INVALID_ARGUMENT"


def test_failed_precondition_is_an_account_problem() -> None:
    body = _envelope(400, "FAILED_PRECONDITION", "User location is not supported for the API use.")
    err = _map(400, body)
    assert isinstance(err, InsufficientCredit) and err.retryable


def test_429_honours_retry_info() -> None:
    err = _map(429, RATE_LIMITED)
    assert isinstance(err, RateLimited) and err.retry_after == pytest.approx(34.4)
    assert err.code == "RESOURCE_EXHAUSTED"


def test_429_with_limit_zero_is_no_quota_at_all() -> None:
    body = _envelope(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.\n* Quota exceeded for metric: generativelanguage."
        "googleapis.com/generate_content_free_tier_requests, limit: 0, model: "
        "gemini-2.5-flash-image\nPlease retry in 34.4s.",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}],
    )
    err = _map(429, body)
    assert isinstance(err, InsufficientCredit) and not isinstance(err, RateLimited)
    assert err.retry_after is None


def test_429_without_retry_info_falls_back_to_the_header() -> None:
    body = _envelope(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
    err = _map(429, body, {"Retry-After": "7"})
    assert isinstance(err, RateLimited) and err.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "name", "cls"),
    [
        (401, "UNAUTHENTICATED", AuthError),
        (403, "PERMISSION_DENIED", AuthError),
        (404, "NOT_FOUND", Unavailable),  # a model id from our catalog: not the caller's fault
        (500, "INTERNAL", Unavailable),
        (503, "UNAVAILABLE", Unavailable),
        (504, "DEADLINE_EXCEEDED", Unavailable),
        (499, "CANCELLED", Unavailable),
    ],
)
def test_status_table(status: int, name: str, cls: type[ProviderError]) -> None:
    err = _map(status, _envelope(status, name, f"{name} happened"))
    assert type(err) is cls
    assert err.message == f"{name} happened"


@pytest.mark.parametrize(
    ("status", "body", "cls", "needle"),
    [
        (
            404,
            b"<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title>",
            Unavailable,
            "HTML page",
        ),
        (
            502,
            b"upstream connect error or disconnect/reset before headers",
            Unavailable,
            "upstream connect",
        ),
        (503, b"", Unavailable, "HTTP 503"),
        (400, b"Bad Request", InvalidRequest, "Bad Request"),
    ],
)
def test_non_json_bodies(status: int, body: bytes, cls: type[ProviderError], needle: str) -> None:
    err = _map(status, body)
    assert type(err) is cls and needle in err.message


def test_our_key_never_appears_in_messages() -> None:
    body = _envelope(
        400, "INVALID_ARGUMENT", f"bad request for key {KEY} and AIzaSyOTHERkey1234567890abcdefghij"
    )
    err = _map(400, body)
    assert KEY not in err.message and "AIzaSyOTHER" not in err.message
    assert KEY not in orjson.dumps(err.raw).decode()


@pytest.mark.parametrize(
    ("value", "seconds"), [("34.4s", 34.4), ("2s", 2.0), ("0.020s", 0.02), ("soon", None)]
)
def test_retry_delay_durations(value: str, seconds: float | None) -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": value}]
    assert retry_delay(details) == seconds
