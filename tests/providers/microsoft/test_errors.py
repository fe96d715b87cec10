"""Azure's MAI error answers → ProviderError (reference microsoft.md §6)."""

from __future__ import annotations

import orjson
import pytest

from providers.errors import (
    AuthError,
    ContentModerated,
    InvalidRequest,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.microsoft.errors import error_from_response

KEY = "0123abcd0123abcd0123abcd0123abcd"
CAPTURED_400 = {
    "error": {
        "code": "unsupported_request_value",
        "message": "Model does not support request parameter value supplied: 'width' must be at least 768 pixels.",
        "details": "Model does not support request parameter value supplied: 'width' must be at least 768 pixels.",
    }
}
FILTER_400 = {
    "error": {
        "code": "content_filter",
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        "param": "prompt",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {
                "hate": {"filtered": False, "severity": "safe"},
                "jailbreak": {"filtered": True, "detected": True},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": True, "severity": "medium"},
            },
        },
    }
}


def _error(status: int, body: object, headers: dict[str, str] | None = None) -> ProviderError:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return error_from_response(status, raw, headers or {}, provider="azure", secrets=(KEY,))


def test_the_captured_400_is_an_invalid_request() -> None:
    err = _error(400, CAPTURED_400, {"apim-request-id": "abc-123"})
    assert isinstance(err, InvalidRequest)
    assert err.message == CAPTURED_400["error"]["message"]
    assert (err.code, err.status_code, err.upstream_request_id) == (
        "unsupported_request_value",
        400,
        "abc-123",
    )


def test_the_content_filter_names_its_categories() -> None:
    err = _error(400, FILTER_400)
    assert isinstance(err, ContentModerated)
    assert err.message.startswith("Azure AI content filter (jailbreak, violence (medium)): ")
    assert "content management policy" in err.message
    assert err.code == "content_filter"


@pytest.mark.parametrize(
    "error",
    [
        {"code": "contentFilter", "message": "Your request was rejected."},
        {"code": "content_policy_violation", "message": "Your request was rejected."},
        {"code": None, "message": "Blocked by Responsible AI policy."},
        {
            "code": "BadRequest",
            "message": "x",
            "inner_error": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_results": {"sexual": {"filtered": True, "severity": "high"}},
            },
        },
        {"code": 400, "message": "The prompt violates the content policy."},
    ],
)
def test_other_content_filter_shapes(error: dict[str, object]) -> None:
    err = _error(400, {"error": error})
    assert isinstance(err, ContentModerated), err


def test_categories_under_inner_error_variants() -> None:
    body = {
        "error": {
            "code": "BadRequest",
            "message": "x",
            "inner_error": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_results": {"sexual": {"filtered": True, "severity": "high"}},
            },
        }
    }
    assert "(sexual (high))" in _error(400, body).message


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials_are_auth_errors(status: int) -> None:
    body = {
        "error": {
            "code": str(status),
            "message": "Access denied due to invalid subscription key or wrong API endpoint.",
        }
    }
    err = _error(status, body)
    assert isinstance(err, AuthError) and err.retryable


@pytest.mark.parametrize(
    "message",
    [
        "Public access is disabled. Please configure private endpoint.",
        "The principal lacks the required data action to perform this operation.",
        "Your request was blocked by the firewall policy.",  # "policy", not content policy
    ],
)
def test_a_plain_403_stays_an_auth_error(message: str) -> None:
    err = _error(403, {"error": {"code": "Forbidden", "message": message}})
    assert type(err) is AuthError and err.retryable


def test_the_abuse_block_is_a_moderation_refusal() -> None:
    """microsoft.md §6 lists the 403 abuse block under content filtering, §8 under moderation
    triggers: not our credentials, and not to be sent to another endpoint."""
    blocked = {
        "error": {
            "code": "Forbidden",
            "message": "Your resource has been temporarily blocked because we detected behavior that may violate our content policy.",
        }
    }
    err = _error(403, blocked, {"apim-request-id": "a-1"})
    assert type(err) is ContentModerated and not err.retryable
    assert (err.status_code, err.code, err.upstream_request_id) == (403, "Forbidden", "a-1")
    assert err.message.startswith("Azure AI content filter: Your resource has been temporarily")
    inner = {"error": {"code": "Forbidden", "message": "x",
                       "innererror": {"code": "ResponsibleAIPolicyViolation"}}}  # fmt: skip
    assert type(_error(403, inner)) is ContentModerated


@pytest.mark.parametrize(
    "error",
    [
        # §6: "any 400 whose code or message mentions content, policy or RAI"
        {"code": "BadRequest", "message": "The prompt violates our usage policy."},
        {"code": "BadRequest", "message": "Prompt contains content that is not allowed."},
        {"code": "invalid_request_value", "message": "Request rejected under our policies."},
        {"code": "RAIViolation", "message": "Rejected."},
        {"code": "PolicyViolation", "message": "Rejected."},
        {"code": "InvalidPrompt", "message": "Blocked by RAI."},
        {"code": None, "details": "Blocked by responsible-AI checks."},
    ],
)
def test_a_400_that_mentions_content_policy_or_rai_is_a_moderation_refusal(
    error: dict[str, object],
) -> None:
    err = _error(400, {"error": error})
    assert type(err) is ContentModerated and not err.retryable and err.status_code == 400


@pytest.mark.parametrize(
    "error",
    [
        # every plain 400 the reference shows or its checklist describes (§6, §8)
        CAPTURED_400["error"],
        {"code": "unsupported_request_value",
         "message": "Model does not support request parameter value supplied: 'width' x "
                    "'height' must be at most 1048576 pixels, got 1536x1024 (1572864 pixels)."},
        {"code": "invalid_request_value", "message": "'prompt' is a required property."},
        {"code": "invalid_request_value", "message": "'width' must be an integer."},
        {"code": "unknown_parameter", "message": "Unrecognized request argument supplied: seed"},
        {"code": "invalid_image", "message": "Input image 1 is invalid or in an unsupported "
                                             "format. Supported formats are PNG and JPEG."},
        {"code": "OperationNotSupported", "message": "The images/edits operation does not work "
                                                     "with the specified model, MAI-Image-2."},
        # whole words only, and a header name is not the request's content
        {"code": "BadRequest", "message": "Unsupported Content-Type 'text/plain'; expected "
                                          "application/json."},
        {"code": "InvalidContentType", "message": "Expected multipart/form-data."},
        {"code": "BadRequest", "message": "The contents of 'size' are unreadable."},
        {"code": "BadRequest", "message": "Trail of rai files"},
    ],
)  # fmt: skip
def test_plain_400s_stay_invalid_requests(error: dict[str, object]) -> None:
    err = _error(400, {"error": error})
    assert type(err) is InvalidRequest, err


@pytest.mark.parametrize("status", [404, 413, 422])
def test_the_broad_rule_is_for_400s_only(status: int) -> None:
    body = {"error": {"code": "x", "message": "The content is too large for this policy."}}
    assert type(_error(status, body)) is not ContentModerated


def test_a_missing_deployment_is_unavailable_with_a_hint() -> None:
    body = {
        "error": {
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist.",
        }
    }
    err = _error(404, body)
    assert isinstance(err, Unavailable)
    assert "deployment name" in err.message
    assert isinstance(
        _error(404, {"error": {"code": "404", "message": "Resource not found"}}), Unavailable
    )


def test_429_carries_retry_after() -> None:
    body = {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 7 seconds."}}
    err = _error(429, body, {"Retry-After": "7"})
    assert isinstance(err, RateLimited) and err.retry_after == 7.0
    assert err.message == "Rate limit is exceeded. Try again in 7 seconds."


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"error": {"code": "InternalServerError", "message": "The server had an error."}}),
        (503, {"error": {"code": "ServiceUnavailable", "message": "Try later."}}),
        (502, b"upstream gateway error"),
        (504, b"<html>Gateway Timeout</html>"),
        (408, {"error": {"code": "Timeout", "message": "The operation was timeout."}}),
    ],
)
def test_server_side_failures_are_unavailable(status: int, body: object) -> None:
    err = _error(status, body)
    assert isinstance(err, Unavailable), err
    assert err.retry_after is None


def test_plain_text_bodies_are_quoted() -> None:
    err = _error(502, b"upstream gateway error")
    assert err.message == "azure returned HTTP 502: upstream gateway error"


def test_other_4xx_are_invalid_requests() -> None:
    assert isinstance(
        _error(413, {"error": {"code": "RequestTooLarge", "message": "too big"}}), InvalidRequest
    )
    assert isinstance(_error(400, b"not json"), InvalidRequest)


def test_our_key_never_appears_in_messages() -> None:
    body = {"error": {"code": "401", "message": f"Access denied for key {KEY}."}}
    err = _error(401, body)
    assert KEY not in err.message and KEY not in str(err.raw)


@pytest.mark.parametrize("result", ["filtered", ["violence"], True, 3, None])
@pytest.mark.parametrize("where", ["error", "innererror"])
def test_a_filter_result_that_is_not_an_object_is_read_as_absent(
    result: object, where: str
) -> None:
    inner: dict[str, object] = {"code": "unsupported_request_value"}
    error: dict[str, object] = {
        "code": "unsupported_request_value",
        "message": "'width' must be at least 768 pixels.",
        "innererror": inner,
    }
    (error if where == "error" else inner)["content_filter_result"] = result
    err = _error(400, {"error": error}, {"apim-request-id": "r-1"})
    assert type(err) is InvalidRequest  # the envelope was read: no filter signs in it
    assert (err.code, err.message) == ("unsupported_request_value", error["message"])


def test_a_content_filter_with_an_unreadable_result_is_still_moderation() -> None:
    body = {"error": {"code": "content_filter", "message": "filtered", "innererror": {
        "code": {"not": "text"}, "content_filter_result": "violence"}}}  # fmt: skip
    err = _error(400, body)
    assert type(err) is ContentModerated and err.message == "Azure AI content filter: filtered"


def test_details_copied_into_the_message_and_raw_are_redacted() -> None:
    only_details = {"error": {"code": "bad", "details": f"key {KEY} is not allowed here"}}
    err = _error(400, only_details)
    assert KEY not in err.message and "***" in err.message
    both = {"error": {"code": "bad", "message": "nope", "details": f"echo: {KEY}"}}
    err = _error(400, both)
    assert err.message == "nope" and KEY not in str(err.raw) and "***" in str(err.raw)
    structured = {"error": {"code": "bad", "details": {"echo": KEY}}}  # details as an object
    err = _error(400, structured)
    assert KEY not in err.message and KEY not in str(err.raw)


def test_category_names_in_a_filter_message_are_redacted_too() -> None:
    result = {f"leak-{KEY}": {"filtered": True, "severity": "high"}}
    body = {"error": {"code": "content_filter", "message": "x", "content_filter_result": result}}
    err = _error(400, body)
    assert type(err) is ContentModerated and KEY not in err.message


def test_a_deeply_nested_filter_result_is_walked_to_a_bounded_depth() -> None:
    leaf = b'{"violence": {"filtered": true, "severity": "high"}}'
    node = b'{"n": ' * 900 + leaf + b"}" * 900  # deeper than orjson writes: built as text
    body = b'{"error": {"code": "content_filter", "message": "x", "content_filter_result": '
    err = _error(400, body + node + b"}}")
    assert type(err) is ContentModerated and err.message == "Azure AI content filter: x"
