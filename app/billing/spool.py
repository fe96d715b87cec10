"""A durable local spool for ledger rows the database could not take.

Rows are appended as JSON lines to a file of this process (``<time_ns>-<pid>.jsonl`` in
``IMAGEGATE_SPOOL_DIR``), each append flushed and fsync'd before it returns, so a row the
provider already billed survives the database being down, and the gateway restarting. Replay
reads the files oldest first, in line order. The active file is rotated before it is replayed;
an exclusive ``flock`` keeps two processes sharing the directory from replaying one file at
once (a file left by a crashed process has no lock and is replayed by whoever comes first).
Replaying a row twice is harmless: the ledger inserts idempotently.

Rows the database refuses for their data go to ``dead-letter.jsonl`` for a human to look at.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from app.billing.ledger import GenerationRecord

log = logging.getLogger("imagegate.spool")
DEAD_LETTER = "dead-letter.jsonl"


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot spool {type(value).__name__}")


def encode(record: GenerationRecord) -> bytes:
    return orjson.dumps(asdict(record), default=_default) + b"\n"


def decode(line: bytes) -> GenerationRecord:
    from app.billing.ledger import GenerationRecord

    data: dict[str, Any] = orjson.loads(line)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["completed_at"] = datetime.fromisoformat(data["completed_at"])
    data["cost_usd"] = Decimal(data["cost_usd"])
    return GenerationRecord(**data)


def spool_directory(base: Path, database_url: str) -> Path:
    """The spool of one database under ``IMAGEGATE_SPOOL_DIR``: rows never replay into a
    database they were not meant for."""
    return base / hashlib.sha256(database_url.encode()).hexdigest()[:16]


def probe(directory: Path) -> None:
    """Create ``directory`` if needed and write, fsync and remove a small file in it: raises
    ``OSError`` when the spool could not take a row (read-only, missing permission, full)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".probe-{os.getpid()}-{time.time_ns()}"
    try:
        with path.open("xb") as f:
            f.write(b"{}\n")
            f.flush()
            os.fsync(f.fileno())
    finally:
        path.unlink(missing_ok=True)


class Spool:
    """Append-only JSON-lines files of ledger rows waiting for the database."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._active: IO[bytes] | None = None
        self._active_path: Path | None = None
        self._lock = asyncio.Lock()
        self.pending = sum(self._count(p) for p in self._files())

    def _files(self) -> list[Path]:
        return sorted(p for p in self.dir.glob("*.jsonl") if p.name != DEAD_LETTER)

    @staticmethod
    def _count(path: Path) -> int:
        try:
            with path.open("rb") as f:
                return sum(1 for line in f if line.strip())
        except OSError:
            return 0

    def has_files(self) -> bool:
        return bool(self._files())

    async def problem(self, timeout_s: float = 1.0) -> str | None:
        """Why a row could not be spooled now (a probe file written, fsync'd and removed), or
        None when it could."""
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.to_thread(probe, self.dir)
        except TimeoutError:
            return f"no answer from the spool directory within {timeout_s:g} s"
        except OSError as exc:
            return f"{type(exc).__name__}: {exc.strerror or exc}"
        return None

    def _open_active(self) -> IO[bytes]:
        if self._active is None:
            path = self.dir / f"{time.time_ns()}-{os.getpid()}.jsonl"
            handle = path.open("ab")
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)  # "in use": others won't replay it
            self._active, self._active_path = handle, path
        return self._active

    def _write(self, payload: bytes) -> None:
        handle = self._open_active()
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())

    async def append(self, records: list[GenerationRecord]) -> None:
        """Append rows durably (fsync'd) before returning."""
        payload = b"".join(encode(r) for r in records)
        async with self._lock:
            await asyncio.to_thread(self._write, payload)
            self.pending += len(records)

    async def dead_letter(self, record: GenerationRecord) -> None:
        def write() -> None:
            with (self.dir / DEAD_LETTER).open("ab") as f:
                f.write(encode(record))
                f.flush()
                os.fsync(f.fileno())

        await asyncio.to_thread(write)

    def _rotate(self) -> None:
        if self._active is not None:
            self._active.close()  # releases its shared lock
            self._active = self._active_path = None

    async def batches(
        self, size: int
    ) -> AsyncGenerator[tuple[list[GenerationRecord], Callable[[], Awaitable[None]]], None]:
        """Yield (rows, done) in order; call ``done()`` once the rows are stored. A file is
        deleted when all its rows are done; stop iterating to leave the rest for later."""
        async with self._lock:
            self._rotate()
        for path in self._files():
            try:
                handle = path.open("rb")
            except OSError:
                continue
            with handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # another process is writing or replaying it
                lines = [line for line in handle.read().splitlines() if line.strip()]
                for start in range(0, len(lines), size):
                    chunk = lines[start : start + size]
                    records = []
                    for line in chunk:
                        try:
                            records.append(decode(line))
                        except (ValueError, TypeError, KeyError) as exc:
                            log.error("unreadable spool line in %s: %s", path.name, exc)
                    stored = False

                    async def done(count: int = len(chunk)) -> None:
                        nonlocal stored
                        stored = True
                        self.pending = max(0, self.pending - count)

                    yield records, done
                    if not stored:
                        return
                path.unlink(missing_ok=True)


__all__ = ["DEAD_LETTER", "Spool", "decode", "encode", "probe", "spool_directory"]
