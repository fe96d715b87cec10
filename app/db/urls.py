"""Database URLs as people have them, turned into the one form the engine uses.

Hosting platforms hand out ``postgres://user:pw@host/db`` (Heroku, Render, Fly) or
``postgresql://…?sslmode=require`` (Neon, Supabase, RDS guides). imagegate talks to Postgres
through asyncpg only, so every Postgres form maps to ``postgresql+asyncpg://``. SQLite URLs keep
working as ``sqlite+aiosqlite://``. Anything else is refused in one sentence that never repeats
the password.

libpq's query options (what people paste from a provider's console) are not asyncpg's keyword
arguments, and SQLAlchemy hands the query to ``asyncpg.connect`` as keywords: each one is either
translated or refused here, by name, never left to fail as a ``TypeError`` on the first
connection. ``sslmode`` becomes asyncpg's ``ssl`` (same values); :func:`engine_options` turns
the others into what asyncpg takes when the engine is made: ``connect_timeout`` its
``timeout``, ``application_name`` a server setting, and the certificate files (``sslrootcert``,
``sslcert``, ``sslkey``, …) a query-only DSN, which asyncpg reads with libpq's meaning.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+asyncpg"})
SQLITE_SCHEMES = frozenset({"sqlite", "sqlite+aiosqlite"})
EXAMPLES = "postgres://user:password@host:5432/db or sqlite:///path/to/imagegate.db"


class DatabaseUrlError(ValueError):
    """A URL imagegate cannot use; the message is one line and names no password."""


def normalize_database_url(raw: str) -> str:
    """The SQLAlchemy URL for ``raw``, or :class:`DatabaseUrlError`."""
    text = raw.strip()
    if "://" not in text:
        raise DatabaseUrlError(f"not a database URL (expected {EXAMPLES})")
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    if scheme in SQLITE_SCHEMES:
        return _sqlite_file(rest)
    if scheme not in POSTGRES_SCHEMES:
        hint = (
            "imagegate uses the asyncpg driver: write postgresql://…"
            if scheme.startswith("postgres")
            else f"imagegate runs on Postgres or SQLite: {EXAMPLES}"
        )
        raise DatabaseUrlError(f"unsupported database URL scheme {scheme + '://'!r}; {hint}")
    try:
        url = make_url(f"postgresql+asyncpg://{rest}")
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(
            "cannot parse the database URL (is the port a number? special characters in the"
            " password must be percent-encoded, e.g. @ as %40)"
        ) from None
    if url.host and "@" in url.host:  # user:p@ss@host: the host would show the password's end
        raise DatabaseUrlError(
            "the database URL has an @ after its password: special characters in the password"
            " must be percent-encoded, e.g. @ as %40"
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise DatabaseUrlError(f"the database URL's port {url.port} is not within 1..65535")
    if not url.database:
        raise DatabaseUrlError(f"the database URL names no database (expected {EXAMPLES})")
    return _asyncpg_query(url).render_as_string(hide_password=False)


def _sqlite_file(rest: str) -> str:
    """A SQLite URL that names a file: an in-memory database (no path, ``:memory:``, or
    ``sqlite://name.db``, whose name SQLAlchemy reads as a host) would be a new, empty one on
    every connection, without the tables the migration made on another."""
    try:
        url = make_url(f"sqlite+aiosqlite://{rest}")
    except (ArgumentError, ValueError):
        raise DatabaseUrlError(f"cannot parse the database URL (expected {EXAMPLES})") from None
    if url.host or not url.database or url.database == ":memory:" or "memory" in url.query.values():
        raise DatabaseUrlError(
            f"a SQLite URL must name a file, with three slashes (expected {EXAMPLES});"
            " an in-memory database is not kept between connections"
        )
    return f"sqlite+aiosqlite://{rest}"


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq options asyncpg reads from a DSN with libpq's meaning (passed as ``dsn``, see below)
SSL_FILES = frozenset(
    {
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "sslpassword",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
    }
)
# asyncpg.connect keywords (or SQLAlchemy dialect options) that take a string as it stands
PASSED_THROUGH = frozenset({"target_session_attrs", "prepared_statement_cache_size"})
TRANSLATED = frozenset({"connect_timeout", "application_name"})
SUPPORTED = ("sslmode", "connect_timeout", "application_name", *sorted(SSL_FILES))


def _asyncpg_query(url: URL) -> URL:
    """libpq query parameters asyncpg does not take, translated or refused."""
    query: dict[str, str] = {}
    for name, value in url.query.items():
        if not isinstance(value, str):
            raise DatabaseUrlError(f"the database URL gives the option {name!r} more than once")
        query[name] = value
    if "sslmode" in query:
        query.setdefault("ssl", query.pop("sslmode"))
    if "ssl" in query and query["ssl"] not in SSL_MODES:
        raise DatabaseUrlError(
            f"the database URL option sslmode={query['ssl']!r} is not one of {', '.join(SSL_MODES)}"
        )
    binding = query.pop("channel_binding", None)
    if binding == "require":
        raise DatabaseUrlError(
            "channel_binding=require is not supported by the asyncpg driver; remove it"
            " (sslmode=require still encrypts the connection)"
        )
    if "connect_timeout" in query:
        timeout = _seconds(query["connect_timeout"])
        if timeout is None:
            raise DatabaseUrlError(
                "the database URL option connect_timeout must be a positive number of seconds"
            )
    for name in query:
        if name in {"ssl"} | SSL_FILES | TRANSLATED | PASSED_THROUGH:
            continue
        raise DatabaseUrlError(
            f"the database URL option {name!r} is not supported by imagegate's Postgres driver"
            f" (asyncpg); remove it (understood: {', '.join(SUPPORTED)})"
        )
    return url.set(query=query)


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value < float("inf") else None


def engine_options(url: str) -> tuple[str, dict[str, Any]]:
    """The URL for ``create_async_engine`` and its ``connect_args``: the libpq options kept
    in a normalized Postgres URL become what ``asyncpg.connect`` takes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url, {}
    query = dict(parsed.query)
    args: dict[str, Any] = {}
    if "connect_timeout" in query:
        args["timeout"] = float(str(query.pop("connect_timeout")))
    if "application_name" in query:
        args["server_settings"] = {"application_name": str(query.pop("application_name"))}
    files = {name: str(query.pop(name)) for name in sorted(SSL_FILES) if name in query}
    if files:
        # asyncpg takes certificate files only from a DSN; its host, user, … come as keywords
        # (from the URL), which win over the DSN, and ``ssl`` (the mode) stays a keyword too
        args["dsn"] = "postgresql://?" + urlencode(files)
    return parsed.set(query=query).render_as_string(hide_password=False), args


def describe_database(url: str) -> str:
    """Where ``url`` points, for messages: host, port and database, never credentials."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "the configured database"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return f"Postgres at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
