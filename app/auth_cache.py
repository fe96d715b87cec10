"""The authenticated-key cache (see :mod:`app.auth` for why, and how revocation stays prompt)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.auth import Principal

KEY_CACHE_TTL_S = 1.0


class KeyCache:
    """Recently authenticated keys by hash: (principal, monotonic expiry), LRU-bounded."""

    def __init__(
        self,
        ttl_s: float = KEY_CACHE_TTL_S,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._entries[digest]
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        self._entries[digest] = (principal, self.clock() + self.ttl_s)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, key_id: str) -> None:
        """Forget a key at once (it was changed or deleted in this process)."""
        for digest in [d for d, (p, _) in self._entries.items() if p.key_id == key_id]:
            del self._entries[digest]
