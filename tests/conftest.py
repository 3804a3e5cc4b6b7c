"""Shared fixtures: a real service on a temporary data directory, real worker processes,
and the stores (SQLite, and PostgreSQL in a throw-away cluster)."""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from wsrf_uws.core import JobService
from wsrf_uws.core.ports import JobStore
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.testing import ManualClock, build_test_service
from wsrf_uws.testing.postgres import Cluster, server_binaries


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A PostgreSQL server for the session; skipped if none is installed (failed under CI)."""
    binaries = server_binaries()
    missing = None
    if binaries is None:
        missing = "PostgreSQL's server binaries (Debian: postgresql-15) are not installed"
    elif importlib.util.find_spec("psycopg") is None:
        missing = "psycopg is not installed (pip install 'wsrf-uws[postgres]')"
    if missing or binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}: CI must run the PostgreSQL tests")
        pytest.skip(str(missing))
    cluster = Cluster(binaries)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """The URL of a new, empty schema in the session's PostgreSQL cluster."""
    return postgres_cluster.new_schema()


def open_store(kind: str, location: str) -> JobStore:
    """A store object on the database ``location`` of ``kind`` (``sqlite``: a file path;
    ``postgres``: a URL); a plain function, so that a spawned process can call it."""
    if kind == "sqlite":
        return SQLiteJobStore(location)
    from wsrf_uws.store.postgres import PostgresJobStore

    return PostgresJobStore(location)


class StoreFactory:
    """Opens store objects on one database, as several threads, processes or nodes would."""

    def __init__(self, kind: str, location: str) -> None:
        self.kind = kind
        self.location = location
        self.opened: list[JobStore] = []

    def __call__(self) -> JobStore:
        store = open_store(self.kind, self.location)
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgres"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores on a fresh SQLite file, then on a fresh PostgreSQL schema; every one
    is closed afterwards."""
    if request.param == "sqlite":
        factory = StoreFactory("sqlite", str(tmp_path / "store.sqlite"))
    else:
        factory = StoreFactory("postgres", request.getfixturevalue("postgres_url"))
    yield factory
    for store in factory.opened:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> JobStore:
    """A fresh store: every test asking for it runs with SQLite and with PostgreSQL."""
    return store_factory()


@pytest.fixture(autouse=True)
def _services_on_postgres(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``WSRF_UWS_TEST_STORE=postgres``, every service a test builds (in process or
    as a server process) keeps its jobs in a new PostgreSQL schema instead of SQLite."""
    if os.environ.get("WSRF_UWS_TEST_STORE") == "postgres":
        monkeypatch.setenv("WSRF_UWS_DATABASE_URL", request.getfixturevalue("postgres_url"))


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


def at_once(workers: int, work: Callable[[int], None]) -> None:
    """Run ``work(i)`` in ``workers`` threads released together; re-raise what one raised."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a worker never finished"
    if errors:
        raise errors[0]
