"""glibc tuning: loaded once per process, however often the idle trimmer asks."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from app import malloc


def test_libc_is_loaded_once_and_the_heap_is_readable() -> None:
    first = malloc._libc()
    assert first is not None  # these machines run glibc
    before = malloc._libc.cache_info()
    for _ in range(5):
        assert malloc.free_heap_bytes() >= 0
    after = malloc._libc.cache_info()
    # misses: never loaded again; hits: at least ours (idle trimmers of other in-process
    # gateways in the test session may call it too)
    assert after.misses == before.misses and after.hits >= before.hits + 5
    assert malloc._libc() is first
    assert isinstance(malloc.trim(), bool)


def test_trim_if_free_trims_only_past_its_threshold() -> None:
    assert malloc.trim_if_free(1 << 62) is False  # never that much free: no trim
    hold = [bytes(64 * 1024) for _ in range(2000)]  # ~128 MB below the mmap threshold
    del hold
    assert malloc.free_heap_bytes() > 0
    assert malloc.trim_if_free(-1) is True  # free memory was handed back


class _Recording(ThreadPoolExecutor):
    """A real executor that notes what it was given to run."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.ran: list[object] = []
        self.ran_in: list[int] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        # asyncio.to_thread hands over partial(context.run, function, *args)
        self.ran.append(fn.args[0] if isinstance(fn, partial) and fn.args else fn)

        def noted() -> Any:
            self.ran_in.append(threading.get_ident())
            return fn(*args, **kwargs)

        return super().submit(noted)


def test_the_idle_trimmer_reads_the_heap_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``mallinfo2`` walks the whole free list (tens of milliseconds on a fragmented heap):
    the check runs in a thread, not on the loop, whether or not it then trims."""
    monkeypatch.setattr(malloc, "TRIM_EVERY_S", 0.001)
    monkeypatch.setattr(malloc, "TRIM_WHEN_FREE", 1 << 62)  # the check only: never trims
    executor = _Recording()

    async def run() -> int:
        asyncio.get_running_loop().set_default_executor(executor)
        task = asyncio.create_task(malloc.trim_when_idle())
        for _ in range(2000):  # bounded: a trimmer that never uses the executor fails below
            if len(executor.ran_in) >= 3:
                break
            await asyncio.sleep(0.001)
        task.cancel()
        return threading.get_ident()

    loop_thread = asyncio.run(run())
    assert malloc.trim_if_free in executor.ran
    assert loop_thread not in executor.ran_in
