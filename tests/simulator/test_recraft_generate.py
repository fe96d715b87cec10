"""Recraft simulator: routes, auth, sizes, n, prompts, URL and b64 answers, SVG, credits."""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest

from simulator import create_combined_app
from simulator.recraft_models import PRO_SIZES, V3_SIZES, V4_SIZES
from tests.servers import ServerThread
from tests.simulator.recraft_helpers import (
    API_KEY,
    AUTH,
    LiveRecraft,
    image,
    json_error,
    text_error,
)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveRecraft]:
    with LiveRecraft() as sim:
        yield sim


@pytest.fixture
def sim(live: LiveRecraft) -> LiveRecraft:
    return live.reset()


# --- auth and routes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {API_KEY}"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_bad_token_is_plain_text_401(sim: LiveRecraft, headers: dict[str, str]) -> None:
    resp = httpx.post(
        f"{sim.url}/v1/images/generations", json={"prompt": "x"}, headers=headers, timeout=10
    )
    text_error(resp, 401, "request unauthorized")
    assert httpx.get(f"{sim.url}/v1/users/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/images/nope"), ("GET", "/v2/images/generations"), ("POST", "/v1/chat")],
)
def test_unknown_path_is_go_404_text(sim: LiveRecraft, method: str, path: str) -> None:
    resp = sim.client.request(method, path, json={"prompt": "x"})
    text_error(resp, 404, "404 page not found")


def test_unknown_model_is_plain_text_404(sim: LiveRecraft) -> None:
    text_error(sim.generate(prompt="x", model="recraftv9"), 404, "404 page not found")


def test_wrong_method_is_405(sim: LiveRecraft) -> None:
    resp = sim.client.get("/v1/images/generations")
    assert resp.status_code == 405 and resp.text.strip() == "Method Not Allowed"


def test_users_me_models_ping_status(sim: LiveRecraft) -> None:
    before = sim.client.get("/v1/users/me").json()
    assert set(before) == {"id", "email", "name", "credits"}
    assert sim.generate(prompt="x", model="recraftv4").json()["credits"] == 40
    assert sim.client.get("/v1/users/me").json()["credits"] == before["credits"] - 40
    models = {m["id"]: m for m in sim.client.get("/v1/models").json()["data"]}
    assert models["recraftv4_pro_vector"]["pricing"] == {"image": "0.3"}
    assert sim.client.get("/ping").status_code == 200
    assert sim.client.get("/status").json() == {"service": True, "generation": True}


def test_mounted_result_urls_keep_the_mount_prefix() -> None:
    app = create_combined_app(api_keys={"recraft": API_KEY})
    with ServerThread(app, lifespan="off") as server:
        base = f"{server.url}/recraft"
        resp = httpx.post(
            f"{base}/v1/images/generations",
            json={"prompt": "x", "model": "recraftv4"},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        url = resp.json()["data"][0]["url"]
        assert url.startswith(f"{base}/img/")
        assert httpx.get(url).status_code == 200


# --- sizes, n, prompts ----------------------------------------------------------------------

FAMILIES = [("recraftv3", V3_SIZES), ("recraftv4_1", V4_SIZES), ("recraftv4_pro", PRO_SIZES)]


@pytest.mark.parametrize(("model", "table"), FAMILIES)
@pytest.mark.parametrize("aspect", ["1:1", "16:9", "2:3", "6:10"])
def test_each_family_has_its_own_size_table(
    sim: LiveRecraft, model: str, table: dict[str, str], aspect: str
) -> None:
    wxh = table[aspect]
    for size in (aspect, wxh):
        resp = sim.generate(prompt="size", model=model, size=size, response_format="b64_json")
        assert resp.status_code == 200, resp.text
        got = image(base64.b64decode(resp.json()["data"][0]["b64_json"]))
        assert f"{got.width}x{got.height}" == wxh


@pytest.mark.parametrize(
    ("model", "size"),
    [("recraftv4", "1820x1024"), ("recraftv3", "1344x768"), ("recraftv4_pro", "1024x1024"),
     ("recraftv4", "1707x1024"), ("recraftv4", "7:3"), ("recraftv4", 1024)],
)  # fmt: skip
def test_a_size_outside_the_models_table_is_refused(
    sim: LiveRecraft, model: str, size: object
) -> None:
    body = json_error(sim.generate(prompt="x", model=model, size=size), 400)
    assert body["code"] == "invalid_size" and model in body["message"]


def test_v3_has_1707x1024(sim: LiveRecraft) -> None:
    assert sim.generate(prompt="x", model="recraftv3", size="1707x1024").status_code == 200


def test_default_size_is_square(sim: LiveRecraft) -> None:
    resp = sim.generate(prompt="x", model="recraftv4_1_pro", response_format="b64_json")
    assert image(base64.b64decode(resp.json()["data"][0]["b64_json"])).size == (2048, 2048)


def test_n_up_to_six(sim: LiveRecraft) -> None:
    resp = sim.generate(prompt="six", model="recraftv4_1_flash", n=6)
    assert resp.status_code == 200 and len(resp.json()["data"]) == 6
    assert resp.json()["credits"] == 6 * 7
    for bad in (7, 0, "2", True):
        assert json_error(sim.generate(prompt="x", model="recraftv4", n=bad), 400)


def test_prompt_limit_per_model(sim: LiveRecraft) -> None:
    long = "a" * 1001
    body = json_error(sim.generate(prompt=long, model="recraftv3"), 400)
    assert body["code"] == "prompt_too_long"
    assert sim.generate(prompt=long, model="recraftv4").status_code == 200
    assert json_error(sim.generate(prompt="a" * 10_001, model="recraftv4"), 400)
    assert json_error(sim.generate(model="recraftv4"), 400)["code"] == "missing_parameter"


def test_default_model_is_v4_1(sim: LiveRecraft) -> None:
    assert sim.generate(prompt="x").json()["credits"] == 35


def test_body_must_be_a_json_object(sim: LiveRecraft) -> None:
    resp = sim.client.post(
        "/v1/images/generations", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert json_error(resp, 400)["code"] == "invalid_json"
    assert json_error(sim.post("/v1/images/generations", [1]), 400)["code"] == "invalid_json"


# --- answers: URLs, b64_json, formats, credits ------------------------------------------------


def test_url_answer_is_served_by_the_image_host(sim: LiveRecraft) -> None:
    resp = sim.generate(prompt="fox", model="recraftv4", size="16:9", n=2)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"created", "credits", "data"} and body["credits"] == 80
    for item in body["data"]:
        assert set(item) == {"image_id", "url"}
        assert uuid.UUID(item["image_id"]).version == 4
        assert item["url"].endswith(f"/img/{item['image_id']}.webp")
        got = httpx.get(item["url"])  # public: no key
        assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
        assert image(got.content).size == (1344, 768)
    downloads = [e for e in sim.state.log.entries if e["method"] == "GET"]
    assert len(downloads) == 2 and all("authorization" not in e["headers"] for e in downloads)


def test_the_image_host_refuses_a_request_carrying_a_key(sim: LiveRecraft) -> None:
    url = sim.generate(prompt="fox", model="recraftv4").json()["data"][0]["url"]
    for auth in (AUTH, {"Authorization": "Bearer something-else"}):
        text_error(httpx.get(url, headers=auth), 403, "forbidden: image URLs take no credentials")
    assert httpx.get(url).status_code == 200  # still there for a request without one
    statuses = [(e["status"], e["headers"].get("authorization")) for e in sim.state.log.entries]
    assert statuses[1:] == [(403, "Bearer <redacted>"), (403, "Bearer <redacted>"), (200, None)]


def test_image_format_png(sim: LiveRecraft) -> None:
    resp = sim.generate(prompt="x", model="recraftv4", image_format="png")
    url = resp.json()["data"][0]["url"]
    got = httpx.get(url)
    assert url.endswith(".png") and got.headers["content-type"] == "image/png"
    assert image(got.content).format == "PNG"


def test_b64_json_answer(sim: LiveRecraft) -> None:
    body = sim.generate(prompt="x", model="recraftv3", response_format="b64_json").json()
    (item,) = body["data"]
    assert set(item) == {"image_id", "b64_json"}
    assert image(base64.b64decode(item["b64_json"])).format == "WEBP"


@pytest.mark.parametrize(
    ("model", "units"),
    [("recraftv4_vector", 80), ("recraftv4_pro_vector", 300), ("recraftv3_vector", 80),
     ("recraftv4_1_vector", 80)],
)  # fmt: skip
def test_vector_models_answer_real_svg(sim: LiveRecraft, model: str, units: int) -> None:
    resp = sim.generate(prompt="a <b>&", model=model, size="3:2")
    assert resp.status_code == 200, resp.text
    assert resp.json()["credits"] == units
    url = resp.json()["data"][0]["url"]
    got = httpx.get(url)
    assert url.endswith(".svg") and got.headers["content-type"] == "image/svg+xml"
    markup = got.content.decode()
    assert "<svg" in markup and "&lt;b&gt;&amp;" in markup  # well-formed: prompt escaped
    root = ET.fromstring(got.content)  # noqa: S314 (our own simulator's output)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox", "").split()[2:] == [root.get("width"), root.get("height")]
    b64 = sim.generate(prompt="x", model=model, response_format="b64_json").json()
    assert base64.b64decode(b64["data"][0]["b64_json"]).startswith(b"<svg ")


def test_v3_vector_style_on_the_raster_id_answers_svg_at_the_vector_price(
    sim: LiveRecraft,
) -> None:
    body = sim.generate(prompt="x", model="recraftv3", style="vector_illustration", n=2).json()
    assert body["credits"] == 160 and body["data"][0]["url"].endswith(".svg")


def test_vector_and_raster_routes_constrain_the_output(sim: LiveRecraft) -> None:
    vec = sim.post("/v1/images/generations/vector", {"prompt": "x", "model": "recraftv4_vector"})
    assert vec.status_code == 200 and vec.json()["data"][0]["url"].endswith(".svg")
    bad = sim.post("/v1/images/generations/vector", {"prompt": "x", "model": "recraftv4"})
    assert json_error(bad, 400)["code"] == "invalid_model"
    ras = sim.post("/v1/images/generations/raster", {"prompt": "x", "model": "recraftv4"})
    assert ras.status_code == 200
    bad = sim.post("/v1/images/generations/raster", {"prompt": "x", "model": "recraftv3_vector"})
    assert json_error(bad, 400)["code"] == "invalid_model"


def test_random_seed_is_deterministic(sim: LiveRecraft) -> None:
    def first(seed: int) -> bytes:
        body = sim.generate(
            prompt="seeded", model="recraftv4", random_seed=seed, response_format="b64_json"
        ).json()
        return base64.b64decode(body["data"][0]["b64_json"])

    assert first(7) == first(7) != first(8)
    assert json_error(sim.generate(prompt="x", model="recraftv4", random_seed=2**32), 400)


def test_calculate_features_adds_nsfw_score(sim: LiveRecraft) -> None:
    body = sim.generate(prompt="x", model="recraftv4", calculate_features=True).json()
    assert "nsfw_score" in body["data"][0]["features"]


def test_style_references_create_a_style(sim: LiveRecraft) -> None:
    ref = "data:image/png;base64,iVBORw0KGgo="
    body = sim.generate(prompt="x", model="recraftv4_styles", style_reference_urls=[ref]).json()
    assert "style_id" in body
    (entry,) = sim.posts
    assert entry["body"]["style_reference_urls"][0]["data_url"] is True


def test_upscale_raises_the_pixel_count(sim: LiveRecraft) -> None:
    body = sim.generate(
        prompt="x", model="recraftv4", upscale="upscale4mp", response_format="b64_json"
    ).json()
    img = image(base64.b64decode(body["data"][0]["b64_json"]))
    assert abs(img.width * img.height - 4_000_000) < 10_000


def test_billing_query_parameter(sim: LiveRecraft) -> None:
    ok = sim.client.post("/v1/images/generations", params={"billing": "api"}, json={"prompt": "x"})
    assert ok.status_code == 200
    bad = sim.client.post(
        "/v1/images/generations", params={"billing": "free"}, json={"prompt": "x"}
    )
    assert json_error(bad, 400)
