"""Telling a database outage (retry later) from a refusal of the data (a bug)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATEs that mean "the server is not there for you right now", whatever the data:
# connection exceptions (class 08); shutting down or starting up (57P01-57P03); insufficient
# resources (class 53: disk full, out of memory, too many connections); a transaction the
# server rolled back to be retried (class 40: serialization failure, deadlock); a statement
# cancelled (57014, a server-side statement timeout) or a lock not granted in time (55P03);
# a write on a server that has become read-only (25006: a primary failed over, still
# reached through the old address); an I/O error on the server (58030).
_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03", "53", "40", "57014", "55P03", "25006", "58030")


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (causes, contexts, SQLAlchemy's ``orig``), at most a dozen."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen) or len(seen) > 10:
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "orig", None)]
    return seen


def is_outage(exc: BaseException) -> bool:
    """The database could not be reached (retry later), as opposed to refusing the data."""
    for item in causes(exc):
        # PoolTimeout: every pooled connection is busy with a database that does not answer
        if isinstance(
            item, OperationalError | InterfaceError | OSError | TimeoutError | PoolTimeout
        ):
            return True
        if isinstance(item, DBAPIError) and item.connection_invalidated:
            return True
        state = getattr(item, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_OUTAGE_STATES):
            return True
        if type(item).__name__ in ("ConnectionDoesNotExistError", "InterfaceError"):
            return True
    return False
