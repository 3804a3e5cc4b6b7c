"""Jobs recorded ended in ERROR at creation (TAP's refused queries), and the RUNID label:
:meth:`JobService.create_refused_job` and :meth:`JobService.set_run_id` on a real store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from wsrf_uws.core import (
    ContractUnknownError,
    InvalidPhaseError,
    JobService,
    Phase,
    ResourceUnknownError,
)
from wsrf_uws.core.errors import InvalidRunIdError, QuotaExceededError
from wsrf_uws.core.model import MAX_RUN_ID_CHARS
from wsrf_uws.core.ports import JobChanges
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import UNLIMITED_QUOTAS, build_test_service

DOCUMENT = b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>x</steps></job>'


def test_a_refused_job_is_an_ordinary_job_that_ended_in_error(service: JobService) -> None:
    job = service.create_refused_job(
        contract="steps", document=DOCUMENT, reason="steps: not a number", run_id="r1"
    )
    recorded = service.get_job(job.resource_id, owner="anonymous")
    assert recorded == job
    assert recorded.phase is Phase.ERROR
    assert recorded.error is not None and recorded.error.message == "steps: not a number"
    assert recorded.jdl == DOCUMENT and recorded.run_id == "r1"
    assert recorded.start_time is None and recorded.end_time == recorded.creation_time
    assert recorded.termination_time is not None  # the default lifetime
    # Starting it changes nothing (it ended before it could start); it is destroyed as any.
    assert service.start_job(job.resource_id, owner="anonymous") is Phase.ERROR
    assert service.get_job(job.resource_id, owner="anonymous").phase is Phase.ERROR
    service.destroy_job(job.resource_id, owner="anonymous")
    with pytest.raises(ResourceUnknownError):
        service.get_job(job.resource_id, owner="anonymous")


def test_a_job_that_failed_while_running_is_not_started_again(service: JobService) -> None:
    """Only a job that never started answers startJob with ERROR: one that ran and failed
    is refused, as before."""
    job = service.create_job(contract="steps", document=steps_jdl(1, 0))
    service.store.transition(job.resource_id, Phase.QUEUED)
    ran = service.store.transition(job.resource_id, Phase.EXECUTING)
    assert ran is not None
    service.store.update(job.resource_id, JobChanges(start_time=ran.creation_time))
    service.store.transition(job.resource_id, Phase.ERROR)
    with pytest.raises(InvalidPhaseError):
        service.start_job(job.resource_id, owner="anonymous")


def test_refused_jobs_count_against_the_owners_live_jobs(tmp_path: Path) -> None:
    quotas = UNLIMITED_QUOTAS.model_copy(update={"max_anonymous_live_jobs": 2})
    service = build_test_service(tmp_path / "data", quotas=quotas)
    service.startup()
    try:
        service.create_job(contract="steps", document=steps_jdl(1, 0))
        service.create_refused_job(contract="steps", document=DOCUMENT, reason="bad")
        with pytest.raises(QuotaExceededError):
            service.create_refused_job(contract="steps", document=DOCUMENT, reason="bad")
        assert service.store.count(owner="anonymous") == 2  # nothing half-recorded
    finally:
        service.shutdown()


def test_run_id_is_kept_changed_while_pending_and_then_fixed(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(1, 5), run_id="first")
    assert job.run_id == "first"
    changed = service.set_run_id(job.resource_id, owner="anonymous", run_id="second")
    assert changed == replace(job, run_id="second")
    assert service.get_job(job.resource_id, owner="anonymous").run_id == "second"
    cleared = service.set_run_id(job.resource_id, owner="anonymous", run_id=None)
    assert cleared.run_id is None
    with pytest.raises(ResourceUnknownError):  # another owner's job is unknown
        service.set_run_id(job.resource_id, owner="bob", run_id="x")
    service.start_job(job.resource_id, owner="anonymous")
    with pytest.raises(InvalidPhaseError, match="RUNID"):
        service.set_run_id(job.resource_id, owner="anonymous", run_id="late")
    assert service.get_job(job.resource_id, owner="anonymous").run_id is None
    service.abort_job(job.resource_id, owner="anonymous")


@pytest.mark.parametrize(
    ("run_id", "why"),
    [("x" * (MAX_RUN_ID_CHARS + 1), "at most"), ("a\x00b", "control"), ("a\x85", "control")],
)
def test_a_run_id_that_cannot_be_kept_is_refused(
    service: JobService, run_id: str, why: str
) -> None:
    with pytest.raises(InvalidRunIdError, match=why):
        service.create_job(contract="steps", document=steps_jdl(1, 0), run_id=run_id)
    assert service.store.count() == 0
    job = service.create_job(contract="steps", document=steps_jdl(1, 0), run_id="x" * 256)
    with pytest.raises(InvalidRunIdError, match=why):
        service.set_run_id(job.resource_id, owner="anonymous", run_id=run_id)
    assert service.get_job(job.resource_id, owner="anonymous").run_id == "x" * 256


def test_a_refused_job_needs_a_known_contract(service: JobService) -> None:
    with pytest.raises(ContractUnknownError):
        service.create_refused_job(contract="nope", document=DOCUMENT, reason="bad")
    assert service.store.count() == 0
