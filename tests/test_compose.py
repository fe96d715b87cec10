"""No Docker engine runs here, so the compose file's structure is checked by parsing it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from app.config import ADAPTER_FIELDS, ProviderSettings

ROOT = Path(__file__).resolve().parent.parent


def provider_variables() -> list[str]:
    """Every provider's key variable, and base URLs that have no default (Azure's)."""
    names = []
    for key_field, url_field in ADAPTER_FIELDS.values():
        names.append(ProviderSettings.model_fields[key_field].validation_alias)
        url = ProviderSettings.model_fields[url_field]
        if url.default is None:
            names.append(url.validation_alias)
    return [str(n) for n in names]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_services_and_dependencies() -> None:
    services = _compose()["services"]
    assert set(services) == {"gateway", "postgres", "redis", "migrate"}
    gw = services["gateway"]
    assert gw["ports"] == ["8080:8080"]
    assert gw["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert gw["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert gw["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["imagegate", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("gateway", "postgres", "redis"):
        assert "healthcheck" in services[name], name


def test_environment_reaches_postgres_and_redis() -> None:
    services = _compose()["services"]
    env = services["gateway"]["environment"]
    assert env == services["migrate"]["environment"]
    assert env["IMAGEGATE_DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in env["IMAGEGATE_DATABASE_URL"]
    assert env["IMAGEGATE_REDIS_URL"] == "redis://redis:6379/0"
    for key in provider_variables():
        assert key in env, key
    pg = services["postgres"]["environment"]
    assert f"{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@" in env["IMAGEGATE_DATABASE_URL"]


def test_postgres_has_a_named_volume() -> None:
    compose = _compose()
    volume = compose["services"]["postgres"]["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_the_gateway_spools_ledger_rows_on_a_named_volume_its_user_owns() -> None:
    compose = _compose()
    gateway = compose["services"]["gateway"]
    spool = gateway["environment"]["IMAGEGATE_SPOOL_DIR"]
    mounts = dict(m.split(":", 1) for m in gateway.get("volumes", []))
    assert spool in mounts.values(), mounts
    volume = next(name for name, path in mounts.items() if path == spool)
    assert volume in compose["volumes"]  # a named volume: kept across container re-creation
    # Docker fills a new named volume with the image's directory, owner included: the image
    # must create it for its non-root user, or the gateway could not write there
    text = (ROOT / "Dockerfile").read_text()
    assert f"mkdir -p {spool}" in text
    user = [line for line in text.splitlines() if line.startswith("USER ")][-1].split()[1]
    assert re.search(rf"chown -R {user}:{user} ({re.escape(spool)}|/var/lib/imagegate)\b", text)


def test_dockerfile_is_multistage_and_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM ") >= 2
    users = [line for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1] != "USER root"
    assert "imagegate" in text.split("CMD")[-1]


def test_the_wheel_carries_catalog_data_migrations_and_pages(tmp_path: Path) -> None:
    """The Docker image installs the wheel: it must hold what the code reads from disk,
    including every file of the playground and the vendored /docs and /redoc assets."""
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("imagegate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for provider in ("openai", "google", "bfl", "recraft", "bytedance", "xai"):
        assert f"providers/{provider}/models.toml" in names
    assert "app/migrations/env.py" in names
    assert any(n.startswith("app/migrations/versions/") and n.endswith(".py") for n in names)
    assert any(n.endswith("entry_points.txt") for n in names)
    static = ROOT / "app" / "static"
    pages = {f"app/{p.relative_to(ROOT / 'app')}" for p in static.rglob("*") if p.is_file()}
    assert "app/static/ui/index.html" in pages
    assert "app/static/vendor/swagger-ui/swagger-ui-bundle.js" in pages
    assert pages <= names, sorted(pages - names)
