"""One logging set-up for imagegate's own lines and uvicorn's, as readable text or JSON.

``imagegate serve`` hands :func:`logging_config` to uvicorn as its ``log_config``, so uvicorn's
startup and access lines and the gateway's request lines go through the same handler and
format. Fields travel on a record as ``extra={"fields": {...}}``: the JSON formatter merges them
into the object, the text formatter appends them as ``key=value``.

httpx and httpcore stay at WARNING whatever the level: at INFO and DEBUG they log every upstream
URL, and a caller's signed reference URL is a secret too.

A text line is one line whatever it carries: control characters in a message (a request path
is percent-decoded, so ``/a%0Ab`` arrives as ``/a`` newline ``b``) are written as escapes
(``\\n``, ``\\x1b``, ``\\u2028``), so a caller cannot start a forged log line or send terminal
escape sequences to whoever reads the log. JSON lines are escaped by JSON itself (and the
characters it leaves raw that some readers still split lines on, U+0085 and U+2028, as ``\\u``).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Neither format shows where a call was made, nor its thread or process: the logging module's
# documented switches skip gathering them for every record (``_srcfile = None`` skips the
# stack walk of findCaller). Set on import, so every worker process has them; ~10% of the
# gateway's CPU per small generation went to its request line before.
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False
# httpx/httpcore: see above; alembic: its INFO lines are plumbing (the CLI says what changed)
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "asyncio", "aiosqlite", "alembic")
_BARE = re.compile(r"^[^\s\"=]+$")
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# what JSON leaves raw but line splitters (Python's splitlines, some shippers) break lines on
_JSON_UNESCAPED = re.compile("[\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape: one line, no terminal codes."""
    return _CONTROL.sub(_escape, text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


def text_value(value: object) -> str:
    """``value`` as it stands when it is one plain token, else JSON-quoted (escaped)."""
    text = str(value)
    return text if _BARE.match(text) else orjson.dumps(text).decode()


class TextFormatter(logging.Formatter):
    """``2026-12-02 10:00:00,123 INFO    imagegate.request: POST /api/v1/images 200 key=value…``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        shown: frozenset[str] = getattr(record, "in_message", frozenset())
        pairs = [
            f"{k}={text_value(v)}"
            for k, v in _fields(record).items()
            if v is not None and k not in shown
        ]
        return escape_controls(f"{line} {' '.join(pairs)}" if pairs else line)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _fields(record).items():
            if value is not None:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        # JSON escapes C0 controls itself; the rest can only be inside a string here
        line = orjson.dumps(data, default=_json_default).decode()
        return _JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def logging_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` dict (also uvicorn's ``log_config``)."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    level = level.upper()
    loggers: dict[str, Any] = {
        name: {"level": level} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    loggers.update({name: {"level": "WARNING"} for name in QUIET_LOGGERS})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # uvicorn looks these two names up when colours are forced; both are the one format
        "formatters": {"default": {"()": formatter}, "access": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": loggers,
    }
