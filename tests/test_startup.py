"""Start-up problems are one or two lines and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db.migrate import upgrade
from tests.conftest import drop_database, fresh_database
from tests.processes import Gateway, cli_env, run_cli
from tests.servers import free_port

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1


def _one_line_failure(result: object, *needles: str) -> str:
    """The command failed with at most two lines on stderr containing every needle."""
    rc, err = result.returncode, result.stderr  # type: ignore[attr-defined]
    assert rc != 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return str(err)


@pytest.fixture
def pg_db() -> Iterator[tuple[str, str]]:
    """An empty Postgres database: (name, URL in the postgres:// form platforms hand out)."""
    name = f"imagegate_startup_{os.getpid()}"
    url = fresh_database(name)
    yield name, url.replace("postgresql+asyncpg://", "postgres://")
    drop_database(name)


def test_port_in_use_is_reported_before_anything_slow(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # database and catalog are both broken too: the port is checked first
        env = cli_env(
            tmp_path, IMAGEGATE_DATABASE_URL=UNREACHABLE, IMAGEGATE_CATALOG_FILE="/nonexistent"
        )
        result = run_cli("serve", "--port", str(port), env=env)
    _one_line_failure(result, f"port {port}", "already in use", "--port")


def test_a_bad_catalog_file_is_one_line(tmp_path: Path) -> None:
    catalog = tmp_path / "overrides.toml"
    catalog.write_text('disabled_models = ["acme/unknown-model"]\n')
    env = cli_env(tmp_path, IMAGEGATE_CATALOG_FILE=str(catalog))
    result = run_cli("serve", "--port", str(free_port()), env=env)
    _one_line_failure(result, "bad catalog", str(catalog), "acme/unknown-model")
    catalog.write_text("this is = = not toml")
    _one_line_failure(run_cli("serve", "--port", str(free_port()), env=env), "invalid TOML")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xff\xfe\x00", "not UTF-8 text"),
        (b"a = " + b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (
            b'[[prices]]\nmodel = "openai/gpt-image-1.5"\nprovider = "openai"\nlines = [{'
            b'billable = "output_image", unit = "token", cost_usd = "4e999999", source = "x",'
            b" as_of = 2026-01-01 }]\n",
            "cost_usd: Input should be less than or equal to 10000",
        ),
        (
            b'[[endpoints]]\nmodel = "acme/x"\nname = "X"\ncreated = 2026-01-01\n'
            b'provider_slug = "fake-provider"\nprovider_name = "p"\nadapter = "openai"\n'
            b'base_url = "http://127.0.0.1:9/v1"\nupstream_model = "m"\nmax_images_per_call = 1\n'
            b'parameters = { n = { type = "range", min = 1, max = 10 } }\n'
            b'geometry = { mode = "pixels", multiple = 16, min_edge = 256, max_pixels = 1048576 }\n'
            b'pricing = [{ billable = "output_image", unit = "token", cost_usd = "1", source = "x",'
            b" as_of = 2026-01-01 }]\n"
            b'token_budgets = [{ output_image_tokens_per_mp = "1e999990", source = "x" }]\n',
            "output_image_tokens_per_mp: Input should be less than or equal to 10000000",
        ),
    ],
)
def test_an_odd_catalog_file_is_one_line_too(tmp_path: Path, content: bytes, needle: str) -> None:
    """Not UTF-8, nested past Python's recursion limit, a price or budget with an exponent
    typo: each was a traceback (UnicodeDecodeError, RecursionError, decimal.Overflow), the
    budget after a minute of quoting."""
    catalog = tmp_path / "overrides.toml"
    catalog.write_bytes(content)
    env = cli_env(tmp_path, IMAGEGATE_CATALOG_FILE=str(catalog))
    result = run_cli("serve", "--port", str(free_port()), env=env)
    _one_line_failure(result, "bad catalog", str(catalog), needle)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("not json", "must be a JSON object"),
        ('{"MAI-Image-25": "prod"}', "unknown deployment name(s) MAI-Image-25"),
    ],
)
def test_a_bad_azure_deployment_map_is_one_line(tmp_path: Path, value: str, needle: str) -> None:
    env = cli_env(tmp_path, IMAGEGATE_AZURE_MAI_DEPLOYMENTS=value)
    result = run_cli("serve", "--port", str(free_port()), env=env)
    _one_line_failure(result, "IMAGEGATE_AZURE_MAI_DEPLOYMENTS", needle)


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mysql://root:hunter2@db/imagegate", "unsupported database URL scheme 'mysql://'"),
        ("postgresql+psycopg2://u:hunter2@db/x", "asyncpg"),
        ("just-a-path.db", "not a database URL"),
        ("postgres://u:hunter2@db:port/x", "cannot parse the database URL"),
        # an @ in the password not percent-encoded: the "host" was the password's end
        ("postgres://u:p@hunter2@db/x", "percent-encoded, e.g. @ as %40"),
        ("postgres://u:hunter2@db:99999/x", "port 99999 is not within 1..65535"),  # traceback
        ("postgres://u:hunter2@db/x?channel_binding=require", "channel_binding"),
        ("postgres://u:hunter2@db/x?options=-c%20search_path%3Dx", "option 'options'"),
        ("postgres://u:hunter2@db/x?keepalives=1&sslmode=require", "option 'keepalives'"),
        ("postgres://u:hunter2@db/x?connect_timeout=soon", "connect_timeout"),
        ("postgres://u:hunter2@db/x?sslmode=on", "sslmode='on'"),
        # in-memory SQLite: each connection a new empty database (a lifespan traceback before)
        ("sqlite://", "must name a file"),
        ("sqlite:///:memory:", "must name a file"),
        ("sqlite://imagegate.db", "three slashes"),
    ],
)
def test_bad_database_urls_are_one_line_without_the_password(
    tmp_path: Path, url: str, needle: str
) -> None:
    for command in (["serve"], ["migrate"], ["keys", "list"]):
        result = run_cli(*command, env=cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url))
        err = _one_line_failure(result, "IMAGEGATE_DATABASE_URL", needle)
        assert result.returncode == 1
        assert "hunter2" not in err


def test_an_unreachable_or_missing_database_is_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path, IMAGEGATE_DATABASE_URL=UNREACHABLE)
    for command in (["serve", "--port", str(free_port())], ["migrate"], ["keys", "list"]):
        _one_line_failure(run_cli(*command, env=env), "127.0.0.1:1/nothing", "connection refused")
    missing = "postgres://postgres@127.0.0.1:5432/imagegate_no_such_db"
    env = cli_env(tmp_path, IMAGEGATE_DATABASE_URL=missing)
    _one_line_failure(run_cli("migrate", env=env), "does not exist", "imagegate migrate")


def test_a_server_that_never_answers_is_a_timeout(tmp_path: Path) -> None:
    """A port that accepts and stays silent (a proxy with no backend, a wrong service): the
    line said ``CancelledError``, the cause of the timeout rather than the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        url = f"postgres://postgres@127.0.0.1:{port}/x?connect_timeout=1"
        env = cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url)
        for command in (["serve", "--port", str(free_port())], ["migrate"]):
            err = _one_line_failure(run_cli(*command, env=env), f"127.0.0.1:{port}/x", "no answer")
            assert "CancelledError" not in err


def test_keys_on_unmigrated_postgres_name_the_migration(
    tmp_path: Path, pg_db: tuple[str, str]
) -> None:
    """``imagegate keys create`` before ``imagegate migrate``: it said "cannot reach the
    database: relation "api_keys" does not exist", which names neither the problem nor the fix."""
    _, url = pg_db
    env = cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url)
    for command in (["keys", "create", "--name", "x"], ["keys", "list"]):
        err = _one_line_failure(run_cli(*command, env=env), "no imagegate tables yet")
        assert "run `imagegate migrate`" in err and "cannot reach" not in err


@pytest.mark.parametrize(
    ("variables", "needle"),
    [
        # the kernel took 70000 as 70000 % 65536: the gateway served on port 4464
        ({"IMAGEGATE_PORT": "70000"}, "port 70000 is not a TCP port"),
        ({"IMAGEGATE_PORT": "-1"}, "port -1 is not a TCP port"),
        # a bad Redis URL was a traceback from the app's start-up
        ({"IMAGEGATE_REDIS_URL": "localhost:6379"}, "IMAGEGATE_REDIS_URL: Redis URL must"),
        ({"IMAGEGATE_REDIS_URL": "redis://:hunter2@127.0.0.1:6379x/0"}, "IMAGEGATE_REDIS_URL"),
        # not JSON: a SettingsError traceback; not a network: a 500 on each reference URL
        ({"IMAGEGATE_REFERENCE_ALLOW_NETWORKS": "[1"}, "must be a JSON list of CIDRs"),
        ({"IMAGEGATE_REFERENCE_ALLOW_NETWORKS": '["300.0.0.0/8"]'}, "'300.0.0.0/8' is not a"),
        # provider base URLs: accepted at start, every request to that provider failed
        ({"IMAGEGATE_OPENAI_BASE_URL": "notaurl"}, "IMAGEGATE_OPENAI_BASE_URL: must be an http"),
        ({"IMAGEGATE_AZURE_MAI_BASE_URL": "ftp://x/mai/v1"}, "IMAGEGATE_AZURE_MAI_BASE_URL"),
        ({"IMAGEGATE_BFL_BASE_URL": "https://u:hunter2@host:80x/v1"}, "IMAGEGATE_BFL_BASE_URL"),
        # negative durations and rates were taken as they came
        ({"IMAGEGATE_KEEPALIVE_S": "-1"}, "IMAGEGATE_KEEPALIVE_S"),
        ({"IMAGEGATE_RATE_LIMIT_RPM": "-5"}, "IMAGEGATE_RATE_LIMIT_RPM"),
    ],
)
def test_bad_ports_urls_and_networks_are_one_line(
    tmp_path: Path, variables: dict[str, str], needle: str
) -> None:
    result = run_cli("serve", env=cli_env(tmp_path, IMAGEGATE_MASTER_KEY="m", **variables))
    assert "hunter2" not in _one_line_failure(result, needle)


def test_bad_settings_are_one_line_each(tmp_path: Path) -> None:
    env = cli_env(tmp_path, IMAGEGATE_LOG_LEVEL="verbose", IMAGEGATE_LOG_FORMAT="xml")
    result = run_cli("serve", "--port", str(free_port()), env=env)
    err = _one_line_failure(result, "IMAGEGATE_LOG_LEVEL: expected DEBUG", "IMAGEGATE_LOG_FORMAT")
    assert len(err.strip().splitlines()) == 2


def test_an_unwritable_sqlite_location_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = cli_env(tmp_path, IMAGEGATE_DATABASE_URL=f"sqlite:///{blocker}/sub/imagegate.db")
    _one_line_failure(run_cli("serve", "--port", str(free_port()), env=env), "SQLite")


def test_an_unwritable_spool_directory_is_one_line(tmp_path: Path) -> None:
    """A read-only root filesystem without a spool volume, say: refused before it serves.
    (Tests run as root, whom permissions do not stop: a file in the way stands in.)"""
    blocker = tmp_path / "file"
    blocker.write_text("")
    for spool in (blocker / "spool", blocker):
        env = cli_env(tmp_path, IMAGEGATE_SPOOL_DIR=str(spool))
        result = run_cli("serve", "--port", str(free_port()), env=env)
        assert result.returncode == 1
        _one_line_failure(result, "ledger spool directory", str(spool), "IMAGEGATE_SPOOL_DIR")
    env = cli_env(tmp_path, IMAGEGATE_SPOOL_DIR=str(tmp_path / "spool"), IMAGEGATE_MASTER_KEY="m")
    with Gateway(["serve"], env, free_port(), tmp_path / "gw.log") as gw:
        assert "Uvicorn running on" in gw.log()


def test_unmigrated_postgres_names_the_fix_then_migrate_makes_it_start(
    tmp_path: Path, pg_db: tuple[str, str]
) -> None:
    _, url = pg_db
    env = cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url, IMAGEGATE_MASTER_KEY="m")
    refused = run_cli("serve", "--port", str(free_port()), env=env)
    _one_line_failure(refused, "no imagegate tables yet", "run `imagegate migrate`")
    migrated = run_cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated Postgres at 127.0.0.1:5432/" in migrated.stderr
    again = run_cli("migrate", env=env)
    assert again.returncode == 0 and "latest schema" in again.stderr
    with Gateway(["serve"], env, free_port(), tmp_path / "gw.log") as gw:
        assert "Uvicorn running on" in gw.log()


def test_postgres_behind_this_version_is_refused_with_the_revisions(
    tmp_path: Path, pg_db: tuple[str, str]
) -> None:
    _, url = pg_db
    upgrade(url.replace("postgres://", "postgresql+asyncpg://"), "20261124_0001")
    env = cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url)
    result = run_cli("serve", "--port", str(free_port()), env=env)
    _one_line_failure(result, "at schema revision 20261124_0001", "imagegate migrate")


def test_replicas_migrating_at_once_take_turns(tmp_path: Path, pg_db: tuple[str, str]) -> None:
    """IMAGEGATE_MIGRATE_ON_START on several replicas: the advisory lock serializes them."""
    _, url = pg_db
    env = cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url)
    results: list[object] = []
    runs = [
        threading.Thread(target=lambda: results.append(run_cli("migrate", env=env)))
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]  # type: ignore[attr-defined]
    said = sorted(r.stderr.split(" ")[0] for r in results)  # type: ignore[attr-defined]
    assert said == ["Postgres", "Postgres", "migrated"]  # one migrated, two found it done


def test_replicas_with_migrate_on_start_come_up_together(
    tmp_path: Path, pg_db: tuple[str, str]
) -> None:
    _, url = pg_db
    env = cli_env(
        tmp_path,
        IMAGEGATE_DATABASE_URL=url,
        IMAGEGATE_MIGRATE_ON_START="true",
        IMAGEGATE_MASTER_KEY="m",
    )
    replicas = [Gateway(["serve"], env, free_port(), tmp_path / f"gw{i}.log") for i in range(2)]
    try:
        logs = [gw.wait_ready().log() for gw in replicas]
    finally:
        for gw in replicas:
            gw.stop()
    assert sum("migrated Postgres" in log for log in logs) == 1, logs
    assert sum("latest schema" in log for log in logs) == 1, logs
