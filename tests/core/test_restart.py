"""Restart recovery after a real ``kill -9`` of a service process holding running jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from wsrf_uws.core import Phase
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.core.ports import JobChanges, JobStore
from wsrf_uws.runtime import job_store
from wsrf_uws.settings import Settings
from wsrf_uws.testing import build_test_service, wait_for_job

from conftest import alive

HELPER = Path(__file__).with_name("hold_jobs.py")

PLAN = {
    "slots": 8,
    "jobs": [
        *({"name": f"isolated-{i}", "start": True, "jdl": {"steps": 8, "step_seconds": 0.25}}
          for i in range(3)),
        *({"name": f"external-{i}", "start": True,
           "jdl": {"steps": 8, "step_seconds": 0.25, "isolated": False}} for i in range(2)),
        {"name": "pending", "start": False, "jdl": {"steps": 1}},
    ],
}  # fmt: skip


class Acknowledged:
    """Reads the helper's output: every job id it printed was acknowledged by the service."""

    def __init__(self, stream: object) -> None:
        self.jobs: dict[str, str] = {}
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            if line.strip() == "READY":
                self.ready.set()
            elif line.startswith("{"):
                entry = json.loads(line)
                self.jobs[entry["id"]] = entry["name"]

    def finish(self) -> None:
        self._thread.join(10)


def _wait_executing(store: JobStore, ids: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(store.get(i).phase is Phase.EXECUTING for i in ids):  # type: ignore[union-attr]
            return
        time.sleep(0.02)
    raise TimeoutError("the jobs never all ran")


def test_kill_9_then_recover(tmp_path: Path) -> None:
    data = tmp_path / "data"
    helper = subprocess.Popen(
        [sys.executable, str(HELPER), str(data), json.dumps(PLAN)],
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged = Acknowledged(helper.stdout)
    assert acknowledged.ready.wait(60), "the helper service never became ready"
    by_name = {name: rid for rid, name in acknowledged.jobs.items()}
    isolated = [by_name[f"isolated-{i}"] for i in range(3)]
    external = [by_name[f"external-{i}"] for i in range(2)]

    observer = job_store(Settings(data_dir=data))  # a second process reading the live store
    _wait_executing(observer, isolated + external)
    observer.close()
    # A job is EXECUTING from its claim; its process is forked once its contract's warm
    # parent is ready (the first jobs wait for it to boot): a warm parent and 5 processes.
    deadline = time.monotonic() + 30
    holders = psutil.Process(helper.pid).children(recursive=True)
    while len(holders) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
        holders = psutil.Process(helper.pid).children(recursive=True)
    assert len(holders) >= 6, holders
    # The kill must land while the helper creates more jobs: wait for the first of them
    # (on a loaded machine it may not have been acknowledged yet).
    deadline = time.monotonic() + 15
    while len(acknowledged.jobs) <= len(PLAN["jobs"]) and time.monotonic() < deadline:
        time.sleep(0.02)

    os.kill(helper.pid, signal.SIGKILL)  # while it is busy creating more jobs
    helper.wait()
    acknowledged.finish()
    assert helper.returncode == -signal.SIGKILL
    assert len(acknowledged.jobs) > len(PLAN["jobs"])  # some were created mid-churn

    # Nothing of the killed service keeps running: its workers watch for its death.
    deadline = time.monotonic() + 15
    while alive([p.pid for p in holders]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive([p.pid for p in holders]) == []

    service = build_test_service(data)
    store = service.store
    for rid in acknowledged.jobs:  # every acknowledged resource is still there
        assert store.get(rid) is not None, f"acknowledged {acknowledged.jobs[rid]} {rid} was lost"
    assert store.get(by_name["pending"]).phase is Phase.PENDING  # type: ignore[union-attr]

    with service:
        report = service.startup_report
        assert sorted(report.requeued) == sorted(isolated)
        assert sorted(report.held) == sorted(external)
        for rid in isolated:  # restarted automatically and run to the end
            done = wait_for_job(service, rid)
            assert done.phase is Phase.COMPLETED, done.error
            assert done.run_count == 2
            assert done.note is not None and "run again automatically" in done.note
        for rid in external:  # waiting for the client
            held = service.get_job(rid, owner=ANONYMOUS)
            assert held.phase is Phase.HELD
            assert held.note is not None and "waits for resumeJob" in held.note
            assert service.resume_job(rid, owner=ANONYMOUS) is Phase.QUEUED
        for rid in external:
            done = wait_for_job(service, rid)
            assert done.phase is Phase.COMPLETED, done.error
            assert service.resume_job(rid, owner=ANONYMOUS) is Phase.COMPLETED


def test_resume_of_a_job_that_already_runs_again_succeeds(tmp_path: Path) -> None:
    service = build_test_service(tmp_path / "d")
    job = service.create_job(
        contract="steps",
        document=b"""<job xmlns="urn:wsrf-uws:steps:v1">
      <steps>1</steps><stepSeconds>0</stepSeconds><children>1</children></job>""",
    )
    # As if a previous service process had been running it when it died:
    service.store.transition(job.resource_id, Phase.QUEUED)
    service.store.transition(job.resource_id, Phase.EXECUTING, changes=JobChanges(run_count=1))
    with service:
        running = wait_for_job(service, job.resource_id, phases={Phase.EXECUTING})
        assert running.run_count == 2
        assert service.resume_job(job.resource_id, owner=ANONYMOUS) is Phase.EXECUTING
        service.abort_job(job.resource_id, owner=ANONYMOUS)
