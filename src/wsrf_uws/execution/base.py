"""The executor interface.

An executor runs jobs; it knows nothing of the store. It asks its
:class:`ExecutionListener` (the engine) to *claim* a queued job before running it
(the QUEUED → EXECUTING compare-and-set), passes on what the running job reports,
and says how each run ended. The engine turns that into phase changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from ..core.contract import Contract
from ..core.model import Progress, Result


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to run one job; picklable."""

    resource_id: str
    contract: Contract
    jdl: bytes
    workdir: Path
    #: Wall-clock limit in seconds; 0 = unlimited.
    execution_duration: int
    jdl_state: dict[str, Any] = field(default_factory=dict)
    run_count: int = 1
    #: The resource's termination time when the run began (None: infinite).
    termination_time: datetime | None = None
    #: The address space the job's process may use, in bytes (RLIMIT_AS); 0 = unlimited.
    memory_bytes: int = 0


class OutcomeKind(StrEnum):
    """How a run ended."""

    #: ``run`` returned.
    COMPLETED = "completed"
    #: ``run`` raised; ``message`` says why.
    FAILED = "failed"
    #: Stopped on request (abort or destroy).
    ABORTED = "aborted"
    #: Stopped because it outlived its execution duration.
    TIMED_OUT = "timed-out"
    #: The worker vanished without a word (signal, crash, out of memory).
    DIED = "died"
    #: Stopped because the service is shutting down; the job should run again later.
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Outcome:
    """How one run ended, with a message for the user where there is one."""

    kind: OutcomeKind
    message: str | None = None
    transient: bool = False
    detail: str | None = None


class ExecutionListener(Protocol):
    """What an executor tells the engine."""

    def claim(self, resource_id: str) -> RunSpec | None:
        """Move the job to EXECUTING; None means it must not run (aborted, destroyed...)."""
        ...

    def on_progress(self, resource_id: str, progress: Progress) -> None:
        """The job reported progress."""
        ...

    def on_state(self, resource_id: str, state: dict[str, Any]) -> None:
        """The job replaced its contract state."""
        ...

    def on_results(self, resource_id: str, results: Sequence[Result]) -> None:
        """The job announced several results (in this order), to be recorded together."""
        ...

    def on_finished(self, resource_id: str, outcome: Outcome) -> None:
        """The run is over and its processes are gone."""
        ...


class Executor(ABC):
    """Runs queued jobs."""

    @abstractmethod
    def start(self, listener: ExecutionListener) -> None:
        """Begin taking work; reports go to ``listener``."""

    @abstractmethod
    def submit(self, resource_id: str, *, owner: str = "") -> None:
        """Queue a job that is QUEUED in the store; returns at once.

        ``owner`` is the job's owner: an executor shares its slots fairly among owners
        and runs no more of one owner's jobs at once than that owner's quota allows.
        """

    @abstractmethod
    def cancel(self, resource_id: str) -> bool:
        """Stop the job's work, queued or running; returns once nothing of it runs.

        True if there was work to stop.
        """

    @abstractmethod
    def shutdown(self) -> None:
        """Stop everything; running jobs end as INTERRUPTED and stay EXECUTING in the store."""

    @abstractmethod
    def active(self) -> dict[str, str]:
        """Jobs this executor holds, with ``"queued"`` or ``"running"``."""
