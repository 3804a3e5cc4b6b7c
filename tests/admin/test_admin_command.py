"""``wsrf-uws admin`` as a subprocess against the store of a real running service: the
queue's hold (across a restart), bulk abort with --dry-run and --max, rerun, resume of
nothing, destroy, the filters; and the same on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from wsrf_uws.client import ResourceUnknown, Service
from wsrf_uws.client.job import Job
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.testing.server import RunningServer

ADMIN = [sys.executable, "-m", "wsrf_uws.cli", "admin"]


def admin(
    data: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [*ADMIN, args[0], "--data", str(data), *args[1:]]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def wait_phase(job: Job, phases: set[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (phase := job.phase) not in phases:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{job.resource_id} still {phase}")
        time.sleep(0.05)
    return phase


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path / "data")
    running.start()
    try:
        yield running
    finally:
        if running.process is not None:
            running.stop()


def test_a_held_queue_starts_nothing_until_released_even_across_a_restart(
    server: RunningServer,
) -> None:
    held = admin(server.data_dir, "hold")
    assert held.returncode == 0, held.stderr
    assert held.stdout.startswith("queue: held by ")
    assert "operator" in held.stderr and "held the queue" in held.stderr  # who and what
    client = Service(server.url("steps"))
    job = client.create(steps_jdl(1, 0.0))
    assert job.start() == "QUEUED"
    time.sleep(1.0)  # the executor had every chance to start it
    assert job.phase == "QUEUED"

    server.stop()
    assert admin(server.data_dir, "status").stdout.startswith("queue: held by ")
    server.start()
    client = Service(server.url("steps"))
    job = client.job(job.resource_id)
    time.sleep(1.0)
    assert job.phase == "QUEUED"  # the hold outlived the restart

    released = admin(server.data_dir, "release")
    assert released.returncode == 0, released.stderr
    assert released.stdout == "queue: running\n"
    assert job.wait(timeout=30).phase == "COMPLETED"


def test_bulk_abort_refuses_beyond_max_lists_on_dry_run_and_stops_the_runs(
    server: RunningServer,
) -> None:
    client = Service(server.url("steps"))
    long_jobs = [client.create(steps_jdl(600, 0.1)) for _ in range(2)]
    pending = client.create(steps_jdl(1, 0.0))
    for job in long_jobs:
        job.start()
    for job in long_jobs:
        wait_phase(job, {"EXECUTING"})

    too_many = admin(server.data_dir, "abort", "--phase", "EXECUTING", "--max", "1")
    assert too_many.returncode == 1
    assert "2 jobs match, more than --max 1" in too_many.stderr
    dry = admin(server.data_dir, "abort", "--phase", "EXECUTING", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert sorted(dry.stdout.split()) == sorted(job.resource_id for job in long_jobs)
    assert [job.phase for job in long_jobs] == ["EXECUTING", "EXECUTING"]

    done = admin(server.data_dir, "abort", "--phase", "EXECUTING")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == sorted(job.resource_id for job in long_jobs)
    assert "aborted 2 job(s)" in done.stderr
    assert [job.phase for job in long_jobs] == ["ABORTED", "ABORTED"]
    assert pending.phase == "PENDING"  # not selected
    # the service notices and stops the runs: its executor runs nothing any more
    deadline = time.monotonic() + 30
    while _running(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(server) == 0
    store = SQLiteJobStore(server.data_dir / "wsrf-uws.sqlite")
    try:
        note = store.get(long_jobs[0].resource_id).note  # type: ignore[union-attr]
    finally:
        store.close()
    assert note is not None and note.startswith("aborted by operator ")


def test_rerun_an_isolated_failed_job_and_destroy_by_filter(server: RunningServer) -> None:
    client = Service(server.url("steps"))
    failing = client.create(steps_jdl(1, 0.0, fail="boom at step one"))
    shared = client.create(steps_jdl(1, 0.0, fail="boom again", isolated=False))
    fine = client.create(steps_jdl(1, 0.0))
    for job in (failing, shared, fine):
        job.start()
        job.wait(timeout=30)
    assert [failing.phase, shared.phase, fine.phase] == ["ERROR", "ERROR", "COMPLETED"]

    listed = admin(server.data_dir, "jobs", "--error", "BOOM", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert {job["resource_id"] for job in found} == {failing.resource_id, shared.resource_id}
    assert all(job["phase"] == "ERROR" and job["owner"] == "anonymous" for job in found)
    later = admin(server.data_dir, "jobs", "--created-after", "2999-01-01T00:00:00")
    assert later.stdout == ""

    rerun = admin(server.data_dir, "rerun", "--error", "boom")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.split() == [failing.resource_id]
    assert f"{shared.resource_id} left as it was: " in rerun.stderr  # not isolated
    deadline = time.monotonic() + 30
    while _run_count(server, failing.resource_id) < 2 or failing.phase != "ERROR":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert shared.phase == "ERROR"

    nothing = admin(server.data_dir, "resume")
    assert (nothing.returncode, nothing.stdout) == (0, "")

    destroyed = admin(server.data_dir, "destroy", "--phase", "COMPLETED")
    assert destroyed.returncode == 0, destroyed.stderr
    assert destroyed.stdout.split() == [fine.resource_id]
    deadline = time.monotonic() + 30
    while True:  # the service's reaper destroys it
        try:
            assert fine.phase == "COMPLETED"
        except ResourceUnknown:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert failing.phase == "ERROR"


def test_admin_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    env = {"WSRF_UWS_DATABASE_URL": postgres_url}
    server = RunningServer(tmp_path / "data", env=env)
    server.start()
    try:
        assert admin(server.data_dir, "hold", env=env).returncode == 0
        client = Service(server.url("steps"))
        job = client.create(steps_jdl(600, 0.1))
        job.start()
        time.sleep(1.0)
        assert job.phase == "QUEUED"
        assert admin(server.data_dir, "release", env=env).returncode == 0
        wait_phase(job, {"EXECUTING"})
        aborted = admin(server.data_dir, "abort", "--id", job.resource_id, env=env)
        assert aborted.stdout.split() == [job.resource_id], aborted.stderr
        assert job.phase == "ABORTED"
        deadline = time.monotonic() + 30
        while _running(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _running(server) == 0
    finally:
        server.stop()


def _running(server: RunningServer) -> int:
    with urllib.request.urlopen(f"{server.base_url}/health", timeout=30) as reply:
        return int(json.loads(reply.read())["executor"]["running"])


def _run_count(server: RunningServer, resource_id: str) -> int:
    store = SQLiteJobStore(server.data_dir / "wsrf-uws.sqlite")
    try:
        job = store.get(resource_id)
        return job.run_count if job is not None else 0
    finally:
        store.close()
