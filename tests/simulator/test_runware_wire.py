"""Runware simulator: transport, auth and success shapes (reference sourceful.md §2, §4, §6, §9)."""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal

import httpx
import pytest

from tests.simulator.runware_support import (
    API_KEY,
    FAST_20,
    FAST_25,
    PRO_20,
    PRO_25,
    LiveRunware,
    data_uri,
    decode,
    live_runware,
    only_error,
    png,
    rw,
    task,
)

__all__ = ["live_runware", "rw"]

INVALID_KEY_BODY = {
    "code": "invalidApiKey",
    "message": "Invalid API key. Get one at https://my.runware.ai/signup",
    "parameter": "apiKey",
    "taskType": "authentication",
}


# -- endpoint and body ------------------------------------------------------------------------


def test_only_post_v1_is_the_api(rw: LiveRunware) -> None:
    assert rw.http.get("/v1").status_code == 405
    other = rw.http.post("/v1/images", json=[task()])
    assert other.status_code == 404
    assert other.json()["errors"][0]["code"] == "notFound"
    assert rw.state.log.count == 0  # only real API calls are logged


@pytest.mark.parametrize("body", [task(), {"tasks": [task()]}, [], ["text"], 3])
def test_the_body_must_be_a_json_array_of_tasks(rw: LiveRunware, body: object) -> None:
    resp = rw.post(body)
    assert resp.status_code == 400
    assert only_error(resp)["code"] == "invalidPayload"


def test_unparseable_json_is_invalid_payload(rw: LiveRunware) -> None:
    resp = rw.http.post("/v1", content=b"[{", headers={"authorization": f"Bearer {API_KEY}"})
    assert resp.status_code == 400 and only_error(resp)["code"] == "invalidPayload"
    assert rw.state.log.entries[0]["body"] == {"unparsed_bytes": 2}


def test_tasks_are_independent_data_and_errors_share_one_200(rw: LiveRunware) -> None:
    good, bad = task(), task(positivePrompt="x")
    resp = rw.run(good, bad)
    assert resp.status_code == 200
    body = resp.json()
    assert [d["taskUUID"] for d in body["data"]] == [good["taskUUID"]]
    (error,) = body["errors"]
    assert (error["code"], error["taskUUID"]) == ("invalidPositivePrompt", bad["taskUUID"])


# -- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"authorization": "Bearer wrong-key"}, {"authorization": f"Basic {API_KEY}"}]
)
def test_bad_or_missing_key_is_the_documented_401(rw: LiveRunware, headers: dict) -> None:
    resp = rw.http.post("/v1", json=[task()], headers=headers)
    assert resp.status_code == 401
    error = only_error(resp)
    assert {k: error[k] for k in INVALID_KEY_BODY} == INVALID_KEY_BODY


def test_a_leading_authentication_task_authenticates(rw: LiveRunware) -> None:
    auth = {"taskType": "authentication", "apiKey": API_KEY}
    resp = rw.post([auth, task()], key=None)
    assert resp.status_code == 200
    assert [d["taskType"] for d in resp.json()["data"]] == ["imageInference"]
    assert rw.state.log.entries[0]["body"][0]["apiKey"] == "<redacted>"
    wrong = rw.post([{"taskType": "authentication", "apiKey": "nope"}, task()], key=None)
    assert wrong.status_code == 401


def test_the_log_never_holds_the_bearer_key(rw: LiveRunware) -> None:
    rw.run(task())
    assert API_KEY not in str(rw.state.log.entries)


# -- results ---------------------------------------------------------------------------------


def test_success_is_the_reference_shape(rw: LiveRunware) -> None:
    t = task(width=1024, height=768)
    resp = rw.run(t)
    assert resp.status_code == 200
    (item,) = resp.json()["data"]
    assert item["taskType"] == "imageInference" and item["taskUUID"] == t["taskUUID"]
    assert uuid.UUID(item["imageUUID"]).version == 4
    assert isinstance(item["seed"], int)
    assert not item["imageBase64Data"].startswith("data:")  # raw base64
    image = decode(item["imageBase64Data"])
    assert (image.format, image.size) == ("PNG", (1024, 768))
    assert "NSFWContent" not in item and "status" not in item


def test_number_results_gives_one_item_each_with_fresh_image_uuids(rw: LiveRunware) -> None:
    t = task(numberResults=3)
    items = rw.run(t).json()["data"]
    assert len(items) == 3
    assert {i["taskUUID"] for i in items} == {t["taskUUID"]}
    assert len({i["imageUUID"] for i in items}) == 3


def test_default_output_is_a_jpeg_url_served_by_the_simulator(rw: LiveRunware) -> None:
    t = task(outputType=None, outputFormat=None)
    (item,) = rw.run(t).json()["data"]
    assert set(item) & {"imageURL", "imageBase64Data", "imageDataURI"} == {"imageURL"}
    url = httpx.URL(item["imageURL"])
    assert url.path == f"/image/ws/0.5/ii/{item['imageUUID']}.jpg"
    fetched = httpx.get(item["imageURL"])  # public, no key
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"
    assert fetched.content.startswith(b"\xff\xd8\xff")
    assert (
        httpx.get(item["imageURL"].replace(item["imageUUID"], str(uuid.uuid4()))).status_code == 404
    )


@pytest.mark.parametrize(
    ("output_format", "magic"), [("JPG", b"\xff\xd8\xff"), ("PNG", b"\x89PNG"), ("WEBP", b"RIFF")]
)
def test_data_uri_output_in_each_format(rw: LiveRunware, output_format: str, magic: bytes) -> None:
    (item,) = rw.run(task(outputType="dataURI", outputFormat=output_format)).json()["data"]
    prefix, _, b64 = item["imageDataURI"].partition(";base64,")
    media = {"JPG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[output_format]
    assert prefix == f"data:{media}"
    assert base64.b64decode(b64).startswith(magic)


def test_a_list_of_output_types_gives_each_key(rw: LiveRunware) -> None:
    (item,) = rw.run(task(outputType=["URL", "base64Data"])).json()["data"]
    assert "imageURL" in item and "imageBase64Data" in item


@pytest.mark.parametrize(
    "fields",
    [
        {"settings": {"backgroundMode": "transparent"}},
        {"model": FAST_20, "providerSettings": {"sourceful": {"transparency": True}}},
    ],
)
def test_transparent_backgrounds_are_png_with_alpha(rw: LiveRunware, fields: dict) -> None:
    (item,) = rw.run(task(**fields)).json()["data"]
    image = decode(item["imageBase64Data"])
    assert image.mode == "RGBA"
    assert image.getextrema()[3][0] == 0  # some pixels fully transparent


def test_opaque_by_default(rw: LiveRunware) -> None:
    (item,) = rw.run(task()).json()["data"]
    assert decode(item["imageBase64Data"]).mode == "RGB"


COSTS = [
    (FAST_20, {"width": 1024, "height": 1024}, "0.02"),
    (FAST_20, {"width": 2560, "height": 1440}, "0.04"),
    (PRO_20, {"width": 1280, "height": 720}, "0.15"),
    (PRO_20, {"width": 2048, "height": 2048}, "0.15"),
    (PRO_20, {"width": 6048, "height": 2592}, "0.33"),
    (FAST_25, {"settings": {"thinkingLevel": "low"}}, "0.021"),
    (FAST_25, {}, "0.022"),  # medium is the default
    (FAST_25, {"settings": {"thinkingLevel": "high"}}, "0.025"),
    (FAST_25, {"width": 2048, "height": 1536, "settings": {"thinkingLevel": "low"}}, "0.042"),
    (PRO_25, {"settings": {"thinkingLevel": "xhigh"}}, "0.15"),
    ("sourceful:2@3", {}, "0.06358"),
]


@pytest.mark.parametrize(("model", "fields", "cost"), COSTS)
def test_cost_follows_the_price_table(rw: LiveRunware, model: str, fields: dict, cost: str) -> None:
    # 4K renders are large; ask for a URL so the answer stays small
    body = task(model=model, outputType="URL", outputFormat="JPG", **fields)
    resp = rw.run(body)
    assert resp.status_code == 200, resp.text
    (item,) = resp.json(parse_float=Decimal)["data"]
    assert item["cost"] == Decimal(cost)


def test_cost_only_with_include_cost(rw: LiveRunware) -> None:
    (item,) = rw.run(task(includeCost=None)).json()["data"]
    assert "cost" not in item
    (item,) = rw.run(task(includeCost=False)).json()["data"]
    assert "cost" not in item


def test_resolution_alone_gives_the_square_of_its_tier(rw: LiveRunware) -> None:
    (item,) = rw.run(task(model=PRO_20, width=None, height=None, resolution="2K")).json()["data"]
    assert decode(item["imageBase64Data"]).size == (2048, 2048)
    (item,) = rw.run(task(width=None, height=None)).json()["data"]
    assert decode(item["imageBase64Data"]).size == (1024, 1024)


def test_a_reference_image_is_blended_in(rw: LiveRunware) -> None:
    ref = data_uri(png(400, 400, color="blue"))
    plain = rw.run(task(prompt="same prompt")).json()["data"][0]
    edited = rw.run(task(prompt="same prompt", inputs={"referenceImages": [ref]})).json()["data"][0]
    assert plain["imageBase64Data"] != edited["imageBase64Data"]
    logged = rw.state.log.entries[-1]["body"][0]["inputs"]["referenceImages"][0]
    assert logged.startswith("<image/png 400x400, ") and "base64" not in logged


def test_image_upload_returns_a_reusable_image_uuid(rw: LiveRunware) -> None:
    upload = {
        "taskType": "imageUpload",
        "taskUUID": str(uuid.uuid4()),
        "image": data_uri(png(320, 320)),
    }
    (item,) = rw.run(upload).json()["data"]
    assert item["taskType"] == "imageUpload" and item["taskUUID"] == upload["taskUUID"]
    assert httpx.get(item["imageURL"]).status_code == 200
    resp = rw.run(task(inputs={"referenceImages": [item["imageUUID"]]}))
    assert resp.status_code == 200, resp.text
    unknown = rw.run(task(inputs={"referenceImages": [str(uuid.uuid4())]}))
    assert unknown.status_code == 400
    assert only_error(unknown)["parameter"] == "inputs.referenceImages"


def test_raw_base64_and_urls_are_accepted_as_inputs(rw: LiveRunware) -> None:
    raw = base64.b64encode(png(320, 320)).decode()
    resp = rw.run(task(inputs={"referenceImages": [raw, "https://example.com/in.png"]}))
    assert resp.status_code == 200, resp.text
