"""Warm starts keep each job in a process of its own: real warm parents, real signals.

A job's process is forked from its contract's warm parent (``wsrf_uws.execution.warm``).
These tests check what that must not change: a job that crashes takes nothing else with
it, abort and executionDuration still stop a job's whole tree, a warm parent that dies is
replaced (and the jobs it started run on), a module that cannot be preloaded is reported
once and its jobs import it themselves; and that a warm parent is safe to fork: one
thread, no open files, even after importing DuckDB, pyarrow and astropy. A
:mod:`multiprocessing` start method still starts jobs cold.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from wsrf_uws.core import JobService, Phase
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.core.registry import ContractRegistry
from wsrf_uws.execution.local import LocalExecutor
from wsrf_uws.execution.warm import WarmParent, WarmState, preload_modules
from wsrf_uws.jdl.adql.contract import AdqlContract
from wsrf_uws.jdl.steps.contract import StepsContract, steps_jdl
from wsrf_uws.runtime import build_service
from wsrf_uws.settings import Settings
from wsrf_uws.testing import (
    UNLIMITED_QUOTAS,
    build_test_service,
    contract_environment,
    wait_for_job,
)

from conftest import alive, wait_for_children
from warm_support import MISSING, THREADED, UnpreloadableContract

SAFETY = 60.0  # seconds: only a guard against hanging, never a measurement


@pytest.fixture
def service(tmp_path: Path) -> Iterator[JobService]:
    with build_test_service(tmp_path / "data") as svc:
        yield svc


def executor(service: JobService) -> LocalExecutor:
    assert isinstance(service.executor, LocalExecutor)
    return service.executor


def warm_parent(service: JobService) -> WarmParent:
    warm = executor(service).warm_parent("steps")
    assert warm is not None
    return warm


def start(service: JobService, document: bytes) -> str:
    job = service.create_job(contract="steps", document=document)
    service.start_job(job.resource_id, owner=ANONYMOUS)
    return job.resource_id


def job_process(service: JobService, resource_id: str) -> tuple[int, list[int]]:
    """The pid of a running ``steps`` job that started children, and the children's."""
    children = wait_for_children(service, resource_id)
    parent = psutil.Process(children[0]).ppid()
    return parent, children


def test_each_job_runs_in_a_process_of_its_own_forked_from_a_one_thread_parent(
    service: JobService,
) -> None:
    first = start(service, steps_jdl(1, 0, children=1))
    second = start(service, steps_jdl(1, 0, children=1))
    (first_pid, _), (second_pid, _) = job_process(service, first), job_process(service, second)
    warm = warm_parent(service)
    assert warm.pid is not None
    assert first_pid != second_pid
    assert {psutil.Process(first_pid).ppid(), psutil.Process(second_pid).ppid()} == {warm.pid}
    parent = psutil.Process(warm.pid)
    assert parent.ppid() == os.getpid()  # the service's child, not a fork of the service
    # Fork-safety: nothing runs beside the thread that forks, nothing is open but files of
    # the service's own (none) and its socket.
    assert parent.num_threads() == 1
    assert [f.path for f in parent.open_files() if f.fd > 2] == []  # 0-2: the service's
    for resource_id in (first, second):
        service.abort_job(resource_id, owner=ANONYMOUS)


def test_a_job_that_crashes_leaves_its_warm_parent_and_the_other_jobs_alone(
    service: JobService,
) -> None:
    running = start(service, steps_jdl(1, 0, children=1))
    running_pid, children = job_process(service, running)
    warm_pid = warm_parent(service).pid
    assert warm_pid is not None

    crashed = wait_for_job(service, start(service, steps_jdl(1, 0, crash=True)))
    assert crashed.phase is Phase.ERROR
    assert crashed.error is not None and "SIGKILL" in crashed.error.message  # relayed status

    assert warm_parent(service).pid == warm_pid and alive([warm_pid]) == [warm_pid]
    assert alive([running_pid, *children]) == [running_pid, *children]
    assert service.get_job(running, owner=ANONYMOUS).phase is Phase.EXECUTING
    after = wait_for_job(service, start(service, steps_jdl(1, 0)))
    assert after.phase is Phase.COMPLETED, after.error
    service.abort_job(running, owner=ANONYMOUS)
    assert alive([running_pid, *children]) == []


def test_abort_and_execution_duration_stop_the_whole_tree_of_a_warm_job(
    service: JobService,
) -> None:
    timed = start(service, steps_jdl(100, 0.2, execution_duration=1, children=2))
    timed_pid, timed_children = job_process(service, timed)
    aborted = start(service, steps_jdl(1, 0, children=4))
    aborted_pid, aborted_children = job_process(service, aborted)
    warm_pid = warm_parent(service).pid
    assert warm_pid is not None
    assert {psutil.Process(timed_pid).ppid(), psutil.Process(aborted_pid).ppid()} == {warm_pid}

    assert service.abort_job(aborted, owner=ANONYMOUS) is Phase.ABORTED
    assert alive([aborted_pid, *aborted_children]) == []  # at once: abort waits for it
    done = wait_for_job(service, timed)
    assert done.phase is Phase.ABORTED
    assert done.error is not None and "execution duration of 1 s" in done.error.message
    assert alive([timed_pid, *timed_children]) == []
    assert alive([warm_pid]) == [warm_pid]  # the warm parent is not part of a job's tree
    assert executor(service).active() == {}


def test_a_warm_parent_that_dies_is_replaced_and_its_jobs_run_on(service: JobService) -> None:
    running = start(service, steps_jdl(1, 0, children=1))
    running_pid, children = job_process(service, running)
    warm = warm_parent(service)
    dead = warm.pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)

    deadline = time.monotonic() + SAFETY
    while warm.pid in (None, dead) or warm.state is not WarmState.READY:
        assert time.monotonic() < deadline, "the warm parent was not replaced"
        time.sleep(0.02)
    replacement = warm.pid
    assert replacement is not None and alive([dead]) == []
    later = start(service, steps_jdl(1, 0, children=1))
    later_pid, _ = job_process(service, later)
    assert psutil.Process(later_pid).ppid() == replacement

    # The job the dead parent had started runs on, and is still the executor's to stop.
    assert service.get_job(running, owner=ANONYMOUS).phase is Phase.EXECUTING
    assert alive([running_pid, *children]) == [running_pid, *children]
    for resource_id in (running, later):
        assert service.abort_job(resource_id, owner=ANONYMOUS) is Phase.ABORTED
    assert alive([running_pid, *children]) == []
    assert executor(service).active() == {}


def test_a_module_that_cannot_be_preloaded_is_reported_once_and_its_jobs_import_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wsrf_uws.execution.warm")
    with build_test_service(tmp_path / "data", contracts=[UnpreloadableContract]) as svc:
        for _ in range(2):
            done = wait_for_job(svc, start(svc, steps_jdl(1, 0)))
            assert done.phase is Phase.COMPLETED, done.error
            preloaded = svc.files.file(done.resource_id, "preloaded.txt").read_text()
            assert preloaded == "False"  # imported by the job itself: a cold start
        warm = warm_parent(svc)
        assert warm.state is WarmState.READY
        assert set(warm.failures) == {THREADED, MISSING}
        assert "starts threads at import" in warm.failures[THREADED]
        assert "ModuleNotFoundError" in warm.failures[MISSING]
        # Left out, the threaded module leaves the warm parent with its one thread.
        assert warm.pid is not None and psutil.Process(warm.pid).num_threads() == 1
    reported = [
        module
        for record in caplog.records
        if "does not preload" in record.getMessage()
        for module in (THREADED, MISSING)
        if f" {module} " in record.getMessage()
    ]
    assert sorted(reported) == sorted([THREADED, MISSING])  # each once, for every job


def test_the_warm_parent_of_duckdb_pyarrow_and_astropy_is_safe_to_fork(tmp_path: Path) -> None:
    """The adql contract's modules start threads (OpenBLAS under numpy, pyarrow's
    allocator, DuckDB's own in its warm-up) and could leave files open: its warm parent,
    once ready, runs one thread and holds no file, and preloaded every module it was
    given."""
    changed = threading.Event()
    warm = WarmParent("adql", preload_modules(AdqlContract()), on_change=changed.set)
    warm.start()
    try:
        deadline = time.monotonic() + SAFETY
        while warm.state is WarmState.BOOTING:
            assert changed.wait(max(0.0, deadline - time.monotonic())), "never ready"
            changed.clear()
        assert warm.state is WarmState.READY
        assert warm.failures == {}
        assert warm.pid is not None
        process = psutil.Process(warm.pid)
        assert process.num_threads() == 1
        assert [f.path for f in process.open_files() if f.fd > 2] == []
        assert process.memory_info().rss > 50 * 1024**2  # the libraries are in there
    finally:
        warm.close()
    assert alive([process.pid]) == []


def test_a_multiprocessing_start_method_starts_every_job_cold(tmp_path: Path) -> None:
    data = tmp_path / "data"
    steps = StepsContract(contract_environment(StepsContract, data))
    cold = LocalExecutor(start_method="spawn", kill_grace=0.5)
    settings = Settings(data_dir=data, quotas=UNLIMITED_QUOTAS)
    with build_service(settings, registry=ContractRegistry([steps]), executor=cold) as svc:
        done = wait_for_job(svc, start(svc, steps_jdl(1, 0)))
        assert done.phase is Phase.COMPLETED, done.error
        running = start(svc, steps_jdl(1, 0, children=1))
        pid, children = job_process(svc, running)
        assert psutil.Process(pid).ppid() == os.getpid()  # spawned by the service itself
        assert cold.warm_parent("steps") is None
        assert svc.abort_job(running, owner=ANONYMOUS) is Phase.ABORTED
        assert alive([pid, *children]) == []
