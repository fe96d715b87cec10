"""``imagegate``: serve | migrate | keys … | models | simulate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

import uvicorn
from pydantic import ValidationError

from app.config import Settings, get_settings
from app.logs import logging_config


class _Server(uvicorn.Server):
    """uvicorn on a socket bound by the CLI; says where it listens, as uvicorn would."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and sockets:
            host, port = sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            logging.getLogger("uvicorn.error").info(
                "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, port
            )


def _workers_refusal(workers: int, settings: Settings) -> str | None:
    """Why ``--workers`` cannot be used with these settings, or None."""
    if workers < 1:
        return "--workers must be at least 1"
    if workers > 1 and settings.is_sqlite:
        return (
            f"--workers {workers} needs Postgres (IMAGEGATE_DATABASE_URL) and Redis "
            "(IMAGEGATE_REDIS_URL): on the embedded default one process owns the SQLite "
            "database, the credit lock and the rate limits, so it runs as one process"
        )
    if workers > 1 and not settings.redis_url:
        return (
            f"--workers {workers} needs Redis (IMAGEGATE_REDIS_URL): without it rate and "
            "concurrency limits are kept per process, and N processes would allow N times "
            "the configured limits"
        )
    return None


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Checks first (port, catalog, spool, database), each failing in one line; then uvicorn."""
    from app.startup import listen_socket

    refusal = _workers_refusal(args.workers, settings)
    if refusal is not None:
        print(f"imagegate: {refusal}", file=sys.stderr)
        return 2
    host, port = args.host or settings.host, args.port or settings.port
    sock = listen_socket(host, port)  # before the imports and checks that take a second
    log_config = logging_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(log_config)
    from app.main import create_app
    from app.startup import check_catalog, check_schema, check_spool, migrate

    if args.simulate:
        settings = settings.model_copy(update={"simulate": True})
    check_catalog(settings.catalog_file, settings.providers.azure_mai_deployments)
    check_spool(settings.spool_dir, settings.database_url)
    log = logging.getLogger("imagegate")
    if settings.simulate:
        log.info("simulate mode: every provider is the built-in simulator; no provider is called")
    if settings.is_sqlite or settings.migrate_on_start:
        log.info("%s", migrate(settings.database_url))
    else:
        warning = check_schema(settings.database_url)
        if warning:
            log.warning("%s", warning)
    from app.server import server_options

    if args.workers > 1:
        return _serve_workers(args, settings, sock)
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_config=log_config,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        access_log=False,  # the imagegate.request line is the access log
        **server_options(),
    )
    _Server(config).run(sockets=[sock])
    return 0


def _serve_workers(args: argparse.Namespace, settings: Settings, sock: socket.socket) -> int:
    """N uvicorn worker processes, each building its app from the environment; the admin key
    (when no master key is set) is made here once rather than raced by every worker. This
    process, which imported the gateway for the checks, then becomes the lean supervisor."""
    from app.supervise import exec_supervisor

    sock.close()  # the port was free; uvicorn's supervisor binds it for its workers
    if args.simulate:
        os.environ["IMAGEGATE_SIMULATE"] = "true"
    asyncio.run(_bootstrap(settings))
    exec_supervisor(
        {
            "workers": args.workers,
            "host": args.host or settings.host,
            "port": args.port or settings.port,
            "log_level": settings.log_level,
            "log_format": settings.log_format,
        }
    )


async def _bootstrap(settings: Settings) -> None:
    from app.db.engine import make_engine, make_sessionmaker
    from app.main import bootstrap_admin_key

    engine = make_engine(settings.database_url)
    try:
        await bootstrap_admin_key(settings, make_sessionmaker(engine))
    finally:
        await engine.dispose()


def _migrate(_: argparse.Namespace, settings: Settings) -> int:
    from app.startup import migrate

    print(migrate(settings.database_url), file=sys.stderr)
    return 0


def _decimal(text: str) -> Decimal:
    """A credit limit within the column's bounds, as the API takes it (:mod:`app.db.keys`)."""
    from app.db.keys import MAX_LIMIT, USD_STEP

    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not value.is_finite() or value < 0 or value > MAX_LIMIT:
        raise argparse.ArgumentTypeError(
            f"the limit must be a number of USD between 0 and {MAX_LIMIT}"
        )
    return value.quantize(USD_STEP)  # as stored (and as the API rounds it)


def _name(text: str) -> str:
    """A key name as the API takes it: 1 to 200 characters of UTF-8 (argv holds no NUL)."""
    from app.db.keys import NAME_MAX_CHARS

    if not text:
        raise argparse.ArgumentTypeError("the name must not be empty")
    if len(text) > NAME_MAX_CHARS:
        raise argparse.ArgumentTypeError(f"the name is longer than {NAME_MAX_CHARS} characters")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError("the name is not valid UTF-8") from None
    return text


async def _keys(args: argparse.Namespace, settings: Settings) -> int:
    from app.db import keys as repo
    from app.db.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            if args.keys_cmd == "create":
                row, raw = await repo.create_key(
                    session, name=args.name, limit_usd=args.limit, is_admin=args.admin
                )
                print(raw)
                print(f"id={row.id} name={row.name} limit={row.limit_usd}", file=sys.stderr)
            elif args.keys_cmd == "list":
                print(f"{'ID':32}  {'PREFIX':16}  {'NAME':24}  {'USAGE':>12}  {'LIMIT':>10}  STATE")
                for r in await repo.list_keys(session):
                    state = "disabled" if r.disabled else ("admin" if r.is_admin else "active")
                    limit = "-" if r.limit_usd is None else f"{r.limit_usd:.2f}"
                    name, usage, shown = r.name[:24], f"{r.usage_usd:.6f}", r.prefix + "…"
                    print(f"{r.id:32}  {shown:16}  {name:24}  {usage:>12}  {limit:>10}  {state}")
            elif args.keys_cmd == "revoke":
                found = await repo.get_key(session, args.id)
                if found is None:
                    print(f"no key with id {args.id}", file=sys.stderr)
                    return 1
                found.disabled = True
                print(f"revoked {found.id} ({found.name})")
    finally:
        await engine.dispose()
    return 0


def _models(_: argparse.Namespace, settings: Settings) -> int:
    from app.catalog import load_catalog

    catalog = load_catalog(overrides=settings.catalog_file)
    for model in catalog.models():
        providers = ", ".join(e.provider_slug for e in model.endpoints)
        print(f"{model.id:48} {providers}")
    return 0


def _simulate(args: argparse.Namespace, _: Settings) -> int:
    from app.startup import listen_socket
    from simulator import create_combined_app
    from simulator.knobs import Knobs

    sock = listen_socket(args.host, args.port)
    knobs = {"openai": Knobs(fixed_image=args.fixed_image)} if args.fixed_image else None
    print(
        f"simulators on http://{args.host}:{args.port}/<provider>/v1 (e.g. /openai/v1)",
        file=sys.stderr,
    )
    config = uvicorn.Config(
        create_combined_app(knobs), host=args.host, port=args.port, log_level="warning"
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagegate", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--simulate", action="store_true", help="route providers to in-process simulators"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (Postgres and Redis only; the embedded default runs one)",
    )
    sub.add_parser("migrate", help="migrate the database to the latest schema")
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_cmd", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, type=_name)
    create.add_argument("--limit", type=_decimal, help="credit limit in USD")
    create.add_argument("--admin", action="store_true", help="may manage keys")
    keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys_sub.add_parser("revoke", help="disable a key")
    revoke.add_argument("id")
    sub.add_parser("models", help="list the catalog's models")
    sim = sub.add_parser("simulate", help="serve the provider simulators")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=9100)
    sim.add_argument(
        "--fixed-image",
        default="",
        help="OpenAI simulator: answer every generation with one pre-encoded image "
        "('tiny', 'noise' or a file path) instead of rendering (benchmarks)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a configuration or start-up problem is one line and exit status 1."""
    from app.startup import StartupError

    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ValidationError as exc:
        for error in exc.errors():
            print(f"imagegate: {_setting_error(error)}", file=sys.stderr)
    except StartupError as exc:
        print(f"imagegate: {exc}", file=sys.stderr)
    return 1


def _setting_error(error: Mapping[str, object]) -> str:
    """``IMAGEGATE_X: message``, without the value (it may hold a password)."""
    loc = error.get("loc")
    name = str(loc[0]) if isinstance(loc, tuple) and loc else "setting"
    variable = name if name.isupper() else f"IMAGEGATE_{name.upper()}"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{variable}: {message}"


def _dispatch(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.cmd == "serve":
        return _serve(args, settings)
    if args.cmd == "migrate":
        return _migrate(args, settings)
    if args.cmd == "keys":
        from app.startup import database_errors, migrate

        if settings.is_sqlite:
            migrate(settings.database_url)
        with database_errors(settings.database_url):
            return asyncio.run(_keys(args, settings))
    if args.cmd == "models":
        return _models(args, settings)
    return _simulate(args, settings)


if __name__ == "__main__":
    sys.exit(main())
