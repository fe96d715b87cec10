"""Run ``imagegate`` commands as real processes, their stderr kept in a file for assertions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment (no provider keys from the caller's shell), HOME in ``home``."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **extra}


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``imagegate ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


class Gateway:
    """``imagegate serve …`` in a child process; ``log()`` is everything it wrote to stderr."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, log_file: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_file = log_file
        self._out = log_file.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args, "--port", str(port)],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> Gateway:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited ({self.proc.returncode}):\n{self.log()}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not start:\n{self.log()}")

    def log(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log_file.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()

    def __enter__(self) -> Gateway:
        return self.wait_ready()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
