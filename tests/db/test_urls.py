"""Database URL forms: every Postgres spelling reaches asyncpg, nothing else slips through."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.db.urls import (
    DatabaseUrlError,
    describe_database,
    engine_options,
    normalize_database_url,
)


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
        (
            "postgresql://u@db/app?connect_timeout=5&application_name=x&sslmode=verify-full"
            "&sslrootcert=/etc/ssl/rds.pem",
            "postgresql+asyncpg://u@db/app?application_name=x&connect_timeout=5"
            "&ssl=verify-full&sslrootcert=%2Fetc%2Fssl%2Frds.pem",
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
        ("postgres://u:secret@db/app?options=-csearch_path%3Dx", "option 'options'"),
        ("postgres://u:secret@db/app?connect_timeout=0", "positive number"),
        ("postgres://u:secret@db/app?connect_timeout=5s", "positive number"),
        ("postgres://u:secret@db/app?sslmode=verify", "sslmode='verify'"),
        ("postgres://u:secret@db/app?application_name=a&application_name=b", "more than once"),
    ],
)
def test_refused_forms_say_why_in_one_line_without_the_password(given: str, needle: str) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        normalize_database_url(given)
    message = str(caught.value)
    assert needle in message and "\n" not in message and "secret" not in message


def test_engine_options_are_what_asyncpg_connect_takes() -> None:
    url = normalize_database_url(
        "postgres://u:p@db/app?connect_timeout=2.5&application_name=gw&sslmode=verify-ca"
        "&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem&target_session_attrs=read-write"
    )
    engine_url, args = engine_options(url)
    assert (
        engine_url
        == "postgresql+asyncpg://u:p@db/app?ssl=verify-ca&target_session_attrs=read-write"
    )
    assert args == {
        "timeout": 2.5,
        "server_settings": {"application_name": "gw"},
        "dsn": "postgresql://?sslcert=%2Fc.pem&sslkey=%2Fk.pem&sslrootcert=%2Fca.pem",
    }
    assert engine_options("sqlite+aiosqlite:///x.db") == ("sqlite+aiosqlite:///x.db", {})


def test_descriptions_name_no_credentials() -> None:
    url = normalize_database_url("postgres://admin:secret@db.internal/app")
    assert describe_database(url) == "Postgres at db.internal:5432/app"
    assert describe_database("sqlite+aiosqlite:////x/y.db") == "SQLite file /x/y.db"
