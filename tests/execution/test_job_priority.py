"""Jobs run below the service's priority: answering requests goes before running jobs.

A real server runs a ``steps`` job with child processes; while it executes, the job's
worker and the children it started have the configured niceness added, and the service
process has not.
"""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from wsrf_uws.client import Service
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import running_server


def job_processes(service_pid: int) -> list[psutil.Process]:
    """The workers (children of the service's children: the warm parents that fork them)
    and whatever they started."""
    found: list[psutil.Process] = []
    for process in psutil.Process(service_pid).children():
        try:
            for worker in process.children():
                found += [worker, *worker.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def test_jobs_and_their_children_run_with_the_added_niceness(tmp_path: Path) -> None:
    with running_server(tmp_path, env={"WSRF_UWS_JOB_NICE": "7"}) as server:
        assert server.process is not None
        service_pid = server.process.pid
        job = Service(server.url("steps")).create(steps_jdl(20, 0.2, children=2))
        job.start()
        deadline = time.monotonic() + 30
        niceness: set[int] = set()
        while time.monotonic() < deadline and len(niceness) == 0:
            time.sleep(0.2)
            if job.phase != "EXECUTING":
                continue
            processes = job_processes(service_pid)
            if len(processes) >= 3:  # the worker and its two children
                niceness = {process.nice() for process in processes}
        job.destroy()
        base = psutil.Process(service_pid).nice()
        assert niceness == {base + 7}, niceness
