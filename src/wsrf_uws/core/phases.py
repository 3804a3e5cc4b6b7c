"""UWS 1.1 execution phases and the transitions allowed between them.

The table is the single authority on which phase changes are legal. The store
applies every change as a compare-and-set whose expected phases come from
:func:`sources_of`, so an illegal change cannot be written even by two workers
racing each other.
"""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    """The ten phases of UWS 1.1, spelled as on the wire."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


#: Phases a job never leaves except to be archived or destroyed.
FINAL_PHASES = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED})

#: Phases in which work is running or waiting for a worker slot.
ACTIVE_PHASES = frozenset({Phase.QUEUED, Phase.EXECUTING})

#: Phases in which a job has been started but is not currently progressing.
INTERRUPTED_PHASES = frozenset({Phase.HELD, Phase.SUSPENDED})

_ENDINGS = frozenset({Phase.COMPLETED, Phase.ERROR, Phase.ABORTED})

#: For each phase, the phases a job may move to from it.
#:
#: - PENDING → QUEUED on start; → ABORTED / ERROR at any time before completion (UWS 1.1 §2.1.3).
#: - QUEUED → EXECUTING when a worker takes it; → HELD when it cannot run after a restart.
#: - EXECUTING → an ending; → QUEUED when an isolated job is re-run after a restart;
#:   → HELD when a non-isolated job was interrupted; → SUSPENDED when the service pauses it.
#: - HELD / SUSPENDED → QUEUED on resume.
#: - UNKNOWN is a recovery state: anything may follow it.
#: - An ended job may only be archived.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.QUEUED, Phase.HELD, Phase.ABORTED, Phase.ERROR}),
    Phase.QUEUED: frozenset({Phase.EXECUTING, Phase.HELD, Phase.ABORTED, Phase.ERROR}),
    Phase.EXECUTING: frozenset({Phase.QUEUED, Phase.HELD, Phase.SUSPENDED} | _ENDINGS),
    Phase.HELD: frozenset({Phase.QUEUED, Phase.ABORTED, Phase.ERROR}),
    Phase.SUSPENDED: frozenset(
        {Phase.QUEUED, Phase.EXECUTING, Phase.HELD, Phase.ABORTED, Phase.ERROR}
    ),
    Phase.UNKNOWN: frozenset(Phase) - {Phase.UNKNOWN, Phase.ARCHIVED},
    Phase.COMPLETED: frozenset({Phase.ARCHIVED}),
    Phase.ERROR: frozenset({Phase.ARCHIVED}),
    Phase.ABORTED: frozenset({Phase.ARCHIVED}),
    Phase.ARCHIVED: frozenset(),
}


def is_legal(source: Phase, target: Phase) -> bool:
    """Whether a job in ``source`` may move to ``target``."""
    return target in TRANSITIONS[source]


def sources_of(target: Phase) -> frozenset[Phase]:
    """The phases from which ``target`` may be reached: the expected set of a compare-and-set."""
    return _SOURCES[target]


_SOURCES: dict[Phase, frozenset[Phase]] = {
    target: frozenset(src for src, targets in TRANSITIONS.items() if target in targets)
    for target in Phase
}
