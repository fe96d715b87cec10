"""libpq options in IMAGEGATE_DATABASE_URL reach asyncpg with their libpq meaning, against real
servers: the shared Postgres for the plain options, a private one with TLS for the certificate
options (a wrong CA must fail: the file really is used)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import text

from app.config import Settings
from app.db.engine import make_engine
from tests.conftest import drop_database, fresh_database
from tests.private_services import PrivatePostgres
from tests.processes import cli_env, run_cli
from tests.servers import free_port


async def _ask(url: str, sql: str) -> object:
    engine = make_engine(Settings(database_url=url).database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


@pytest.fixture
def options_db() -> Iterator[str]:
    """An empty database on the shared Postgres, as a postgres:// URL."""
    name = f"imagegate_urlopts_{os.getpid()}"
    url = fresh_database(name).replace("postgresql+asyncpg://", "postgres://")
    yield url
    drop_database(name)


def test_connect_timeout_and_application_name_reach_the_server(
    options_db: str, tmp_path: Path
) -> None:
    url = f"{options_db}?connect_timeout=5&application_name=imagegate-opts&sslmode=disable"
    assert asyncio.run(_ask(url, "SELECT current_setting('application_name')")) == "imagegate-opts"
    # the CLI's own paths (the start-up check, Alembic) take the same URL
    migrated = run_cli("migrate", env=cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url))
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated Postgres at 127.0.0.1:5432/" in migrated.stderr


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(name: str, cwd: Path) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tls_postgres(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PrivatePostgres, Path]]:
    """A private Postgres serving TLS with a certificate for 127.0.0.1 signed by ``ca.crt``."""
    pki = tmp_path_factory.mktemp("pki")
    _ca("ca", pki)
    _ca("other-ca", pki)
    (pki / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr", cwd=pki,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.crt", cwd=pki,
    )  # fmt: skip
    pg = PrivatePostgres()
    key, cert = pg.root / "server.key", pg.root / "server.crt"
    key.write_bytes((pki / "server.key").read_bytes())
    cert.write_bytes((pki / "server.crt").read_bytes())
    key.chmod(0o600)
    pg.own(key)
    pg.own(cert)
    pg.server_options = f"-c ssl=on -c ssl_cert_file={cert} -c ssl_key_file={key}"
    with pg:
        yield pg, pki


def _tls_url(pg: PrivatePostgres, rootcert: Path) -> str:
    return (
        f"postgres://postgres@127.0.0.1:{pg.port}/postgres"
        f"?sslmode=verify-full&sslrootcert={quote(str(rootcert), safe='')}"
    )


def test_sslrootcert_verifies_the_server_with_that_ca(
    tls_postgres: tuple[PrivatePostgres, Path], tmp_path: Path
) -> None:
    pg, pki = tls_postgres
    url = _tls_url(pg, pki / "ca.crt")
    encrypted = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    assert asyncio.run(_ask(url, encrypted)) is True
    migrated = run_cli("migrate", env=cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url))
    assert migrated.returncode == 0, migrated.stderr


def test_a_server_the_given_ca_did_not_sign_is_refused_in_one_line(
    tls_postgres: tuple[PrivatePostgres, Path], tmp_path: Path
) -> None:
    pg, pki = tls_postgres
    url = _tls_url(pg, pki / "other-ca.crt")
    for command in (["migrate"], ["serve", "--port", str(free_port())]):
        result = run_cli(*command, env=cli_env(tmp_path, IMAGEGATE_DATABASE_URL=url))
        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert "certificate verify failed" in lines[0], lines
