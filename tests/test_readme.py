"""Every fenced code block in README.md is executed or validated; none is decoration.

The convention (also described in the README's development section): a fence's info string is a
language, then optional flags.

- ``sh server``: started in the background, as written, from the repository root (it is
  ``make simulate``); the blocks after it run once it answers ``/health``.
- ``sh``, ``python``, ``js``: run in that order, each in a fresh process, with the variables an
  earlier ``sh`` block exported (``KEY``) and ``IMAGEGATE_URL`` pointing at that server. They
  run in a scratch directory where ``.venv`` is this interpreter's virtualenv.
- ``… no-run``: needs what a test cannot have (real provider keys, Docker, a cluster, the test
  suite itself): only its syntax is checked (``bash -n``, ``compile``, ``node --check``).
- ``toml``: loaded by the catalog loader as an operator overrides file.
- ``yaml`` / ``json``: parsed (``json``: a document or JSON lines).
- ``text``: sample output, not code.

Any other tag, or none, fails the test: a new snippet must choose how it is checked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from PIL import Image

from app.catalog import load_catalog
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RUNNABLE = {"sh", "python", "js"}
CHECKED = {"toml", "yaml", "json", "text"}
FLAGS = {"no-run", "server"}
FENCE = re.compile(r"^(\s*)```(.*)$")


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    flags: frozenset[str]
    code: str

    def __str__(self) -> str:
        return f"README.md:{self.line} ({' '.join([self.lang, *sorted(self.flags)])})"


def blocks(text: str | None = None) -> list[Block]:
    """The fenced blocks of ``text`` (the README), indented ones (in lists) included."""
    lines = (text if text is not None else README.read_text()).splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, info = opened.group(1), opened.group(2).split()
        body: list[str] = []
        j = i + 1
        while not lines[j].strip().startswith("```"):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        lang = info[0] if info else ""
        found.append(Block(i + 1, lang, frozenset(info[1:]), textwrap.dedent("\n".join(body))))
        i = j + 1
    return found


def test_every_block_says_how_it_is_checked() -> None:
    found = blocks()
    assert len(found) >= 10
    for block in found:
        assert block.lang in RUNNABLE | CHECKED, (
            f"{block}: tag the fence (see tests/test_readme.py)"
        )
        assert block.flags <= FLAGS, f"{block}: unknown flags {set(block.flags - FLAGS)}"
        if block.flags:
            assert block.lang in RUNNABLE, f"{block}: flags are for runnable blocks"
    servers = [b for b in found if "server" in b.flags]
    assert len(servers) == 1 and servers[0].code.strip() == "make simulate"
    first_run = next(b for b in found if b.lang in RUNNABLE and "no-run" not in b.flags)
    assert first_run is servers[0], "the quick start begins by starting the gateway"


@pytest.mark.parametrize("doc", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_the_docs_blocks_are_tagged_and_valid(doc: Path, tmp_path: Path) -> None:
    """docs/ follow the same convention; nothing there runs, so code blocks are ``no-run``."""
    found = blocks(doc.read_text())
    assert found, doc
    for n, block in enumerate(found):
        where = f"{doc.name}:{block.line}"
        assert block.lang in RUNNABLE | CHECKED, f"{where}: tag the fence"
        if block.lang in RUNNABLE:
            assert "no-run" in block.flags, f"{where}: docs do not run code; mark it no-run"
            _check_syntax(block, tmp_path / f"block{n}")
        elif block.lang == "toml":
            (tmp_path / f"block{n}.toml").write_text(block.code)
            load_catalog(overrides=tmp_path / f"block{n}.toml")


def test_the_parser_finds_indented_fences_and_flags() -> None:
    text = "x\n  ```toml\n  a = 1\n  ```\n```sh no-run\nmake test\n```\n"
    assert blocks(text) == [
        Block(2, "toml", frozenset(), "a = 1"),
        Block(5, "sh", frozenset({"no-run"}), "make test"),
    ]


def test_blocks_that_do_not_run_are_valid(tmp_path: Path) -> None:
    checked = 0
    for n, block in enumerate(blocks()):
        where = str(block)
        if block.lang == "toml":
            overrides = tmp_path / f"block{n}.toml"
            overrides.write_text(block.code)
            load_catalog(overrides=overrides)  # CatalogError names the problem
        elif block.lang == "yaml":
            assert list(yaml.safe_load_all(block.code)), where
        elif block.lang == "json":
            try:
                json.loads(block.code)
            except json.JSONDecodeError:
                for line in filter(str.strip, block.code.splitlines()):
                    json.loads(line)
        elif "no-run" in block.flags:
            _check_syntax(block, tmp_path / f"block{n}")
        else:
            continue
        checked += 1
    assert checked >= 5


def _check_syntax(block: Block, path: Path) -> None:
    if block.lang == "python":
        compile(block.code, str(block), "exec")
        return
    path.write_text(block.code)
    command = ["bash", "-n", str(path)] if block.lang == "sh" else ["node", "--check", str(path)]
    checked = subprocess.run(command, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, f"{block}: {checked.stderr}"


# --------------------------------------------------------------------------------------------
# The runnable blocks, in order, against `make simulate`
# --------------------------------------------------------------------------------------------


@dataclass
class Workspace:
    root: Path  # scratch directory the client snippets run in
    env: dict[str, str]  # grows with what sh blocks export


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A user's machine: a fresh HOME (so a fresh SQLite database), no provider keys."""
    root = tmp_path_factory.mktemp("readme")
    home = root / "home"
    home.mkdir()
    venv = Path(sys.executable).parent.parent
    (root / ".venv").symlink_to(venv)
    (root / "node_modules").symlink_to(ROOT / "tests" / "js" / "node_modules")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "IMAGEGATE_URL": f"http://127.0.0.1:{port}",
    }
    yield Workspace(root, env)


def _start_server(block: Block, ws: Workspace) -> subprocess.Popen[bytes]:
    port = ws.env["IMAGEGATE_URL"].rsplit(":", 1)[1]
    venv = str(Path(sys.executable).parent.parent)
    env = {**ws.env, "IMAGEGATE_PORT": port, "VENV": venv}
    proc = subprocess.Popen(
        ["bash", "-c", block.code],
        cwd=ROOT,
        env=env,
        stdout=(ws.root / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # make and the gateway it starts: one group to stop
    )
    deadline = time.monotonic() + 180  # make may have to install first
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{ws.env['IMAGEGATE_URL']}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    _stop(proc)
    pytest.fail(f"{block} did not start:\n{(ws.root / 'server.log').read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _run(block: Block, n: int, ws: Workspace) -> str:
    """Run one client block; return its stdout; carry what an sh block exported."""
    if block.lang == "sh":
        exported = ws.root / f"env{n}"
        script = f'set -euo pipefail\n{block.code}\nenv -0 > "{exported}"\n'
        command = ["bash", "-c", script]
    elif block.lang == "python":
        command = [sys.executable, "-c", block.code]
    else:
        source = ws.root / f"block{n}.mjs"
        source.write_text(block.code)
        command = ["node", str(source)]
    done = subprocess.run(
        command, cwd=ws.root, env=ws.env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{block} failed:\n{block.code}\n---\n{done.stdout}{done.stderr}"
    if block.lang == "sh":
        pairs = (item.split("=", 1) for item in exported.read_text().split("\0") if "=" in item)
        ws.env = {k: v for k, v in pairs if k in ws.env or k == "KEY"}
    return done.stdout


def test_the_readme_runs_word_for_word_against_make_simulate(workspace: Workspace) -> None:
    """A fresh user with no provider keys: start the gateway, then every snippet, in order."""
    runnable = [b for b in blocks() if b.lang in RUNNABLE and "no-run" not in b.flags]
    server = _start_server(runnable[0], workspace)
    outputs: dict[str, list[str]] = {"python": [], "js": []}
    try:
        for n, block in enumerate(runnable[1:]):
            out = _run(block, n, workspace)
            if block.lang in outputs:
                outputs[block.lang].append(out)
    finally:
        _stop(server)
    log = (workspace.root / "server.log").read_text()
    assert "Uvicorn running on" in log and "imagegate.request: POST /api/v1/images 200" in log
    # what the quick start promises: a 1536x1024 image, and SDKs that print a positive cost
    with Image.open(workspace.root / "fox.png") as fox:
        assert fox.size == (1536, 1024)
    assert "KEY" in workspace.env and workspace.env["KEY"].startswith("sk-ig-v1-")
    for lang, printed in outputs.items():
        assert printed, f"no {lang} snippet ran"
        for out in printed:
            assert float(out.split()[-1]) > 0, out
