"""One logging set-up for imagegate's own lines and uvicorn's, as readable text or JSON.

``imagegate serve`` hands :func:`logging_config` to uvicorn as its ``log_config``, so uvicorn's
startup and access lines and the gateway's request lines go through the same handler and
format. Fields travel on a record as ``extra={"fields": {...}}``: the JSON formatter merges them
into the object, the text formatter appends them as ``key=value``.

httpx and httpcore stay at WARNING whatever the level: at INFO and DEBUG they log every upstream
URL, and a caller's signed reference URL is a secret too.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# httpx/httpcore: see above; alembic: its INFO lines are plumbing (the CLI says what changed)
QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "asyncio", "aiosqlite", "alembic")
_BARE = re.compile(r"^[^\s\"=]+$")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


def _text_value(value: object) -> str:
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
            f"{k}={_text_value(v)}"
            for k, v in _fields(record).items()
            if v is not None and k not in shown
        ]
        return f"{line} {' '.join(pairs)}" if pairs else line


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
        return orjson.dumps(data, default=_json_default).decode()


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
