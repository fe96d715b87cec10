"""A bounded schemathesis run against the gateway's own OpenAPI document.

Every operation is called with generated inputs (examples, coverage, fuzzing and stateful
phases; authenticated with the master key) against a gateway in simulate mode on its own
Postgres database, then its own SQLite one: no answer may be a 5xx, and every answer must be one the document lists, with
the documented content type and body schema. The run is seeded, so it is the same each time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db.migrate import upgrade
from app.main import create_app
from tests.conftest import MASTER_KEY, drop_database, fresh_database
from tests.servers import ServerThread

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def fuzzed_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    if request.param == "postgres":
        name = f"imagegate_fuzz_{os.getpid()}"
        url = fresh_database(name)
        upgrade(url)
    else:
        url = f"sqlite+aiosqlite:///{root / 'fuzz.db'}"
    app_settings = Settings(
        database_url=url,
        master_key=MASTER_KEY,  # type: ignore[arg-type]
        spool_dir=root / "spool",
        keepalive_s=0,
        upstream_timeout_s=5,
        rate_limit_rpm=1_000_000,
    )
    with ServerThread(create_app(app_settings, simulate=True)) as server:
        yield server
    if request.param == "postgres":
        drop_database(name)


def test_no_answer_is_a_5xx_or_contradicts_the_document(
    fuzzed_gateway: ServerThread, tmp_path: Path
) -> None:
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [
            str(st),
            "run",
            f"{fuzzed_gateway.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "15",
            "--seed",
            "20261202",
            "-H",
            f"Authorization: Bearer {MASTER_KEY}",
        ],
        capture_output=True,
        text=True,
        # schemathesis keeps a crash cache in its working directory: keep it out of the checkout
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    doc = httpx.get(f"{fuzzed_gateway.url}/openapi.json").json()
    operations = sum(len(methods) for methods in doc["paths"].values())
    tested = re.search(r"Tested: (\d+)", report)
    assert tested is not None and int(tested.group(1)) == operations, report[-2000:]
