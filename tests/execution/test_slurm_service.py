"""``cea`` on Slurm in a real ``wsrf-uws serve``: SOAP in, Slurm batch jobs out.

The service process is configured as an operator would (``WSRF_UWS_CEA__EXECUTOR=slurm``);
its applications run on the one-node Slurm cluster the module starts, through
``wsrf-uws run-job``, while ``steps`` stays on the service's own workers. A ``kill -9`` of
the service leaves its Slurm jobs running: the restarted service takes them up again
without starting any twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from astropy.io import fits

from wsrf_uws.client import Service
from wsrf_uws.core import Phase
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.runtime import job_store
from wsrf_uws.settings import Settings
from wsrf_uws.testing.server import RunningServer, running_server
from wsrf_uws.testing.slurm import SlurmCluster

from conftest import alive
from slurm_support import (
    cancel_everything,
    job_processes,
    slurm_cluster,
    slurm_jobs,
    the_slurm_job,
    wait_until,
)

CEA = "urn:wsrf-uws:cea:v1"
#: The service's configuration: applications on Slurm, looked at five times a second.
ENVIRONMENT = {"WSRF_UWS_CEA__EXECUTOR": "slurm", "WSRF_UWS_SLURM__POLL_INTERVAL": "0.2"}


def starfield(seconds: float, *, duration: int | None = None) -> str:
    """A job of the demonstration application that spreads its work over ``seconds``."""
    limit = "" if duration is None else f"<executionDuration>{duration}</executionDuration>"
    return (
        f'<job xmlns="{CEA}"><application>starfield</application>{limit}'
        f'<input name="size">32</input><input name="stars">10</input>'
        f'<input name="seconds">{seconds}</input></job>'
    )


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    yield from slurm_cluster()


@pytest.fixture
def cluster(slurm: SlurmCluster) -> Iterator[SlurmCluster]:
    yield slurm
    cancel_everything(slurm)


def test_a_cea_job_runs_on_slurm_to_completed_with_its_results(
    cluster: SlurmCluster, tmp_path: Path
) -> None:
    with running_server(tmp_path / "data", env=ENVIRONMENT) as server:
        cea = Service(server.url("cea"))
        job = cea.create(starfield(1))
        job.start()
        final = job.wait(timeout=120, poll=0.2)
        assert final.phase == "COMPLETED", final.error
        slurm_job = the_slurm_job(job.resource_id)
        assert final.note == f"Slurm job {slurm_job.job_id} on {slurm_job.nodes}"
        assert {"starfield.fits", "stars.vot"} <= {r.name for r in final.results}
        image = tmp_path / "starfield.fits"
        job.download("starfield.fits", image)
        with fits.open(image) as hdus:
            assert hdus[0].header["NAXIS1"] == 32
        # The contract left on the local executor never reaches Slurm.
        steps = Service(server.url("steps"))
        local = steps.create(steps_jdl(2, 0.1))
        local.start()
        assert local.wait(timeout=60, poll=0.1).phase == "COMPLETED"
        assert slurm_jobs(local.resource_id) == []


def test_execution_duration_and_destroy_stop_cea_jobs_in_slurm(
    cluster: SlurmCluster, tmp_path: Path
) -> None:
    with running_server(tmp_path / "data", env=ENVIRONMENT) as server:
        cea = Service(server.url("cea"))
        timed = cea.create(starfield(600, duration=3))
        doomed = cea.create(starfield(600))
        timed.start()
        doomed.start()
        final = timed.wait(timeout=120, poll=0.2)
        assert final.phase == "ABORTED"
        assert "execution duration of 3 s" in (final.error_message or "")
        assert "cancelled by the service" in (final.error_message or "")
        wait_until(lambda: doomed.phase == "EXECUTING", what="the second job to run")
        processes = wait_until(lambda: job_processes(doomed.resource_id), what="its processes")
        doomed.destroy()  # returns once Slurm says nothing of the job runs
        assert the_slurm_job(doomed.resource_id).state == "CANCELLED"
        assert alive(processes) == []
        ended = wait_until(
            lambda: (j := the_slurm_job(timed.resource_id)).final and j, what="its end"
        )
        assert ended.state == "CANCELLED"  # the service's scancel, not Slurm's TIMEOUT


def test_a_restarted_service_takes_up_its_slurm_jobs_again(
    cluster: SlurmCluster, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = RunningServer(data, env=ENVIRONMENT)
    server.start()
    try:
        cea = Service(server.url("cea"))
        quick, slow = cea.create(starfield(1)), cea.create(starfield(15))
        quick.start()
        slow.start()
        for job in (quick, slow):
            wait_until(lambda job=job: job.phase == "EXECUTING", what="both jobs to run")
        slow_in_slurm = the_slurm_job(slow.resource_id)

        server.kill()
        # While the service is down, Slurm goes on: one job ends, recorded by run-job.
        wait_until(lambda: the_slurm_job(quick.resource_id).final, what="the quick job's end")
        assert the_slurm_job(slow.resource_id).state == "RUNNING"

        server.start()
        assert "0 job(s) requeued, 0 held" in "".join(server.log[-5:])
        cea = Service(server.url("cea"))
        assert cea.job(quick.resource_id).phase == "COMPLETED"
        final = cea.job(slow.resource_id).wait(timeout=120, poll=0.2)
        assert final.phase == "COMPLETED", final.error
        assert final.note == f"Slurm job {slow_in_slurm.job_id} on {slow_in_slurm.nodes}"
    finally:
        if server.process is not None:
            server.stop()
    # Never started twice: one run, one Slurm job.
    store = job_store(Settings(data_dir=data))
    try:
        for job in (quick, slow):
            recorded = store.get(job.resource_id)
            assert recorded is not None and recorded.phase is Phase.COMPLETED
            assert recorded.run_count == 1
            assert len(slurm_jobs(job.resource_id)) == 1
    finally:
        store.close()
