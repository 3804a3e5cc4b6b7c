"""What operators changed, as the store records it (:class:`OperatorState`).

``wsrf-uws admin`` works on the store itself (:mod:`wsrf_uws.admin`), with or without a
service running, on SQLite as on PostgreSQL. Each action it takes is recorded there: the
queue's hold (persisted, so it survives restarts and applies to every node of a cluster)
and a generation that every action increases, which the running services watch
(:class:`~wsrf_uws.core.operator_watch.OperatorWatch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class QueueHold:
    """The queue is held: by whom, since when."""

    by: str
    since: datetime


@dataclass(frozen=True)
class OperatorState:
    """The operators' changes as recorded in the store."""

    #: Increased by every operator action: a service that saw another value catches up.
    generation: int = 0
    #: Set while the queue is held (no queued job starts), else None.
    hold: QueueHold | None = None
