"""Every error is rendered in OpenRouter's shape, with a message naming the problem."""

from __future__ import annotations

import httpx
import pytest

from app.config import ProviderSettings
from app.main import create_app
from tests.conftest import MASTER_KEY, make_settings
from tests.servers import ServerThread

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def _error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["code"] == status
    assert "Traceback" not in resp.text
    message: str = body["error"]["message"]
    return message


def test_malformed_json_is_400(base_gateway: ServerThread) -> None:
    resp = httpx.post(
        f"{base_gateway.url}/api/v1/images",
        content=b'{"model": "openai/gpt-image-1.5", "prompt": ',
        headers={**AUTH, "content-type": "application/json"},
    )
    assert "JSON" in _error(resp, 400)


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (b"", "application/json", "Missing request body"),
        (b"[1]", "application/json", "must be a JSON object"),
        (b"null", "application/json", "must be a JSON object"),
        # curl -d without -H 'Content-Type: application/json'
        (b'{"prompt": "p"}', "application/x-www-form-urlencoded", "Content-Type: application/json"),
        (b'{"prompt": "p"}', None, "Content-Type: application/json"),
        (b'{"prompt": "\xff"}', "application/json", "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "nested too deeply"),
        (b'{"prompt": ', "application/json", "at character 11"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/images", "/api/v1/keys"])
def test_a_body_that_is_not_a_json_object_says_why(
    base_gateway: ServerThread,
    path: str,
    content: bytes,
    content_type: str | None,
    expected: str,
) -> None:
    headers = {**AUTH, **({"content-type": content_type} if content_type else {})}
    resp = httpx.post(f"{base_gateway.url}{path}", content=content, headers=headers)
    message = _error(resp, 400)
    assert expected in message
    assert "None" not in message and "error parsing" not in message


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "p"}, "model"),
        ({"model": "openai/gpt-image-1.5"}, "prompt"),
        ({"model": "openai/gpt-image-1.5", "prompt": "p", "n": "2"}, "n"),
        ({"model": "openai/gpt-image-1.5", "prompt": "p", "n": 11}, "n"),
        ({"model": "openai/gpt-image-1.5", "prompt": "p", "stream": "yes"}, "stream"),
        (
            {"model": "openai/gpt-image-1.5", "prompt": "p", "output_compression": 101},
            "output_compression",
        ),
        ({"model": 5, "prompt": "p"}, "model"),
    ],
)
def test_wrong_types_name_the_field(
    base_gateway: ServerThread, body: dict[str, object], param: str
) -> None:
    resp = httpx.post(f"{base_gateway.url}/api/v1/images", json=body, headers=AUTH)
    assert param in _error(resp, 400)
    assert resp.json()["error"]["metadata"]["param"] == param


def test_unknown_model_is_404(base_gateway: ServerThread) -> None:
    resp = httpx.post(
        f"{base_gateway.url}/api/v1/images",
        json={"model": "nobody/nothing", "prompt": "p"},
        headers=AUTH,
    )
    assert "nobody/nothing" in _error(resp, 404)
    assert resp.headers["x-generation-id"].startswith("gen-img-")


def test_unknown_route_is_404_in_shape(base_gateway: ServerThread) -> None:
    _error(httpx.get(f"{base_gateway.url}/api/v1/nope"), 404)


def test_wrong_method_is_405_in_shape(base_gateway: ServerThread) -> None:
    _error(httpx.get(f"{base_gateway.url}/api/v1/images"), 405)


def test_oversize_body_is_413(database_url: str, redis_url: str) -> None:
    app = create_app(make_settings(database_url, redis_url, max_body_bytes=1000))
    with ServerThread(app) as server:
        big = {"model": "openai/gpt-image-1.5", "prompt": "x" * 5000}
        assert "limit" in _error(
            httpx.post(f"{server.url}/api/v1/images", json=big, headers=AUTH), 413
        )

        def chunks() -> object:
            yield b'{"model": "openai/gpt-image-1.5", "prompt": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        # no Content-Length: the limit is enforced while reading
        resp = httpx.post(
            f"{server.url}/api/v1/images",
            content=chunks(),
            headers={**AUTH, "content-type": "application/json"},
        )  # type: ignore[arg-type]
        _error(resp, 413)


def test_no_endpoint_available_is_a_404_not_a_retried_5xx(base_gateway: ServerThread) -> None:
    # the base gateway has no provider credentials at all: deterministic, so 4xx (a 5xx would
    # make the official SDKs retry for up to an hour)
    resp = httpx.post(
        f"{base_gateway.url}/api/v1/images",
        json={"model": "openai/gpt-image-1.5", "prompt": "p"},
        headers=AUTH,
    )
    message = _error(resp, 404)
    assert "No endpoint can serve" in message and "OpenAI: no credentials configured" in message
    assert resp.json()["error"]["metadata"]["param"] == "model"


def test_provider_preferences_that_exclude_everything_are_a_404(
    sim_gateway: ServerThread,
) -> None:
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json={"model": "openai/gpt-image-1.5", "prompt": "p", "provider": {"ignore": ["openai"]}},
        headers=AUTH,
    )
    assert "OpenAI: excluded by the provider preferences" in _error(resp, 404)
    assert resp.json()["error"]["metadata"]["param"] == "provider"


def test_provider_keys_never_reach_clients(database_url: str, redis_url: str) -> None:
    secret = "sk-live-supersecret-value-123"
    providers = ProviderSettings(
        OPENAI_API_KEY=secret, IMAGEGATE_OPENAI_BASE_URL="http://127.0.0.1:9/v1"
    )  # type: ignore[call-arg]
    app = create_app(make_settings(database_url, redis_url, providers=providers, keepalive_s=0))
    with ServerThread(app) as server:
        resp = httpx.post(
            f"{server.url}/api/v1/images",
            json={"model": "openai/gpt-image-1.5", "prompt": "p"},
            headers=AUTH,
            timeout=30,
        )
        assert resp.status_code in (502, 503, 524), resp.text
        assert secret not in resp.text
        assert "Traceback" not in resp.text
