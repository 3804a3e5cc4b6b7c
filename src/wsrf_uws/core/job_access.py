"""Reading a :class:`~wsrf_uws.core.service.JobService`'s jobs: one job as its owner sees
it, the owner's list, and the handle a contract's extra operation works through.

:class:`JobAccess` is also what the service's other parts (:mod:`.job_creation`,
:mod:`.job_control`) build on: it declares the parts of the service they use.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Any

from .clock import Clock
from .contract import Contract, JobHandle
from .errors import ResourceUnknownError
from .execution_limits import ExecutionLimits
from .job_events import JobEvent, JobEventKind, JobEvents
from .jobfiles import ResultStorage
from .lifetime import TerminationPolicy
from .model import Job
from .phases import Phase
from .ports import Executor, JobChanges, JobStore
from .quotas import Quotas
from .registry import ContractRegistry


class JobAccess:
    """The reading operations of a :class:`~wsrf_uws.core.service.JobService` (which sets
    the attributes declared here), and the base of its other parts."""

    store: JobStore
    files: ResultStorage
    registry: ContractRegistry
    executor: Executor
    clock: Clock
    policy: TerminationPolicy
    limits: ExecutionLimits
    quotas: Quotas
    events: JobEvents

    def _queued(self, job: Job) -> None:
        """Hand a job just recorded QUEUED (by startJob, resumeJob, or a create that
        starts it) to the executor, and tell it."""
        self.executor.submit(job.resource_id, owner=job.owner, contract=job.contract)
        self.events.emit(
            JobEvent(JobEventKind.QUEUED, job.resource_id, job.contract, job.owner, Phase.QUEUED)
        )

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

    def _schedule_expiry(self, termination_time: datetime | None) -> None:
        """A resource now ends at ``termination_time``: tell whoever reaps (the service's
        :class:`~wsrf_uws.core.duties.Duties`)."""
        raise NotImplementedError


class ServiceJobHandle:
    """The :class:`~wsrf_uws.core.contract.JobHandle` the service gives an extra operation:
    one job, its folder, and a change of its contract state through the store."""

    def __init__(self, job: Job, *, service: JobAccess) -> None:
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
