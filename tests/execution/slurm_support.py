"""Helpers for the Slurm tests: a module's one-node cluster, and looks at its jobs and at
the processes of a job."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import psutil
import pytest

from wsrf_uws.execution.slurm_commands import SlurmCommands, SlurmJob
from wsrf_uws.execution.slurm_submission import job_name
from wsrf_uws.testing.slurm import SlurmCluster, missing_programs

T = TypeVar("T")


def slurm_cluster() -> Iterator[SlurmCluster]:
    """A started cluster, its ``SLURM_CONF`` in this process's environment (so services
    built here, and the processes they start, use it); skipped where Slurm is missing or
    the tests do not run as root, failed instead under CI."""
    missing = missing_programs()
    reason = None
    if missing:
        reason = f"Slurm is not installed (missing {', '.join(missing)}: slurm-wlm, munge)"
    elif os.geteuid() != 0:
        reason = "the test Slurm cluster runs as root"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run the Slurm tests")
        pytest.skip(reason)
    cluster = SlurmCluster.start()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        cluster.stop()


def cancel_everything(cluster: SlurmCluster) -> None:
    """Cancel every job of the cluster and wait until none is left running."""
    cluster.run("scancel", "--user=root")
    wait_until(lambda: not cluster.run("squeue", "--noheader").strip(), what="an empty queue")


def slurm_jobs(resource_id: str) -> list[SlurmJob]:
    """The Slurm jobs of a resource (by its job name), oldest first."""
    return SlurmCommands().named(job_name(resource_id))


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


def wait_until(condition: Callable[[], T], *, what: str, timeout: float = 60.0) -> T:
    """Poll ``condition`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting for {what} after {timeout} s")
        time.sleep(0.05)
