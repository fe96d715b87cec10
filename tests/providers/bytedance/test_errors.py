"""ModelArk errors that arrive without an HTTP status (bytedance.md §3, §4, §5): a failed
``data[]`` item, a ``partial_failed`` event, a stream-level error."""

from __future__ import annotations

import orjson
import pytest

from providers.bytedance.errors import error_class, error_from_detail
from providers.bytedance.translate import StreamAccumulator
from providers.bytedance.wire import ErrorDetail
from providers.errors import (
    AuthError,
    ContentModerated,
    InsufficientCredit,
    InvalidRequest,
    ProviderError,
    RateLimited,
    Unavailable,
)
from tests.providers.bytedance.calls import call


def test_the_documented_stream_level_error_is_the_callers() -> None:
    """§4: ``{"error":{"code":"BadRequest","message":"... Request ID: {id}"}}``: a rejected
    request, not a transient failure to retry on another endpoint."""
    acc = StreamAccumulator(call())
    error = {"error": {"code": "BadRequest", "message": "Bad things. Request ID: 021abc"}}
    assert acc.feed(orjson.dumps(error).decode()) is None and acc.done
    with pytest.raises(ProviderError) as info:
        acc.finish()
    err = info.value
    assert type(err) is InvalidRequest and not err.retryable
    assert (err.code, err.status_code, err.upstream_request_id) == ("BadRequest", None, "021abc")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # §5's type column, used as a code by the stream-level error (§4)
        ("BadRequest", InvalidRequest),
        ("Unauthorized", AuthError),
        ("Forbidden", AuthError),
        ("NotFound", Unavailable),
        ("TooManyRequests", RateLimited),
        ("InternalServiceError", Unavailable),
        # §5's codes, each as its own status would classify it
        ("MissingParameter", InvalidRequest),
        ("InvalidParameter", InvalidRequest),
        ("InvalidEndpoint.ClosedEndpoint", Unavailable),
        ("SensitiveContentDetected.Violence", ContentModerated),
        ("InputTextSensitiveContentDetected", ContentModerated),
        ("OutputImageSensitiveContentDetected", ContentModerated),
        ("AuthenticationError", AuthError),
        ("AccountOverdueError", InsufficientCredit),
        ("AccessDenied", AuthError),
        ("InvalidEndpoint.NotFound", Unavailable),
        ("RateLimitExceeded.EndpointRPMExceeded", RateLimited),
        ("ServiceUnavailable", Unavailable),
        # nothing known: transient, as before
        ("SomethingNew", Unavailable),
        (None, Unavailable),
    ],
)
def test_an_error_without_a_status_is_classified_by_its_code(
    code: str | None, expected: type[ProviderError]
) -> None:
    assert error_class(None, code) is expected
    err = error_from_detail(ErrorDetail(code=code, message="m. Request ID: 021x"), None)
    assert type(err) is expected and err.status_code is None


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("BadRequest", InvalidRequest),
        ("Unauthorized", AuthError),
        ("Forbidden", AuthError),
        ("NotFound", Unavailable),
        ("TooManyRequests", RateLimited),
        ("InternalServiceError", Unavailable),
    ],
)
def test_an_unknown_code_falls_back_on_the_type(kind: str, expected: type[ProviderError]) -> None:
    """The envelope's ``type`` names the status too (§5); the code wins when it knows more."""
    assert error_class(None, "SomethingNew", kind) is expected
    detail = ErrorDetail(code="SomethingNew", message="m", type=kind)
    assert type(error_from_detail(detail, None)) is expected
    assert error_class(None, "InputTextSensitiveContentDetected", "BadRequest") is (
        ContentModerated
    )
    assert error_class(None, "InvalidEndpoint.ClosedEndpoint", "BadRequest") is Unavailable


def test_an_http_status_is_never_overridden_by_the_type() -> None:
    assert error_class(503, "SomethingNew", "BadRequest") is Unavailable
    assert error_class(400, "SomethingNew", "InternalServiceError") is InvalidRequest
