"""The format of the service's log: text lines, or one JSON object per line.

``serve --log-format json`` (or the setting ``log_format = "json"``) writes every log
record, the access log and the job events included, as one JSON object per line with
the keys ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, the job
event's fields (:func:`wsrf_uws.observability.job_log.event_fields`) under ``job``, and
``exception`` when there is one. Standard library only: the record is a flat dictionary
that ``json.dumps`` writes; a logging library would add nothing here.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

#: The text format of every wsrf-uws process.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """Formats each record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        job = getattr(record, "job", None)
        if isinstance(job, dict):
            entry["job"] = job
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def announce_line(message: str, *, log_format: LogFormat) -> str:
    """``message`` as a line of the log in ``log_format`` (the ready line, printed directly)."""
    if log_format == "text":
        return message
    record = logging.LogRecord("wsrf_uws.server", logging.INFO, "", 0, message, None, None)
    return JsonFormatter().format(record)


def configure_logging(*, level: str = "INFO", log_format: LogFormat = "text") -> None:
    """Send every log record to standard error, at ``level`` and in ``log_format``.

    Replaces the root logger's handlers, so that it may be called again (a test, say).
    """
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings too are log lines, in the same format
