"""What happens to jobs, told as it happens: the :class:`JobEvents` port.

The service and the execution recorder tell their :class:`JobEvents` about each step of
a job's life (created, queued, started, ended, destroyed) and about each createJob
refused by a quota. The core only tells; what is done with it (a log line, a metric) is
plugged in by the composition root (:mod:`wsrf_uws.runtime`). Events are told after the
change is recorded, by the process that made it: a run's start and end on a cluster
worker are told by that worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .model import Job
from .phases import Phase


class JobEventKind(StrEnum):
    """The steps of a job's life that are told."""

    CREATED = "created"
    QUEUED = "queued"
    STARTED = "started"
    ENDED = "ended"
    DESTROYED = "destroyed"
    #: createJob refused by a quota (nothing was recorded; the resource id is empty).
    REFUSED = "refused"


@dataclass(frozen=True)
class JobEvent:
    """One step of a job's life."""

    kind: JobEventKind
    resource_id: str
    contract: str
    owner: str
    #: The phase the job is in after the step.
    phase: Phase | None = None
    #: For ENDED: seconds from the run's start to its end (None: it never started).
    duration: float | None = None
    #: Why, where there is more to say (the quota of a refusal, who aborted...).
    reason: str | None = None


class JobEvents(Protocol):
    """Told about each :class:`JobEvent`; must not raise, and must return quickly."""

    def emit(self, event: JobEvent) -> None:
        """``event`` happened (it is recorded already)."""
        ...


class NoJobEvents:
    """The :class:`JobEvents` that does nothing (a service built without observers)."""

    def emit(self, event: JobEvent) -> None:
        """Nothing to do."""


class AllJobEvents:
    """Tells each of several :class:`JobEvents`, in order."""

    def __init__(self, observers: Sequence[JobEvents]) -> None:
        self.observers = tuple(observers)

    def emit(self, event: JobEvent) -> None:
        """Tell every observer."""
        for observer in self.observers:
            observer.emit(event)


def ended_event(job: Job, *, reason: str | None = None) -> JobEvent:
    """The ENDED event of ``job`` as recorded at its end (phase, end time)."""
    duration = None
    if job.start_time is not None and job.end_time is not None:
        duration = max(0.0, (job.end_time - job.start_time).total_seconds())
    return JobEvent(
        JobEventKind.ENDED,
        job.resource_id,
        job.contract,
        job.owner,
        job.phase,
        duration=duration,
        reason=reason,
    )
