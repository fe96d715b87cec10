"""Auth and key management over real HTTP, against real Postgres."""

from __future__ import annotations

import httpx
import pytest
from openrouter import OpenRouter
from openrouter import errors as or_errors

from tests.conftest import MASTER_KEY
from tests.servers import ServerThread


def _admin(server: ServerThread) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {MASTER_KEY}"}, timeout=10
    )


def _assert_error(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["error"]["code"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer"},
        {"authorization": "Basic abc"},
        {"authorization": "Bearer sk-ig-v1-nope"},
    ],
)
def test_generation_needs_a_valid_key(base_gateway: ServerThread, headers: dict[str, str]) -> None:
    resp = httpx.post(
        f"{base_gateway.url}/api/v1/images", json={"model": "x/y", "prompt": "p"}, headers=headers
    )
    _assert_error(resp, 401)


def test_key_lifecycle_over_http(base_gateway: ServerThread) -> None:
    with _admin(base_gateway) as admin:
        created = admin.post("/api/v1/keys", json={"name": "ci", "limit": 1.5})
        assert created.status_code == 201, created.text
        raw = created.json()["key"]
        data = created.json()["data"]
        assert raw.startswith("sk-ig-v1-") and data["limit"] == 1.5 and data["usage"] == 0
        key_id = data["hash"]

        me = httpx.get(f"{base_gateway.url}/api/v1/key", headers={"authorization": f"Bearer {raw}"})
        assert me.status_code == 200 and me.json()["data"]["limit"] == 1.5
        # a normal key cannot manage keys
        _assert_error(
            httpx.get(
                f"{base_gateway.url}/api/v1/keys", headers={"authorization": f"Bearer {raw}"}
            ),
            403,
        )

        assert any(k["hash"] == key_id for k in admin.get("/api/v1/keys").json()["data"])
        patched = admin.patch(f"/api/v1/keys/{key_id}", json={"disabled": True, "limit": None})
        assert (
            patched.json()["data"]["disabled"] is True and patched.json()["data"]["limit"] is None
        )
        body = _assert_error(
            httpx.get(f"{base_gateway.url}/api/v1/key", headers={"authorization": f"Bearer {raw}"}),
            401,
        )
        assert "disabled" in str(body["error"]["message"])

        assert admin.delete(f"/api/v1/keys/{key_id}").json() == {"deleted": True}
        _assert_error(admin.get(f"/api/v1/keys/{key_id}"), 404)
        _assert_error(admin.delete(f"/api/v1/keys/{key_id}"), 404)


def test_keys_are_stored_hashed(base_gateway: ServerThread, database_url: str) -> None:
    import asyncio

    import asyncpg

    with _admin(base_gateway) as admin:
        raw = admin.post("/api/v1/keys", json={"name": "hash-check"}).json()["key"]

    async def rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return list(await conn.fetch("SELECT key_hash, prefix FROM api_keys"))
        finally:
            await conn.close()

    stored = asyncio.run(rows())
    assert stored, "no keys stored"
    for row in stored:
        assert raw not in row["key_hash"] and raw not in row["prefix"]
        assert len(row["prefix"]) < 20
    import hashlib

    assert hashlib.sha256(raw.encode()).hexdigest() in {r["key_hash"] for r in stored}


def test_openrouter_sdk_manages_keys(base_gateway: ServerThread) -> None:
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{base_gateway.url}/api/v1") as client:
        created = client.api_keys.create(name="sdk-made", limit=2.0)
        assert created.key.startswith("sk-ig-v1-")
        got = client.api_keys.get(hash=created.data.hash)
        assert got.data.name == "sdk-made" and got.data.limit == 2.0
        listed = client.api_keys.list()
        assert created.data.hash in {k.hash for k in listed.data}
        updated = client.api_keys.update(hash=created.data.hash, name="renamed")
        assert updated.data.name == "renamed"
        client.api_keys.delete(hash=created.data.hash)
        with pytest.raises(or_errors.OpenRouterError):
            client.api_keys.get(hash=created.data.hash)
    with OpenRouter(api_key=created.key, server_url=f"{base_gateway.url}/api/v1") as gone:
        with pytest.raises(or_errors.OpenRouterError) as info:
            gone.api_keys.get_current_key_metadata()
        assert info.value.status_code == 401


def test_sdk_reads_current_key(base_gateway: ServerThread) -> None:
    with _admin(base_gateway) as admin:
        raw = admin.post("/api/v1/keys", json={"name": "me", "limit": 5}).json()["key"]
    with OpenRouter(api_key=raw, server_url=f"{base_gateway.url}/api/v1") as client:
        me = client.api_keys.get_current_key_metadata()
        assert me.data.limit == 5.0 and me.data.usage == 0.0 and me.data.limit_remaining == 5.0


def test_master_key_cannot_be_guessed_by_prefix(base_gateway: ServerThread) -> None:
    resp = httpx.get(
        f"{base_gateway.url}/api/v1/keys", headers={"authorization": f"Bearer {MASTER_KEY[:-1]}"}
    )
    _assert_error(resp, 401)
