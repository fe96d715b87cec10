"""MAI simulator: routes, auth, deployments and the success body (reference §2, §5, §8)."""

from __future__ import annotations

import time

import httpx
import pytest

from simulator.azure_mai import create_app
from simulator.azure_mai_rules import MaiConfig
from tests.servers import ServerThread
from tests.simulator.mai_support import (
    API_KEY,
    BASE,
    TOKEN,
    LiveMai,
    decode,
    error_of,
    live_fixture,
    png_part,
    reset_fixture,
)

live_mai = live_fixture()
mai = reset_fixture()


def _body(**extra: object) -> dict[str, object]:
    return {"model": "MAI-Image-2.5", "prompt": "a lighthouse at dusk", **extra}


# -- routes ---------------------------------------------------------------------------------


def test_generation_answers_one_png_of_the_asked_size(mai: LiveMai) -> None:
    before = int(time.time())
    resp = mai.generate(_body(width=1024, height=768))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"created", "model", "size", "usage", "data"}
    assert before <= body["created"] <= int(time.time())
    assert (body["model"], body["size"]) == ("MAI-Image-2.5", "1024x768")
    (item,) = body["data"]
    image = decode(item["b64_json"])
    assert (image.format, image.size) == ("PNG", (1024, 768))
    assert resp.headers["apim-request-id"] == resp.headers["x-request-id"]


def test_edit_is_multipart_and_answers_one_png(mai: LiveMai) -> None:
    resp = mai.edit({"model": "MAI-Image-2.5-Flash", "prompt": "make it blue"}, [png_part()])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["model"] == "MAI-Image-2.5-Flash"
    assert decode(body["data"][0]["b64_json"]).size == (1024, 1024)
    (entry,) = mai.state.log.entries
    assert entry["path"] == f"{BASE}/images/edits"
    assert entry["body"]["image"] == [
        {"filename": "in.png", "content_type": "image/png", "bytes": len(png_part()[1])}
    ]


def test_api_version_query_is_accepted_and_ignored(mai: LiveMai) -> None:
    resp = mai.generate(_body(), query="?api-version=preview")
    assert resp.status_code == 200, resp.text
    assert mai.state.log.entries[0]["query"] == {"api-version": "preview"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/mai/v1/images/variations"),
        ("POST", "/openai/v1/images/generations"),
        ("GET", f"{BASE}/images/generations"),
    ],
)
def test_other_paths_are_azure_404s(mai: LiveMai, method: str, path: str) -> None:
    resp = httpx.request(method, f"{mai.url}{path}", headers={"api-key": API_KEY}, json=_body())
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "404", "message": "Resource not found"}}


# -- auth -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"api-key": "wrong"},
        {"api-key": ""},
        {"authorization": "Bearer not-the-token"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": f"Bearer {API_KEY}"},  # a key is not a token
    ],
)
def test_missing_or_wrong_credentials_are_401(mai: LiveMai, headers: dict[str, str]) -> None:
    resp = mai.generate(_body(), headers=headers)
    assert resp.status_code == 401
    error = error_of(resp)
    assert error["code"] == "401"
    assert error["message"].startswith("Access denied due to invalid subscription key")


def test_a_bearer_token_is_accepted_instead_of_the_key(mai: LiveMai) -> None:
    resp = mai.generate(_body(), headers={"authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200, resp.text
    assert mai.state.log.entries[0]["auth"] == "bearer"


def test_the_key_never_reaches_the_log(mai: LiveMai) -> None:
    assert mai.generate(_body()).status_code == 200
    (entry,) = mai.state.log.entries
    assert entry["auth"] == "api-key"
    assert entry["headers"]["api-key"] == "<redacted>"
    assert API_KEY not in str(mai.state.log.entries)


def test_without_configured_secrets_any_non_empty_credential_passes() -> None:
    app = create_app()
    with ServerThread(app, lifespan="off") as server:
        url = f"{server.url}{BASE}/images/generations"
        for headers in ({"api-key": "anything"}, {"authorization": "Bearer anything"}):
            assert httpx.post(url, json=_body(), headers=headers).status_code == 200
        assert httpx.post(url, json=_body()).status_code == 401


# -- deployments ----------------------------------------------------------------------------


def test_the_model_field_is_a_deployment_name(mai: LiveMai) -> None:
    mai.state.config.deployments = {"mai-img-prod": "MAI-Image-2.6-Flash"}
    resp = mai.generate({"model": "mai-img-prod", "prompt": "x", "width": 768, "height": 768})
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "MAI-Image-2.6-Flash"
    gone = mai.generate(_body())
    assert gone.status_code == 404
    error = error_of(gone)
    assert error["code"] == "DeploymentNotFound"
    assert error["message"].startswith("The API deployment for this resource does not exist")


def test_every_base_model_is_deployed_under_its_name_by_default(mai: LiveMai) -> None:
    names = sorted(MaiConfig().deployments)
    assert names == sorted(
        [
            "MAI-Image-2",
            "MAI-Image-2e",
            "MAI-Image-2.5",
            "MAI-Image-2.5-Flash",
            "MAI-Image-2.5-Pro",
            "MAI-Image-2.6",
            "MAI-Image-2.6-Flash",
        ]
    )
    for name in names:
        resp = mai.generate({"model": name, "prompt": "x", "width": 768, "height": 768})
        assert resp.json()["model"] == name


def test_a_missing_model_is_a_400(mai: LiveMai) -> None:
    resp = mai.generate({"prompt": "x"})
    assert resp.status_code == 400
    assert "'model'" in error_of(resp)["message"]


# -- success details: usage -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "tokens"), [((1024, 1024), 1024), ((768, 768), 576), ((1360, 768), 1020)]
)
def test_output_tokens_are_pixels_over_1024(
    mai: LiveMai, size: tuple[int, int], tokens: int
) -> None:
    resp = mai.generate(_body(width=size[0], height=size[1]))
    usage = resp.json()["usage"]
    assert usage["num_output_tokens"] == tokens
    assert usage["num_input_image_tokens"] == 0


def test_text_tokens_are_about_1_3_per_word(mai: LiveMai) -> None:
    # 10 words x 1.3 = 13
    resp = mai.generate(_body(prompt="one two three four five six seven eight nine ten"))
    assert resp.json()["usage"]["num_input_text_tokens"] == 13
    # 6 words x 1.3 = 7.8 -> 8
    resp = mai.generate(_body(prompt="a red fox in the snow"))
    assert resp.json()["usage"]["num_input_text_tokens"] == 8


def test_edits_report_image_input_tokens(mai: LiveMai) -> None:
    resp = mai.edit({"model": "MAI-Image-2.5", "prompt": "blue"}, [png_part(96, 96)])
    # ceil(96*96/1024) = 9
    assert resp.json()["usage"]["num_input_image_tokens"] == 9


def test_usage_shape_switches(mai: LiveMai) -> None:
    mai.state.config.usage_shape = "none"
    body = mai.generate(_body()).json()
    assert "usage" not in body and "num_output_tokens" not in body
    mai.state.config.usage_shape = "legacy"
    body = mai.generate(_body()).json()
    assert "usage" not in body and body["num_output_tokens"] == 1024
    mai.state.config.usage_shape = "usage"
    mai.state.config.echo_output_image_tokens = True
    usage = mai.generate(_body()).json()["usage"]
    assert usage["output_image_tokens"] == usage["num_output_tokens"] == 1024
