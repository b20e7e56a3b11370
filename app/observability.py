"""Structured logs: one JSON object per line on stdout, for the service's loggers and uvicorn's.

The request log itself is written by app/middleware/logs.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


_HANDLER_MARK = "_evidencedb_json"


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stdout for the service's loggers (once per process)."""
    logger = logging.getLogger("evidencedb")
    if not any(getattr(h, _HANDLER_MARK, False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        setattr(handler, _HANDLER_MARK, True)
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())
    # uvicorn's own access line repeats the raw request line, query string included: ours
    # replaces it. Its other messages (start, stop, errors) become JSON too.
    logging.getLogger("uvicorn.access").disabled = True
    for uvicorn_handler in logging.getLogger("uvicorn").handlers:
        uvicorn_handler.setFormatter(JsonFormatter())
