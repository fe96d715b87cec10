"""glibc tuning: loaded once per process, however often the idle trimmer asks."""

from __future__ import annotations

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
