"""What a worker process tells the executor, over its connection, while its job runs.

Each report is a small frozen dataclass, pickled by :mod:`multiprocessing`; the executor
matches on the type. A run sends any number of progress, state and result reports, then
at most one :class:`RunCompleted` or :class:`RunFailed` (none when it was stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.model import Progress, Result


@dataclass(frozen=True)
class ProgressReport:
    """The job's latest progress (it replaces any earlier report)."""

    progress: Progress


@dataclass(frozen=True)
class StateReport:
    """The job replaced its contract state (JSON-serializable)."""

    state: dict[str, Any]


@dataclass(frozen=True)
class ResultReport:
    """The job announced a result (a later one of the same name replaces it)."""

    result: Result


@dataclass(frozen=True)
class RunCompleted:
    """The contract's ``run`` returned."""


@dataclass(frozen=True)
class RunFailed:
    """The contract's ``run`` raised; ``message`` is for the user, ``detail`` a traceback."""

    message: str
    transient: bool = False
    detail: str | None = None


#: A report about the job while it runs.
JobReport = ProgressReport | StateReport | ResultReport
#: How the job's ``run`` ended.
RunEnd = RunCompleted | RunFailed
#: Anything a worker sends.
WorkerMessage = JobReport | RunEnd
