"""Controlling the life of a :class:`~wsrf_uws.core.service.JobService`'s jobs: start,
resume, abort, destroy; and the changes a job takes while it waits (RUNID, execution
duration) or at any time (termination time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..wire.times import format_utc
from .errors import InvalidPhaseError, ResourceUnknownError
from .job_access import JobAccess
from .job_creation import checked_run_id
from .job_events import JobEvent, JobEventKind, ended_event
from .model import Job
from .phases import ACTIVE_PHASES, FINAL_PHASES, Phase
from .ports import NO_CHANGES, JobChanges


@dataclass(frozen=True)
class TerminationChange:
    """The answer to SetTerminationTime: the new time (None = infinite) and the current time."""

    new_termination_time: datetime | None
    current_time: datetime
    destroyed: bool = False


class JobControl(JobAccess):
    """The operations of a :class:`~wsrf_uws.core.service.JobService` that move a job
    through its phases or change it."""

    def set_run_id(
        self, resource_id: str, *, owner: str, run_id: str | None, contract: str | None = None
    ) -> Job:
        """UWS 1.1 ``RUNID`` change, allowed while the job is PENDING (a compare-and-set
        on the phase: a job started meanwhile keeps its label); the job as recorded.

        Another phase: :class:`InvalidPhaseError`; ``run_id`` as :func:`check_run_id` wants.
        """
        job = self.get_job(resource_id, owner=owner, contract=contract)
        label = checked_run_id(run_id)
        if job.phase is Phase.PENDING:
            changed = self.store.update_in_phase(
                resource_id, Phase.PENDING, JobChanges(run_id=label)
            )
            if changed is not None:
                return changed
            job = self.get_job(resource_id, owner=owner, contract=contract)
        raise InvalidPhaseError("changing the RUNID", job.phase)

    def start_job(self, resource_id: str, *, owner: str, contract: str | None = None) -> Phase:
        """startJob: PENDING (or HELD) → QUEUED, recorded before returning.

        Idempotent on a job already QUEUED or EXECUTING; refused in a final phase. A job
        beyond its owner's quota of executing jobs is not refused: it stays QUEUED until
        one of the owner's jobs ends.
        """
        return self._queue(
            resource_id,
            owner=owner,
            contract=contract,
            operation="startJob",
            sources={Phase.PENDING, Phase.HELD},
        )

    def resume_job(self, resource_id: str, *, owner: str, contract: str | None = None) -> Phase:
        """resumeJob: a HELD (or SUSPENDED) job is queued again.

        A job the service already restarted, or that has since ended, answers its
        phase as a successful resumption (pattern §2.4). A job never started cannot
        be resumed.
        """
        return self._queue(
            resource_id,
            owner=owner,
            contract=contract,
            operation="resumeJob",
            sources={Phase.HELD, Phase.SUSPENDED},
        )

    def abort_job(self, resource_id: str, *, owner: str, contract: str | None = None) -> Phase:
        """abortJob (UWS 1.1 ABORT): stop the work (killing it if running, on whichever node
        runs it) and end in ABORTED, keeping the results so far.

        A job already ABORTED answers ABORTED (a retried abort succeeds); COMPLETED or
        ERROR: :class:`InvalidPhaseError`.
        """
        job = self.get_job(resource_id, owner=owner, contract=contract)
        if job.phase is Phase.ABORTED:
            return job.phase
        aborted = self.store.transition(
            resource_id,
            Phase.ABORTED,
            expected=ACTIVE_PHASES | {Phase.PENDING, Phase.HELD, Phase.SUSPENDED},
            changes=JobChanges(end_time=self.clock.now()),
        )
        if aborted is None:
            current = self.get_job(resource_id, owner=owner)
            if current.phase is Phase.ABORTED:  # raced with another abort
                return current.phase
            raise InvalidPhaseError("abortJob", current.phase)
        self.executor.cancel(resource_id)
        self.events.emit(ended_event(aborted, reason="aborted"))
        return Phase.ABORTED

    def destroy_job(self, resource_id: str, *, owner: str, contract: str | None = None) -> None:
        """Destroy: stop any work, release what the job holds, and forget it."""
        self._destroy(self.get_job(resource_id, owner=owner, contract=contract))

    def set_termination_time(
        self,
        resource_id: str,
        *,
        owner: str,
        requested: datetime | None,
        contract: str | None = None,
    ) -> TerminationChange:
        """SetTerminationTime: a new time within policy; a past time destroys at once."""
        job = self.get_job(resource_id, owner=owner, contract=contract)
        now = self.clock.now()
        new_time = self.policy.change(now, requested)
        if new_time is not None and new_time <= now:
            self._destroy(job)
            return TerminationChange(new_time, now, destroyed=True)
        self.contract_of(job).review_termination_time(job, new_time)
        if self.store.update(resource_id, JobChanges(termination_time=new_time)) is None:
            raise ResourceUnknownError(resource_id)
        self._schedule_expiry(new_time)
        return TerminationChange(new_time, now)

    def set_execution_duration(self, resource_id: str, *, owner: str, requested: int) -> int:
        """UWS 1.1 executionDuration change: allowed while the job is PENDING, within the
        limits (:meth:`ExecutionLimits.resolve`); returns the duration recorded.

        Another phase: :class:`InvalidPhaseError` (a job queued or running keeps the
        duration it was started with).
        """
        job = self.get_job(resource_id, owner=owner)
        if job.phase is not Phase.PENDING:
            raise InvalidPhaseError("changing the execution duration", job.phase)
        seconds = self.limits.resolve(max(0, requested))
        if self.store.update(resource_id, JobChanges(execution_duration=seconds)) is None:
            raise ResourceUnknownError(resource_id)
        return seconds

    def _queue(
        self,
        resource_id: str,
        *,
        owner: str,
        contract: str | None,
        operation: str,
        sources: set[Phase],
    ) -> Phase:
        job = self.get_job(resource_id, owner=owner, contract=contract)
        if job.phase in sources:
            changes = NO_CHANGES
            if job.phase is not Phase.PENDING:
                changes = JobChanges(
                    note=f"resumed by {operation} ({format_utc(self.clock.now())})"
                )
            queued = self.store.transition(
                resource_id, Phase.QUEUED, expected={job.phase}, changes=changes
            )
            if queued is not None:
                self._queued(queued)
                return Phase.QUEUED
            job = self.get_job(resource_id, owner=owner)  # raced with another change
        if job.phase in ACTIVE_PHASES:
            return job.phase
        if operation == "startJob" and job.phase is Phase.ERROR and job.start_time is None:
            # Ended before it could start (refused at creation): nothing is left to start,
            # and the answer is where the job is, as for a job already running.
            return job.phase
        if operation == "resumeJob" and job.phase in FINAL_PHASES and job.run_count:
            return job.phase
        raise InvalidPhaseError(operation, job.phase)

    def _destroy(self, job: Job) -> None:
        aborted = None
        if job.phase in ACTIVE_PHASES:
            # Recorded first, so a job whose release fails below is not left EXECUTING
            # with nothing running.
            aborted = self.store.transition(
                job.resource_id,
                Phase.ABORTED,
                expected=ACTIVE_PHASES,
                changes=JobChanges(end_time=self.clock.now()),
            )
        self.executor.cancel(job.resource_id)
        if aborted is not None:
            self.events.emit(ended_event(aborted, reason="destroyed"))
        if job.contract in self.registry:
            self.contract_of(job).release(job)
        self.store.delete(job.resource_id)
        self.files.remove(job.resource_id)
        self.events.emit(
            JobEvent(
                JobEventKind.DESTROYED,
                job.resource_id,
                job.contract,
                job.owner,
                (aborted or job).phase,
            )
        )

    def _expire(self, resource_id: str, now: datetime) -> None:
        job = self.store.get(resource_id)
        if job is None or job.termination_time is None or job.termination_time > now:
            return  # destroyed or extended since the reaper looked
        self._destroy(job)
