"""Creating a :class:`~wsrf_uws.core.service.JobService`'s jobs: read and quote the JDL
with its contract, hold the owner to its quotas, record the job under a fresh id."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from lxml import etree

from . import descriptions
from .errors import InvalidRunIdError, QuotaExceededError
from .job_access import JobAccess
from .job_events import JobEvent, JobEventKind, ended_event
from .lifetime import DEFAULT, Default
from .model import ANONYMOUS, ErrorSummary, Job, Quote, check_run_id, new_resource_id
from .phases import Phase
from .ports import LiveJobsLimitError, ResourceIdTakenError


class JobCreation(JobAccess):
    """The creating operations of a :class:`~wsrf_uws.core.service.JobService`."""

    def create_job(
        self,
        *,
        contract: str,
        document: bytes | etree._Element,
        owner: str = ANONYMOUS,
        address: str = "",
        termination_time: datetime | Default | None = DEFAULT,
        run_id: str | None = None,
        execution_duration: int | None = None,
        start: bool = False,
    ) -> Job:
        """createJob: read ``document`` with the contract, quote it, record it PENDING.

        ``document`` is the JDL, as bytes or as the element a binding already parsed
        (which is then read as it is, its lines those of the request); ``run_id`` the
        client's label (UWS 1.1 ``RUNID``, checked by :func:`check_run_id`). Raises
        :class:`InvalidJobDescriptionError` (or a lifetime or quota error) and records
        nothing if the job is not acceptable: beyond the owner's quotas (live jobs, bytes
        the quote stages) it is :class:`QuotaExceededError`.

        For a binding that sets more at creation (UWS 1.1 REST: ``EXECUTIONDURATION``,
        ``PHASE=RUN``), in the same insert: ``execution_duration`` the seconds the
        client asks instead of the contract's (within the service's limits, as
        :meth:`~.job_control.JobControl.set_execution_duration` allows them), and
        ``start`` records the job QUEUED, as a startJob right after would (one write to
        the store instead of three).
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
        seconds = (
            assessment.execution_duration
            if execution_duration is None
            else max(0, execution_duration)
        )
        job = Job(
            resource_id="",
            contract=plugin.name,
            owner=owner,
            phase=Phase.QUEUED if start else Phase.PENDING,
            creation_time=now,
            termination_time=ends,
            execution_duration=self.limits.resolve(seconds),
            jdl=document,
            address=address,
            quote=quote,
            jdl_state=assessment.jdl_state,
            description=descriptions.keep(description),
            isolated=plugin.is_isolated(description),
            run_id=checked_run_id(run_id),
        )
        if termination_time is not DEFAULT:
            # A time the client chose goes through the contract's policy, as it would later
            # with SetTerminationTime (the job has no id yet).
            plugin.review_termination_time(job, ends)
        job = self._insert(job, live_jobs=live_jobs)
        self.events.emit(
            JobEvent(JobEventKind.CREATED, job.resource_id, job.contract, owner, Phase.PENDING)
        )
        if start:
            self._queued(job)
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
            run_id=checked_run_id(run_id),
        )
        job = self._insert(job, live_jobs=live_jobs)
        self.events.emit(
            JobEvent(JobEventKind.CREATED, job.resource_id, job.contract, owner, Phase.ERROR)
        )
        self.events.emit(ended_event(job, reason="refused description"))
        return job

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
        self._schedule_expiry(job.termination_time)
        return job

    def _refused(self, contract: str, owner: str, quota: str) -> None:
        self.events.emit(JobEvent(JobEventKind.REFUSED, "", contract, owner, reason=quota))


def checked_run_id(run_id: str | None) -> str | None:
    """``run_id`` checked (:func:`check_run_id`); a refusal is the client's fault
    (:class:`InvalidRunIdError`)."""
    if run_id is None:
        return None
    try:
        return check_run_id(run_id)
    except ValueError as error:
        raise InvalidRunIdError(str(error)) from None
