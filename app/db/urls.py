"""Database URLs as people have them, turned into the one form the engine uses.

Hosting platforms hand out ``postgres://user:pw@host/db`` (Heroku, Render, Fly) or
``postgresql://…?sslmode=require`` (Neon, Supabase, RDS guides). imagegate talks to Postgres
through asyncpg only, so every Postgres form maps to ``postgresql+asyncpg://`` and libpq's
``sslmode`` becomes asyncpg's ``ssl`` (which takes the same values). SQLite URLs keep working
as ``sqlite+aiosqlite://``. Anything else is refused in one sentence that never repeats the
password.
"""

from __future__ import annotations

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
        return f"sqlite+aiosqlite://{rest}"
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
    if not url.database:
        raise DatabaseUrlError(f"the database URL names no database (expected {EXAMPLES})")
    return _asyncpg_query(url).render_as_string(hide_password=False)


def _asyncpg_query(url: URL) -> URL:
    """libpq query parameters asyncpg does not take, translated or refused."""
    query = dict(url.query)
    if "sslmode" in query:
        query.setdefault("ssl", query.pop("sslmode"))
    binding = query.pop("channel_binding", None)
    if binding == "require":
        raise DatabaseUrlError(
            "channel_binding=require is not supported by the asyncpg driver; remove it"
            " (sslmode=require still encrypts the connection)"
        )
    return url.set(query=query)


def describe_database(url: str) -> str:
    """Where ``url`` points, for messages: host, port and database, never credentials."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "the configured database"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    return f"Postgres at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"
