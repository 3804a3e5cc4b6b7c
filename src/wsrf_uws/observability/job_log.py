"""One log line per job event (:class:`~wsrf_uws.core.job_events.JobEvent`).

The lines go to the logger ``wsrf_uws.jobs`` at INFO, as ``job ID EVENT contract=...
owner=... phase=... [duration=...s] [reason=...]``; each record also carries the event's
fields (``record.job``), which the JSON log format writes as fields of their own.
"""

from __future__ import annotations

import logging
from typing import Any

from ..core.job_events import JobEvent

log = logging.getLogger("wsrf_uws.jobs")


class JobEventLog:
    """The :class:`~wsrf_uws.core.job_events.JobEvents` writing a log line per event."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.logger = logger

    def emit(self, event: JobEvent) -> None:
        """Write ``event``'s line."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        fields = event_fields(event)
        text = " ".join(
            f"{name}={_printable(value)}"
            for name, value in fields.items()
            if name not in ("event", "resource_id")
        )
        self.logger.info(
            "job %s %s %s", event.resource_id or "-", event.kind.value, text, extra={"job": fields}
        )


def event_fields(event: JobEvent) -> dict[str, Any]:
    """The fields of ``event`` that have a value, by name, as written in a log line."""
    fields: dict[str, Any] = {
        "event": event.kind.value,
        "resource_id": event.resource_id or None,
        "contract": event.contract,
        "owner": event.owner,
        "phase": event.phase.value if event.phase is not None else None,
        "duration": round(event.duration, 3) if event.duration is not None else None,
        "reason": event.reason,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _printable(value: object) -> str:
    """``value`` as text, with spaces and control characters escaped (one line, one token)."""
    text = f"{value}s" if isinstance(value, float) else str(value)
    if text.isprintable() and " " not in text:
        return text
    return repr(text)
