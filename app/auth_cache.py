"""The authenticated-key cache (see :mod:`app.auth` for why, and how revocation stays prompt).

Entries are fresh for ``ttl_s`` (one second): within that a key is not looked up again. Past it
the key is looked up anew, but the entry is kept (LRU-bounded) for ``grace_s`` so that, while the
database is unreachable, a key seen recently keeps working (:meth:`KeyCache.stale`). Unknown or
disabled keys are never cached.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.auth import Principal

KEY_CACHE_TTL_S = 1.0
GRACE_S = 300.0


class KeyCache:
    """Recently authenticated keys by hash: (principal, monotonic time resolved), LRU-bounded."""

    def __init__(
        self,
        ttl_s: float = KEY_CACHE_TTL_S,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        grace_s: float = GRACE_S,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self.grace_s = grace_s
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        # lookups in flight, by key hash (see app.auth._lookup_once)
        self.lookups: dict[str, asyncio.Future[Principal | str]] = {}
        self.lookup_started: dict[str, float] = {}  # when each began (time.monotonic)

    def get(self, digest: str) -> Principal | None:
        """The principal while its entry is fresh, else None (look it up again)."""
        entry = self._entries.get(digest)
        if entry is None or self.clock() - entry[1] >= self.ttl_s:
            return None
        return entry[0]

    def stale(self, digest: str) -> Principal | None:
        """A key resolved within ``grace_s``: used only while the database is unreachable."""
        entry = self._entries.get(digest)
        if entry is None or self.clock() - entry[1] > self.grace_s:
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        self._entries[digest] = (principal, self.clock())
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        """Drop a key the database has just refused (disabled or gone): it must not be served
        from :meth:`stale` in a later outage."""
        self._entries.pop(digest, None)

    def invalidate(self, key_id: str) -> None:
        """Forget a key at once (it was changed or deleted in this process)."""
        for digest in [d for d, (p, _) in self._entries.items() if p.key_id == key_id]:
            del self._entries[digest]
