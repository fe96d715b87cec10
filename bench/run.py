"""The benchmark: imagegate against the bare simulator and the LiteLLM proxy, one machine, one run.

    .venv/bin/python bench/run.py            # full run, writes bench/RESULTS.md (about 5 min)
    .venv/bin/python bench/run.py --quick --no-litellm --configs embedded --out /tmp/r.md

For each payload (a tiny PNG, a 1024x1024 noise PNG of about 4 MB in base64) the OpenAI
simulator answers every generation at once with that fixed image. Against it, each target
(the simulator itself as the baseline, imagegate on its embedded default and in its production
configuration, LiteLLM) is started alone and driven by a separate load-generator process
(``loadgen.py``): warm-up first, then bounded request counts at concurrency 1 and 16, a
streamed run that times partial-image relaying, and 32 concurrent 4 MB generations for memory.
Both imagegate configurations run as shipped, one process (the Docker image, the compose file
and the Kubernetes manifests scale by containers); production then runs again with
``--workers`` 2..N (concurrency 16 and memory), the one-host way to use more cores.
The generated section of the report sits between markers, so notes around it survive reruns.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import Server, machine_busy
from report import render, write_report
from targets import (
    ROOT,
    Route,
    Target,
    litellm_version,
    start_imagegate,
    start_litellm,
    start_simulator,
)

PAYLOADS = {"tiny": "tiny", "4 MB": "noise"}


@dataclass(frozen=True)
class Counts:
    warmup: int
    c1: int
    c16: int
    stream: int
    c32: int


FULL = {"tiny": Counts(100, 300, 3000, 100, 0), "4 MB": Counts(32, 100, 400, 40, 256)}
QUICK = {"tiny": Counts(2, 4, 16, 2, 0), "4 MB": Counts(2, 3, 16, 2, 32)}


@dataclass
class Measurement:
    label: str
    payload: str
    kind: str  # "c1", "c16", "stream", "paced" (stream, partials 50 ms apart), "c32"
    concurrency: int
    latencies_ms: list[float]
    rps: float
    errors: int
    error_kinds: dict[str, int]
    peak_rss_mb: float
    cpu_ms_per_req: float
    peak_rss_max_mb: float = 0.0  # the largest single process of the tree
    relay_ms: list[float] = field(default_factory=list)

    def pct(self, p: int) -> float:
        xs = sorted(self.latencies_ms)
        if not xs:
            return float("nan")
        if len(xs) == 1:
            return xs[0]
        return statistics.quantiles(xs, n=100, method="inclusive")[p - 1]


def check_answer(target: Target, route: Route) -> None:
    """One request answered in full and checked before a route is timed: a well-formed
    images response whose first image is a base64 string that decodes to a PNG. The load
    generator does not parse what it times, so a wrong answer would otherwise go unseen."""
    headers = dict(h.split(": ", 1) for h in route.headers)
    body = {**route.body, "prompt": "bench check"}
    url = f"http://127.0.0.1:{target.server.port}{route.path}"
    answer = httpx.post(url, json=body, headers=headers, timeout=120)
    if answer.status_code != 200:
        raise SystemExit(f"{route.label}: HTTP {answer.status_code}: {answer.text[:300]}")
    image = answer.json()["data"][0].get("b64_json")
    if not isinstance(image, str) or not base64.b64decode(image).startswith(b"\x89PNG"):
        raise SystemExit(f"{route.label}: the answer's image is not base64 PNG text")


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.counts = QUICK if args.quick else FULL
        self.results: list[Measurement] = []
        self.seq = 0

    def _loadgen(self, server: Server, route: Route, body: dict[str, Any], conc: int, n: int,
                 stream: bool, tag: str) -> dict[str, Any]:  # fmt: skip
        path = self.workdir / f"body-{tag}.json"
        path.write_bytes(orjson.dumps(body))
        argv = [
            sys.executable, str(ROOT / "bench" / "loadgen.py"), "--port", str(server.port),
            "--path", route.path, "--body", str(path), "--concurrency", str(conc),
            "--requests", str(n), "--warmup", "0", "--id-prefix", tag,
        ]  # fmt: skip
        for header in route.headers:
            argv += ["--header", header]
        if stream:
            argv.append("--stream")
        out = subprocess.run(argv, capture_output=True, check=True, timeout=900)
        return orjson.loads(out.stdout)  # type: ignore[no-any-return]

    def measure(self, target: Target, route: Route, payload: str, kind: str, conc: int,
                n: int, emit_log: Path | None = None) -> Measurement:  # fmt: skip
        stream = kind in ("stream", "paced")
        body = route.stream_body if stream else route.body
        assert body is not None
        counts = self.counts[payload]
        self.seq += 1
        tag = f"paced{self.seq}" if kind == "paced" else f"r{self.seq}"  # see simserver.py
        if counts.warmup:
            self._loadgen(target.server, route, body, conc, counts.warmup, stream, f"w{self.seq}")
        server = target.server
        server.reset_peak()
        cpu0 = server.cpu_s()
        out = self._loadgen(server, route, body, conc, n, stream, tag)
        cpu = server.cpu_s() - cpu0
        done = max(1, len(out["latencies_ms"]) + out["errors"])
        rss, rss_max = server.peak_rss_mb()
        m = Measurement(
            route.label, payload, kind, conc, out["latencies_ms"], done / out["wall_s"],
            out["errors"], out["error_kinds"], rss, cpu * 1000 / done, rss_max,
        )  # fmt: skip
        if stream and emit_log is not None:
            m.relay_ms = _relay(out["partials"], emit_log)
        self.results.append(m)
        print(
            f"  {route.label:55} {payload:5} {kind:7} c={conc:<3} p50={m.pct(50):8.2f} ms "
            f"rps={m.rps:8.1f} rss={m.peak_rss_mb:6.0f} MB cpu={m.cpu_ms_per_req:6.2f} ms/req "
            f"err={m.errors}" + (f" relay p50={_p(m.relay_ms, 50):.2f} ms" if stream else ""),
            flush=True,
        )
        return m

    def drive(self, target: Target, payload: str, emit_log: Path, *, streaming: bool = True,
              memory: bool = True, only_c16: bool = False) -> None:  # fmt: skip
        counts = self.counts[payload]
        for route in target.routes:
            check_answer(target, route)
            if not only_c16:
                self.measure(target, route, payload, "c1", 1, counts.c1)
            self.measure(target, route, payload, "c16", 16, counts.c16)
            if streaming and route.stream_body is not None and not only_c16:
                self.measure(target, route, payload, "stream", 1, counts.stream, emit_log)
                if payload == "4 MB":
                    self.measure(target, route, payload, "paced", 1, counts.stream, emit_log)
        if memory and counts.c32:
            self.measure(target, target.routes[0], payload, "c32", 32, counts.c32)

    def run(self) -> None:
        for payload, spec in PAYLOADS.items():
            emit_log = self.workdir / f"emit-{spec}.tsv"
            print(f"payload {payload}", flush=True)
            sim = start_simulator(spec, self.args.sim_workers, self.workdir, emit_log)
            try:
                self._targets(payload, sim, emit_log)
            finally:
                sim.stop()

    def _targets(self, payload: str, sim: Target, emit_log: Path) -> None:
        port = sim.server.port
        self.drive(sim, payload, emit_log, memory=False)
        for config in self.args.configs:  # each as shipped: one process
            target = start_imagegate(config, port, 1, self.workdir)
            try:
                self.drive(target, payload, emit_log)
            finally:
                target.stop()
        if "production" in self.args.configs:  # --workers N on one host: throughput and memory
            for workers in range(2, self.args.workers + 1):
                label = f"imagegate production, {workers} workers"
                target = start_imagegate("production", port, workers, self.workdir, label)
                target.routes = target.routes[:1]
                try:
                    self.drive(target, payload, emit_log, only_c16=True)
                finally:
                    target.stop()
        if self.args.litellm:
            target = start_litellm(port, self.workdir)
            try:
                self.drive(target, payload, emit_log)
            finally:
                target.stop()


def _relay(partials: dict[str, list[list[int]]], emit_log: Path) -> list[float]:
    """Receive time minus emit time of each partial image (both CLOCK_MONOTONIC, in ns)."""
    emitted: dict[tuple[str, int], int] = {}
    for line in emit_log.read_text().splitlines():
        prompt, index, ns = line.split("\t")
        if index.isdigit():
            emitted[(prompt.removeprefix("bench "), int(index))] = int(ns)
    delays = []
    for rid, seen in partials.items():
        for index, ns in seen:
            sent = emitted.get((rid, index))
            if sent is not None:
                delays.append((ns - sent) / 1e6)
    return delays


def _p(xs: list[float], p: int) -> float:
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(sorted(xs), n=100, method="inclusive")[p - 1]


def _versions(args: argparse.Namespace) -> dict[str, str]:
    from importlib.metadata import version

    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, check=False
        )
        .stdout.decode()
        .strip()
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
        check=False,
    ).stdout.strip()  # fmt: skip
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor())  # fmt: skip
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores ({cpu}), {mem_kb / 2**20:.0f} GiB, "
        f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "imagegate": f"0.1.0 @ {commit}{' (uncommitted changes)' if dirty else ''}",
        "uvicorn / httpx / pydantic": f"{version('uvicorn')} / {version('httpx')} / "
        f"{version('pydantic')}",
    }
    if args.litellm:
        info["litellm"] = litellm_version()
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a handful of requests (smoke)")
    parser.add_argument("--no-litellm", dest="litellm", action="store_false")
    parser.add_argument(
        "--configs", default="embedded,production", help="imagegate configurations to run"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="also run production with 2..N worker processes (default: one "
                        "per core)")  # fmt: skip
    parser.add_argument("--sim-workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()
    args.configs = [c for c in args.configs.split(",") if c]
    # SIGTERM unwinds like Ctrl-C, so every server this run started is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.litellm:
        from targets import ensure_litellm

        ensure_litellm()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    busy0, total0, steal0 = machine_busy()
    with tempfile.TemporaryDirectory(prefix="imagegate-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.run()
        except Exception:
            for log in Path(tmp).glob("*.log"):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
            raise
    busy1, total1, steal1 = machine_busy()
    info = _versions(args)
    info["machine load"] = (
        f"load average {' '.join(load_before)} before the run, "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])} after; all CPUs "
        f"{100 * (busy1 - busy0) / max(1, total1 - total0):.0f}% busy during it (the targets, "
        "the simulator and the load generator included; anything else running shares the cores); "
        f"the host took {100 * (steal1 - steal0) / max(1, total1 - total0):.0f}% of the CPU "
        "time (steal: the machine's CPUs were ready to run, the host ran something else)"
    )
    write_report(args.out, render(bench.results, info, args))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
