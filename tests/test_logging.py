"""Logs of a real ``imagegate serve`` process: one line per request, uvicorn's lines kept,
never a prompt or a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from app.generation.adapters import simulator_base_url
from app.logs import JsonFormatter, TextFormatter
from app.request_log import RequestLog
from tests.conftest import SimServer, sim_key
from tests.processes import Gateway, cli_env
from tests.servers import free_port

MASTER = "log-test-master-key-0123456789"
PROMPT = "a lighthouse painted by a very particular otter 7f3a9c"
FORGED = "2026-12-02 10:00:00,000 INFO    imagegate.request: POST /api/v1/keys 200 1ms"


def _generate(url: str, **extra: object) -> httpx.Response:
    body = {"model": "openai/gpt-image-1.5", "prompt": PROMPT, "quality": "low", **extra}
    return httpx.post(
        f"{url}/api/v1/images",
        json=body,
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=60,
    )


def test_json_lines_carry_the_request_facts_and_no_secret(
    tmp_path: Path, simulators: SimServer
) -> None:
    provider_key = sim_key("openai")
    env = cli_env(
        tmp_path,
        IMAGEGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'log.db'}",
        IMAGEGATE_MASTER_KEY=MASTER,
        IMAGEGATE_LOG_FORMAT="json",
        IMAGEGATE_LOG_LEVEL="DEBUG",  # the most an operator can turn on
        OPENAI_API_KEY=provider_key,
        IMAGEGATE_OPENAI_BASE_URL=simulator_base_url(simulators.url, "openai"),
    )
    with Gateway(["serve"], env, free_port(), tmp_path / "gw.log") as gw:
        ok = _generate(gw.url)
        assert ok.status_code == 200, ok.text
        streamed = httpx.post(
            f"{gw.url}/api/v1/images",
            json={"model": "openai/gpt-image-1.5", "prompt": PROMPT, "stream": True},
            headers={"authorization": f"Bearer {MASTER}", "x-request-id": "trace-42"},
            timeout=60,
        )
        assert streamed.status_code == 200 and streamed.headers["x-request-id"] == "trace-42"
        missing = _generate(gw.url, model="acme/none")
        assert missing.status_code == 404
        # upstream failures are logged (WARNING, with the provider's message): still no prompt
        refused = _generate(gw.url, prompt=f"{PROMPT} [sim:moderate]")
        assert refused.status_code == 403, refused.text
        broken = _generate(gw.url, prompt=f"{PROMPT} [sim:500]")
        assert broken.status_code == 502, broken.text
    log = gw.log()
    assert PROMPT not in log and PROMPT.split()[-1] not in log
    assert provider_key not in log and MASTER not in log
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    messages = [r["msg"] for r in records]
    assert any(m.startswith("Uvicorn running on http://127.0.0.1:") for m in messages)
    # one line per request: imagegate.request's, not uvicorn's access line besides it
    assert not [r for r in records if r["logger"] == "uvicorn.access"]
    requests = [r for r in records if r["logger"] == "imagegate.request"]
    images = [r for r in requests if r["path"] == "/api/v1/images"]
    assert len(images) == 5
    first, stream, failed, moderated, upstream_error = images
    assert first["status"] == 200 and first["outcome"] == "succeeded"
    assert first["request_id"] == ok.headers["x-request-id"]
    assert first["generation_id"] == ok.headers["x-generation-id"]
    assert first["key_id"] == "master"
    assert first["model"] == "openai/gpt-image-1.5" and first["provider"] == "openai"
    assert Decimal(first["cost_usd"]) == Decimal(str(ok.json()["usage"]["cost"])) > 0
    assert isinstance(first["latency_ms"], int) and first["method"] == "POST"
    assert stream["request_id"] == "trace-42" and stream["outcome"] == "succeeded"
    assert failed["status"] == 404 and failed["outcome"] == "failed"
    assert failed["model"] == "acme/none" and "provider" not in failed
    assert moderated["status"] == 403 and moderated["provider"] == "openai"
    assert upstream_error["status"] == 502 and upstream_error["outcome"] == "failed"
    assert any(r["level"] == "WARNING" and "openai failed" in r["msg"] for r in records)


def test_simulate_mode_keeps_uvicorn_lines_and_logs_readable_text(tmp_path: Path) -> None:
    env = cli_env(
        tmp_path,
        IMAGEGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}",
        IMAGEGATE_MASTER_KEY=MASTER,
    )
    with Gateway(["serve", "--simulate"], env, free_port(), tmp_path / "gw.log") as gw:
        ok = _generate(gw.url)
        assert ok.status_code == 200, ok.text
        odd = httpx.get(f"{gw.url}/health", headers={"x-request-id": "has space"})
        assert odd.headers["x-request-id"] != "has space"  # replaced, never echoed into logs
        # a percent-encoded newline is decoded into the path: it must not start a log line
        forged = httpx.get(f"{gw.url}/x%0A{FORGED.replace(' ', '%20')}%1B[2J%E2%80%A8?q=1")
        assert forged.status_code == 404
    log = gw.log()
    assert not any(ln.startswith(FORGED) for ln in log.splitlines()), log
    (request_line,) = [
        ln for ln in log.splitlines() if "imagegate.request: GET" in ln and "/x" in ln
    ]
    assert f'GET "/x\\n{FORGED}\\u001b[2J\\u2028" 404' in request_line, request_line
    assert "\x1b" not in log and "\u2028" not in log
    assert "Application startup complete." in log
    assert f"Uvicorn running on {gw.url}" in log
    assert '"POST /api/v1/images HTTP/1.1"' not in log  # no uvicorn access line: ours only
    assert "q=1" not in log  # query strings are never logged
    assert "/openai/v1/images" not in log  # the simulators' own traffic stays quiet
    line = next(ln for ln in log.splitlines() if "imagegate.request: POST /api/v1/images" in ln)
    assert " 200 " in line and not line.lstrip().startswith("{")
    for fact in (
        f"request_id={ok.headers['x-request-id']}",
        f"generation_id={ok.headers['x-generation-id']}",
        "key_id=master",
        "model=openai/gpt-image-1.5",
        "provider=openai",
        "outcome=succeeded",
        "cost_usd=0.",
    ):
        assert fact in line, line
    assert PROMPT not in log and MASTER not in log


def _request_line(fmt: type[logging.Formatter], path: str) -> str:
    """The line RequestLog writes for a GET of ``path`` (as the server decoded it)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(fmt())
    logger = logging.getLogger("imagegate.request")
    logger.addHandler(handler)
    # setLevel, not an assignment: it also clears the loggers' cached verdicts (a request
    # logged earlier in the session while INFO was off would otherwise stay unlogged)
    level = logger.level
    logger.setLevel(logging.INFO)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    try:
        asyncio.run(RequestLog(app)(scope, receive, send))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return stream.getvalue()


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/a\nb", 'GET "/a\\nb" 404'),
        ("/a\r\nb", 'GET "/a\\r\\nb" 404'),
        ("/a\x1b[31mb\x00", "GET /a\\x1b[31mb\\x00 404"),
        ("/a\u2028b\x85", 'GET "/a\\u2028b\\x85" 404'),
        ("/a 200 1ms key_id=master", 'GET "/a 200 1ms key_id=master" 404'),
        ("/api/v1/images", "GET /api/v1/images 404"),
    ],
)
def test_a_text_request_line_is_one_line_whatever_the_path(path: str, shown: str) -> None:
    text = _request_line(TextFormatter, path)
    assert len(text.splitlines()) == 1 and text.endswith("\n"), repr(text)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", text), repr(text)
    assert shown in text, text
    line = _request_line(JsonFormatter, path)
    assert len(line.splitlines()) == 1, repr(line)
    assert json.loads(line)["path"] == path  # JSON keeps the path exactly
