"""Job processes run in a session of their own, its scheduling group at the job niceness.

A real server runs a ``steps`` job; while it executes, its worker is in a session (so a
scheduling group, where the kernel groups by session) that the service's process does
not share: the session its warm parent leads, which has the configured niceness.
Without it, a job at niceness 19 still spent its service's group's share of the
processors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from wsrf_uws.client import Service
from wsrf_uws.execution.scheduling_group import AUTOGROUP, autogroup_nice
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import running_server

GROUPED = AUTOGROUP.exists()


def workers(service_pid: int) -> list[psutil.Process]:
    """The job processes: children of the warm parents the service started."""
    found: list[psutil.Process] = []
    for parent in psutil.Process(service_pid).children():
        try:
            found += parent.children()
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_job_runs_in_its_warm_parents_session_at_the_job_niceness(tmp_path: Path) -> None:
    with running_server(tmp_path, env={"WSRF_UWS_JOB_NICE": "7"}) as server:
        assert server.process is not None
        service_pid = server.process.pid
        job = Service(server.url("steps")).create(steps_jdl(30, 0.2))
        job.start()
        deadline = time.monotonic() + 30
        sessions: dict[int, int] = {}
        groups: dict[int, int | None] = {}
        parents: dict[int, int] = {}
        process_groups: dict[int, int] = {}
        while time.monotonic() < deadline and not sessions:
            time.sleep(0.2)
            if job.phase != "EXECUTING":
                continue
            for worker in workers(service_pid):
                try:
                    if worker.nice() == psutil.Process(service_pid).nice() + 7:
                        sessions[worker.pid] = os.getsid(worker.pid)
                        groups[worker.pid] = autogroup_nice(worker.pid)
                        parents[worker.pid] = worker.ppid()
                        process_groups[worker.pid] = os.getpgid(worker.pid)
                except (psutil.NoSuchProcess, ProcessLookupError):
                    continue
        service_session = os.getsid(service_pid)
        job.destroy()
    assert sessions, "no job process was seen executing"
    for pid, session in sessions.items():
        # Its warm parent leads the session; the job leads its own process group.
        assert session == parents[pid] != service_session
        assert process_groups[pid] == pid
        if GROUPED:
            assert groups[pid] == 7


def test_the_session_group_takes_the_niceness() -> None:
    """In a process of its own (a session leader cannot lead a new session)."""
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
