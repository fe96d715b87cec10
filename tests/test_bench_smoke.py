"""The benchmark harness keeps working: a tiny run against the embedded default.

No timing is asserted (timings belong in bench/RESULTS.md); this checks that one command
starts the fixed-payload simulator and the gateway, drives both with the load generator and
writes a report with every expected row. LiteLLM is left out (it is installed only for real
runs).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _row(report: str, label: str, section: str) -> list[str]:
    part = report.split(section, 1)[1].split("####", 1)[0]
    line = next(line for line in part.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_quick_bench_run_writes_a_report_with_every_row(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    out.write_text("# Results\n\nnotes kept across runs\n")
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--no-litellm", "--configs", "embedded",
         "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    report = out.read_text()
    assert "notes kept across runs" in report
    for payload in ("tiny", "4 MB"):
        section = f"#### {payload} image, buffered"
        for label in (
            "direct (simulator)",
            "imagegate embedded /api/v1/images",
            "imagegate embedded /v1/images/generations",
        ):
            cells = _row(report, label, section)
            assert cells[-1] == "0", f"{label} ({payload}) had errors: {cells}"
            assert cells[5] not in ("", "–"), cells  # RPS at c=16 was measured
    stream = _row(report, "imagegate embedded /api/v1/images", "#### Streaming")
    assert int(stream[2]) > 0  # partial images were matched with the simulator's emit log
    memory = _row(report, "imagegate embedded /api/v1/images", "#### 32 concurrent")
    assert memory[-1] == "0"
    assert "| added p50, tiny ≤ 1 ms |" in report
    machine = next(line for line in report.splitlines() if "**machine load**" in line)
    assert re.search(r"the host took \d+% of the CPU time", machine), machine
