"""The local executor: real worker processes, real signals, no orphans."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsrf_uws.core import JobService, Phase, ResourceNotDestroyedError
from wsrf_uws.core.model import ANONYMOUS, Job
from wsrf_uws.jdl.steps.contract import StepsContract, steps_jdl
from wsrf_uws.testing import build_test_service, wait_for_job

from conftest import alive, wait_for_children


def test_execution_duration_aborts_and_kills_children(service: JobService) -> None:
    job = service.create_job(
        contract="steps", document=steps_jdl(100, 0.2, execution_duration=1, children=2)
    )
    service.start_job(job.resource_id, owner=ANONYMOUS)
    children = wait_for_children(service, job.resource_id)
    done = wait_for_job(service, job.resource_id)
    assert done.phase is Phase.ABORTED
    assert done.error is not None and "execution duration of 1 s" in done.error.message
    assert alive(children) == []
    assert service.executor.active() == {}


def test_execution_duration_keeps_results_so_far(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(100, 0.1, execution_duration=1))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    done = wait_for_job(service, job.resource_id)
    assert done.phase is Phase.ABORTED
    assert 1 <= len(done.results) < 100
    folder = service.files.folder(job.resource_id)
    assert all((folder / r.location).is_file() for r in done.results)


def test_abort_kills_the_whole_tree(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(1, 0, children=4))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    children = wait_for_children(service, job.resource_id)
    assert len(alive(children)) == 4
    assert service.abort_job(job.resource_id, owner=ANONYMOUS) is Phase.ABORTED
    # abort returns once the work has stopped: the children, in the job's group or
    # escaped into sessions of their own, are gone already.
    assert alive(children) == []
    aborted = service.get_job(job.resource_id, owner=ANONYMOUS)
    assert aborted.phase is Phase.ABORTED and aborted.error is None


def test_a_job_ignoring_sigterm_is_killed_after_the_grace(service: JobService) -> None:
    job = service.create_job(
        contract="steps", document=steps_jdl(1, 0, children=1, ignore_term=True)
    )
    service.start_job(job.resource_id, owner=ANONYMOUS)
    children = wait_for_children(service, job.resource_id)
    service.abort_job(job.resource_id, owner=ANONYMOUS)
    assert alive(children) == []
    assert service.executor.active() == {}


def test_destroying_a_running_job_stops_it(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(1, 0, children=2))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    children = wait_for_children(service, job.resource_id)
    service.destroy_job(job.resource_id, owner=ANONYMOUS)
    assert alive(children) == []
    assert service.store.get(job.resource_id) is None
    assert not service.files.folder(job.resource_id).exists()


def test_slots_limit_concurrency_and_the_queue_keeps_order(tmp_path: Path) -> None:
    svc = build_test_service(tmp_path / "d", slots=1)
    with svc:
        first = svc.create_job(contract="steps", document=steps_jdl(1, 0, children=1))
        second = svc.create_job(contract="steps", document=steps_jdl(1, 0))
        third = svc.create_job(contract="steps", document=steps_jdl(1, 0))
        for job in (first, second, third):
            svc.start_job(job.resource_id, owner=ANONYMOUS)
        wait_for_children(svc, first.resource_id)  # first holds the only slot
        assert svc.get_job(second.resource_id, owner=ANONYMOUS).phase is Phase.QUEUED
        assert svc.executor.active() == {
            first.resource_id: "running",
            second.resource_id: "queued",
            third.resource_id: "queued",
        }
        svc.abort_job(first.resource_id, owner=ANONYMOUS)
        done_second = wait_for_job(svc, second.resource_id)
        done_third = wait_for_job(svc, third.resource_id)
        assert done_second.phase is done_third.phase is Phase.COMPLETED
        assert done_second.start_time <= done_third.start_time  # type: ignore[operator]


def test_destroying_a_queued_job_takes_it_off_the_queue(tmp_path: Path) -> None:
    svc = build_test_service(tmp_path / "d", slots=1)
    with svc:
        blocker = svc.create_job(contract="steps", document=steps_jdl(1, 0, children=1))
        queued = svc.create_job(contract="steps", document=steps_jdl(1, 0))
        svc.start_job(blocker.resource_id, owner=ANONYMOUS)
        svc.start_job(queued.resource_id, owner=ANONYMOUS)
        wait_for_children(svc, blocker.resource_id)
        svc.destroy_job(queued.resource_id, owner=ANONYMOUS)
        assert queued.resource_id not in svc.executor.active()
        svc.abort_job(blocker.resource_id, owner=ANONYMOUS)
        assert svc.store.get(queued.resource_id) is None


def test_shutdown_interrupts_but_keeps_jobs_executing(tmp_path: Path) -> None:
    svc = build_test_service(tmp_path / "d")
    svc.startup()
    job = svc.create_job(contract="steps", document=steps_jdl(1, 0, children=2))
    svc.start_job(job.resource_id, owner=ANONYMOUS)
    children = wait_for_children(svc, job.resource_id)
    svc.shutdown()
    assert alive(children) == []
    reopened = build_test_service(tmp_path / "d")
    # Recorded as still EXECUTING: the next start-up's recovery decides what happens.
    assert reopened.store.get(job.resource_id).phase is Phase.EXECUTING  # type: ignore[union-attr]
    with reopened:
        rerun = wait_for_job(reopened, job.resource_id, phases={Phase.EXECUTING})
        assert rerun.run_count == 2
        reopened.abort_job(job.resource_id, owner=ANONYMOUS)


class OfflineArchive(StepsContract):
    """Runs like ``steps`` but can never release what it holds (module level: it is pickled)."""

    def release(self, job: Job) -> None:
        raise ResourceNotDestroyedError("the archive is offline")


def test_a_failed_destroy_of_running_work_leaves_it_aborted(tmp_path: Path) -> None:
    svc = build_test_service(tmp_path / "d", contracts=[OfflineArchive()])
    with svc:
        job = svc.create_job(contract="steps", document=steps_jdl(1, 0, children=1))
        svc.start_job(job.resource_id, owner=ANONYMOUS)
        children = wait_for_children(svc, job.resource_id)
        with pytest.raises(ResourceNotDestroyedError):
            svc.destroy_job(job.resource_id, owner=ANONYMOUS)
        kept = svc.get_job(job.resource_id, owner=ANONYMOUS)
        assert kept.phase is Phase.ABORTED  # not EXECUTING with nothing running
        assert alive(children) == []
        assert svc.files.folder(job.resource_id).exists()  # nothing released, nothing lost
