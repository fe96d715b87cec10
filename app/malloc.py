"""glibc malloc tuning for a process that handles multi-megabyte images.

By default glibc serves each multi-megabyte allocation (a 4 MB base64 image, its JSON answer,
the response body) with a fresh ``mmap`` and returns it with ``munmap`` when freed, so every
request faults its buffers in page by page again: on the benchmark machine that was ~9 ms of
kernel time per 4 MB generation, more than the rest of the request. Raising the mmap threshold
to 16 MB and the trim threshold to 32 MB lets freed buffers be reused from the heap instead.
The cost is memory kept after a burst rather than returned to the system, so
:func:`trim_when_idle` hands it back once a burst is over. Measured with 32 concurrent 4 MB
generations: a 128 MB trim threshold saved no more CPU but peaked ~20 MB higher; 8 MB gave back
most of the CPU gain. Variables set by the operator (``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``) win, and other C libraries are left alone.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import os

log = logging.getLogger("imagegate")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 16 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024


def tune() -> bool:
    """Apply the thresholds (once per process); False where glibc is not the allocator."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:  # not glibc (musl has no mallopt)
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    ok = bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and ok
    if not ok:
        log.debug("mallopt refused the thresholds")
    return ok


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, loaded once: ``find_library`` runs ``ldconfig`` in a subprocess (a fork of the
    whole gateway) on every call, which the idle trimmer would otherwise do every 2 s."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def free_heap_bytes() -> int:
    """Bytes the heap holds free (glibc ``mallinfo2().fordblks``); 0 where unknown."""
    libc = _libc()
    info = getattr(libc, "mallinfo2", None) if libc is not None else None
    if info is None:
        return 0
    info.restype = _MallInfo2
    return int(info().fordblks)


def trim() -> bool:
    """Give the heap's free memory back to the system (``malloc_trim(0)``)."""
    libc = _libc()
    call = getattr(libc, "malloc_trim", None) if libc is not None else None
    return bool(call(0)) if call is not None else False


# After a burst of large images the heap keeps what it freed (that is the point of the
# thresholds above); once that much is lying free, the idle loop hands it back.
TRIM_WHEN_FREE = 48 * 1024 * 1024
TRIM_EVERY_S = 2.0


def trim_if_free(threshold: int) -> bool:
    """Trim when more than ``threshold`` bytes lie free; whether it trimmed. Blocking: on a
    fragmented heap ``mallinfo2`` walks every free chunk (tens of milliseconds), so callers
    on an event loop run this in a thread (ctypes releases the GIL for both calls)."""
    return free_heap_bytes() > threshold and trim()


async def trim_when_idle() -> None:
    """Forever: every ``TRIM_EVERY_S``, trim when ``TRIM_WHEN_FREE`` bytes lie free. Under
    steady load the free heap stays small (buffers are reused), so this costs nothing there;
    after a burst, memory goes back to near its baseline within seconds. The check and the
    trim run in a thread, never on the loop."""
    while True:
        await asyncio.sleep(TRIM_EVERY_S)
        await asyncio.to_thread(trim_if_free, TRIM_WHEN_FREE)
