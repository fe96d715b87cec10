"""Numbers and lists the README and docs/architecture.md state about the code, read back from
the code: a default changed in one place and not the other fails here."""

from __future__ import annotations

import re
from pathlib import Path

from app import malloc
from app.auth_cache import KEY_CACHE_TTL_S
from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
MIB = 1024 * 1024


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_request_body_limit_is_stated_as_configured() -> None:
    default = Settings.model_fields["max_body_bytes"].default
    stated = [
        int(m.group(1))
        for doc in (README, ARCHITECTURE)
        for m in re.finditer(r"IMAGEGATE_MAX_BODY_BYTES`[^.]{0,40}?\((\d+) MiB", _flat(doc))
    ]
    assert len(stated) >= 2, stated  # the configuration table and the balancer notes
    assert set(stated) == {default // MIB}, stated


def test_the_key_cache_lifetime_is_stated_as_coded() -> None:
    stated = re.findall(r"cached for (\d+(?:\.\d+)?) s\b", _flat(ARCHITECTURE))
    stated += re.findall(r"remembered for (\d+(?:\.\d+)?) second", _flat(README))
    assert len(stated) >= 2, stated
    assert {float(s) for s in stated} == {KEY_CACHE_TTL_S}


def test_the_malloc_thresholds_are_stated_as_coded() -> None:
    (kept,) = re.findall(r"\(up to (\d+) MB\)", _flat(README))
    assert int(kept) * MIB == malloc.TRIM_THRESHOLD
    results = _flat((ROOT / "bench" / "RESULTS.md").read_text())
    ((mmap, trim),) = re.findall(r"mmap (\d+) MB, trim (\d+) MB", results)
    assert (int(mmap) * MIB, int(trim) * MIB) == (malloc.MMAP_THRESHOLD, malloc.TRIM_THRESHOLD)


def test_every_module_that_issues_sql_is_named_in_the_persistence_notes() -> None:
    persistence = ARCHITECTURE.split("## Persistence", 1)[1].split("\n## ", 1)[0]
    issues_sql = re.compile(
        r"\.execute\(|^from sqlalchemy(?:\.dialects\.\w+)? import .*\b(select|insert|update|delete)\b",
        re.MULTILINE,
    )
    modules = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "app").rglob("*.py")
        if issues_sql.search(path.read_text())
    )
    assert "app/db/activity.py" in modules  # the scan finds what it is meant to
    missing = [m for m in modules if f"`{m}`" not in persistence]
    assert not missing, f"issue SQL but are not named in docs/architecture.md: {missing}"
