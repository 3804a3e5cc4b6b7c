"""Shared fixtures: a real service on a temporary data directory, real worker processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from wsrf_uws.core import JobService
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.testing import ManualClock, build_test_service


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteJobStore]:
    """A fresh SQLite store file."""
    s = SQLiteJobStore(tmp_path / "store.sqlite")
    yield s
    s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[JobService]:
    """A started service on the real clock, with the test contract ``steps``."""
    svc = build_test_service(tmp_path / "data")
    svc.startup()
    yield svc
    svc.shutdown()


@pytest.fixture
def manual_service(tmp_path: Path, clock: ManualClock) -> Iterator[JobService]:
    """A started service whose time moves only when the test advances ``clock``."""
    svc = build_test_service(tmp_path / "data", clock=clock)
    svc.startup()
    yield svc
    svc.shutdown()


def wait_for_children(service: JobService, resource_id: str, timeout: float = 30) -> list[int]:
    """The pids of the children a ``steps`` job started, once it has reported them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = service.get_job(resource_id, owner="anonymous")
        if "children" in job.jdl_state:
            return list(job.jdl_state["children"])
        assert not job.is_final, job.error
        time.sleep(0.02)
    raise TimeoutError("the job never reported its children")


def alive(pids: list[int]) -> list[int]:
    """The pids among ``pids`` that still run (zombies count as gone)."""
    living = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                living.append(pid)
        except psutil.NoSuchProcess:
            pass
    return living
