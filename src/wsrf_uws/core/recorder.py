"""Turns what an executor reports into store changes (the engine's execution listener).

Every phase change here is a compare-and-set: a run that ends after the job was
aborted or destroyed finds the phase already changed (or the row gone) and changes
nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .clock import Clock
from .job_events import JobEvent, JobEventKind, JobEvents, NoJobEvents, ended_event
from .jobfiles import ResultStorage
from .model import ErrorSummary, ErrorType, Job, Progress, Result
from .phases import Phase
from .ports import (
    KEEP,
    ExecutionListener,
    JobChanges,
    JobStore,
    Outcome,
    OutcomeKind,
    RunSpec,
)
from .registry import ContractRegistry

log = logging.getLogger(__name__)


class ExecutionRecorder(ExecutionListener):
    """The :class:`~wsrf_uws.core.ports.ExecutionListener` of a :class:`JobService`."""

    def __init__(
        self,
        *,
        store: JobStore,
        files: ResultStorage,
        registry: ContractRegistry,
        clock: Clock,
        memory_bytes: int = 0,
        node: str | None = None,
        events: JobEvents | None = None,
        honour_hold: bool = False,
    ) -> None:
        self._store = store
        #: Whether :meth:`claim` claims nothing while an operator holds the queue (the
        #: service's recorder; not ``run-job``'s, whose job Slurm has started already).
        self._honour_hold = honour_hold
        self._events = events or NoJobEvents()
        self._files = files
        self._registry = registry
        self._clock = clock
        #: The service's address-space limit of a job process (0: none); contracts adjust it.
        self._memory_bytes = memory_bytes
        #: The cluster node whose runs this records (None: the single-process service). A
        #: run's end then changes the job only while it is recorded as running there: a
        #: node cut off and fenced never overwrites a run another node started since.
        self._node = node

    def claim(self, resource_id: str) -> RunSpec | None:
        job = self._store.get(resource_id)
        if job is None or job.phase is not Phase.QUEUED:
            return None
        if self._honour_hold and self._store.operator_state().hold is not None:
            # An operator holds the queue: the job stays QUEUED, and is handed to the
            # executor again when the queue is released (OperatorWatch).
            return None
        claimed = self._store.transition(
            resource_id,
            Phase.EXECUTING,
            expected={Phase.QUEUED},
            changes=JobChanges(
                start_time=self._clock.now(), end_time=None, run_count=job.run_count + 1
            ),
            # Recovery treats a job that a crash left QUEUED as one it left EXECUTING
            # (run again if isolated, else held for resumeJob), so the claim need not
            # wait for the disk: a millisecond or more before the job's process starts.
            durable=False,
        )
        if claimed is None:
            return None
        return self.run_spec(claimed)

    def run_spec(self, job: Job) -> RunSpec | None:
        """What a worker needs to run ``job``, which was just claimed (EXECUTING).

        None if its contract cannot run it (it is no longer installed, say): the job then
        ends in ERROR saying why.
        """
        try:
            contract = self._registry.get(job.contract)
            memory_bytes = contract.job_memory_bytes(default=self._memory_bytes)
        except Exception as exc:
            failed = self._store.transition(
                job.resource_id,
                Phase.ERROR,
                expected={job.phase},
                changes=JobChanges(end_time=self._clock.now(), error=ErrorSummary(str(exc))),
                running_on=self._node,
            )
            self._ended(failed)
            return None
        self._events.emit(
            JobEvent(JobEventKind.STARTED, job.resource_id, job.contract, job.owner, job.phase)
        )
        return RunSpec(
            resource_id=job.resource_id,
            contract=contract,
            jdl=job.jdl,
            workdir=self._files.ensure(job.resource_id),
            execution_duration=job.execution_duration,
            jdl_state=job.jdl_state,
            run_count=job.run_count,
            termination_time=job.termination_time,
            memory_bytes=memory_bytes,
            description=job.description,
        )

    def on_progress(self, resource_id: str, progress: Progress) -> None:
        self._store.record(resource_id, JobChanges(progress=progress))

    def on_state(self, resource_id: str, state: dict[str, Any]) -> None:
        self._store.record(resource_id, JobChanges(jdl_state=state))

    def on_results(self, resource_id: str, results: Sequence[Result]) -> None:
        self._store.record_results(resource_id, results)

    def on_finished(
        self,
        resource_id: str,
        outcome: Outcome,
        *,
        state: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> None:
        now = self._clock.now()
        last = JobChanges(
            jdl_state=KEEP if state is None else state,
            progress=KEEP if progress is None else progress,
        )
        if outcome.kind is OutcomeKind.COMPLETED:
            if progress is None:
                job = self._store.get(resource_id)
                if job is None:
                    return
                progress = job.progress
            ended = self._store.transition(
                resource_id,
                Phase.COMPLETED,
                expected={Phase.EXECUTING},
                running_on=self._node,
                changes=replace(
                    last,
                    end_time=now,
                    progress=Progress(fraction=1.0, steps=progress.steps),
                ),
            )
        elif outcome.kind in (OutcomeKind.FAILED, OutcomeKind.DIED):
            error = ErrorSummary(
                outcome.message or "the job failed",
                ErrorType.TRANSIENT if outcome.transient else ErrorType.FATAL,
                outcome.detail,
            )
            ended = self._store.transition(
                resource_id,
                Phase.ERROR,
                expected={Phase.EXECUTING},
                changes=replace(last, end_time=now, error=error),
                running_on=self._node,
            )
        elif outcome.kind is OutcomeKind.TIMED_OUT:
            # UWS 1.1 §2.1.8: exceeding executionDuration aborts; results so far are kept.
            ended = self._store.transition(
                resource_id,
                Phase.ABORTED,
                expected={Phase.EXECUTING},
                changes=replace(
                    last,
                    end_time=now,
                    error=ErrorSummary(outcome.message or "execution duration exceeded"),
                ),
                running_on=self._node,
            )
        else:
            # ABORTED: the service already moved the job (and told) before stopping it.
            # INTERRUPTED: the service is stopping; restart recovery decides at next start-up.
            ended = None
        if ended is None and last.assigned():
            # The job's phase was changed meanwhile (or is left as it is): its last
            # reports are still recorded, as they would have been on their own, unless
            # another node runs the job since (this one was cut off): they are not its.
            job = self._store.get(resource_id)
            if job is not None and job.node in (None, self._node):
                self._store.record(resource_id, last)
        if ended is not None:
            self._ended(ended, reason=outcome.kind.value)

    def _ended(self, job: Job | None, *, reason: str | None = None) -> None:
        """Tell the end of ``job`` (None: the compare-and-set failed, nothing ended here)."""
        if job is not None:
            self._events.emit(ended_event(job, reason=reason))
