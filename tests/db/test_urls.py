"""Database URL forms: every Postgres spelling reaches asyncpg, nothing else slips through."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.db.urls import DatabaseUrlError, describe_database, normalize_database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5433/app", "postgresql+asyncpg://u:p@db.example:5433/app"),
        ("postgresql://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        ("postgresql+asyncpg://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        ("POSTGRES://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("postgres://u:p%40ss@db/app", "postgresql+asyncpg://u:p%40ss@db/app"),
        ("postgres://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
        (
            "postgres://u@db/app?sslmode=require&channel_binding=prefer",
            "postgresql+asyncpg://u@db/app?ssl=require",
        ),
        ("sqlite:////var/lib/ig.db", "sqlite+aiosqlite:////var/lib/ig.db"),
        ("sqlite+aiosqlite:///rel.db", "sqlite+aiosqlite:///rel.db"),
    ],
)
def test_accepted_forms(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected
    assert Settings(database_url=given).database_url == expected


@pytest.mark.parametrize(
    ("given", "needle"),
    [
        ("mysql://u:secret@db/app", "'mysql://'"),
        ("postgresql+psycopg://u:secret@db/app", "asyncpg"),
        ("db.sqlite", "not a database URL"),
        ("postgres://u:secret@db/", "names no database"),
        ("postgres://u:secret@db:x/app", "percent-encoded"),
        ("postgres://u:secret@db/app?channel_binding=require", "channel_binding"),
    ],
)
def test_refused_forms_say_why_in_one_line_without_the_password(given: str, needle: str) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        normalize_database_url(given)
    message = str(caught.value)
    assert needle in message and "\n" not in message and "secret" not in message


def test_descriptions_name_no_credentials() -> None:
    url = normalize_database_url("postgres://admin:secret@db.internal/app")
    assert describe_database(url) == "Postgres at db.internal:5432/app"
    assert describe_database("sqlite+aiosqlite:////x/y.db") == "SQLite file /x/y.db"
