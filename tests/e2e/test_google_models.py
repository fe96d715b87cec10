"""Every Google model in the catalog, end to end: official OpenRouter SDK → gateway → Gemini
simulator, at the requested aspect ratio and tier, with the cost computed here by hand.

The token counts are the simulator's (reference §3 table): the prompt "shape check" is 11
characters, 3 text tokens; image tokens per tier; 3.1 Flash reports 272 and Pro 99 output tokens
beyond the image (billed as text), Pro 167 thinking tokens (text), 2.5 an 8-token caption.
Prices are the catalog's, per million tokens, written out below.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter
from PIL import Image

from app.catalog import load_catalog
from app.config import ProviderSettings
from app.generation.adapters import simulator_base_url
from app.main import create_app
from tests.conftest import MASTER_KEY, SimServer, make_settings
from tests.e2e.helpers import decode, generation, png_data_url, post
from tests.servers import ServerThread

CATALOG = load_catalog()
GOOGLE_MODELS = sorted(
    m.id for m in CATALOG.models() if any(e.adapter == "google" for e in m.endpoints)
)
PROMPT = "shape check"  # 11 characters: 3 text tokens
MILLION = Decimal(1_000_000)

# $ per 1M tokens: (input text, input image, output text, output image), from models.toml
RATES: dict[str, tuple[str, str, str, str]] = {
    "google/gemini-3.1-flash-image": ("0.50", "0.50", "3", "60"),
    "google/gemini-3.1-flash-lite-image": ("0.25", "0.25", "1.50", "30"),
    "google/gemini-3-pro-image": ("2", "2", "12", "120"),
    "google/gemini-2.5-flash-image": ("0.30", "0.30", "2.50", "30"),
}

# model, request, expected (width, height, media type), tokens (text in, text out, image out)
SHAPES: list[tuple[str, dict[str, str], tuple[int, int, str], tuple[int, int, int]]] = [
    (
        "google/gemini-3.1-flash-image",
        {"aspect_ratio": "16:9", "resolution": "2K"},
        (2752, 1536, "image/jpeg"),
        (3, 272, 1680),
    ),
    (
        "google/gemini-3.1-flash-image",
        {"aspect_ratio": "1:4", "resolution": "512"},
        (256, 1024, "image/jpeg"),
        (3, 272, 747),
    ),
    (
        "google/gemini-3.1-flash-lite-image",
        {"aspect_ratio": "4:3", "resolution": "1K"},
        (1200, 896, "image/jpeg"),
        (3, 0, 1120),
    ),
    (
        "google/gemini-3-pro-image",
        {"aspect_ratio": "1:1", "resolution": "4K"},
        (4096, 4096, "image/jpeg"),
        (3, 99 + 167, 2000),
    ),
    (
        "google/gemini-3-pro-image",
        {"aspect_ratio": "21:9", "resolution": "2K"},
        (3168, 1344, "image/jpeg"),
        (3, 99 + 167, 1120),
    ),
    (
        "google/gemini-2.5-flash-image",
        {"aspect_ratio": "21:9"},
        (1536, 672, "image/png"),
        (3, 8, 1290),
    ),
]


def hand_cost(model: str, text_in: int, image_in: int, text_out: int, image_out: int) -> Decimal:
    rate_text_in, rate_image_in, rate_text_out, rate_image_out = (
        Decimal(r) / MILLION for r in RATES[model]
    )
    return (
        text_in * rate_text_in
        + image_in * rate_image_in
        + text_out * rate_text_out
        + image_out * rate_image_out
    )


def _generate(gateway: ServerThread, model: str, **params: Any) -> tuple[Any, str]:
    """The SDK's result and the generation id (from the response header, via an httpx hook)."""
    ids: list[str] = []

    def keep_id(response: httpx.Response) -> None:
        ids.append(response.headers["x-generation-id"])

    http = httpx.Client(timeout=60, event_hooks={"response": [keep_id]})
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{gateway.url}/api/v1", client=http) as sdk:
        result = sdk.images.generate(
            model=model,
            prompt=params.pop("prompt", PROMPT),
            provider={"only": ["google-ai-studio"], "allow_fallbacks": False},
            **params,
        )
    http.close()
    (gid,) = ids
    return result, gid


@pytest.fixture
def sims(simulators: SimServer) -> SimServer:
    simulators.reset()
    return simulators


def test_every_google_model_is_exercised() -> None:
    assert GOOGLE_MODELS == sorted(RATES) == sorted({s[0] for s in SHAPES})


@pytest.mark.parametrize(
    ("model", "request_params", "expected", "tokens"),
    SHAPES,
    ids=[f"{s[0].split('/')[1]}-{'-'.join(s[1].values())}" for s in SHAPES],
)
def test_model_generates_the_requested_shape_at_the_hand_computed_cost(
    sim_gateway: ServerThread,
    sims: SimServer,
    model: str,
    request_params: dict[str, str],
    expected: tuple[int, int, str],
    tokens: tuple[int, int, int],
) -> None:
    result, gid = _generate(sim_gateway, model, **request_params)
    (item,) = result.data
    image = decode(item.b64_json)
    width, height, media_type = expected
    assert image.size == (width, height)
    assert item.media_type == media_type
    assert image.get_format_mimetype() == media_type

    text_in, text_out, image_out = tokens
    expected_cost = hand_cost(model, text_in, 0, text_out, image_out)
    usage = result.usage
    assert usage is not None
    assert Decimal(str(usage.cost)) == expected_cost
    assert usage.prompt_tokens == text_in
    assert usage.completion_tokens == text_out + image_out

    (call,) = sims.sim("google").log.entries
    upstream = model.split("/", 1)[1]
    assert call["path"] == f"/google/v1beta/models/{upstream}:generateContent"
    image_config = call["body"]["generationConfig"]["imageConfig"]
    assert image_config.get("aspectRatio") == request_params["aspect_ratio"]
    assert image_config.get("imageSize") == request_params.get("resolution")

    row = generation(sim_gateway.url, gid)
    assert row["status"] == "succeeded" and row["provider_name"] == "Google AI Studio"
    assert Decimal(row["cost_usd"]) == expected_cost
    assert row["pixels"] == width * height
    assert row["upstream_id"] == call["request_id"]


def test_reference_image_tokens_are_billed_as_input_image(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    model = "google/gemini-3.1-flash-image"
    ref = {"type": "image_url", "image_url": {"url": png_data_url(160, 90, "green")}}
    result, gid = _generate(sim_gateway, model, input_references=[ref])
    image = decode(result.data[0].b64_json)
    assert image.size == (1376, 768)  # no aspect_ratio: Gemini follows the 16:9 reference
    expected = hand_cost(model, 3, 1120, 272, 1120)
    assert Decimal(str(result.usage.cost)) == expected
    assert Decimal(generation(sim_gateway.url, gid)["cost_usd"]) == expected
    (call,) = sims.sim("google").log.entries
    part = call["body"]["contents"][0]["parts"][1]
    assert part["inlineData"]["mimeType"] == "image/png"


def test_output_format_gemini_cannot_choose_is_converted_by_the_gateway(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    model = "google/gemini-3.1-flash-lite-image"
    result, gid = _generate(sim_gateway, model, aspect_ratio="1:1", output_format="webp")
    (item,) = result.data
    assert item.media_type == "image/webp"
    assert decode(item.b64_json).format == "WEBP"
    (call,) = sims.sim("google").log.entries
    assert "webp" not in str(call["body"])  # never sent upstream
    expected = hand_cost(model, 3, 0, 0, 1120)
    assert Decimal(str(result.usage.cost)) == expected
    assert Decimal(generation(sim_gateway.url, gid)["cost_usd"]) == expected


@pytest.fixture
def bad_key_gateway(
    simulators: SimServer, database_url: str, redis_url: str
) -> Iterator[ServerThread]:
    """A gateway whose GEMINI_API_KEY the (simulated) Gemini API rejects."""
    simulators.reset()
    providers = ProviderSettings(  # type: ignore[call-arg]
        GEMINI_API_KEY="AIzaSy-revoked-key-000000000000000000",
        IMAGEGATE_GOOGLE_BASE_URL=simulator_base_url(simulators.url, "google"),
    )
    settings = make_settings(database_url, redis_url, providers=providers)
    with ServerThread(create_app(settings)) as server:
        yield server


def test_a_rejected_gemini_key_is_a_provider_failure_not_the_callers_400(
    bad_key_gateway: ServerThread, simulators: SimServer
) -> None:
    """Google answers a bad key with HTTP 400 (API_KEY_INVALID); the caller gets a 502, as for
    any credential the provider rejects (AuthError, which falls back where another endpoint
    exists)."""
    body: dict[str, Any] = {
        "model": "google/gemini-3.1-flash-image",
        "prompt": PROMPT,
        "aspect_ratio": "1:1",
    }
    resp = post(bad_key_gateway.url, MASTER_KEY, body)
    assert resp.status_code == 502, resp.text
    error = resp.json()["error"]
    assert "API key not valid" in error["message"]
    assert error["metadata"]["provider_code"] == "API_KEY_INVALID"
    assert "revoked" not in resp.text
    (call,) = simulators.sim("google").log.entries
    assert call["status"] == 400
    row = generation(bad_key_gateway.url, resp.headers["x-generation-id"])
    assert row["status"] == "failed" and Decimal(row["cost_usd"]) == 0


def test_a_gif_reference_reaches_gemini_as_a_png_of_its_first_frame(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    """Gemini takes PNG, JPEG, WebP, HEIC and HEIF only: a GIF is its 400."""
    frames = [Image.new("RGB", (96, 96), color) for color in ("yellow", "purple")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    url = "data:image/gif;base64," + base64.b64encode(buf.getvalue()).decode()
    ref = {"type": "image_url", "image_url": {"url": url}}
    result, _ = _generate(sim_gateway, "google/gemini-3.1-flash-image", input_references=[ref])
    assert result.data[0].b64_json
    (call,) = sims.sim("google").log.entries
    blob = call["body"]["contents"][0]["parts"][1]["inlineData"]
    assert blob["mimeType"] == "image/png"  # which frame: tests/generation/test_references.py
