"""Every job process runs under an address-space limit (RLIMIT_AS), per contract.

A real server with ``job_memory_bytes`` set; the ``hog`` plug-in contract reserves
``steps`` MiB at once (calloc'ed pages, never touched, so the test costs the machine
no memory), and ``roomyhog`` does the same in a contract that declares a larger limit
for its jobs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from wsrf_uws.client import Job, Service
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import RunningServer, running_server

from plugin_contracts import MIB, plugin_environment

SAFETY = 60.0  # seconds: only a guard against hanging, never a measurement
LIMIT = 768 * MIB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("memory")
    env = {**plugin_environment(folder / "plugins"), "WSRF_UWS_JOB_MEMORY_BYTES": str(LIMIT)}
    with running_server(folder / "data", env=env) as running:
        yield running


def run(server: RunningServer, contract: str, mebibytes: int) -> Job:
    job = Service(server.url(contract)).create(steps_jdl(mebibytes))
    job.start()
    deadline = time.monotonic() + SAFETY
    while job.phase not in ("COMPLETED", "ERROR", "ABORTED"):
        assert time.monotonic() < deadline, "the job never ended"
        time.sleep(0.05)
    return job


def test_a_job_beyond_its_memory_limit_ends_in_error(server: RunningServer) -> None:
    job = run(server, "hog", 1000)
    state = job.state
    assert state.phase == "ERROR"
    assert state.error is not None
    assert state.error.message == f"the job exceeded its memory limit of {LIMIT} bytes"
    log = "".join(server.log)
    assert "Traceback" not in log, log[-3000:]


def test_a_job_within_the_limit_completes(server: RunningServer) -> None:
    assert run(server, "hog", 100).phase == "COMPLETED"


def test_a_contract_may_declare_its_own_limit(server: RunningServer) -> None:
    """DuckDB-like: a contract whose jobs need more address space says so."""
    assert run(server, "roomyhog", 1000).phase == "COMPLETED"
