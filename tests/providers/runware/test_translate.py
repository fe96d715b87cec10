"""Pure mapping of the Runware adapter against the reference's payloads (sourceful.md §3-§5)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest

from providers._media import encode_data_url
from providers.errors import (
    AuthError,
    ContentModerated,
    InsufficientCredit,
    InvalidRequest,
    ProtocolError,
    RateLimited,
    Unavailable,
)
from providers.runware.errors import error_class, error_from_response, task_error
from providers.runware.translate import (
    Delivery,
    build_request,
    completed,
    load_answer,
    parse_answer,
    task_fields,
)
from providers.runware.wire import TaskError
from providers.spec import GenerateCall
from tests.providers.runware.calls import (
    V2_FAST,
    V2_PRO,
    V25_FAST,
    V25_PRO,
    call,
    endpoint,
    image_b64,
    reference,
)

U1 = "a91e5a3c-82b5-4f45-8b03-8c8b6e8f84d9"
U2 = "3f0f6f7e-2b55-4b0e-9a52-1f3c7d1e9b10"
FONT = {"font_url": "https://cdn.example.com/agu.woff2", "text": "LIMITED EDITION"}


def fields(generate: GenerateCall) -> dict[str, Any]:
    return task_fields(generate)[0]


# -- requests -------------------------------------------------------------------------------------


def test_the_reference_example_task_for_2_5_fast() -> None:
    """§3.4: i2i with a font and a solid background (the reference image goes inline)."""
    ref = reference()
    generate = call(
        "Refine the label; add the text LIMITED EDITION in Agu Display",
        width=1024,
        height=768,
        quality="low",
        output_format="png",
        input_images=(ref,),
        options={"font_inputs": [FONT], "background_hex_color": "#F6F1E8"},
    )
    (task,) = build_request(generate, [U1]).tasks
    assert task == {
        "taskType": "imageInference",
        "taskUUID": U1,
        "model": "sourceful:riverflow-2.5@fast",
        "positivePrompt": "Refine the label; add the text LIMITED EDITION in Agu Display",
        "width": 1024,
        "height": 768,
        "numberResults": 1,
        "outputType": "base64Data",
        "outputFormat": "PNG",
        "includeCost": True,
        "deliveryMethod": "sync",
        "inputs": {
            "referenceImages": [encode_data_url(ref.data, "image/png")],
            "fonts": [{"url": "https://cdn.example.com/agu.woff2", "text": "LIMITED EDITION"}],
        },
        "settings": {
            "thinkingLevel": "low",
            "backgroundMode": "solid",
            "backgroundColor": "#F6F1E8",
        },
    }
    assert json.loads(json.dumps(task)) == task  # plain JSON


def test_the_2_0_spelling_of_the_same_options() -> None:
    """§3.4: for 2.0, fonts go to providerSettings.sourceful.fontInputs, refSR to inputs."""
    ref = reference()
    generate = call(
        model_id=V2_PRO,
        width=2560,
        height=1440,
        background="transparent",
        input_images=(ref,),
        options={
            "font_inputs": [FONT],
            "super_resolution_references": ["https://example.com/detail.png"],
            "enhance_prompt": True,
        },
    )
    task = fields(generate)
    assert (task["model"], task["width"], task["height"]) == (
        "sourceful:riverflow-2.0@pro",
        2560,
        1440,
    )
    assert task["inputs"] == {
        "referenceImages": [encode_data_url(ref.data, "image/png")],
        "superResolutionReferences": ["https://example.com/detail.png"],
    }
    assert task["providerSettings"] == {
        "sourceful": {
            "fontInputs": [
                {"fontUrl": "https://cdn.example.com/agu.woff2", "text": "LIMITED EDITION"}
            ],
            "transparency": True,
            "enhancePrompt": True,
        }
    }
    assert "settings" not in task and "seed" not in task


def test_one_task_per_image_each_with_its_own_uuid() -> None:
    request = build_request(call(n=2), [U1, U2])
    assert [t["taskUUID"] for t in request.tasks] == [U1, U2]
    assert request.task_uuids == (U1, U2)
    assert all(t["numberResults"] == 1 for t in request.tasks)
    with pytest.raises(ValueError):
        build_request(call(n=2), [U1])


def test_no_shape_sends_the_first_listed_size() -> None:
    task = fields(call())
    assert (task["width"], task["height"]) == (1024, 1024)
    assert "resolution" not in task


@pytest.mark.parametrize(
    ("output_format", "compression", "expected"),
    [
        (None, None, ("PNG", None)),
        ("jpeg", 80, ("JPG", 80)),
        ("webp", 30, ("WEBP", 30)),
        ("png", 80, ("PNG", None)),
    ],
)
def test_output_format_and_quality(
    output_format: str | None, compression: int | None, expected: tuple
) -> None:
    task = fields(call(output_format=output_format, output_compression=compression))
    assert (task["outputFormat"], task.get("outputQuality")) == expected


@pytest.mark.parametrize(
    ("background", "options", "settings"),
    [
        ("transparent", {}, {"backgroundMode": "transparent"}),
        ("opaque", {}, {"backgroundMode": "original"}),
        ("auto", {}, None),
        (
            None,
            {"background_mode": "solid", "background_hex_color": "#000000"},
            {"backgroundMode": "solid", "backgroundColor": "#000000"},
        ),
        (
            "opaque",
            {"background_hex_color": "#ffffff"},
            {"backgroundMode": "solid", "backgroundColor": "#ffffff"},
        ),
        (None, {"background_mode": "original"}, {"backgroundMode": "original"}),
    ],
)
def test_2_5_backgrounds(background: str | None, options: dict, settings: dict | None) -> None:
    task = fields(call(background=background, options=options))
    assert task.get("settings") == settings


def test_a_transparent_background_mode_with_jpeg_output_is_a_400() -> None:
    """The public ``background: transparent`` with JPEG is the gateway's 400; the same through
    Riverflow's own option must not go out to come back opaque."""
    options = {"background_mode": "transparent"}
    with pytest.raises(InvalidRequest, match="needs output_format png or webp"):
        fields(call(output_format="jpeg", options=options))
    assert fields(call(output_format="webp", options=options))["settings"] == {
        "backgroundMode": "transparent"
    }


def test_a_colour_with_another_mode_is_dropped_with_a_warning() -> None:
    task, warnings = task_fields(
        call(options={"background_mode": "transparent", "background_hex_color": "#ffffff"})
    )
    assert task["settings"] == {"backgroundMode": "transparent"}
    assert warnings and "background_hex_color ignored" in warnings[0]
    request = build_request(
        call(options={"background_mode": "original", "background_hex_color": "#ffffff"}), [U1]
    )
    assert request.warnings == (
        "background_hex_color ignored: background_mode is 'original', not 'solid'",
    )


@pytest.mark.parametrize(
    ("model_id", "generate_fields", "needle"),
    [
        (V25_FAST, {"options": {"background_mode": "solid"}}, "needs background_hex_color"),
        (V25_FAST, {"options": {"background_hex_color": "red"}}, "not a #RRGGBB"),
        (V25_FAST, {"options": {"background_mode": "blurred"}}, "background_mode 'blurred'"),
        (
            V25_FAST,
            {
                "background": "transparent",
                "options": {"background_mode": "solid", "background_hex_color": "#000000"},
            },
            "conflicts",
        ),
        (V25_FAST, {"options": {"font_inputs": [FONT] * 3}}, "font_inputs"),
        (V25_FAST, {"options": {"font_inputs": [{"text": "x"}]}}, "font_url"),
        (V25_FAST, {"options": {"scoring_rubric": []}}, "scoring_rubric"),
        (V25_FAST, {"options": {"enhance_prompt": "yes"}}, "boolean"),
        (
            V2_FAST,
            {"options": {"super_resolution_references": ["https://x/y.png"]}},
            "needs input_references",
        ),
        (
            V2_FAST,
            {"options": {"super_resolution_references": ["u"] * 5}},
            "super_resolution_references",
        ),
        (V2_FAST, {"quality": "high"}, "quality 'high'"),
        (V25_FAST, {"options": {"taskUUID": "mine"}}, "gateway sets it"),
        (V25_FAST, {"options": {"inputs.referenceImages": ["x"]}}, "gateway sets it"),
    ],
)
def test_options_the_api_would_reject_are_400_before_sending(
    model_id: str, generate_fields: dict[str, Any], needle: str
) -> None:
    with pytest.raises(InvalidRequest) as err:
        fields(call(model_id=model_id, **generate_fields))
    assert needle in err.value.message


def test_scoring_options_map_to_camel_case() -> None:
    rubric = [
        {
            "key": "legible",
            "label": "Legible",
            "description": "Text is readable",
            "weight": 2,
            "passing_score": 3,
            "score_guidance": [{"score": 5, "description": "crisp"}],
        }
    ]
    task = fields(
        call(
            model_id=V25_PRO,
            quality="xhigh",
            options={
                "scoring_prompt": "Is it legible?",
                "scoring_rubric": rubric,
                "enhance_prompt": False,
            },
        )
    )
    assert task["settings"] == {
        "scoringPrompt": "Is it legible?",
        "scoringRubric": [
            {
                "key": "legible",
                "label": "Legible",
                "description": "Text is readable",
                "weight": 2,
                "passingScore": 3,
                "scoreGuidance": [{"score": 5, "description": "crisp"}],
            }
        ],
        "enhancePrompt": False,
        "thinkingLevel": "xhigh",
    }


def test_other_airs_take_options_verbatim_and_fixed_fields_last() -> None:
    flux = endpoint(
        V25_FAST, upstream_model="runware:101@1", fixed={"steps": 28, "settings": {"a": 1}}
    )
    generate = GenerateCall(
        endpoint=flux,
        prompt="a fox",
        width=1024,
        height=1024,
        seed=7,
        options={"CFGScale": 3.5, "settings.b": 2, "font_inputs": [FONT], "steps": 4},
    )
    task = fields(generate)
    assert task["model"] == "runware:101@1"
    assert task["CFGScale"] == 3.5 and task["seed"] == 7
    assert task["settings"] == {"b": 2, "a": 1}
    assert task["font_inputs"] == [FONT]  # no renaming outside Riverflow
    assert task["steps"] == 28  # fixed wins over the option
    with pytest.raises(InvalidRequest):
        fields(GenerateCall(endpoint=flux, prompt="x", background="transparent"))
    with pytest.raises(InvalidRequest):
        fields(GenerateCall(endpoint=flux, prompt="x", quality="high"))


# -- answers --------------------------------------------------------------------------------------


def answer(
    data: list[dict[str, Any]] | None = None, errors: list[dict[str, Any]] | None = None
) -> bytes:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    if errors is not None:
        body["errors"] = errors
    return json.dumps(body).encode()


def item(task_uuid: str = U1, **extra: Any) -> dict[str, Any]:
    return {
        "taskType": "imageInference",
        "taskUUID": task_uuid,
        "imageUUID": "77da2d99-a6d3-44d9-b8c0-ae9fb06b6200",
        "imageBase64Data": image_b64(64, 48),
        "seed": 123456,
        "cost": 0.022,
        **extra,
    }


def test_the_reference_success_answer() -> None:
    parsed = parse_answer(answer([item()]), [U1])
    (delivery,) = parsed.deliveries
    assert delivery.cost == Decimal("0.022") and delivery.url is None and not parsed.failures
    done = completed(call(), parsed.deliveries, parsed.failures, upstream_id=U1)
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/png", 64, 48)
    assert done.usage.images == 1 and done.usage.pixels == 64 * 48
    assert done.usage.provider_cost_usd == Decimal("0.022")
    assert done.upstream_id == U1 and done.warnings == ()


def test_cost_is_exact_and_summed_over_images() -> None:
    body = answer([item(U1, cost=0.02945), item(U2, cost=0.1)])
    parsed = parse_answer(body, [U1, U2])
    done = completed(call(n=2), parsed.deliveries, parsed.failures)
    assert done.usage.provider_cost_usd == Decimal(
        "0.12945"
    )  # float math would say 0.12945000000000001


def test_no_cost_on_some_image_means_the_catalog_prices_it() -> None:
    parsed = parse_answer(answer([item(U1), item(U2, cost=None)]), [U1, U2])
    assert completed(call(n=2), parsed.deliveries, parsed.failures).usage.provider_cost_usd is None


def test_data_uri_and_jpeg_results() -> None:
    jpeg = image_b64(40, 30, "JPEG")
    body = answer([item(imageBase64Data=None, imageDataURI=f"data:image/jpeg;base64,{jpeg}")])
    parsed = parse_answer(body, [U1])
    done = completed(call(output_format="png"), parsed.deliveries, parsed.failures)
    assert done.images[0].b64 == jpeg
    assert done.images[0].media_type == "image/jpeg"  # the truth, not what was asked


def test_url_results_are_left_for_the_adapter_to_fetch() -> None:
    url = "https://im.runware.ai/image/ws/0.5/ii/77da2d99.jpg"
    (delivery,) = parse_answer(answer([item(imageBase64Data=None, imageURL=url)]), [U1]).deliveries
    assert (delivery.b64, delivery.url) == (None, url)


def test_results_match_on_task_uuid_not_position() -> None:
    body = answer([item(U2, cost=0.1), item("00000000-0000-4000-8000-000000000000"), item(U1)])
    parsed = parse_answer(body, [U1, U2])
    assert [d.task_uuid for d in parsed.deliveries] == [U2, U1]


def test_a_per_task_error_inside_a_200_is_a_partial_result() -> None:
    """§5: {"data": […], "errors": [{"code": "timeoutProvider", …, "taskUUID"}]}."""
    body = answer(
        [item(U1)],
        [{"code": "timeoutProvider", "message": "Provider timed out", "taskUUID": U2}],
    )
    parsed = parse_answer(body, [U1, U2])
    assert isinstance(parsed.failures[U2], Unavailable)
    done = completed(call(n=2), parsed.deliveries, parsed.failures)
    assert done.usage.images == 1 and done.usage.provider_cost_usd == Decimal("0.022")
    assert done.warnings == ("1 of 2 images failed upstream: timeoutProvider: Provider timed out",)


def test_an_error_for_a_task_whose_image_arrived_does_not_count_as_a_failure() -> None:
    """One image asked, one delivered (and billed): an error naming the same task beside it
    is not a second, failed image."""
    body = answer([item(U1)], [{"code": "inferenceError", "message": "late", "taskUUID": U1}])
    parsed = parse_answer(body, [U1])
    assert parsed.failures == {} and [d.task_uuid for d in parsed.deliveries] == [U1]
    assert completed(call(), parsed.deliveries, parsed.failures).warnings == ()


def test_every_task_failed_is_the_error() -> None:
    body = answer(
        [], [{"code": "timeoutProvider", "message": "Provider timed out", "taskUUID": U1}]
    )
    parsed = parse_answer(body, [U1])
    with pytest.raises(Unavailable):
        completed(call(), parsed.deliveries, parsed.failures)


def test_all_moderated_is_moderation_mixed_is_the_other_error() -> None:
    moderated = {"code": "contentPolicyViolation", "message": "blocked"}
    parsed = parse_answer(
        answer([], [{**moderated, "taskUUID": U1}, {**moderated, "taskUUID": U2}]), [U1, U2]
    )
    with pytest.raises(ContentModerated):
        completed(call(n=2), parsed.deliveries, parsed.failures)
    mixed = answer(
        [],
        [{**moderated, "taskUUID": U1}, {"code": "inferenceError", "message": "x", "taskUUID": U2}],
    )
    parsed = parse_answer(mixed, [U1, U2])
    with pytest.raises(Unavailable):
        completed(call(n=2), parsed.deliveries, parsed.failures)


def test_nsfw_flagged_results_are_not_delivered() -> None:
    parsed = parse_answer(
        answer([item(U1, NSFWContent=True), item(U2, NSFWContent=False)]), [U1, U2]
    )
    assert [d.task_uuid for d in parsed.deliveries] == [U2]
    assert isinstance(parsed.failures[U1], ContentModerated)


def test_a_flagged_result_s_cost_is_billed_beside_the_delivered_ones() -> None:
    """§4/§8: a flagged result was generated and carries its ``cost``; the gateway bills the
    returned cost, so it is added to what the delivered image cost."""
    parsed = parse_answer(
        answer([item(U1, NSFWContent=True, cost=0.025), item(U2, NSFWContent=False)]), [U1, U2]
    )
    done = completed(call(n=2), parsed.deliveries, parsed.failures)
    assert done.usage.images == 1
    assert done.usage.provider_cost_usd == Decimal("0.047")


def test_every_result_flagged_is_moderation_charged_at_the_returned_cost() -> None:
    parsed = parse_answer(
        answer([item(U1, NSFWContent=True), item(U2, NSFWContent=True, cost=0.021)]), [U1, U2]
    )
    with pytest.raises(ContentModerated) as caught:
        completed(call(n=2), parsed.deliveries, parsed.failures)
    assert caught.value.charge is not None
    assert caught.value.charge.provider_cost_usd == Decimal("0.043")
    # a flagged result without a cost states no charge
    parsed = parse_answer(answer([item(U1, NSFWContent=True, cost=None)]), [U1])
    with pytest.raises(ContentModerated) as caught:
        completed(call(), parsed.deliveries, parsed.failures)
    assert caught.value.charge is None


def test_a_task_without_result_or_error_fails_alone() -> None:
    parsed = parse_answer(answer([item(U1)]), [U1, U2])
    assert isinstance(parsed.failures[U2], ProtocolError)
    loose = answer([], [{"code": "inferenceError", "message": "boom"}])  # no taskUUID
    parsed = parse_answer(loose, [U1])
    assert isinstance(parsed.failures[U1], Unavailable) and "boom" in parsed.failures[U1].message


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"data": "x"}'])
def test_unreadable_answers_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_answer(body, [U1])


def test_a_result_without_an_image_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        parse_answer(answer([item(imageBase64Data=None)]), [U1])


def test_load_answer_keeps_decimals_exact() -> None:
    parsed = load_answer(b'{"data": [{"taskUUID": "x", "cost": 0.1}]}')
    assert parsed.data[0]["cost"] == Decimal("0.1")


def test_completed_without_deliveries_or_failures() -> None:
    with pytest.raises(ProtocolError):
        completed(call(), [], {})


def test_input_facts_are_counted() -> None:
    ref = reference(300, 400)
    done = completed(call(input_images=(ref,)), [Delivery(U1, image_b64(), None, None)], {})
    assert (done.usage.input_images, done.usage.input_pixels) == (1, 120_000)


# -- errors ---------------------------------------------------------------------------------------

INVALID_KEY = {
    "errors": [
        {
            "code": "invalidApiKey",
            "message": "Invalid API key. Get one at https://my.runware.ai/signup",
            "parameter": "apiKey",
            "taskType": "authentication",
        }
    ]
}


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "invalidApiKey", AuthError),
        (400, "invalidApiKey", AuthError),  # a rejected key is an auth failure whatever the status
        (403, "forbidden", AuthError),
        (403, None, AuthError),
        (402, "insufficientCredits", InsufficientCredit),
        (400, "paymentRequired", InsufficientCredit),
        (429, "quotaExceeded", InsufficientCredit),
        (429, "rateLimitExceeded", RateLimited),
        (429, None, RateLimited),
        (400, "contentPolicyViolation", ContentModerated),
        (403, "nsfwContentDetected", ContentModerated),
        (400, "providerContentPolicyViolation", ContentModerated),
        (400, "promptBlocked", ContentModerated),
        (400, "imageBlocked", ContentModerated),
        (400, "invalidParameter", InvalidRequest),
        (400, "missingParameter", InvalidRequest),
        (400, "unsupportedDimensions", InvalidRequest),
        (400, "unknownParameter", InvalidRequest),
        (400, "incompatibleParameters", InvalidRequest),
        (400, "invalidModel", Unavailable),  # the AIR is our catalog's: operator's error
        (404, "modelNotFound", Unavailable),
        (None, "modelNotFound", Unavailable),
        (400, "unknownModel", Unavailable),
        (404, None, Unavailable),
        (404, "invalidParameter", Unavailable),
        (400, "somethingNew", InvalidRequest),
        (408, None, Unavailable),
        (500, None, Unavailable),
        (503, "modelUnavailable", Unavailable),
        (200, "timeoutProvider", Unavailable),
        (400, "inferenceError", Unavailable),
        (400, "taskFailedOrNotFound", Unavailable),
        (None, "somethingNew", Unavailable),
        (None, "invalidParameter", InvalidRequest),
        (302, None, ProtocolError),
    ],
)
def test_error_classes(status: int | None, code: str | None, cls: type) -> None:
    assert error_class(status, code) is cls


@pytest.mark.parametrize("status", [400, None])
def test_a_validation_error_on_the_model_field_is_unavailable(status: int | None) -> None:
    assert error_class(status, "invalidParameter", "model") is Unavailable
    assert error_class(status, "invalidParameter", "width") is InvalidRequest
    item = TaskError.model_validate(
        {"code": "unsupportedValue", "message": "no such model", "parameter": "model"}
    )
    assert type(task_error(item, status)) is Unavailable


def test_the_documented_invalid_key_body() -> None:
    exc = error_from_response(401, json.dumps(INVALID_KEY).encode(), {}, provider="sourceful")
    assert isinstance(exc, AuthError)
    assert exc.code == "invalidApiKey" and exc.status_code == 401 and exc.provider == "sourceful"
    assert exc.message.startswith("invalidApiKey: Invalid API key.")
    assert "(parameter: apiKey)" in exc.message


def test_the_pre_stream_envelope() -> None:
    body = {
        "error": {"code": "rateLimitExceeded", "message": "slow down"},
        "taskUUID": U1,
        "taskType": "imageInference",
    }
    exc = error_from_response(429, json.dumps(body).encode(), {})
    assert isinstance(exc, RateLimited)
    assert exc.upstream_request_id == U1 and exc.message == "rateLimitExceeded: slow down"
    assert exc.retry_after == 1.0  # Runware documents no Retry-After: a short default


def test_retry_after_header_wins_when_present() -> None:
    body = json.dumps({"errors": [{"code": "rateLimitExceeded", "message": "x"}]}).encode()
    assert error_from_response(429, body, {"Retry-After": "7"}).retry_after == 7.0


def test_plain_text_5xx() -> None:
    exc = error_from_response(503, b"Service Unavailable", {})
    assert (
        isinstance(exc, Unavailable)
        and exc.message == "runware answered HTTP 503: Service Unavailable"
    )
    assert isinstance(error_from_response(429, b"", {}), RateLimited)


def test_messages_are_redacted_of_the_key() -> None:
    secret = "rw-super-secret-key"
    body = json.dumps(
        {"errors": [{"code": "invalidApiKey", "message": f"key {secret} is wrong"}]}
    ).encode()
    exc = error_from_response(401, body, {}, secrets=(secret,))
    assert secret not in exc.message and secret not in json.dumps(exc.raw)
    text = error_from_response(500, f"oops {secret}".encode(), {}, secrets=(secret,))
    assert secret not in text.message


def test_the_first_error_of_several_decides() -> None:
    body = {
        "errors": [
            {"code": "contentPolicyViolation", "message": "a", "taskUUID": U1},
            {"code": "invalidParameter", "message": "b", "taskUUID": U2},
        ]
    }
    exc = error_from_response(400, json.dumps(body).encode(), {})
    assert isinstance(exc, ContentModerated) and exc.upstream_request_id == U1


def test_base64_is_relayed_untouched() -> None:
    b64 = image_b64(10, 10)
    parsed = parse_answer(answer([item(imageBase64Data=b64)]), [U1])
    done = completed(call(), parsed.deliveries, parsed.failures)
    assert done.images[0].b64 == b64 and base64.b64decode(b64)
