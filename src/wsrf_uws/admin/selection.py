"""Which jobs an ``admin`` command works on: the filters, applied to the store."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from ..core.model import Job
from ..core.phases import Phase
from ..core.ports import JobStore


@dataclass(frozen=True)
class JobFilter:
    """Every condition a job must meet (None: any); keyword-only, as the CLI's options."""

    owner: str | None = None
    phases: Collection[Phase] | None = None
    contract: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    #: Text the job's error message contains (case-insensitive); only jobs with one.
    error_text: str | None = None
    resource_ids: Collection[str] | None = None

    def matches(self, job: Job) -> bool:
        """Whether ``job`` meets every condition."""
        if self.contract is not None and job.contract != self.contract:
            return False
        if self.created_before is not None and job.creation_time >= self.created_before:
            return False
        if self.created_after is not None and job.creation_time <= self.created_after:
            return False
        if self.resource_ids is not None and job.resource_id not in self.resource_ids:
            return False
        if self.error_text is not None:
            message = job.error.message if job.error is not None else None
            if message is None or self.error_text.casefold() not in message.casefold():
                return False
        return True


def select_jobs(
    store: JobStore, where: JobFilter, *, phases: Collection[Phase] | None = None
) -> list[Job]:
    """The jobs of ``store`` that ``where`` selects and are in one of ``phases`` (the
    action's; None: any but ARCHIVED), newest first.

    Owner, phases and creation time are asked of the store; the rest is checked here.
    """
    wanted = set(phases) if phases is not None else None
    if where.phases is not None:
        wanted = set(where.phases) if wanted is None else wanted & set(where.phases)
    if wanted is not None and not wanted:
        return []
    jobs = store.list_jobs(owner=where.owner, phases=wanted, after=where.created_after)
    return [job for job in jobs if where.matches(job)]
