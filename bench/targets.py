"""What the benchmark drives: the simulator (baseline), imagegate in two configurations, LiteLLM.

Every target is its own process tree on loopback, pointed at the same OpenAI simulator.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procs import Server, free_port, run, start

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_REQUIREMENTS = BENCH / "litellm-requirements.txt"
LITELLM_KEY = "sk-bench-litellm"
# imagegate runs from a virtualenv holding only its runtime dependencies, as a deployment does:
# the development venv carries test tools (schemathesis brings rich and pygments, which httpx
# imports whenever they are installed: ~7 MB more per process).
RUNTIME_VENV = BENCH / ".venv-runtime"
PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DB = "imagegate_bench"
# (the test suite takes databases 15, 14, ... one per test process)
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/1")

PROMPT = {"prompt": "bench __ID__", "size": "1024x1024", "quality": "low"}


@dataclass
class Route:
    """One way to send a generation to a target."""

    label: str
    path: str
    body: dict[str, Any]
    headers: list[str]
    stream_body: dict[str, Any] | None = None


@dataclass
class Target:
    name: str
    server: Server
    routes: list[Route] = field(default_factory=list)
    cleanup: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        self.server.stop()
        for step in self.cleanup:
            step()


def start_simulator(payload: str, workers: int, logdir: Path, emit_log: Path) -> Target:
    port = free_port()
    env = {
        **os.environ,
        "BENCH_FIXED_IMAGE": payload,
        "BENCH_EMIT_LOG": str(emit_log),
        "PYTHONPATH": str(ROOT),
    }
    argv = [
        sys.executable, "-m", "uvicorn", "simserver:app", "--factory", "--app-dir", str(BENCH),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = start("simulator", argv, env, port, "/_sim/knobs", logdir)
    body = {"model": "gpt-image-1.5", **PROMPT}
    route = Route(
        "direct (simulator)",
        "/v1/images/generations",
        body,
        ["Authorization: Bearer bench"],
        {**body, "stream": True, "partial_images": 2},
    )
    return Target("direct", server, [route])


def ensure_runtime() -> str:
    """The interpreter of a venv with imagegate's runtime dependencies only (the pins in
    pyproject.toml); the source tree itself is put on PYTHONPATH."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    _ensure_venv(RUNTIME_VENV, deps, "\n".join(deps))
    return str(RUNTIME_VENV / "bin" / "python")


def _ensure_venv(venv: Path, pip_args: list[str], wanted: str) -> None:
    """``venv`` with ``pip install pip_args`` done, unless its stamp already says ``wanted``."""
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pip_args], check=True)
    stamp.write_text(wanted)


def _pg(sql: str) -> None:
    run(["psql", f"{PG_ADMIN}/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql], dict(os.environ))


def start_imagegate(
    config: str, sim_port: int, workers: int, logdir: Path, label: str | None = None
) -> Target:
    """``embedded``: SQLite and in-process limits (the default install). ``production``:
    Postgres and Redis (the Docker image, compose file and Kubernetes manifests), one process
    unless ``workers`` asks for ``--workers`` worker processes."""
    port = free_port()
    python = ensure_runtime()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "IMAGEGATE_MASTER_KEY": secrets.token_hex(16),
        "IMAGEGATE_RATE_LIMIT_RPM": str(10**9),
        "OPENAI_API_KEY": "bench",
        "IMAGEGATE_OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
    }
    cleanup = []
    if config == "embedded":
        env["IMAGEGATE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    else:
        _pg(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        _pg(f"CREATE DATABASE {PG_DB}")
        url = PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://")
        env["IMAGEGATE_DATABASE_URL"] = f"{url}/{PG_DB}"
        env["IMAGEGATE_REDIS_URL"] = REDIS_URL
        run([python, "-m", "app.cli", "migrate"], env, cwd=ROOT)
        cleanup.append(lambda: _pg(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
    key = run([python, "-m", "app.cli", "keys", "create", "--name", "bench"], env, ROOT)
    key = key.strip().splitlines()[-1]
    argv = [python, "-m", "app.cli", "serve", "--port", str(port)]
    if workers != 1:
        argv += ["--workers", str(workers)]
    name = label or f"imagegate {config}"
    server = start(name, argv, env, port, "/health", logdir)
    auth = [f"Authorization: Bearer {key}"]
    images = {"model": "openai/gpt-image-1.5", **PROMPT}
    compat = {"model": "gpt-image-1.5", **PROMPT}
    routes = [
        Route(f"{name} /api/v1/images", "/api/v1/images", images, auth, {**images, "stream": True}),
        Route(f"{name} /v1/images/generations", "/v1/images/generations", compat, auth),
    ]
    target = Target(name, server, routes, cleanup)
    target.env = env  # type: ignore[attr-defined]
    return target


def ensure_litellm() -> Path:
    """LiteLLM's proxy in its own virtualenv, versions pinned in litellm-requirements.txt."""
    wanted = LITELLM_REQUIREMENTS.read_text()
    _ensure_venv(LITELLM_VENV, ["-r", str(LITELLM_REQUIREMENTS)], wanted)
    return LITELLM_VENV / "bin" / "litellm"


def litellm_version() -> str:
    python = LITELLM_VENV / "bin" / "python"
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    return run([str(python), "-c", code], dict(os.environ)).strip()


def start_litellm(sim_port: int, logdir: Path) -> Target:
    """The proxy with one model pointing at the simulator, a master key, no database."""
    binary = ensure_litellm()
    port = free_port()
    config = logdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-image-1.5\n"
        "    litellm_params:\n"
        "      model: openai/gpt-image-1.5\n"
        f"      api_base: http://127.0.0.1:{sim_port}/v1\n"
        "      api_key: bench\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_KEY}\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEGATE_", "DATABASE_URL"))}
    env.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list at start
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_ADMIN_UI": "True",
        }
    )
    argv = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    server = start("litellm", argv, env, port, "/health/liveliness", logdir)
    body = {"model": "gpt-image-1.5", **PROMPT}
    route = Route(
        "LiteLLM /v1/images/generations",
        "/v1/images/generations",
        body,
        [f"Authorization: Bearer {LITELLM_KEY}"],
    )
    return Target("litellm", server, [route])
