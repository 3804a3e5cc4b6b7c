"""Helpers for the Slurm tests (``tests/execution``, ``tests/cluster``): a module's one-node
cluster, and looks at its jobs and at the processes of a job."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from wsrf_uws.core.cluster import NodeRole
from wsrf_uws.core.service import JobService
from wsrf_uws.execution.slurm_commands import SlurmJob
from wsrf_uws.settings import ClusterSettings
from wsrf_uws.testing import build_test_service
from wsrf_uws.testing.polling import eventually
from wsrf_uws.testing.slurm import SlurmCluster, slurm_in_environment, slurm_jobs, why_unavailable

#: Kept under the name the Slurm tests have used: :func:`wsrf_uws.testing.polling.eventually`.
wait_until = eventually


def slurm_front_end(
    folder: Path, url: str, name: str, *, cluster: ClusterSettings | None = None
) -> JobService:
    """A started front-end built in this process, on the PostgreSQL store at ``url``, with
    the ``steps`` contract on Slurm (polled every 0.2 s); ``cluster``: its heartbeat."""
    service = build_test_service(
        folder,
        database_url=url,
        role=NodeRole.FRONTEND,
        node=name,
        steps={"executor": "slurm"},
        slurm={"poll_interval": 0.2},
        **({} if cluster is None else {"cluster": cluster}),
    )
    service.startup()
    return service


def slurm_cluster() -> Iterator[SlurmCluster]:
    """A started cluster, its ``SLURM_CONF`` in this process's environment (so services
    built here, and the processes they start, use it); skipped where Slurm is missing or
    the tests do not run as root, failed instead under CI."""
    reason = why_unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run the Slurm tests")
        pytest.skip(reason)
    with slurm_in_environment() as cluster:
        yield cluster


def cancel_everything(cluster: SlurmCluster) -> None:
    """Cancel every job of the cluster and wait until none is left running."""
    cluster.run("scancel", "--user=root")
    eventually(lambda: not cluster.run("squeue", "--noheader").strip(), what="an empty queue")


def the_slurm_job(resource_id: str) -> SlurmJob:
    """The one Slurm job of a resource (failing if there are none or several)."""
    jobs = slurm_jobs(resource_id)
    assert len(jobs) == 1, jobs
    return jobs[0]


def job_processes(resource_id: str) -> list[int]:
    """The live processes of a job run by Slurm: ``run-job`` (its command line names the
    resource) and everything below it."""
    found: set[int] = set()
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if resource_id in (process.info["cmdline"] or []) and "run-job" in (
                process.info["cmdline"] or []
            ):
                found.add(process.pid)
                found.update(child.pid for child in process.children(recursive=True))
        except psutil.Error:
            continue
    return sorted(found)
