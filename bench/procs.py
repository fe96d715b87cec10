"""Processes for the benchmark: start a server, wait for it, measure its tree, stop it.

Memory and CPU are read from ``/proc`` for the server's whole process tree (uvicorn workers
are children of their supervisor): peak RSS is the sum of each process's ``VmHWM`` after it
was reset through ``/proc/<pid>/clear_refs`` (``5``) at the start of a scenario; CPU is
``utime + stime`` of every process in the tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def tree(self) -> list[int]:
        """The server's pid and all its descendants'."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def cpu_s(self) -> float:
        total = 0
        for pid in self.tree():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / TICK

    def reset_peak(self) -> None:
        for pid in self.tree():
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peak_rss_mb(self) -> tuple[float, float]:
        """(sum over the tree, largest single process) of the peak RSS, in MB."""
        peaks = []
        for pid in self.tree():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]))
        return sum(peaks) / 1024, max(peaks, default=0) / 1024

    def stop(self) -> None:
        """SIGTERM (uvicorn stops its workers), then SIGKILL to our own process group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # orphaned workers, if any
            os.killpg(self.proc.pid, signal.SIGKILL)


def start(
    name: str, argv: Sequence[str], env: dict[str, str], port: int, ready: str, logdir: Path
) -> Server:
    """Start ``argv`` in its own process group; wait until ``GET ready`` answers."""
    log = logdir / f"{name.replace(' ', '_').replace('/', '_')}.log"
    handle = log.open("ab")
    proc = subprocess.Popen(
        list(argv), env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = Server(name, proc, port, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {log}")
        try:
            httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2)
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not come up within 120 s; see {log}")


def machine_busy() -> tuple[int, int, int]:
    """(busy, total, steal) jiffies of all CPUs so far, from /proc/stat. *steal* is time the
    virtual machine's CPUs were ready to run but the host ran something else: a run with much
    of it measured a slower machine than its neighbours."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    steal = fields[7] if len(fields) > 7 else 0
    return sum(fields) - idle, sum(fields), steal


def run(argv: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> str:
    done = subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode()
