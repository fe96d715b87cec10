"""create_app(): the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Receive, Scope, Send

from app import gctune, malloc
from app.api import (
    activity,
    chat,
    generations,
    health,
    images,
    keys,
    model_list,
    models,
    openai_images,
    quote,
)
from app.api.fast import FastDoors
from app.api.web import install_web
from app.billing.ledger import LedgerWriter
from app.billing.spool import Spool, spool_directory
from app.catalog import load_catalog
from app.config import Settings, get_settings
from app.db import keys as key_repo
from app.db.engine import make_engine, make_sessionmaker
from app.errors import CatchAll, install_error_handlers
from app.generation.adapters import AdapterRegistry
from app.middleware import RequestGuard
from app.openapi import install_openapi
from app.ratelimit import Limiter, MemoryLimiter, RedisLimiter, ResilientLimiter
from app.request_log import RequestLog
from app.state import AppState
from providers._h1 import H1Transport
from providers._lean import LeanClient, environment_proxies

log = logging.getLogger("imagegate")


async def bootstrap_admin_key(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """With no master key, make sure one admin key exists; print it once when created."""
    if settings.master_key is not None:
        return
    async with sessionmaker() as session, session.begin():
        if await key_repo.admin_key_exists(session):
            return
        _, raw = await key_repo.create_key(
            session, name="admin (created on first start)", is_admin=True
        )
    banner = (
        "\n  imagegate created an admin API key (shown once, stored only as a hash):\n"
        f"\n      {raw}\n\n"
        "  Use it as 'Authorization: Bearer <key>'. Create more with 'imagegate keys create'.\n"
    )
    print(banner, file=sys.stderr, flush=True)


class _RefuseAll(DefaultCookiePolicy):
    def set_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing: no response can make a client remember state.

    (A ``CookieJar``, not ``httpx.Cookies``: the client copies the latter into a default jar.)
    """
    return CookieJar(policy=_RefuseAll())


def _http_client() -> httpx.AsyncClient:
    # One shared client: pooled connections to each provider. Per-call timeouts are set by
    # the adapters (image generation reads can take minutes). httpx's API on the gateway's own
    # HTTP/1.1 pool: see providers/_h1.py for why.
    return LeanClient(
        timeout=httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=30.0),
        transport=H1Transport(limit=512),
        mounts=environment_proxies(),  # HTTPS_PROXY and friends, as httpx reads them
        follow_redirects=False,
        headers={"user-agent": "imagegate/0.1"},
        cookies=no_cookies(),
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    catalog = load_catalog(overrides=settings.catalog_file)
    if settings.is_sqlite:
        # The embedded default migrates itself; Postgres is migrated by `imagegate migrate`.
        # Alembic (~10 MB resident) is imported only here, not by production workers.
        from app.db.migrate import upgrade

        await asyncio.to_thread(upgrade, settings.database_url)
    engine = make_engine(settings.database_url, serving=True)
    redis = (
        Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=0.5,
            socket_timeout=1.0,
            health_check_interval=1,
        )
        if settings.redis_url
        else None
    )
    redis_limiter = RedisLimiter(redis) if redis else None
    limiter: Limiter = ResilientLimiter(redis_limiter) if redis_limiter else MemoryLimiter()
    http = _http_client()
    refs_http = httpx.AsyncClient(follow_redirects=False, cookies=no_cookies())
    sim_server = None
    sim_base = None
    if app.state.simulate:
        from simulator.server import start_in_process

        sim_server, sim_base = await start_in_process()
    money_lock = asyncio.Lock()
    sessionmaker = make_sessionmaker(engine)
    spool = Spool(spool_directory(settings.spool_dir, settings.database_url))
    ledger = LedgerWriter(sessionmaker, money_lock, spool)
    ledger.start()
    state = AppState(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        ledger=ledger,
        money_lock=money_lock,
        reference_slots=asyncio.Semaphore(settings.reference_fetch_slots),
        http=http,
        refs_http=refs_http,
        redis=redis,
        limiter=limiter,
        catalog=catalog,
        adapters=AdapterRegistry(
            http,
            settings.providers,
            sim_base=sim_base,
            timeout=httpx.Timeout(
                connect=10.0, read=settings.upstream_timeout_s, write=60.0, pool=10.0
            ),
        ),
    )
    app.state.ig = state
    await bootstrap_admin_key(settings, state.sessionmaker)
    trimmer = asyncio.create_task(malloc.trim_when_idle(), name="malloc-trim")
    gctune.settle()
    try:
        yield
    finally:
        gctune.release()
        trimmer.cancel()
        await state.drain()
        if sim_server is not None:
            await sim_server.stop()
        await http.aclose()
        await refs_http.aclose()
        if redis_limiter is not None:
            await redis_limiter.close()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


class Gateway(FastAPI):
    """FastAPI, with HTTP requests handed straight to its middleware stack.

    On every request FastAPI's own ``__call__`` asks OpenTelemetry's three global providers
    whether its native telemetry is configured, then Starlette's looks the stack up: about
    45 µs of a tiny generation's gateway time at concurrency 1 on the benchmark machine (see
    bench/RESULTS.md). With telemetry off those two calls do nothing else, so a request goes
    straight to the very stack they end in (the error middleware and everything under it).
    Whether telemetry is configured is asked at most once a second; while it is, every request
    takes FastAPI's own path, spans and all.
    """

    TELEMETRY_RECHECK_S = 1.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._telemetry_on = False
        self._telemetry_recheck = float("-inf")

    def _native_telemetry_on(self) -> bool:
        now = time.monotonic()
        if now >= self._telemetry_recheck:
            native = getattr(self, "_native_telemetry", None)
            self._telemetry_on = native is None or bool(native.enabled())
            self._telemetry_recheck = now + self.TELEMETRY_RECHECK_S
        return self._telemetry_on

    def takes_short_path(self, scope: Scope) -> bool:
        """Whether this request goes straight to the middleware stack (built by the first
        request FastAPI's path took: the lifespan's)."""
        return (
            self.middleware_stack is not None
            and scope["type"] == "http"
            and not self._native_telemetry_on()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.takes_short_path(scope):
            if self.root_path:
                scope["root_path"] = self.root_path
            scope["app"] = self
            assert self.middleware_stack is not None
            await self.middleware_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, *, simulate: bool | None = None) -> FastAPI:
    """Build the gateway. ``simulate`` routes every provider to the in-process simulators."""
    malloc.tune()  # once per process: here, since each worker process builds its own app
    settings = settings or get_settings()
    app = Gateway(
        title="imagegate",
        version="0.1.0",
        lifespan=_lifespan,
        # /docs and /redoc are served from vendored assets by install_web (FastAPI's own load a CDN)
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.simulate = settings.simulate if simulate is None else simulate
    install_error_handlers(app)
    install_openapi(app)
    routers = (
        health.router,
        keys.router,
        models.router,
        model_list.router,
        quote.router,
        images.router,
        chat.router,
        openai_images.router,
        generations.router,
        activity.router,
    )
    for router in routers:
        app.include_router(router)
    install_web(app)
    app.add_middleware(FastDoors)  # innermost: the JSON generation doors' short path
    app.add_middleware(CatchAll)
    app.add_middleware(
        RequestGuard,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        large_bytes=settings.large_body_bytes,
        large_slots=settings.large_body_slots,
        wait_s=settings.provider_wait_s,
    )
    app.add_middleware(RequestLog)  # outermost: it sees every answer, 413s included
    return app
