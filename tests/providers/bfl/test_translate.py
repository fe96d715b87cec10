"""Pure BFL mapping against the reference's payloads (bfl.md §2-§4, §6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from providers.bfl.errors import error_from_response, is_transient, status_error
from providers.bfl.translate import (
    FAMILIES,
    Submitted,
    build_submit,
    completed,
    parse_pending,
    parse_result,
    parse_submit,
    polling_url_for,
    sample_url,
    wire_ratio,
)
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
from providers.spec import FreePixels, RatioTier
from tests.providers.bfl.calls import BFL_MODELS, b64, call, endpoint, image_bytes, reference

BASE = "https://api.bfl.ai/v1"

# -- submit bodies (§2) ----------------------------------------------------------------------


def test_flux2_pro_body_has_only_what_the_model_takes() -> None:
    refs = (reference(64, 48), reference(32, 32, "JPEG"))
    req = build_submit(
        call(
            "person from image 1 in the jacket of image 2",
            width=1440,
            height=816,
            seed=42,
            output_format="jpeg",
            input_images=refs,
            options={"safety_tolerance": 2, "disable_pup": True},
        )
    )
    assert req.path == "/flux-2-pro"
    assert req.json == {
        "prompt": "person from image 1 in the jacket of image 2",
        "width": 1440,
        "height": 816,
        "seed": 42,
        "output_format": "jpeg",
        "input_image": b64(refs[0].data),  # raw base64, no data: prefix (§2.1)
        "input_image_2": b64(refs[1].data),
        "safety_tolerance": 2,
        "disable_pup": True,
    }


def test_unset_fields_are_omitted() -> None:
    assert build_submit(call("a fox", width=1024, height=1024)).json == {
        "prompt": "a fox",
        "width": 1024,
        "height": 1024,
    }


def test_width_and_height_are_snapped_to_16() -> None:
    body = build_submit(call(width=1000, height=1030)).json
    assert (body["width"], body["height"]) == (1008, 1024)


def test_flux_1_1_pro_uses_multiples_of_32_and_image_prompt() -> None:
    ref = reference()
    body = build_submit(
        call(model="black-forest-labs/flux.1.1-pro", width=1000, height=760, input_images=(ref,))
    ).json
    assert body == {
        "prompt": "a red fox",
        "width": 992,
        "height": 768,
        "image_prompt": b64(ref.data),
    }


def test_kontext_takes_aspect_ratio_and_up_to_4_input_images() -> None:
    refs = tuple(reference() for _ in range(4))
    req = build_submit(
        call(
            model="black-forest-labs/flux.1-kontext-max",
            aspect_ratio="21:9",
            output_format="png",
            input_images=refs,
            options={"prompt_upsampling": False},
        )
    )
    assert req.path == "/flux-kontext-max"
    assert set(req.json) == {
        "prompt",
        "aspect_ratio",
        "output_format",
        "input_image",
        "input_image_2",
        "input_image_3",
        "input_image_4",
        "prompt_upsampling",
    }
    assert req.json["aspect_ratio"] == "21:9" and req.json["prompt_upsampling"] is False
    with pytest.raises(InvalidRequest, match="at most 4"):
        build_submit(
            call(model="black-forest-labs/flux.1-kontext-max", input_images=(*refs, reference()))
        )


@pytest.mark.parametrize(
    ("ratio", "wire"),
    [
        ("9:19.5", "6:13"),  # §2.4: "W:H" between 21:9 and 9:21; 9:19.5 is inside, as 6:13
        ("19.5:9", "13:6"),
        ("2.35:1", "47:20"),
        ("16:9", "16:9"),  # whole numbers go as written, not reduced
        ("9:21", "9:21"),
    ],
)
def test_ratios_go_upstream_in_whole_numbers(ratio: str, wire: str) -> None:
    assert wire_ratio(ratio) == wire
    for model in ("black-forest-labs/flux.1-kontext-pro", "black-forest-labs/flux.1.1-pro-ultra"):
        assert build_submit(call(model=model, aspect_ratio=ratio)).json["aspect_ratio"] == wire


def test_ultra_sends_raw_and_one_image_prompt_without_size() -> None:
    ref = reference()
    body = build_submit(
        call(
            model="black-forest-labs/flux.1.1-pro-ultra",
            aspect_ratio="16:9",
            input_images=(ref,),
            options={"raw": True, "image_prompt_strength": 0.3},
        )
    ).json
    assert body == {
        "prompt": "a red fox",
        "aspect_ratio": "16:9",
        "image_prompt": b64(ref.data),
        "raw": True,
        "image_prompt_strength": 0.3,
    }


def test_flex_knobs_come_only_from_options() -> None:
    body = build_submit(
        call(
            model="black-forest-labs/flux.2-flex",
            width=1024,
            height=1024,
            options={"steps": 28, "guidance": 3.5, "prompt_upsampling": False},
        )
    ).json
    assert (body["steps"], body["guidance"], body["prompt_upsampling"]) == (28, 3.5, False)
    assert "steps" not in build_submit(call(model="black-forest-labs/flux.2-flex")).json


@pytest.mark.parametrize(
    ("model", "option"),
    [
        ("black-forest-labs/flux.2-pro", "steps"),
        ("black-forest-labs/flux.2-klein-4b", "disable_pup"),
        ("black-forest-labs/flux.2-flex", "disable_pup"),
        ("black-forest-labs/flux.1-kontext-pro", "raw"),
        ("black-forest-labs/flux.2-pro", "webhook_url"),
    ],
)
def test_an_option_the_model_does_not_take_is_never_sent(model: str, option: str) -> None:
    with pytest.raises(InvalidRequest, match=option):
        build_submit(call(model=model, options={option: 1}))


def test_klein_takes_at_most_4_references_and_pro_8() -> None:
    four = tuple(reference() for _ in range(4))
    assert (
        "input_image_4"
        in build_submit(call(model="black-forest-labs/flux.2-klein-4b", input_images=four)).json
    )
    with pytest.raises(InvalidRequest):
        build_submit(
            call(model="black-forest-labs/flux.2-klein-4b", input_images=(*four, reference()))
        )
    eight = tuple(reference() for _ in range(8))
    assert "input_image_8" in build_submit(call(input_images=eight)).json


def test_one_image_per_task_and_fixed_parameters_win() -> None:
    with pytest.raises(InvalidRequest):
        build_submit(call(n=2))
    pinned = call(endpoint=endpoint(fixed={"safety_tolerance": 0}), options={"safety_tolerance": 5})
    assert build_submit(pinned).json["safety_tolerance"] == 0


def test_an_unknown_upstream_model_is_described_by_its_catalog_entry() -> None:
    ep = endpoint(upstream_model="flux-3-pro", passthrough=("safety_tolerance", "steps"))
    body = build_submit(call(endpoint=ep, width=1024, height=768, options={"steps": 4})).json
    assert body == {"prompt": "a red fox", "width": 1024, "height": 768, "steps": 4}


@pytest.mark.parametrize("model", BFL_MODELS)
def test_catalog_agrees_with_the_wire_families(model: str) -> None:
    ep = endpoint(model)
    fam = FAMILIES[ep.upstream_model]
    assert set(ep.passthrough) <= fam.options, "a passthrough key the model does not take"
    assert ep.max_references <= fam.max_references
    if fam.shape == "ratio":
        assert isinstance(ep.geometry, RatioTier)
    else:
        assert isinstance(ep.geometry, FreePixels) and ep.geometry.multiple == fam.multiple
    assert ep.account_concurrency_limit == 24
    assert ep.concurrency_limit == (6 if ep.upstream_model == "flux-kontext-max" else None)


# -- submit answer (§3) ----------------------------------------------------------------------

EXAMPLE = {
    "id": "2fa25140-591f-4839-b377-9945a7a3881a",
    "polling_url": "https://api.eu2.bfl.ai/v1/get_result?id=2fa25140-591f-4839-b377-9945a7a3881a",
    "cost": 4.5,
    "input_mp": 0,
    "output_mp": 1.98,
}


def test_the_reference_submit_answer() -> None:
    submitted = parse_submit(orjson.dumps(EXAMPLE), base_url=BASE)
    assert submitted == Submitted(EXAMPLE["id"], EXAMPLE["polling_url"], Decimal("0.045"))


@pytest.mark.parametrize(
    ("cost", "usd"),
    [
        (3.0, Decimal("0.03")),
        (1.7, Decimal("0.017")),
        (0.1, Decimal("0.001")),
        (12, Decimal("0.12")),
    ],
)
def test_credits_become_exact_dollars(cost: float, usd: Decimal) -> None:
    body = orjson.dumps({**EXAMPLE, "cost": cost})
    assert parse_submit(body, base_url=BASE).cost_usd == usd


@pytest.mark.parametrize("cost", [None, "n/a", -1, True, {"credits": 3}])
def test_a_missing_or_unreadable_cost_falls_back_to_the_catalog(cost: Any) -> None:
    body = orjson.dumps({**EXAMPLE, "cost": cost})
    assert parse_submit(body, base_url=BASE).cost_usd is None
    assert (
        parse_submit(
            orjson.dumps({"id": "t", "polling_url": "https://api.bfl.ai/x?id=t"}), base_url=BASE
        ).cost_usd
        is None
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.us1.bfl.ai/v1/get_result", "https://api.us1.bfl.ai/v1/get_result?id=T"),
        ("https://api.us1.bfl.ai/v1/get_result?id=T", "https://api.us1.bfl.ai/v1/get_result?id=T"),
        (
            "https://api.us1.bfl.ai/v1/get_result?x=1",
            "https://api.us1.bfl.ai/v1/get_result?x=1&id=T",
        ),
        (
            "http://localhost:8/c2/v1/get_result?id=other",
            "http://localhost:8/c2/v1/get_result?id=other",
        ),
    ],
)
def test_polling_url_is_kept_with_id_appended_only_when_missing(url: str, expected: str) -> None:
    assert polling_url_for(url, "T") == expected


def test_a_relative_polling_url_is_resolved_against_the_base_url() -> None:
    submitted = parse_submit(
        b'{"id": "T", "polling_url": "/c2/v1/get_result?id=T"}',
        base_url="http://127.0.0.1:9/bfl/v1",
    )
    assert submitted.polling_url == "http://127.0.0.1:9/c2/v1/get_result?id=T"
    answer = parse_result(_result(status="Ready", result={"sample": "results/T.png"}))
    assert (
        sample_url(answer, base_url="http://127.0.0.1:9/bfl/v1")
        == "http://127.0.0.1:9/bfl/v1/results/T.png"
    )


def test_without_polling_url_the_base_get_result_is_used() -> None:
    submitted = parse_submit(b'{"id": "T"}', base_url=BASE)
    assert submitted.polling_url == "https://api.bfl.ai/v1/get_result?id=T"


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"polling_url": "x"}', b'{"id": null}'])
def test_a_broken_submit_answer_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_submit(body, base_url=BASE)


# -- poll answers (§4) -----------------------------------------------------------------------


def _result(**fields: Any) -> bytes:
    return orjson.dumps(
        {"id": "T", "result": None, "progress": None, "details": None, "preview": None, **fields}
    )


def test_pending_ready_and_unknown_statuses() -> None:
    assert parse_result(_result(status="Pending")).status == "Pending"
    ready = parse_result(
        _result(
            status="Ready",
            result={
                "sample": "https://delivery-eu1.bfl.ai/results/x/sample.jpeg?se=1&sig=2",
                "seed": 7,
                "duration": 4.8,
            },
        )
    )
    assert ready.result is not None and ready.result.sample.startswith("https://delivery-eu1")
    for status in ("Pending", "Generating", "Reasoning", "Queued", "Ready", "Something New"):
        assert status_error(parse_result(_result(status=status))) is None
    assert (
        parse_result(orjson.dumps({"state": "Generating"})).status == "Generating"
    )  # Vercel alias


def test_request_moderated_carries_the_reasons() -> None:
    # a real capture quoted in the reference
    answer = parse_result(
        _result(status="Request Moderated", details={"Moderation Reasons": ["Protected Content"]})
    )
    error = status_error(answer, task_id="T")
    assert isinstance(error, ContentModerated)
    assert "Protected Content" in error.message and error.code == "request_moderated"
    assert error.upstream_request_id == "T" and not error.retryable


def test_content_moderated() -> None:
    error = status_error(
        parse_result(
            _result(
                status="Content Moderated", details={"Moderation Reasons": ["NSFW", "Violence"]}
            )
        )
    )
    assert isinstance(error, ContentModerated)
    assert error.code == "content_moderated" and "NSFW, Violence" in error.message


@pytest.mark.parametrize(
    ("status", "kind"),
    [("Error", Unavailable), ("Failed", Unavailable), ("Task not found", ProtocolError)],
)
def test_failed_tasks_are_retryable_upstream_errors(status: str, kind: type[ProviderError]) -> None:
    error = status_error(parse_result(_result(status=status, details={"error": "boom"})))
    assert type(error) is kind and error.retryable


SAMPLE = "https://delivery-eu1.bfl.ai/results/x/sample.jpeg?se=1&sig=2"


@pytest.mark.parametrize(
    ("seed", "duration", "task_id"),
    [
        ("1234", "4.8", 42),  # numbers as text, an integer id
        (12.5, "soon", {"task": "T"}),
        ([7], True, ["T"]),
        (10**19, {"s": 4.8}, 3.5),
    ],
)
def test_a_ready_answer_keeps_its_sample_whatever_the_secondary_field_types(
    seed: Any, duration: Any, task_id: Any
) -> None:
    result = {"sample": SAMPLE, "seed": seed, "duration": duration}
    ready = parse_result(_result(id=task_id, status="Ready", result=result))
    assert ready.result is not None and ready.result.sample == SAMPLE
    assert sample_url(ready, base_url=BASE) == SAMPLE


def test_readable_secondary_fields_are_still_read() -> None:
    result = {"sample": SAMPLE, "seed": "1234", "duration": "4.8"}
    ready = parse_result(_result(id=42, status="Ready", result=result))
    assert ready.result is not None and (ready.result.seed, ready.result.duration) == (1234, 4.8)
    assert ready.id == "42"


@pytest.mark.parametrize("sample", [123, ["https://x"], {"url": SAMPLE}])
def test_the_sample_itself_stays_strict(sample: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_result(_result(status="Ready", result={"sample": sample}))


@pytest.mark.parametrize("task_id", [{"id": "T"}, ["T"], 1.5, None, ""])
def test_a_submit_id_of_another_type_is_read_from_the_polling_url(task_id: Any) -> None:
    body = orjson.dumps({**EXAMPLE, "id": task_id})
    submitted = parse_submit(body, base_url=BASE)
    assert submitted.id == EXAMPLE["id"] and submitted.polling_url == EXAMPLE["polling_url"]
    assert submitted.cost_usd == Decimal("0.045")


def test_a_submit_answer_naming_no_task_at_all_is_a_protocol_error() -> None:
    body = orjson.dumps({"id": ["T"], "polling_url": "https://api.us1.bfl.ai/v1/get_result"})
    with pytest.raises(ProtocolError, match="names no task"):
        parse_submit(body, base_url=BASE)


@pytest.mark.parametrize("body", [b"oops", b'{"id": "T"}', b"[1]"])
def test_a_broken_poll_answer_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_result(body)


# An HTTP 202 poll answer (§4: "Treat 202 as pending"): only a body naming a known status says
# more than "pending"; anything else (no body, not JSON, no status, an unknown one) is Pending.
@pytest.mark.parametrize(
    "body", [b"", b"  ", b"oops", b'{"id": "T"}', b"[1]", b"null", _result(status="Brewing")]
)
def test_a_202_without_a_known_status_is_pending(body: bytes) -> None:
    answer = parse_pending(body)
    assert answer.status == "Pending" and status_error(answer) is None


@pytest.mark.parametrize("status", ["Pending", "Generating", "Queued", "Ready", "Error"])
def test_a_202_naming_a_known_status_is_that_answer(status: str) -> None:
    assert parse_pending(_result(status=status)).status == status


def test_a_202_naming_a_terminal_status_still_ends_the_task() -> None:
    answer = parse_pending(
        _result(status="Request Moderated", details={"Moderation Reasons": ["Protected Content"]})
    )
    assert isinstance(status_error(answer, task_id="T"), ContentModerated)


# -- HTTP errors (§6) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            400,
            {"message": "Top-level message", "detail": {"error": "Invalid prompt"}},
            InvalidRequest,
        ),
        (401, {"detail": "Not authenticated"}, AuthError),
        (403, {"detail": "Forbidden"}, AuthError),
        (402, {"detail": "Insufficient credits"}, InsufficientCredit),
        (404, {"detail": "Not Found"}, Unavailable),  # no such model: our catalog is wrong
        (
            422,
            {
                "detail": [
                    {
                        "loc": ["body", "width"],
                        "msg": "Input should be a multiple of 16",
                        "type": "value_error",
                    }
                ]
            },
            InvalidRequest,
        ),
        (429, {"detail": "Too many active tasks"}, RateLimited),
        (500, {"detail": "Internal Server Error"}, Unavailable),
        (503, {"detail": "Service temporarily unavailable"}, Unavailable),
    ],
)
def test_error_table(status: int, body: dict[str, Any], kind: type[ProviderError]) -> None:
    error = error_from_response(status, orjson.dumps(body), {})
    assert type(error) is kind and error.status_code == status


@pytest.mark.parametrize("status", [400, 404, 405, 410, 422])
def test_a_rejected_poll_is_unavailable_not_the_callers_fault(status: int) -> None:
    error = error_from_response(status, b'{"detail": "Not Found"}', {}, what="poll")
    assert type(error) is Unavailable and error.status_code == status
    assert not is_transient(error)  # the same poll would fail the same way
    submit = error_from_response(status, b'{"detail": "x"}', {}, what="submit")
    assert type(submit) is (Unavailable if status == 404 else InvalidRequest)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 503])
def test_transient_poll_failures(status: int) -> None:
    assert is_transient(error_from_response(status, b"{}", {}, what="poll"))


DEEP = 100_000


def _nested(depth: int, inner: bytes = b'"x"') -> bytes:
    return b'{"a":' * depth + inner + b"}" * depth


@pytest.mark.parametrize("depth", [DEEP, 700])
def test_deeply_nested_answers_are_protocol_errors_or_read(depth: int) -> None:
    """Nesting past the recursion limit is a ProtocolError; 700 levels parse, and describing
    them stops early instead of recursing through all of them."""
    body = b'{"id": "T", "status": "Error", "details": ' + _nested(depth) + b"}"
    if depth == DEEP:
        with pytest.raises(ProtocolError, match="nested too deeply"):
            parse_result(body)
        with pytest.raises(ProtocolError, match="nested too deeply"):
            parse_submit(b'{"id": "T", "x": ' + _nested(depth) + b"}", base_url=BASE)
        return
    error = status_error(parse_result(body))
    assert type(error) is Unavailable and error.message.endswith("…")


@pytest.mark.parametrize("depth", [300, 2000])
def test_a_deeply_nested_error_detail_still_gives_an_error(depth: int) -> None:
    # 300: parsed, but too deep for orjson to write back; 2000: too deep to parse at all
    body = b'{"detail": ' + _nested(depth) + b"}"
    error = error_from_response(400, body, {})
    assert type(error) is InvalidRequest and error.status_code == 400
    listed = error_from_response(422, b'{"detail": [' + b"[" * 300 + b"]" * 300 + b"]}", {})
    assert type(listed) is InvalidRequest


@pytest.mark.parametrize("url", ["http://[::1/v1/get_result", "https://[bad/x"])
def test_an_unparsable_url_is_a_protocol_error(url: str) -> None:
    with pytest.raises(ProtocolError, match="invalid"):
        parse_submit(orjson.dumps({"id": "T", "polling_url": url}), base_url=BASE)
    ready = parse_result(orjson.dumps({"id": "T", "status": "Ready", "result": {"sample": url}}))
    with pytest.raises(ProtocolError, match="invalid"):
        sample_url(ready, base_url=BASE)


def test_error_messages_follow_detail_then_message() -> None:
    vercel = error_from_response(
        400, b'{"message": "Top-level message", "detail": {"error": "Invalid prompt"}}', {}
    )
    assert '{"error":"Invalid prompt"}' in vercel.message
    validation = error_from_response(
        422,
        orjson.dumps(
            {"detail": [{"loc": ["body", "width"], "msg": "Input should be a multiple of 16"}]}
        ),
        {},
    )
    assert "width: Input should be a multiple of 16" in validation.message
    only_message = error_from_response(
        429,
        b'{"error": "rate_limit_exceeded", "message": "Too many concurrent requests", "retry_after": 5}',
        {},
    )
    assert "Too many concurrent requests" in only_message.message
    assert only_message.code == "rate_limit_exceeded" and only_message.retry_after == 5
    text = error_from_response(502, b"<html>Bad Gateway</html>", {})
    assert "Bad Gateway" in text.message


def test_retry_after_header_wins_and_429_always_has_a_hint() -> None:
    assert error_from_response(429, b"{}", {"Retry-After": "7"}).retry_after == 7
    assert error_from_response(429, b"{}", {}).retry_after == 1.0
    assert error_from_response(503, b"{}", {"retry-after": "2"}).retry_after == 2
    assert error_from_response(500, b"{}", {}).retry_after is None


def test_our_key_never_appears_in_messages() -> None:
    error = error_from_response(
        401, b'{"detail": "Invalid key bfl-secret-key-123"}', {}, secrets=("bfl-secret-key-123",)
    )
    assert "bfl-secret-key-123" not in error.message


# -- the result (§5) -------------------------------------------------------------------------


def test_completed_reports_true_type_size_and_usage() -> None:
    refs = (reference(64, 48), reference(10, 10))
    data = image_bytes(1440, 816, "JPEG")
    done = completed(
        data,
        "application/octet-stream",
        call(width=1440, height=816, output_format="png", input_images=refs),
        Submitted("T", "u", Decimal("0.045")),
    )
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/jpeg", 1440, 816)
    assert done.upstream_id == "T"
    usage = done.usage
    assert (usage.images, usage.pixels, usage.input_images, usage.input_pixels) == (
        1,
        1440 * 816,
        2,
        64 * 48 + 100,
    )
    assert usage.provider_cost_usd == Decimal("0.045")


def test_a_download_that_is_not_an_image_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        completed(b"<Error/>", "application/xml", call(), Submitted("T", "u"))
    with pytest.raises(ProtocolError):
        completed(b"", "image/jpeg", call(), Submitted("T", "u"))
