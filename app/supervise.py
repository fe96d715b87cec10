"""The supervisor of ``imagegate serve --workers N``: uvicorn's process manager, nothing else.

``imagegate serve`` checks the catalog, the spool and the database and makes the admin key in
its own process, which imports the whole gateway to do so (~100 MB resident). With
``--workers`` that process then replaces itself (``exec``: the same PID, so process managers,
signals and ``docker stop`` see no difference) with this module, which imports uvicorn and the
server options only: the supervisor holds ~30 MB instead of ~100, and each worker imports the
gateway for itself, as it did before.

Invoked as ``python -m app.supervise '<json>'`` by :mod:`app.cli` only; the JSON carries the
options the CLI resolved (workers, host, port, log level and format).
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import orjson
import uvicorn

from app.logs import logging_config
from app.server import server_options


def command(options: dict[str, Any]) -> list[str]:
    """The argv that runs this module with ``options``."""
    return [sys.executable, "-m", "app.supervise", orjson.dumps(options).decode()]


def exec_supervisor(options: dict[str, Any]) -> NoReturn:
    """Replace this process with the lean supervisor (never returns)."""
    sys.stdout.flush()
    sys.stderr.flush()
    argv = command(options)
    os.execv(argv[0], argv)  # noqa: S606 (our own interpreter and module, no shell)


def main(argv: list[str]) -> int:
    options = orjson.loads(argv[0])
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        workers=options["workers"],
        host=options["host"],
        port=options["port"],
        log_config=logging_config(options["log_level"], options["log_format"]),
        log_level=options["log_level"].lower(),
        proxy_headers=True,
        access_log=False,  # the imagegate.request line is the access log
        **server_options(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
