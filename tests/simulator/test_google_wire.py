"""The Gemini simulator's wire: routes, auth, request parsing and per-model validation (§2, §5, §10)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest

from simulator import create_combined_app
from tests.servers import ServerThread
from tests.simulator.google_helpers import (
    FLASH,
    HEADERS,
    KEY,
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

# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_generate_content_under_both_api_versions(
    http: httpx.Client, gsim: GoogleSim, version: str
) -> None:
    resp = http.post(
        f"/{version}/models/gemini-3.1-flash-image:generateContent", headers=HEADERS, json=body()
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json; charset=UTF-8"
    answer = resp.json()
    assert set(answer) == {"candidates", "usageMetadata", "modelVersion", "responseId"}
    assert answer["modelVersion"] == "gemini-3.1-flash-image"
    (candidate,) = answer["candidates"]
    assert (candidate["finishReason"], candidate["index"]) == ("STOP", 0)
    assert candidate["content"]["role"] == "model"
    (part,) = images(answer)
    assert part["inlineData"]["mimeType"] == "image/jpeg" and part["thoughtSignature"]
    assert decode(part["inlineData"]["data"]).format == "JPEG"
    entry = gsim.state.log.entries[-1]
    assert entry["path"] == f"/{version}/models/gemini-3.1-flash-image:generateContent"
    assert entry["request_id"] == answer["responseId"] and entry["status"] == 200


def test_stream_generate_content_sse_framing(http: httpx.Client) -> None:
    """§4: ``data: <json>`` + blank line, no ``event:``, no ``[DONE]``; image chunk, then STOP."""
    resp = http.post(
        "/v1beta/models/gemini-3.1-flash-image:streamGenerateContent",
        params={"alt": "sse"},
        headers=HEADERS,
        json=body(),
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.content.endswith(b"\r\n\r\n") and b"[DONE]" not in resp.content
    frames = resp.content[:-4].split(b"\r\n\r\n")
    assert all(f.startswith(b"data: {") and b"event:" not in f for f in frames)
    first, last = (orjson.loads(f[6:]) for f in frames)
    assert "finishReason" not in first["candidates"][0]
    assert "inlineData" in first["candidates"][0]["content"]["parts"][0]
    assert first["usageMetadata"]["candidatesTokensDetails"] == [
        {"modality": "IMAGE", "tokenCount": 1120}
    ]
    assert last["candidates"][0]["content"]["parts"] == [{"text": ""}]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["responseId"] == first["responseId"]


def test_stream_without_alt_sse_is_a_json_array(http: httpx.Client) -> None:
    resp = http.post(
        "/v1beta/models/gemini-3.1-flash-image:streamGenerateContent", headers=HEADERS, json=body()
    )
    chunks = resp.json()
    assert isinstance(chunks, list) and len(chunks) == 2
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_unknown_model_is_google_404(http: httpx.Client) -> None:
    resp = http.post("/v1beta/models/gemini-9-image:generateContent", headers=HEADERS, json=body())
    err = error(resp, 404, "NOT_FOUND")
    assert err["message"].startswith("models/gemini-9-image is not found for API version v1beta")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1beta/models/gemini-3.1-flash-image:countTokens"),
        ("POST", "/v1beta/images/generations"),
        ("GET", "/v1beta/models/gemini-3.1-flash-image:generateContent"),
    ],
)
def test_unknown_urls_get_the_html_404_page(http: httpx.Client, method: str, path: str) -> None:
    resp = http.request(method, path, headers=HEADERS)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert "Error 404 (Not Found)" in resp.text


def test_mounted_in_the_combined_app_under_google() -> None:
    app = create_combined_app(api_keys={"google": KEY})
    with ServerThread(app, lifespan="off") as server:
        resp = httpx.post(f"{server.url}/google{FLASH}", headers=HEADERS, json=body(), timeout=30)
        listing = httpx.get(server.url).json()
    assert resp.status_code == 200
    assert listing["simulators"]["google"]["base_path"] == "/google"


# ---------------------------------------------------------------------------------------------
# Auth (§5: a bad key is a 400 API_KEY_INVALID, not a 401)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"x-goog-api-key": "AIza-wrong"}])
def test_missing_or_wrong_key_is_400_api_key_invalid(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    err = error(http.post(FLASH, headers=headers, json=body()), 400, "INVALID_ARGUMENT")
    assert err["message"] == "API key not valid. Please pass a valid API key."
    info = err["details"][0]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert (info["reason"], info["domain"]) == ("API_KEY_INVALID", "googleapis.com")
    assert info["metadata"] == {"service": "generativelanguage.googleapis.com"}
    assert err["details"][1]["@type"] == "type.googleapis.com/google.rpc.LocalizedMessage"


def test_key_in_the_query_string_works_and_is_never_logged(
    http: httpx.Client, gsim: GoogleSim
) -> None:
    assert http.post(FLASH, params={"key": KEY}, json=body()).status_code == 200
    assert http.post(FLASH, headers=HEADERS, json=body()).status_code == 200
    first, second = gsim.state.log.entries
    assert first["query"] == {"key": "<redacted>"}
    assert second["headers"]["x-goog-api-key"] == "<redacted>"
    assert KEY not in orjson.dumps(gsim.state.log.entries).decode()


# ---------------------------------------------------------------------------------------------
# Validation (§1, §10)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "ratio", "size", "expected"),
    [
        ("gemini-3.1-flash-image", "16:9", "2K", (2752, 1536)),
        ("gemini-3.1-flash-image", "1:1", "512", (512, 512)),
        ("gemini-3.1-flash-image", "1:8", "1K", (368, 2944)),
        ("gemini-3-pro-image", "9:16", "1K", (768, 1376)),
        ("gemini-3-pro-image", "21:9", None, (1584, 672)),
        ("gemini-3.1-flash-lite-image", "4:1", "1K", (2048, 512)),
        ("gemini-2.5-flash-image", "3:2", None, (1248, 832)),
        ("gemini-2.5-flash-image", "16:9", "2K", (1344, 768)),  # imageSize not honoured on 2.5
    ],
)
def test_pixels_per_model_ratio_and_size(
    http: httpx.Client,
    model: str,
    ratio: str,
    size: str | None,
    expected: tuple[int, int],
) -> None:
    resp = http.post(
        f"/v1beta/models/{model}:generateContent",
        headers=HEADERS,
        json=body(imageConfig=image_config(ratio, size)),
    )
    assert resp.status_code == 200, resp.text
    (part,) = images(resp.json())
    image = decode(part["inlineData"]["data"])
    assert image.size == expected
    expected_format = "PNG" if model.startswith("gemini-2.5") else "JPEG"
    assert image.format == expected_format
    assert part["inlineData"]["mimeType"] == f"image/{expected_format.lower()}"


@pytest.mark.parametrize(
    ("model", "config", "field"),
    [
        ("gemini-3.1-flash-image", image_config("1:1", "2k"), "image_size"),
        ("gemini-3.1-flash-image", image_config("1:1", "8K"), "image_size"),
        ("gemini-3-pro-image", image_config("1:1", "512"), "image_size"),
        ("gemini-3.1-flash-lite-image", image_config("1:1", "2K"), "image_size"),
        ("gemini-3-pro-image", image_config("1:8"), "aspect_ratio"),
        ("gemini-2.5-flash-image", image_config("4:1"), "aspect_ratio"),
        ("gemini-3.1-flash-image", image_config("7:3"), "aspect_ratio"),
    ],
)
def test_image_config_validated_per_model(
    http: httpx.Client, model: str, config: dict[str, str], field: str
) -> None:
    resp = http.post(
        f"/v1beta/models/{model}:generateContent", headers=HEADERS, json=body(imageConfig=config)
    )
    err = error(resp, 400, "INVALID_ARGUMENT")
    violation = err["details"][0]["fieldViolations"][0]
    assert violation["field"] == f"generation_config.image_config.{field}"


@pytest.mark.parametrize(
    "config",
    [
        {"imageConfig": {"aspectRatio": "1:1", "outputMimeType": "image/png"}},
        {"imageConfig": {"personGeneration": "ALLOW_ALL"}},
        {"outputFormat": "png"},
    ],
)
def test_fields_the_gemini_api_lacks_are_400(http: httpx.Client, config: dict[str, Any]) -> None:
    err = error(http.post(FLASH, headers=HEADERS, json=body(**config)), 400, "INVALID_ARGUMENT")
    assert err["message"].startswith("Invalid JSON payload received. Unknown name")


def test_candidate_count_above_one_is_refused(http: httpx.Client) -> None:
    err = error(
        http.post(FLASH, headers=HEADERS, json=body(candidateCount=2)), 400, "INVALID_ARGUMENT"
    )
    assert "Multiple candidates" in err["message"]


@pytest.mark.parametrize(
    ("model", "level", "ok"),
    [
        ("gemini-3.1-flash-image", "minimal", True),
        ("gemini-3.1-flash-image", "HIGH", True),
        ("gemini-3.1-flash-lite-image", "high", True),
        ("gemini-3-pro-image", "HIGH", False),
        ("gemini-2.5-flash-image", "MINIMAL", False),
        ("gemini-3.1-flash-image", "extreme", False),
    ],
)
def test_thinking_level_per_model(http: httpx.Client, model: str, level: str, ok: bool) -> None:
    resp = http.post(
        f"/v1beta/models/{model}:generateContent",
        headers=HEADERS,
        json=body(thinkingConfig={"thinkingLevel": level}),
    )
    assert resp.status_code == (200 if ok else 400), resp.text


def test_bad_json_and_empty_contents(http: httpx.Client) -> None:
    resp = http.post(FLASH, headers={**HEADERS, "content-type": "application/json"}, content=b"{")
    assert error(resp, 400, "INVALID_ARGUMENT")["message"].startswith("Invalid JSON payload")
    err = error(http.post(FLASH, headers=HEADERS, json={"contents": []}), 400, "INVALID_ARGUMENT")
    assert "contents is not specified" in err["message"]


# ---------------------------------------------------------------------------------------------
# Reference images: camelCase or snake_case, standard or URL-safe base64 (§2 gotcha)
# ---------------------------------------------------------------------------------------------


def test_reference_images_as_camel_case_standard_base64(
    http: httpx.Client, gsim: GoogleSim
) -> None:
    payload = body("put them together", inline(png(64, 48)), inline(png(32, 32, "red")))
    resp = http.post(FLASH, headers=HEADERS, json=payload)
    assert resp.status_code == 200, resp.text
    usage = resp.json()["usageMetadata"]
    assert {"modality": "IMAGE", "tokenCount": 2 * 1120} in usage["promptTokensDetails"]
    logged = gsim.state.log.entries[-1]["body"]["contents"][0]["parts"]
    assert logged[1]["inlineData"]["mimeType"] == "image/png"
    assert logged[1]["inlineData"]["data"] == {"bytes": len(png(64, 48)), "base64": "standard"}


def test_snake_case_and_url_safe_base64_as_the_sdk_sends(
    http: httpx.Client, gsim: GoogleSim
) -> None:
    """SDK 3.6.1 on the wire: ``inline_data{data(url-safe), mime_type}``, snake thinking."""
    data = png(70, 70)
    while b"-" not in base64.urlsafe_b64encode(data) and b"_" not in base64.urlsafe_b64encode(data):
        data += b"\0"  # make sure the URL-safe alphabet actually shows
    part = {
        "inline_data": {"data": base64.urlsafe_b64encode(data).decode(), "mime_type": "image/png"}
    }
    payload = {
        "contents": [{"role": "user", "parts": [{"text": "edit"}, part]}],
        "generation_config": {
            "response_modalities": ["TEXT", "IMAGE"],
            "thinking_config": {"include_thoughts": True, "thinking_level": "HIGH"},
            "image_config": {"aspect_ratio": "4:3", "image_size": "1K"},
        },
    }
    resp = http.post(FLASH, headers=HEADERS, json=payload)
    assert resp.status_code == 200, resp.text
    assert decode(images(resp.json())[0]["inlineData"]["data"]).size == (1200, 896)
    logged = gsim.state.log.entries[-1]["body"]["contents"][0]["parts"][1]
    assert logged["inline_data"]["data"] == {"bytes": len(data), "base64": "url-safe"}


def test_without_aspect_ratio_the_reference_shape_is_followed(http: httpx.Client) -> None:
    resp = http.post(FLASH, headers=HEADERS, json=body("same shape", inline(png(160, 90))))
    assert decode(images(resp.json())[0]["inlineData"]["data"]).size == (1376, 768)
    resp = http.post(FLASH, headers=HEADERS, json=body("no refs"))
    assert decode(images(resp.json())[0]["inlineData"]["data"]).size == (1024, 1024)


@pytest.mark.parametrize(
    ("part", "needle"),
    [
        ({"inlineData": {"mimeType": "image/png", "data": "@@not base64@@"}}, "Base64 decoding"),
        (inline(b"GIF89a....", "image/gif"), "Unsupported MIME type"),
        (inline(b"not really a png", "image/png"), "Unable to process input image"),
        ({"bogus": 1}, 'Unknown name "bogus"'),
    ],
)
def test_bad_reference_parts_are_400(http: httpx.Client, part: dict[str, Any], needle: str) -> None:
    err = error(http.post(FLASH, headers=HEADERS, json=body("x", part)), 400, "INVALID_ARGUMENT")
    assert needle in err["message"]


def test_more_than_fourteen_images_is_400(http: httpx.Client) -> None:
    refs = [inline(png(8, 8))] * 15
    err = error(http.post(FLASH, headers=HEADERS, json=body("x", *refs)), 400, "INVALID_ARGUMENT")
    assert "Too many images" in err["message"]


def test_a_returned_thought_signature_is_accepted_and_summarised(
    http: httpx.Client, gsim: GoogleSim
) -> None:
    """Multi-turn edits send the model's turn back with its ``thoughtSignature`` (§2)."""
    payload = body("make it blue")
    payload["contents"] = [
        {"role": "user", "parts": [{"text": "a cat"}]},
        {"role": "model", "parts": [{**inline(png()), "thoughtSignature": "c2ln" * 500}]},
        payload["contents"][0],
    ]
    assert http.post(FLASH, headers=HEADERS, json=payload).status_code == 200
    logged = gsim.state.log.entries[-1]["body"]["contents"][1]["parts"][0]
    assert logged["thoughtSignature"] == {"chars": 2000}
