"""Jobs run below the service's priority: answering requests goes before running jobs.

A real server runs a ``steps`` job with child processes; while it executes, the job's
worker and the children it started have the configured niceness added, and the service
process has not. They also run in a session the service does not share, the one their
warm parent leads, whose scheduling group (where the kernel groups by session) has that
niceness: without it, a job at niceness 19 still spent the service's group's share of
the processors (:mod:`wsrf_uws.execution.scheduling_group`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from wsrf_uws.client import Service
from wsrf_uws.execution.scheduling_group import AUTOGROUP, autogroup_nice
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import running_server

#: Whether this kernel groups processes by session for scheduling.
GROUPED = AUTOGROUP.exists()


@dataclass(frozen=True)
class Seen:
    """A process of a job, as seen while it ran."""

    pid: int
    nice: int
    session: int
    process_group: int
    group_nice: int | None
    #: The warm parent that forked the job (its own pid for the job's children too).
    warm_parent: int
    worker: bool


def job_processes(service_pid: int) -> list[Seen]:
    """The workers (children of the service's children: the warm parents that fork them)
    and whatever they started."""
    found: list[Seen] = []
    for parent in psutil.Process(service_pid).children():
        try:
            for worker in parent.children():
                for process in (worker, *worker.children(recursive=True)):
                    found.append(
                        Seen(
                            pid=process.pid,
                            nice=process.nice(),
                            session=os.getsid(process.pid),
                            process_group=os.getpgid(process.pid),
                            group_nice=autogroup_nice(process.pid),
                            warm_parent=parent.pid,
                            worker=process.pid == worker.pid,
                        )
                    )
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    return found


def test_jobs_and_their_children_run_with_the_added_niceness(tmp_path: Path) -> None:
    with running_server(tmp_path, env={"WSRF_UWS_JOB_NICE": "7"}) as server:
        assert server.process is not None
        service_pid = server.process.pid
        job = Service(server.url("steps")).create(steps_jdl(20, 0.2, children=2))
        job.start()
        deadline = time.monotonic() + 30
        processes: list[Seen] = []
        while time.monotonic() < deadline and len(processes) < 3:
            time.sleep(0.2)
            if job.phase == "EXECUTING":
                processes = job_processes(service_pid)  # the worker and its two children
        service_session = os.getsid(service_pid)
        job.destroy()
        base = psutil.Process(service_pid).nice()
    assert len(processes) >= 3, processes
    assert {seen.nice for seen in processes} == {base + 7}, processes
    workers = [seen for seen in processes if seen.worker]
    assert workers, processes
    for seen in workers:  # (the steps job's children start sessions of their own)
        # The warm parent leads the session; the worker leads its own process group.
        assert seen.session == seen.warm_parent != service_session, seen
        assert seen.process_group == seen.pid, seen
        if GROUPED:
            assert seen.group_nice == 7, seen


def test_the_session_group_takes_the_niceness() -> None:
    """A job started cold leads a session itself: in a process of its own here (a session
    leader cannot lead a new session)."""
    code = (
        "import os, sys; from wsrf_uws.execution.scheduling_group import lead_own_session, "
        "autogroup_nice; before = os.getsid(0); lead_own_session(nice=5); "
        "print(before != os.getsid(0) == os.getpid(), autogroup_nice())"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    assert shown[0] == "True"
    assert shown[1] == ("5" if GROUPED else "None")
