"""The Gemini simulator's answers: the §10 trigger directives, shared faults and usageMetadata."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.simulator.google_helpers import (
    FLASH,
    HEADERS,
    GoogleSim,
    body,
    decode,
    error,
    google_live_fixture,  # noqa: F401 (fixture)
    gsim_fixture,  # noqa: F401 (fixture)
    http_fixture,  # noqa: F401 (fixture)
    image_config,
    images,
    inline,
    png,
)

PRO = "/v1beta/models/gemini-3-pro-image:generateContent"


def _ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


# ---------------------------------------------------------------------------------------------
# usageMetadata (§3 token table, §7 cost formula inputs)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "size", "image_tokens", "hidden"),
    [
        ("gemini-3.1-flash-image", "512", 747, 272),
        ("gemini-3.1-flash-image", "1K", 1120, 272),
        ("gemini-3.1-flash-image", "2K", 1680, 272),
        ("gemini-3.1-flash-image", "4K", 2520, 272),
        ("gemini-3-pro-image", "2K", 1120, 99),
        ("gemini-3-pro-image", "4K", 2000, 99),
        ("gemini-3.1-flash-lite-image", "1K", 1120, 0),
    ],
)
def test_usage_follows_the_token_table(
    http: httpx.Client, model: str, size: str, image_tokens: int, hidden: int
) -> None:
    prompt = "a red kite over a green hill"  # 28 characters: 7 text tokens
    resp = http.post(
        f"/v1beta/models/{model}:generateContent",
        headers=HEADERS,
        json=body(prompt, imageConfig=image_config("1:1", size)),
    )
    usage = _ok(resp)["usageMetadata"]
    assert usage["promptTokenCount"] == 7
    assert usage["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": 7}]
    assert usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": image_tokens}]
    assert usage["candidatesTokenCount"] == image_tokens + hidden
    thoughts = usage.get("thoughtsTokenCount", 0)
    assert thoughts == (167 if "pro" in model else 0)
    assert usage["totalTokenCount"] == 7 + image_tokens + hidden + thoughts
    assert usage["serviceTier"] == "standard"


def test_nano_banana_png_with_caption_and_text_tokens(http: httpx.Client) -> None:
    answer = _ok(
        http.post(
            "/v1beta/models/gemini-2.5-flash-image:generateContent", headers=HEADERS, json=body()
        )
    )
    parts = answer["candidates"][0]["content"]["parts"]
    assert parts[0]["inlineData"]["mimeType"] == "image/png" and "thoughtSignature" not in parts[0]
    assert parts[1] == {"text": "Here is the image you asked for."}  # 32 chars: 8 tokens
    usage = answer["usageMetadata"]
    assert usage["candidatesTokensDetails"] == [
        {"modality": "IMAGE", "tokenCount": 1290},
        {"modality": "TEXT", "tokenCount": 8},
    ]
    assert usage["candidatesTokenCount"] == 1298


def test_image_only_modality_has_no_caption(http: httpx.Client) -> None:
    answer = _ok(
        http.post(
            "/v1beta/models/gemini-2.5-flash-image:generateContent",
            headers=HEADERS,
            json=body(responseModalities=["IMAGE"]),
        )
    )
    assert len(answer["candidates"][0]["content"]["parts"]) == 1


def test_text_only_modality_answers_without_an_image(http: httpx.Client) -> None:
    answer = _ok(http.post(FLASH, headers=HEADERS, json=body(responseModalities=["TEXT"])))
    assert images(answer) == []
    assert answer["candidates"][0]["finishReason"] == "STOP"


def test_high_thinking_reports_thought_tokens(http: httpx.Client) -> None:
    usage = _ok(
        http.post(FLASH, headers=HEADERS, json=body(thinkingConfig={"thinkingLevel": "HIGH"}))
    )["usageMetadata"]
    assert usage["thoughtsTokenCount"] == 244


def test_reference_images_cost_input_image_tokens(http: httpx.Client) -> None:
    usage = _ok(
        http.post(
            "/v1beta/models/gemini-2.5-flash-image:generateContent",
            headers=HEADERS,
            json=body("edit", inline(png())),
        )
    )["usageMetadata"]
    assert usage["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": 1},
        {"modality": "IMAGE", "tokenCount": 258},
    ]
    assert usage["promptTokenCount"] == 259


# ---------------------------------------------------------------------------------------------
# §10 triggers (a)-(g)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [("bad [sim:block]", "PROHIBITED_CONTENT"), ("bad [sim:block=safety]", "SAFETY")],
)
def test_a_prompt_block_is_200_without_candidates(
    http: httpx.Client, prompt: str, reason: str
) -> None:
    answer = _ok(http.post(FLASH, headers=HEADERS, json=body(prompt)))
    assert "candidates" not in answer
    assert answer["promptFeedback"] == {"blockReason": reason}
    usage = answer["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"]
    assert "candidatesTokenCount" not in usage


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("x [sim:image_safety]", "IMAGE_SAFETY"),
        ("x [sim:no_image]", "NO_IMAGE"),
        ("x [sim:finish=image_other]", "IMAGE_OTHER"),
        ("x [sim:finish=some_future_reason]", "SOME_FUTURE_REASON"),
    ],
)
def test_b_c_image_refusals_have_empty_content(
    http: httpx.Client, prompt: str, reason: str
) -> None:
    answer = _ok(http.post(FLASH, headers=HEADERS, json=body(prompt)))
    assert answer["candidates"] == [{"content": {}, "finishReason": reason, "index": 0}]


def test_d_text_only_stop_is_a_soft_refusal(http: httpx.Client) -> None:
    answer = _ok(http.post(FLASH, headers=HEADERS, json=body("x [sim:text_only]")))
    (candidate,) = answer["candidates"]
    assert candidate["finishReason"] == "STOP"
    (part,) = candidate["content"]["parts"]
    assert part["text"].startswith("I can't create that image")
    details = answer["usageMetadata"]["candidatesTokensDetails"]
    assert [d["modality"] for d in details] == ["TEXT"]


def test_e_429_carries_retry_info(http: httpx.Client, gsim: GoogleSim) -> None:
    gsim.state.knobs.retry_after_s = 34.4
    err = error(
        http.post(FLASH, headers=HEADERS, json=body("x [sim:429]")), 429, "RESOURCE_EXHAUSTED"
    )
    kinds = [d["@type"].rpartition(".")[2] for d in err["details"]]
    assert kinds == ["QuotaFailure", "Help", "RetryInfo"]
    assert err["details"][-1]["retryDelay"] == "34.4s"
    assert "limit: 0" not in err["message"]


def test_e_quota_directive_is_429_with_limit_zero(http: httpx.Client) -> None:
    err = error(
        http.post(FLASH, headers=HEADERS, json=body("x [sim:quota]")), 429, "RESOURCE_EXHAUSTED"
    )
    assert "limit: 0" in err["message"]
    assert err["details"][0]["violations"][0]["quotaId"].endswith("FreeTier")


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ],
)
def test_f_injected_statuses_use_google_status_names(
    http: httpx.Client, status: int, name: str
) -> None:
    err = error(http.post(FLASH, headers=HEADERS, json=body(f"x [sim:{status}]")), status, name)
    if status == 503:
        assert err["message"] == "The model is overloaded. Please try again later."
    if status == 403:
        assert err["details"][0]["reason"] == "API_KEY_SERVICE_BLOCKED"


def test_g_pro_style_thought_draft_before_the_final_image(http: httpx.Client) -> None:
    answer = _ok(http.post(PRO, headers=HEADERS, json=body("a poster [sim:thoughts]")))
    parts = answer["candidates"][0]["content"]["parts"]
    assert [("inlineData" in p, p.get("thought", False)) for p in parts] == [
        (False, True),
        (True, True),
        (True, False),
    ]
    draft, final = decode(parts[1]["inlineData"]["data"]), decode(parts[2]["inlineData"]["data"])
    assert draft.size == final.size == (1024, 1024)
    assert parts[1]["inlineData"]["data"] != parts[2]["inlineData"]["data"]
    assert "thoughtSignature" in parts[2]
    usage = answer["usageMetadata"]  # only the final image is counted as image output
    assert usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 1120}]
    assert usage["thoughtsTokenCount"] == 167


def test_g_streamed_thoughts_and_cumulative_usage(http: httpx.Client) -> None:
    resp = http.post(
        "/v1beta/models/gemini-3-pro-image:streamGenerateContent?alt=sse",
        headers=HEADERS,
        json=body("a poster [sim:thoughts]"),
    )
    chunks = [orjson.loads(f[6:]) for f in resp.content.strip().split(b"\r\n\r\n")]
    assert len(chunks) == 3
    assert all(p.get("thought") for p in chunks[0]["candidates"][0]["content"]["parts"])
    thoughts = [c["usageMetadata"]["thoughtsTokenCount"] for c in chunks]
    assert thoughts == [244, 244, 167]  # snapshots, not deltas: the last one wins (§4)


# ---------------------------------------------------------------------------------------------
# Shared directives and knobs, in Gemini's shapes
# ---------------------------------------------------------------------------------------------


def test_moderate_input_is_the_prompt_block_and_output_is_image_safety(
    http: httpx.Client,
) -> None:
    first = _ok(http.post(FLASH, headers=HEADERS, json=body("x [sim:moderate]")))
    assert first["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"
    second = _ok(http.post(FLASH, headers=HEADERS, json=body("x [sim:moderate=output]")))
    assert second["candidates"][0]["finishReason"] == "IMAGE_SAFETY"


def test_moderate_words_knob_and_stage(http: httpx.Client, gsim: GoogleSim) -> None:
    gsim.state.knobs.moderate_words = ("banana",)
    assert "promptFeedback" in _ok(http.post(FLASH, headers=HEADERS, json=body("a Banana")))
    gsim.state.knobs.moderation_stage = "output"
    answer = _ok(http.post(FLASH, headers=HEADERS, json=body("a banana")))
    assert answer["candidates"][0]["finishReason"] == "IMAGE_SAFETY"
    assert images(_ok(http.post(FLASH, headers=HEADERS, json=body("forbidden fruit"))))


def test_fail_next_knob_is_used_once(http: httpx.Client, gsim: GoogleSim) -> None:
    gsim.state.knobs.fail_next = [503, 429]
    error(http.post(FLASH, headers=HEADERS, json=body()), 503, "UNAVAILABLE")
    error(http.post(FLASH, headers=HEADERS, json=body()), 429, "RESOURCE_EXHAUSTED")
    assert _ok(http.post(FLASH, headers=HEADERS, json=body()))


def test_malformed_is_a_200_that_is_not_json(http: httpx.Client) -> None:
    resp = http.post(FLASH, headers=HEADERS, json=body("x [sim:malformed]"))
    assert resp.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)


def test_reset_drops_the_connection(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(FLASH, headers=HEADERS, json=body("x [sim:reset]"))


@pytest.mark.parametrize("stream", [False, True])
def test_truncate_cuts_the_body(http: httpx.Client, stream: bool) -> None:
    path = FLASH.replace("generateContent", "streamGenerateContent?alt=sse") if stream else FLASH
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(path, headers=HEADERS, json=body("x [sim:truncate]"))


def test_sleep_delays_the_answer(http: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        http.post(FLASH, headers=HEADERS, json=body("x [sim:sleep=1]"), timeout=0.3)


def test_unknown_directive_is_400(http: httpx.Client) -> None:
    err = error(
        http.post(FLASH, headers=HEADERS, json=body("x [sim:nope]")), 400, "INVALID_ARGUMENT"
    )
    assert "[sim:nope]" in err["message"]


def test_done_is_accepted_and_changes_nothing(http: httpx.Client) -> None:
    resp = http.post(
        FLASH.replace("generateContent", "streamGenerateContent?alt=sse"),
        headers=HEADERS,
        json=body("x [sim:done]"),
    )
    assert resp.status_code == 200 and b"[DONE]" not in resp.content


def test_stream_log_notes_a_finished_stream(http: httpx.Client, gsim: GoogleSim) -> None:
    http.post(
        FLASH.replace("generateContent", "streamGenerateContent?alt=sse"),
        headers=HEADERS,
        json=body(),
    )
    entry = gsim.state.log.entries[-1]
    assert entry["stream"] == "finished" and entry["method_name"] == "streamGenerateContent"


def test_admin_routes(http: httpx.Client, gsim: GoogleSim) -> None:
    assert http.post("/_sim/knobs", json={"latency_s": 0.01}).json()["latency_s"] == 0.01
    http.post(FLASH, headers=HEADERS, json=body())
    listing = http.get("/_sim/requests").json()
    assert listing["count"] == 1 and listing["requests"][0]["model"] == "gemini-3.1-flash-image"
    assert http.post("/_sim/reset").json() == {"ok": True}
    assert gsim.state.log.count == 0 and gsim.state.knobs.latency_s == 0.0
