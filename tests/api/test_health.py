from __future__ import annotations

import httpx

from app.main import create_app
from tests.conftest import make_settings
from tests.servers import ServerThread


def test_health_and_ready(base_gateway: ServerThread) -> None:
    assert httpx.get(f"{base_gateway.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{base_gateway.url}/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "limits": "ok"}


def test_ready_is_503_when_the_database_is_down(redis_url: str) -> None:
    dead = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    with ServerThread(create_app(make_settings(dead, redis_url))) as server:
        assert httpx.get(f"{server.url}/health").status_code == 200
        ready = httpx.get(f"{server.url}/ready", timeout=30)
        assert ready.status_code == 503 and ready.headers["retry-after"] == "5"
        assert ready.json()["checks"]["database"].startswith("error")


def test_ready_is_degraded_not_down_when_redis_is_down(database_url: str) -> None:
    with ServerThread(create_app(make_settings(database_url, "redis://127.0.0.1:1/0"))) as server:
        ready = httpx.get(f"{server.url}/ready", timeout=30)
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"].startswith("degraded")
