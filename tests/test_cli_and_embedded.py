"""The embedded default: SQLite, migrated on start, an admin key printed once; and the CLI."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.servers import ServerThread


def _cli(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {"IMAGEGATE_DATABASE_URL": db, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_keys_cli_create_list_revoke(tmp_sqlite: str) -> None:
    made = _cli("keys", "create", "--name", "cli-key", "--limit", "2.50", db=tmp_sqlite)
    assert made.returncode == 0, made.stderr
    raw = made.stdout.strip()
    assert raw.startswith("sk-ig-v1-") and len(raw) == len("sk-ig-v1-") + 64
    key_id = made.stderr.split("id=")[1].split()[0]
    listed = _cli("keys", "list", db=tmp_sqlite)
    assert "cli-key" in listed.stdout and "2.50" in listed.stdout
    assert raw not in listed.stdout  # the key itself is never shown again
    assert _cli("keys", "revoke", key_id, db=tmp_sqlite).returncode == 0
    assert "disabled" in _cli("keys", "list", db=tmp_sqlite).stdout
    assert _cli("keys", "revoke", "nope", db=tmp_sqlite).returncode == 1
    bad = _cli("keys", "create", "--name", "x", "--limit", "-1", db=tmp_sqlite)
    assert bad.returncode != 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--name", ""), "must not be empty"),
        (("--name", "n" * 201), "longer than 200"),
        (("--name", "\udcff"), "not valid UTF-8"),  # a byte that is not UTF-8, as argv has it
        (("--name", "big", "--limit", "1e12"), "between 0 and 9999999999"),
        (("--name", "nan", "--limit", "NaN"), "between 0 and 9999999999"),
    ],
)
def test_keys_cli_refuses_what_the_columns_cannot_hold_in_one_line(
    database_url: str, args: tuple[str, ...], expected: str
) -> None:
    # on Postgres these reached the database and came back as "cannot reach the database
    # (…): numeric field overflow" / "value too long"; SQLite stored a 201-character name
    made = _cli("keys", "create", *args, db=database_url)
    assert made.returncode == 2, made.stderr
    assert expected in made.stderr and "Traceback" not in made.stderr
    assert "cannot reach the database" not in made.stderr
    assert made.stdout == ""  # no key was printed (none was made)


def test_keys_cli_stores_a_limit_as_the_api_rounds_it(tmp_sqlite: str) -> None:
    made = _cli("keys", "create", "--name", "fine", "--limit", "0.00000000004", db=tmp_sqlite)
    assert made.returncode == 0, made.stderr
    assert "limit=0E-10" in made.stderr or "limit=0.0000000000" in made.stderr


def test_embedded_default_creates_an_admin_key_once(
    tmp_sqlite: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=tmp_sqlite, redis_url=None, master_key=None)
    with ServerThread(create_app(settings)) as server:
        printed = capsys.readouterr().err
        key = next(
            line.strip() for line in printed.splitlines() if line.strip().startswith("sk-ig-v1-")
        )
        # generation is never open without a key
        anon = httpx.post(
            f"{server.url}/api/v1/images", json={"model": "openai/gpt-image-1.5", "prompt": "p"}
        )
        assert anon.status_code == 401
        me = httpx.get(f"{server.url}/api/v1/keys", headers={"authorization": f"Bearer {key}"})
        assert me.status_code == 200, me.text
        assert httpx.get(f"{server.url}/ready").json()["checks"] == {
            "database": "ok",
            "limits": "ok",
        }
    with ServerThread(create_app(settings)):
        assert "sk-ig-v1-" not in capsys.readouterr().err  # printed once, on first start only
