"""A job cannot flood the executor: its reports are coalesced and its deadline holds.

The table row of issue 14: a ``steps`` job of 100 000 steps and 30 children froze the
executor (its own 10 s executionDuration not enforced after 90 s, another caller's
one-step job stuck). The demonstration contract now has maxima, and a contract that
reports in a tight loop (``flood``, installed as a plug-in) no longer holds the
supervisor: its time limit is enforced and other jobs run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import InvalidJobDescription, Service
from wsrf_uws.core.model import Progress
from wsrf_uws.core.ports import RunSpec
from wsrf_uws.execution.context import PROGRESS_REPORTS_PER_SECOND, WorkerContext
from wsrf_uws.execution.messages import ProgressReport
from wsrf_uws.jdl.steps.contract import StepsContract, steps_jdl
from wsrf_uws.testing.server import RunningServer, running_server

from plugin_contracts import plugin_environment
from soap_support import stored_jobs, wait_for_phase

SAFETY = 90.0  # seconds: only a guard against hanging, never a measurement


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("flood")
    UsersFile.add(folder / "users", "alice", "alice-secret")
    env = {**plugin_environment(folder / "plugins"), "WSRF_UWS_USERS_FILE": str(folder / "users")}
    with running_server(folder / "data", env=env) as running:
        yield running


def test_a_flooding_job_is_stopped_at_its_deadline_and_others_run(server: RunningServer) -> None:
    alice = Service(server.url("flood"), username="alice", password="alice-secret")
    flood = alice.create(steps_jdl(1, 0, execution_duration=3))
    flood.start()
    wait_for_phase(flood, {"EXECUTING"}, timeout=SAFETY)
    # Another caller's job, started while the flood runs.
    other = Service(server.url("steps")).create(steps_jdl(1, 0))
    other.start()
    assert wait_for_phase(other, {"COMPLETED", "ERROR", "ABORTED"}, timeout=SAFETY) == "COMPLETED"
    assert wait_for_phase(flood, {"COMPLETED", "ERROR", "ABORTED"}, timeout=SAFETY) == "ABORTED"
    error = flood.state.error
    assert error is not None and "execution duration of 3 s" in error.message
    log = "".join(server.log)
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"steps": 1001}, "'1001' is greater than the maximum value allowed ('1000')"),
        ({"steps": 1, "children": 5}, "'5' is greater than the maximum value allowed ('4')"),
    ],
)
def test_the_demo_contract_has_maxima(
    server: RunningServer, options: dict[str, int], reason: str
) -> None:
    before = stored_jobs(server)
    with pytest.raises(InvalidJobDescription) as refused:
        Service(server.url("steps")).create(steps_jdl(**options))
    assert reason in str(refused.value)
    assert stored_jobs(server) == before


def test_progress_is_sent_at_most_so_often_and_the_latest_is_kept(tmp_path: Path) -> None:
    """A job reporting progress in a tight loop: a real pipe receives a few reports a
    second, and the last one reported arrives when the job flushes at its end."""
    service_end, job_end = multiprocessing.Pipe()
    received: list[Progress] = []

    def read() -> None:  # the executor's end, read as fast as it comes
        with contextlib.suppress(EOFError):
            while True:
                report = service_end.recv()
                assert isinstance(report, ProgressReport)
                received.append(report.progress)

    reader = threading.Thread(target=read)
    reader.start()
    context = WorkerContext(RunSpec("r", StepsContract(), b"", tmp_path, 0), job_end)
    reports = 20_000
    started = time.monotonic()
    for i in range(reports):
        context.progress((i + 1) / reports)
    elapsed = time.monotonic() - started
    context.flush()
    job_end.close()
    reader.join(SAFETY)
    # One at once, then at most one per interval while the loop ran, and the last.
    assert 1 <= len(received) <= 2 + int(elapsed * PROGRESS_REPORTS_PER_SECOND) + 1
    assert len(received) < reports
    assert received[-1].fraction == 1.0
