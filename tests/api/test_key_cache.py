"""Authenticated keys are remembered for a second; revocation stays prompt.

A change made through this gateway's API takes effect at once; a change made elsewhere (another
worker or gateway, ``imagegate keys revoke``, which write the database directly) takes effect
when the cached entry expires. The cache's clock is replaced here, so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from app.auth_cache import KEY_CACHE_TTL_S, KeyCache
from tests.conftest import MASTER_KEY
from tests.servers import ServerThread

ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(base_gateway: ServerThread) -> Iterator[FakeClock]:
    cache: KeyCache = base_gateway.server.config.app.state.ig.keys
    fake = FakeClock()
    cache.clock = fake
    yield fake
    cache.clock = time.monotonic


def _key(gateway: ServerThread) -> tuple[str, str]:
    created = httpx.post(f"{gateway.url}/api/v1/keys", json={"name": "cache"}, headers=ADMIN)
    assert created.status_code == 201, created.text
    return created.json()["key"], created.json()["data"]["hash"]


def _me(gateway: ServerThread, raw: str) -> int:
    resp = httpx.get(f"{gateway.url}/api/v1/key", headers={"authorization": f"Bearer {raw}"})
    return resp.status_code


def _disable_in_database(database_url: str, key_id: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute("UPDATE api_keys SET disabled = true WHERE id = $1", key_id)
        finally:
            await conn.close()

    asyncio.run(run())


def test_a_key_deleted_through_the_api_is_refused_at_once(
    base_gateway: ServerThread, clock: FakeClock
) -> None:
    raw, key_id = _key(base_gateway)
    assert _me(base_gateway, raw) == 200  # now cached
    deleted = httpx.delete(f"{base_gateway.url}/api/v1/keys/{key_id}", headers=ADMIN)
    assert deleted.status_code == 200
    assert _me(base_gateway, raw) == 401  # same clock instant: the entry was dropped


def test_a_key_revoked_elsewhere_is_refused_once_its_entry_expires(
    base_gateway: ServerThread, clock: FakeClock, database_url: str
) -> None:
    raw, key_id = _key(base_gateway)
    assert _me(base_gateway, raw) == 200
    _disable_in_database(database_url, key_id)  # as `imagegate keys revoke` does
    clock.now += KEY_CACHE_TTL_S / 2
    assert _me(base_gateway, raw) == 200  # still remembered: at most the TTL
    clock.now += KEY_CACHE_TTL_S
    assert _me(base_gateway, raw) == 401


def test_unknown_keys_are_never_cached(base_gateway: ServerThread, clock: FakeClock) -> None:
    cache: KeyCache = base_gateway.server.config.app.state.ig.keys
    before = len(cache._entries)
    assert _me(base_gateway, "sk-ig-v1-not-a-key") == 401
    assert len(cache._entries) == before


def test_the_cache_is_bounded() -> None:
    from app.auth import Principal

    cache = KeyCache(max_entries=3, clock=FakeClock())
    for i in range(5):
        cache.put(f"d{i}", Principal(key_id=f"k{i}", name="n", is_admin=False))
    assert cache.get("d0") is None and cache.get("d1") is None
    assert cache.get("d4") is not None and cache.get("d4").key_id == "k4"  # type: ignore[union-attr]


async def test_requests_that_find_a_key_expired_together_share_one_lookup(
    database_url: str,
) -> None:
    from types import SimpleNamespace

    from sqlalchemy import event

    from app.auth import resolve
    from app.db import keys as key_repo
    from app.db.engine import make_engine, make_sessionmaker

    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        row, raw = await key_repo.create_key(session, name="herd")
    lookups: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "api_keys" in statement and "key_hash" in statement:
            lookups.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    clock = FakeClock()
    state = SimpleNamespace(
        settings=SimpleNamespace(master_key=None), keys=KeyCache(clock=clock), sessionmaker=sessions
    )
    try:
        found = await asyncio.gather(*(resolve(state, raw) for _ in range(16)))  # type: ignore[arg-type]
        assert {p.key_id for p in found} == {row.id}
        assert len(lookups) == 1
        clock.now += KEY_CACHE_TTL_S  # expired: the next burst looks it up once more
        await asyncio.gather(*(resolve(state, raw) for _ in range(16)))  # type: ignore[arg-type]
        assert len(lookups) == 2
        assert not state.keys.lookups  # nothing left behind
    finally:
        await engine.dispose()


async def test_a_key_revoked_elsewhere_stays_refused_through_a_database_outage(
    database_url: str,
) -> None:
    """A cached key that the database then refuses (``imagegate keys revoke``, another
    replica) is forgotten: an outage within the grace period must not serve it again."""
    from types import SimpleNamespace

    from app.auth import resolve
    from app.db import keys as key_repo
    from app.db.engine import make_engine, make_sessionmaker
    from app.errors import GatewayError

    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        row, raw = await key_repo.create_key(session, name="revoked-then-outage")
    clock = FakeClock()
    state = SimpleNamespace(
        settings=SimpleNamespace(master_key=None), keys=KeyCache(clock=clock), sessionmaker=sessions
    )

    def unreachable() -> object:
        raise ConnectionRefusedError("database down")

    try:
        assert (await resolve(state, raw)).key_id == row.id  # type: ignore[arg-type]
        async with sessions() as session, session.begin():
            found = await key_repo.get_key(session, row.id)
            assert found is not None
            found.disabled = True  # as `imagegate keys revoke` does
        clock.now += KEY_CACHE_TTL_S
        with pytest.raises(GatewayError) as refused:
            await resolve(state, raw)  # type: ignore[arg-type]
        assert refused.value.status == 401
        state.sessionmaker = unreachable  # the database goes away a moment later
        with pytest.raises(GatewayError) as during:
            await resolve(state, raw)  # type: ignore[arg-type]
        assert during.value.status == 503  # it cannot tell; it never serves the revoked key
    finally:
        await engine.dispose()
