"""The Slurm executor against a real one-node Slurm (munge, slurmctld, slurmd started here).

Services are built in this process with the demonstration contract ``steps`` on Slurm;
each job is a real batch job running ``wsrf-uws run-job`` on the node, which records the
job in the service's store. What the service does on its own timer (execution duration,
abort) and what it learns from Slurm (a job cancelled outside, requeued, lost with its
node, refused) is checked against Slurm's own view of its jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.core import JobService, Phase
from wsrf_uws.core.model import ANONYMOUS, Job
from wsrf_uws.execution.routing import ContractRouter
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import build_test_service, wait_for_job
from wsrf_uws.testing.slurm import SlurmCluster

from conftest import alive, wait_for_children
from slurm_support import (
    cancel_everything,
    job_processes,
    slurm_cluster,
    slurm_jobs,
    the_slurm_job,
    wait_until,
)


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    yield from slurm_cluster()


@pytest.fixture
def on_slurm(slurm: SlurmCluster, tmp_path: Path) -> Iterator[Any]:
    """Builds started services whose ``steps`` jobs run on Slurm; stops them, and cancels
    whatever a test left in Slurm."""
    services: list[JobService] = []

    def build(*, steps: dict[str, Any] | None = None, **settings: Any) -> JobService:
        settings.setdefault("slurm", {"poll_interval": 0.2})
        service = build_test_service(
            tmp_path / f"data{len(services)}",
            steps={"executor": "slurm", **(steps or {})},
            **settings,
        )
        services.append(service)
        service.startup()
        return service

    yield build
    for service in services:
        service.shutdown()
    cancel_everything(slurm)


def start(service: JobService, document: bytes) -> Job:
    job = service.create_job(contract="steps", document=document)
    service.start_job(job.resource_id, owner=ANONYMOUS)
    return job


def test_a_job_runs_as_a_slurm_job_to_completed(on_slurm: Any) -> None:
    service = on_slurm()
    assert isinstance(service.executor, ContractRouter)
    job = start(service, steps_jdl(3, 0.1))
    done = wait_for_job(service, job.resource_id, timeout=60)
    assert done.phase is Phase.COMPLETED, done.error
    assert [r.name for r in done.results] == ["step-1.txt", "step-2.txt", "step-3.txt"]
    folder = service.files.folder(job.resource_id)
    assert all((folder / r.location).is_file() for r in done.results)
    assert done.run_count == 1
    slurm_job = the_slurm_job(job.resource_id)
    assert done.note == f"Slurm job {slurm_job.job_id} on {slurm_job.nodes}"
    # Slurm's own files of the job are kept in its folder.
    assert (folder / ".slurm" / f"slurm-{slurm_job.job_id}.err").is_file()
    # Once Slurm says the job is over, the executor forgets it.
    wait_until(lambda: not service.executor.active(), what="the executor to let go")
    assert not list((service.files.root.parent / "slurm").glob("*.json"))


def test_a_job_on_postgresql_reaches_the_store_from_the_node(
    on_slurm: Any, postgres_url: str
) -> None:
    service = on_slurm(database_url=postgres_url)
    job = start(service, steps_jdl(2, 0.1))
    done = wait_for_job(service, job.resource_id, timeout=60)
    assert done.phase is Phase.COMPLETED, done.error
    assert len(done.results) == 2


def test_abort_cancels_the_slurm_job_and_its_whole_tree(on_slurm: Any) -> None:
    service = on_slurm()
    job = start(service, steps_jdl(1000, 0.1, children=2))
    children = wait_for_children(service, job.resource_id, timeout=60)
    processes = job_processes(job.resource_id)
    assert len(processes) >= 3  # run-job, its worker, the children
    assert service.abort_job(job.resource_id, owner=ANONYMOUS) is Phase.ABORTED
    # abort returns once Slurm says nothing of the job runs any more.
    assert the_slurm_job(job.resource_id).state == "CANCELLED"
    assert alive(children) == []
    assert alive(processes) == []
    aborted = service.get_job(job.resource_id, owner=ANONYMOUS)
    assert aborted.phase is Phase.ABORTED and aborted.error is None


def test_execution_duration_is_enforced_on_the_service_timer(on_slurm: Any) -> None:
    service = on_slurm()
    job = start(service, steps_jdl(1000, 0.1, execution_duration=2))
    done = wait_for_job(service, job.resource_id, timeout=60)
    assert done.phase is Phase.ABORTED
    assert done.error is not None
    assert "execution duration of 2 s" in done.error.message
    assert "cancelled by the service" in done.error.message
    assert done.results  # what the job made before its time was up is kept
    # The service's scancel ended it, not Slurm's --time (which would say TIMEOUT).
    slurm_job = wait_until(
        lambda: (j := the_slurm_job(job.resource_id)).final and j, what="the Slurm job's end"
    )
    assert slurm_job.state == "CANCELLED"


def test_a_job_cancelled_outside_the_service_ends_in_error(
    on_slurm: Any, slurm: SlurmCluster
) -> None:
    service = on_slurm()
    job = start(service, steps_jdl(1000, 0.1))
    wait_for_job(service, job.resource_id, phases={Phase.EXECUTING}, timeout=60)
    slurm.run("scancel", the_slurm_job(job.resource_id).job_id)
    done = wait_for_job(service, job.resource_id, timeout=60)
    assert done.phase is Phase.ERROR
    assert done.error is not None
    assert "cancelled outside the service" in done.error.message
    assert "CANCELLED" in done.error.message


def test_a_job_slurm_refuses_ends_in_error_at_once(on_slurm: Any) -> None:
    service = on_slurm(steps={"slurm": {"partition": "no-such-partition"}})
    job = start(service, steps_jdl(1))
    done = wait_for_job(service, job.resource_id, timeout=30)
    assert done.phase is Phase.ERROR
    assert done.error is not None and "Slurm refused the job" in done.error.message
    assert "partition" in done.error.message.lower()
    assert slurm_jobs(job.resource_id) == []


def test_jobs_beyond_max_submitted_wait_in_the_service(on_slurm: Any) -> None:
    service = on_slurm(slurm={"poll_interval": 0.2, "max_submitted": 1})
    first = start(service, steps_jdl(1000, 0.1))
    wait_until(lambda: slurm_jobs(first.resource_id), what="the first Slurm job")
    second = start(service, steps_jdl(1, 0))
    waiting = wait_until(
        lambda: (j := service.get_job(second.resource_id, owner=ANONYMOUS)).note and j,
        what="the second job's note",
    )
    assert waiting.phase is Phase.QUEUED
    assert "waiting for a place in Slurm's queue" in (waiting.note or "")
    assert slurm_jobs(second.resource_id) == []
    service.abort_job(first.resource_id, owner=ANONYMOUS)
    done = wait_for_job(service, second.resource_id, timeout=60)
    assert done.phase is Phase.COMPLETED, done.error
    assert len(slurm_jobs(second.resource_id)) == 1


def test_a_requeued_isolated_job_runs_again_in_the_same_slurm_job(
    on_slurm: Any, slurm: SlurmCluster
) -> None:
    service = on_slurm()
    job = start(service, steps_jdl(30, 0.1))
    wait_for_job(service, job.resource_id, phases={Phase.EXECUTING}, timeout=60)
    job_id = the_slurm_job(job.resource_id).job_id
    slurm.run("scontrol", "requeue", job_id)
    queued = wait_for_job(service, job.resource_id, phases={Phase.QUEUED}, timeout=30)
    assert "Slurm requeued job" in (queued.note or "")
    # Slurm holds a requeued job back for two minutes (its BeginTime): release it sooner,
    # though not at once: the node refuses to start a job again within the second its
    # credential was revoked ("Job credential revoked").
    wait_until(lambda: the_slurm_job(job.resource_id).state == "PENDING", what="the requeue")
    slurm.run("scontrol", "update", f"JobId={job_id}", "StartTime=now+3")
    done = wait_for_job(service, job.resource_id, timeout=90)
    assert done.phase is Phase.COMPLETED, done.error
    assert done.run_count == 2
    assert [j.job_id for j in slurm_jobs(job.resource_id)] == [job_id]


def test_a_node_failure_holds_a_job_that_is_not_isolated(
    on_slurm: Any, slurm: SlurmCluster
) -> None:
    service = on_slurm()
    job = start(service, steps_jdl(1000, 0.1, isolated=False))
    wait_for_job(service, job.resource_id, phases={Phase.EXECUTING}, timeout=60)
    try:
        slurm.run("scontrol", "update", f"NodeName={slurm.node}", "State=DOWN", "Reason=test")
        held = wait_for_job(service, job.resource_id, phases={Phase.HELD}, timeout=30)
    finally:
        slurm.resume_node()
    assert "lost with its node" in (held.note or "")
    assert "NODE_FAIL" in (held.note or "")
    assert the_slurm_job(job.resource_id).state == "NODE_FAIL"  # --no-requeue: never again
    # resumeJob runs it again, as a new Slurm job.
    assert service.resume_job(job.resource_id, owner=ANONYMOUS) is Phase.QUEUED
    running = wait_for_job(service, job.resource_id, phases={Phase.EXECUTING}, timeout=60)
    assert running.run_count == 2
    assert len(slurm_jobs(job.resource_id)) == 2
