"""What the store tests of both stores share: rows as an older schema wrote them, and the
checks a migration must pass."""

from __future__ import annotations

from typing import Any

from wsrf_uws.core.model import Job
from wsrf_uws.core.phases import Phase
from wsrf_uws.core.ports import JobChanges, JobStore
from wsrf_uws.store import codec


def older_row(job: Job, *, without: tuple[str, ...]) -> list[tuple[str, Any]]:
    """``job``'s columns and values as a schema that lacked the columns ``without`` had them."""
    return [
        (column, value)
        for column, value in zip(codec.JOB_COLUMNS, codec.job_to_row(job), strict=True)
        if column not in without
    ]


def assert_the_run_id_column_works(store: JobStore, job: Job) -> None:
    """After the RUNID migration: ``job``, inserted before it, reads back unchanged and
    takes a RUNID while PENDING."""
    assert store.get(job.resource_id) == job  # without a RUNID
    labelled = store.update_in_phase(job.resource_id, Phase.PENDING, JobChanges(run_id="r"))
    assert labelled is not None and labelled.run_id == "r"
    assert store.get(job.resource_id) == labelled
