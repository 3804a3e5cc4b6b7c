"""The JobService: every operation of the UWS pattern, independent of any binding.

Bindings (SOAP, a future REST face, the CLI) call these methods with the caller's
identity; the service validates through the contract, applies the lifetime policy,
and records each change durably before returning. A resource of another owner is
reported exactly like an unknown one.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from lxml import etree

from ..wire.times import format_utc
from . import descriptions
from .clock import Clock
from .contract import Contract, JobHandle
from .errors import InvalidPhaseError, QuotaExceededError, ResourceUnknownError
from .job_events import (
    AllJobEvents,
    JobEvent,
    JobEventKind,
    JobEvents,
    NoJobEvents,
    ended_event,
)
from .job_watch import JobWatch
from .jobfiles import ResultStorage
from .lifetime import DEFAULT, Default, TerminationPolicy
from .model import ANONYMOUS, Job, Quote, new_resource_id
from .operator_watch import OperatorWatch
from .phases import ACTIVE_PHASES, FINAL_PHASES, Phase
from .ports import (
    NO_CHANGES,
    Executor,
    JobChanges,
    JobStore,
    LiveJobsLimitError,
    ResourceIdTakenError,
)
from .quotas import Quotas
from .reaper import Reaper
from .recorder import ExecutionRecorder
from .recovery import OrphanSweep, RecoveryReport, recover
from .registry import ContractRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionLimits:
    """Run-time limits in seconds (0 = none): the default, and the most a JDL may ask;
    and the address space of a job's process in bytes (0 = none), which a contract may
    change for its own jobs (:meth:`~wsrf_uws.core.contract.Contract.job_memory_bytes`)."""

    default: int = 3600
    maximum: int = 86400
    memory_bytes: int = 0

    def resolve(self, requested: int | None) -> int:
        """The limit for a job whose JDL asked for ``requested`` seconds (None: no wish)."""
        if requested is None:
            return self.default
        if self.maximum and (requested == 0 or requested > self.maximum):
            return self.maximum
        return requested


@dataclass(frozen=True)
class TerminationChange:
    """The answer to SetTerminationTime: the new time (None = infinite) and the current time."""

    new_termination_time: datetime | None
    current_time: datetime
    destroyed: bool = False


class JobService:
    """Create, run, inspect and forget job resources.

    Call :meth:`startup` before use (restart recovery, executor, reaper) and
    :meth:`shutdown` after; the service is also a context manager doing both.
    """

    def __init__(
        self,
        *,
        store: JobStore,
        files: ResultStorage,
        registry: ContractRegistry,
        executor: Executor,
        clock: Clock,
        policy: TerminationPolicy,
        limits: ExecutionLimits | None = None,
        quotas: Quotas | None = None,
        duties: Duties | None = None,
        events: JobEvents | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.registry = registry
        self.executor = executor
        self.clock = clock
        self.policy = policy
        self.limits = limits or ExecutionLimits()
        #: Per-owner limits; None given: nobody is limited.
        self.quotas = quotas or Quotas.unlimited()
        #: Who runs the background work: this process alone, or a cluster node.
        self.duties: Duties = duties or SingleProcessDuties()
        #: Wakes the requests waiting for a job to change (UWS 1.1 WAIT).
        self.watch = JobWatch()
        #: Told about each step of a job's life (log lines, metrics, and the watch).
        self.events: JobEvents = AllJobEvents([events or NoJobEvents(), self.watch])
        self.recorder = ExecutionRecorder(
            store=store,
            files=files,
            registry=registry,
            clock=clock,
            memory_bytes=self.limits.memory_bytes,
            node=self.duties.node,
            events=self.events,
            honour_hold=True,
        )
        self.reaper = Reaper(store=store, clock=clock, expire=self._expire)
        #: Catches up with what operators did in the store (``wsrf-uws admin``).
        self.operator_watch = OperatorWatch(
            store=store,
            executor=executor,
            schedule_expiry=lambda: self.duties.schedule(self, store.next_termination_time()),
        )
        #: What restart recovery did at the last :meth:`startup`.
        self.startup_report: RecoveryReport | None = None
        self._started = False

    # -- life of the service -----------------------------------------------------------

    def startup(self) -> RecoveryReport:
        """Start the background work (:class:`Duties`): executor, restart recovery, reaper."""
        report = self.duties.start(self)
        self.operator_watch.start()
        self._started = True
        self.startup_report = report
        return report

    def shutdown(self) -> None:
        """Stop the background work; running jobs stay recorded as EXECUTING."""
        if self._started:
            self.operator_watch.stop()
            self.duties.stop(self)
            self._started = False
        self.store.close()

    def __enter__(self) -> JobService:
        self.startup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- the pattern's operations ------------------------------------------------------

    def create_job(
        self,
        *,
        contract: str,
        document: bytes | etree._Element,
        owner: str = ANONYMOUS,
        address: str = "",
        termination_time: datetime | Default | None = DEFAULT,
    ) -> Job:
        """createJob: read ``document`` with the contract, quote it, record it PENDING.

        ``document`` is the JDL, as bytes or as the element a binding already parsed
        (which is then read as it is, its lines those of the request). Raises
        :class:`InvalidJobDescriptionError` (or a lifetime or quota error) and records
        nothing if the job is not acceptable: beyond the owner's quotas (live jobs, bytes
        the quote stages) it is :class:`QuotaExceededError`.
        """
        plugin = self.registry.get(contract)
        # An owner at its quota is refused before the contract's work (parsing, planning,
        # translating): a flood of refused createJobs then costs next to nothing. The
        # insert checks again, atomically.
        live_jobs = self.quotas.of(owner).live_jobs
        if self.store.count(owner=owner) >= live_jobs:
            self._refused(plugin.name, owner, "live_jobs")
            raise self.quotas.live_jobs_refusal(owner)
        if isinstance(document, bytes):
            description = plugin.parse(document)
        else:
            description = plugin.read(document)
            document = etree.tostring(document)
        assessment = plugin.assess(description, owner=owner)
        quote = assessment.quote or Quote()
        try:
            self.quotas.check_quote(owner, quote)
        except QuotaExceededError:
            self._refused(plugin.name, owner, "job_bytes")
            raise
        now = self.clock.now()
        ends = self.policy.initial(
            now, requested=termination_time, proposed_lifetime=assessment.lifetime
        )
        job = Job(
            resource_id="",
            contract=plugin.name,
            owner=owner,
            phase=Phase.PENDING,
            creation_time=now,
            termination_time=ends,
            execution_duration=self.limits.resolve(assessment.execution_duration),
            jdl=document,
            address=address,
            quote=quote,
            jdl_state=assessment.jdl_state,
            description=descriptions.keep(description),
            isolated=plugin.is_isolated(description),
        )
        if termination_time is not DEFAULT:
            # A time the client chose goes through the contract's policy, as it would later
            # with SetTerminationTime (the job has no id yet).
            plugin.review_termination_time(job, ends)
        # 160 random bits make a clash practically impossible; a clash of the store's
        # shorter row key is merely unlikely, so a taken id is simply drawn again.
        for attempt in range(3):
            job = replace(job, resource_id=new_resource_id())
            try:
                self.store.insert(job, max_owner_jobs=live_jobs)
                break
            except ResourceIdTakenError:
                if attempt == 2:
                    raise
            except LiveJobsLimitError:
                self._refused(plugin.name, owner, "live_jobs")
                raise self.quotas.live_jobs_refusal(owner) from None
        self.duties.schedule(self, ends)
        self.events.emit(
            JobEvent(JobEventKind.CREATED, job.resource_id, job.contract, owner, Phase.PENDING)
        )
        return job

    def get_job(self, resource_id: str, *, owner: str) -> Job:
        """The job, if it exists and belongs to ``owner``; else :class:`ResourceUnknownError`."""
        job = self.store.get(resource_id)
        if job is None or job.owner != owner:
            raise ResourceUnknownError(resource_id)
        return job

    def start_job(self, resource_id: str, *, owner: str) -> Phase:
        """startJob: PENDING (or HELD) → QUEUED, recorded before returning.

        Idempotent on a job already QUEUED or EXECUTING; refused in a final phase. A job
        beyond its owner's quota of executing jobs is not refused: it stays QUEUED until
        one of the owner's jobs ends.
        """
        return self._queue(
            resource_id, owner=owner, operation="startJob", sources={Phase.PENDING, Phase.HELD}
        )

    def resume_job(self, resource_id: str, *, owner: str) -> Phase:
        """resumeJob: a HELD (or SUSPENDED) job is queued again.

        A job the service already restarted, or that has since ended, answers its
        phase as a successful resumption (pattern §2.4). A job never started cannot
        be resumed.
        """
        return self._queue(
            resource_id, owner=owner, operation="resumeJob", sources={Phase.HELD, Phase.SUSPENDED}
        )

    def abort_job(self, resource_id: str, *, owner: str) -> Phase:
        """abortJob (UWS 1.1 ABORT): stop the work (killing it if running, on whichever node
        runs it) and end in ABORTED, keeping the results so far.

        A job already ABORTED answers ABORTED (a retried abort succeeds); COMPLETED or
        ERROR: :class:`InvalidPhaseError`.
        """
        job = self.get_job(resource_id, owner=owner)
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

    def destroy_job(self, resource_id: str, *, owner: str) -> None:
        """Destroy: stop any work, release what the job holds, and forget it."""
        self._destroy(self.get_job(resource_id, owner=owner))

    def set_termination_time(
        self, resource_id: str, *, owner: str, requested: datetime | None
    ) -> TerminationChange:
        """SetTerminationTime: a new time within policy; a past time destroys at once."""
        job = self.get_job(resource_id, owner=owner)
        now = self.clock.now()
        new_time = self.policy.change(now, requested)
        if new_time is not None and new_time <= now:
            self._destroy(job)
            return TerminationChange(new_time, now, destroyed=True)
        self.contract_of(job).review_termination_time(job, new_time)
        if self.store.update(resource_id, JobChanges(termination_time=new_time)) is None:
            raise ResourceUnknownError(resource_id)
        self.duties.schedule(self, new_time)
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

    def list_jobs(
        self,
        *,
        owner: str,
        phases: Collection[Phase] | None = None,
        after: datetime | None = None,
        last: int | None = None,
    ) -> list[Job]:
        """The owner's jobs, newest first, filtered as UWS 1.1 job lists are (PHASE/AFTER/LAST)."""
        if last is not None and last < 1:
            raise ValueError("last must be a positive number of jobs")
        return self.store.list_jobs(owner=owner, phases=phases, after=after, last=last)

    def contract_of(self, job: Job) -> Contract:
        """The contract plug-in that owns ``job``."""
        return self.registry.get(job.contract)

    def job_handle(self, resource_id: str, *, owner: str) -> JobHandle:
        """A handle on the job for a contract's extra operation (:class:`ServiceJobHandle`);
        :class:`ResourceUnknownError` unless the job exists and belongs to ``owner``."""
        return ServiceJobHandle(self.get_job(resource_id, owner=owner), service=self)

    # -- internals ---------------------------------------------------------------------

    def _queue(self, resource_id: str, *, owner: str, operation: str, sources: set[Phase]) -> Phase:
        job = self.get_job(resource_id, owner=owner)
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
                self.executor.submit(resource_id, owner=job.owner, contract=job.contract)
                self.events.emit(
                    JobEvent(
                        JobEventKind.QUEUED, resource_id, job.contract, job.owner, Phase.QUEUED
                    )
                )
                return Phase.QUEUED
            job = self.get_job(resource_id, owner=owner)  # raced with another change
        if job.phase in ACTIVE_PHASES:
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

    def _refused(self, contract: str, owner: str, quota: str) -> None:
        self.events.emit(JobEvent(JobEventKind.REFUSED, "", contract, owner, reason=quota))

    def _expire(self, resource_id: str, now: datetime) -> None:
        job = self.store.get(resource_id)
        if job is None or job.termination_time is None or job.termination_time > now:
            return  # destroyed or extended since the reaper looked
        self._destroy(job)


class Duties(Protocol):
    """Who does a service's background work: run jobs, recover them after a restart, and
    destroy expired resources. One process alone (:class:`SingleProcessDuties`), or a
    node sharing the work with others (:class:`wsrf_uws.core.node.ClusterNode`)."""

    #: The cluster node's name (None: a single process).
    node: str | None

    def start(self, service: JobService) -> RecoveryReport:
        """Start the executor, recover interrupted jobs, start the reaper (where due)."""
        ...

    def stop(self, service: JobService) -> None:
        """Stop what :meth:`start` started; running jobs stay recorded as EXECUTING."""
        ...

    def schedule(self, service: JobService, termination_time: datetime | None) -> None:
        """A resource now ends at ``termination_time``: the reaper must not sleep past it."""
        ...


class SingleProcessDuties:
    """All the background work in this process: the embedded service (``serve`` on SQLite)."""

    node: str | None = None

    def __init__(self) -> None:
        #: The start-up's sweep of orphaned folders (it runs while the service serves).
        self.sweep: OrphanSweep | None = None

    def start(self, service: JobService) -> RecoveryReport:
        service.executor.start(service.recorder)
        report = recover(
            store=service.store,
            files=service.files,
            registry=service.registry,
            executor=service.executor,
            clock=service.clock,
        )
        self.sweep = OrphanSweep(files=service.files, store=service.store, report=report)
        self.sweep.wait_started()  # before anything of the service's removes a folder
        service.reaper.start()
        return report

    def stop(self, service: JobService) -> None:
        if self.sweep is not None:
            self.sweep.stop()
        service.reaper.stop()
        service.executor.shutdown()

    def schedule(self, service: JobService, termination_time: datetime | None) -> None:
        service.reaper.schedule(termination_time)


class ServiceJobHandle:
    """The :class:`~wsrf_uws.core.contract.JobHandle` the service gives an extra operation:
    one job, its folder, and a change of its contract state through the store."""

    def __init__(self, job: Job, *, service: JobService) -> None:
        self._job = job
        self._store = service.store
        self._files = service.files

    @property
    def job(self) -> Job:
        """The job as recorded when the operation was called."""
        return self._job

    @property
    def folder(self) -> Path:
        """The job's folder."""
        return self._files.folder(self._job.resource_id)

    def file(self, relative: str) -> Path:
        """A path inside the job's folder; ValueError for one that would leave it."""
        return self._files.file(self._job.resource_id, relative)

    def set_state(self, state: dict[str, Any]) -> Job:
        """Replace the job's contract state, durably; returns the job as recorded now."""
        updated = self._store.update(self._job.resource_id, JobChanges(jdl_state=state))
        if updated is None:
            raise ResourceUnknownError(self._job.resource_id)
        self._job = updated
        return updated
