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
from .errors import (
    InvalidPhaseError,
    InvalidRunIdError,
    QuotaExceededError,
    ResourceUnknownError,
)
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
from .model import ANONYMOUS, ErrorSummary, Job, Quote, check_run_id, new_resource_id
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
        run_id: str | None = None,
    ) -> Job:
        """createJob: read ``document`` with the contract, quote it, record it PENDING.

        ``document`` is the JDL, as bytes or as the element a binding already parsed
        (which is then read as it is, its lines those of the request); ``run_id`` the
        client's label (UWS 1.1 ``RUNID``, checked by :func:`check_run_id`). Raises
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
            run_id=_run_id(run_id),
        )
        if termination_time is not DEFAULT:
            # A time the client chose goes through the contract's policy, as it would later
            # with SetTerminationTime (the job has no id yet).
            plugin.review_termination_time(job, ends)
        job = self._insert(job, live_jobs=live_jobs)
        self.events.emit(
            JobEvent(JobEventKind.CREATED, job.resource_id, job.contract, owner, Phase.PENDING)
        )
        return job

    def create_refused_job(
        self,
        *,
        contract: str,
        document: bytes,
        reason: str,
        owner: str = ANONYMOUS,
        address: str = "",
        termination_time: datetime | Default | None = DEFAULT,
        run_id: str | None = None,
    ) -> Job:
        """A job whose description was refused, recorded ended in ERROR with ``reason`` as
        its error summary: for a binding whose protocol answers a bad request with a job
        that fails (TAP 1.1's asynchronous queries), not with a refusal at creation.

        ``document`` is what the job shows as its description (the JDL it was given, or
        as much of the request as could be written as one); the contract never reads nor
        runs it. Otherwise an ordinary job, recorded in one insert: it counts against the
        owner's live jobs (:class:`QuotaExceededError` beyond them, and then nothing is
        recorded), has a lifetime, and is destroyed like any other.
        """
        plugin = self.registry.get(contract)
        live_jobs = self.quotas.of(owner).live_jobs
        now = self.clock.now()
        job = Job(
            resource_id="",
            contract=plugin.name,
            owner=owner,
            phase=Phase.ERROR,
            creation_time=now,
            end_time=now,
            termination_time=self.policy.initial(
                now, requested=termination_time, proposed_lifetime=None
            ),
            execution_duration=self.limits.resolve(None),
            jdl=document,
            address=address,
            error=ErrorSummary(reason),
            run_id=_run_id(run_id),
        )
        job = self._insert(job, live_jobs=live_jobs)
        self.events.emit(
            JobEvent(JobEventKind.CREATED, job.resource_id, job.contract, owner, Phase.ERROR)
        )
        self.events.emit(ended_event(job, reason="refused description"))
        return job

    def set_run_id(
        self, resource_id: str, *, owner: str, run_id: str | None, contract: str | None = None
    ) -> Job:
        """UWS 1.1 ``RUNID`` change, allowed while the job is PENDING (a compare-and-set
        on the phase: a job started meanwhile keeps its label); the job as recorded.

        Another phase: :class:`InvalidPhaseError`; ``run_id`` as :func:`check_run_id` wants.
        """
        job = self.get_job(resource_id, owner=owner, contract=contract)
        label = _run_id(run_id)
        if job.phase is Phase.PENDING:
            changed = self.store.update_in_phase(
                resource_id, Phase.PENDING, JobChanges(run_id=label)
            )
            if changed is not None:
                return changed
            job = self.get_job(resource_id, owner=owner, contract=contract)
        raise InvalidPhaseError("changing the RUNID", job.phase)

    def get_job(self, resource_id: str, *, owner: str, contract: str | None = None) -> Job:
        """The job, if it exists, belongs to ``owner`` and, given ``contract``, is one of
        that contract's; else :class:`ResourceUnknownError`.

        A binding addresses a job at its own contract's endpoint only: elsewhere it is as
        unknown as another owner's. The operations below take the same ``contract``, so
        that a request reads its job once.
        """
        job = self.store.get(resource_id)
        if job is None or job.owner != owner or (contract is not None and job.contract != contract):
            raise ResourceUnknownError(resource_id)
        return job

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

    def job_handle(self, resource_id: str, *, owner: str, contract: str | None = None) -> JobHandle:
        """A handle on the job for a contract's extra operation (:class:`ServiceJobHandle`);
        :class:`ResourceUnknownError` unless the job exists and belongs to ``owner`` (and,
        given, to ``contract``)."""
        job = self.get_job(resource_id, owner=owner, contract=contract)
        return ServiceJobHandle(job, service=self)

    # -- internals ---------------------------------------------------------------------

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
        if operation == "startJob" and job.phase is Phase.ERROR and job.start_time is None:
            # Ended before it could start (refused at creation): nothing is left to start,
            # and the answer is where the job is, as for a job already running.
            return job.phase
        if operation == "resumeJob" and job.phase in FINAL_PHASES and job.run_count:
            return job.phase
        raise InvalidPhaseError(operation, job.phase)

    def _insert(self, job: Job, *, live_jobs: int) -> Job:
        """Record ``job`` under a fresh id, within the owner's ``live_jobs``; the job."""
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
                self._refused(job.contract, job.owner, "live_jobs")
                raise self.quotas.live_jobs_refusal(job.owner) from None
        self.duties.schedule(self, job.termination_time)
        return job

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


def _run_id(run_id: str | None) -> str | None:
    """``run_id`` checked (:func:`check_run_id`); a refusal is the client's fault."""
    if run_id is None:
        return None
    try:
        return check_run_id(run_id)
    except ValueError as error:
        raise InvalidRunIdError(str(error)) from None
