"""Checks ``imagegate serve`` and ``imagegate migrate`` run before the slow part of a start.

Each problem an operator can meet on the first start (port taken, database unreachable,
missing or not migrated, a bad catalog file) becomes a :class:`StartupError`: one sentence that
names the thing and the fix, printed by the CLI with a non-zero exit instead of a traceback.

Postgres is migrated by ``imagegate migrate`` (a deploy step: a Job, an init container, a
compose service), or by ``imagegate serve`` itself when ``IMAGEGATE_MIGRATE_ON_START`` is set;
both take a Postgres advisory lock (see ``app/migrations/env.py``), so replicas starting
together migrate once. The embedded SQLite default always migrates itself.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from app.db.urls import describe_database

CONNECT_TIMEOUT_S = 5.0
MIGRATE_HINT = "run `imagegate migrate` with the same IMAGEGATE_DATABASE_URL"


class StartupError(Exception):
    """A problem that stops a start; its message is one line meant for the operator."""


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` now, so a port in use is reported at once."""
    if not 0 < port < 65536:  # the kernel would take 70000 as 70000 % 65536
        raise StartupError(
            f"port {port} is not a TCP port (1..65535): pick another with --port or IMAGEGATE_PORT"
        )
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use (another imagegate?):"
                " stop it, or pick another port with --port or IMAGEGATE_PORT"
            ) from None
        if exc.errno == errno.EACCES:
            raise StartupError(
                f"not allowed to listen on {host}:{port} (ports below 1024 need privileges)"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def check_catalog(catalog_file: object, deployments: Mapping[str, str] | None = None) -> None:
    """Load the shipped catalog and the operator's overrides file; CatalogError → one line.
    ``deployments`` (IMAGEGATE_AZURE_MAI_DEPLOYMENTS) must rename deployments the catalog has:
    a misspelt name would otherwise be ignored until Azure answers 404."""
    from app.catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog(overrides=Path(str(catalog_file)) if catalog_file else None)
    except CatalogError as exc:
        raise StartupError(f"bad catalog: {exc}") from None
    if not deployments:
        return
    known = sorted(
        {
            endpoint.upstream_model
            for model in catalog
            for endpoint in model.endpoints
            if endpoint.adapter == "azure_mai" and endpoint.base_url is None
        }
    )
    unknown = sorted(set(deployments) - set(known))
    empty = sorted(name for name, value in deployments.items() if not value.strip())
    if unknown or empty:
        problem = (
            f"unknown deployment name(s) {', '.join(unknown)}" if unknown
            else f"an empty new name for {', '.join(empty)}"
        )  # fmt: skip
        raise StartupError(
            f"IMAGEGATE_AZURE_MAI_DEPLOYMENTS has {problem}; its keys are the catalog's "
            f"deployment names: {', '.join(known)}"
        )


def check_spool(spool_dir: Path, database_url: str) -> None:
    """The ledger spool must take rows the moment the database goes away: an unwritable
    ``IMAGEGATE_SPOOL_DIR`` (a read-only root filesystem, a volume owned by another user) stops
    the start in one line instead of failing later, with billed rows lost."""
    from app.billing.spool import probe, spool_directory

    try:
        probe(spool_directory(spool_dir, database_url))
    except OSError as exc:
        raise StartupError(
            f"cannot write the ledger spool directory {spool_dir} (IMAGEGATE_SPOOL_DIR):"
            f" {exc.strerror or exc}; point IMAGEGATE_SPOOL_DIR at a writable directory"
            " (in a container, a mounted volume)"
        ) from None


def _reason(exc: BaseException) -> str:
    """The root cause of a driver error, in a few words."""
    while exc.__cause__ is not None or getattr(exc, "orig", None) is not None:
        if isinstance(exc, TimeoutError):
            break  # its cause is the CancelledError of the wait it ended: not the reason
        exc = getattr(exc, "orig", None) or exc.__cause__  # type: ignore[assignment]
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is Postgres running and listening there?)"
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn the errors of reaching ``url`` into one-line :class:`StartupError`s."""
    from sqlalchemy.exc import DBAPIError

    where = describe_database(url)
    try:
        yield
    except StartupError:
        raise
    except (OSError, TimeoutError, DBAPIError) as exc:
        reason = _reason(exc)
        if "does not exist" in reason and "database" in reason:
            raise StartupError(
                f"{where}: {reason}: create it (e.g. `createdb`), then {MIGRATE_HINT}"
            ) from None
        if reason.startswith("relation ") and reason.endswith("does not exist"):
            # a command that needs the tables (`imagegate keys …`) before the first migration
            raise StartupError(f"{where} has no imagegate tables yet: {MIGRATE_HINT}") from None
        raise StartupError(f"cannot reach the database ({where}): {reason}") from None
    except Exception as exc:
        if type(exc).__module__.startswith("asyncpg"):
            raise StartupError(f"cannot use the database ({where}): {_reason(exc)}") from None
        raise


async def _revisions(url: str) -> tuple[str, ...]:
    """The schema revision(s) the database is at (empty: never migrated)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from app.db.urls import engine_options

    url, args = engine_options(url)
    if url.startswith("postgresql"):
        args.setdefault("timeout", CONNECT_TIMEOUT_S)  # the URL's connect_timeout wins
    engine = create_async_engine(url, poolclass=NullPool, connect_args=args)
    try:
        async with (
            asyncio.timeout(args.get("timeout", CONNECT_TIMEOUT_S) * 2),
            engine.connect() as conn,
        ):
            heads = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
            return tuple(heads)
    finally:
        await engine.dispose()


def check_schema(url: str) -> str | None:
    """Raise when Postgres at ``url`` is unreachable or behind this version's schema.

    Returns a warning when the database is at a revision this version does not know (a newer
    imagegate migrated it): expand-then-contract migrations keep older replicas working, so
    that is not a reason to refuse to start.
    """
    from alembic.script import ScriptDirectory

    from app.db.migrate import alembic_config

    with database_errors(url):
        current = asyncio.run(_revisions(url))
    where = describe_database(url)
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = tuple(script.get_heads())
    if not current:
        raise StartupError(
            f"{where} has no imagegate tables yet: {MIGRATE_HINT}"
            " (or set IMAGEGATE_MIGRATE_ON_START=true)"
        )
    if set(current) == set(heads):
        return None
    known = {rev.revision for rev in script.walk_revisions()}
    if not set(current) <= known:
        return (
            f"{where} is at schema revision {', '.join(current)}, which this version does not"
            " know (a newer imagegate migrated it); starting anyway"
        )
    raise StartupError(
        f"{where} is at schema revision {', '.join(current)}, this version needs"
        f" {', '.join(heads)}: {MIGRATE_HINT}"
    )


def migrate(url: str) -> str:
    """Migrate ``url`` to head (locked on Postgres), with one-line errors; say what changed."""
    from app.db.migrate import upgrade

    with database_errors(url):
        if url.startswith("sqlite"):
            _sqlite_directory(url)
        asyncio.run(_revisions(url))  # reachable, quickly, before Alembic starts
        before = upgrade(url)
        after = asyncio.run(_revisions(url))
    where = describe_database(url)
    if before == after:
        return f"{where} is at the latest schema ({', '.join(after)})"
    return f"migrated {where} from {', '.join(before) or 'empty'} to {', '.join(after)}"


def _sqlite_directory(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if not path or path == ":memory:":
        return
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(
            f"cannot create the directory of the SQLite file {path}: {exc.strerror}"
        ) from None
