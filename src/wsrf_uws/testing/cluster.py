"""Real cluster processes for tests and tools: front-ends and workers on one PostgreSQL store.

A cluster of wsrf-uws is processes that share a PostgreSQL database (``database_url``)
and a data directory: *front-ends* (``wsrf-uws serve --role frontend``) answer clients,
*workers* (``wsrf-uws worker``) run the jobs. This module starts such processes on this
machine, as :mod:`wsrf_uws.testing.server` starts a single service, so that a test can
create a job through one front-end, read it through another, and ``kill -9`` the worker
that runs it. Example::

    with running_cluster(tmp_path / "data", database_url=url) as cluster:
        first, second = cluster.frontends
        job = Service(first.url("steps")).create(steps_jdl(3, 0.1))
        job.start()
        Service(second.url("steps")).job(job.resource_id).wait(timeout=60)
        cluster.workers[0].kill()          # SIGKILL, as a crash would
        cluster.status()                   # what ``wsrf-uws cluster status --json`` says

The processes get :data:`~wsrf_uws.testing.server.TEST_ENVIRONMENT` (a short kill grace,
no quotas or request-rate limits a test would meet) and, from :func:`running_cluster`,
short heartbeat timings, so a killed node is declared dead within a second or two. The
database must exist and be reachable; :mod:`wsrf_uws` creates its tables itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .server import TEST_ENVIRONMENT, RunningServer, ServiceProcess

if TYPE_CHECKING:
    from ..store.postgres import PostgresJobStore

__all__ = [
    "CLUSTER_TEST_ENVIRONMENT",
    "RunningCluster",
    "RunningFrontend",
    "RunningWorker",
    "cluster_command",
    "running_cluster",
]

#: What :func:`running_cluster` adds to :data:`~wsrf_uws.testing.server.TEST_ENVIRONMENT`:
#: no cap on executing jobs a test would meet (the anonymous default of 2 is for the whole
#: cluster, and tests run several workers' worth of anonymous jobs).
CLUSTER_TEST_ENVIRONMENT = {
    "WSRF_UWS_QUOTAS__MAX_EXECUTING_JOBS": "1000000",
    "WSRF_UWS_QUOTAS__MAX_ANONYMOUS_EXECUTING_JOBS": "1000000",
}

#: The ready line a worker writes on stderr once it takes jobs.
_WORKER_READY = re.compile(
    r"wsrf-uws worker (?P<node>\S+) running up to (?P<slots>\d+) job\(s\) at once"
)


def _environment(database_url: str, env: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment, then :data:`TEST_ENVIRONMENT`, the store, then ``env``."""
    return {
        **os.environ,
        **TEST_ENVIRONMENT,
        "WSRF_UWS_DATABASE_URL": database_url,
        **(env or {}),
    }


class RunningFrontend(RunningServer):
    """One ``wsrf-uws serve --role frontend --node NAME`` process; restartable.

    A :class:`~wsrf_uws.testing.server.RunningServer` (``url``, ``start``, ``stop``,
    ``kill``, ``log``) that answers clients only, keeping its jobs in the PostgreSQL
    database at ``database_url``. It runs no job: workers of the same database do.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        node: str,
        database_url: str,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(
            data_dir,
            env={"WSRF_UWS_DATABASE_URL": database_url, **(env or {})},
            args=("--role", "frontend", "--node", node, *args),
            ready_timeout=ready_timeout,
        )
        #: The node's name in the cluster.
        self.node = node


class RunningWorker(ServiceProcess):
    """One ``wsrf-uws worker --node NAME --slots N`` process; restartable.

    It claims QUEUED jobs from the PostgreSQL database at ``database_url`` and runs up to
    ``slots`` of them at once in processes of its own (descendants of :attr:`pid`). It
    is ready once it has written its ready line, ``wsrf-uws worker NAME running up to N
    job(s) at once``, on stderr. The process gets
    :data:`~wsrf_uws.testing.server.TEST_ENVIRONMENT` beneath ``env``.

    :meth:`stop` is the clean shutdown (SIGTERM: its running jobs are interrupted and
    stay EXECUTING on the node until it returns or the leader sweeps it); :meth:`kill`
    is a crash (SIGKILL: the job processes notice their worker is gone and die).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        node: str,
        database_url: str,
        slots: int = 1,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(
            data_dir,
            env={"WSRF_UWS_DATABASE_URL": database_url, **(env or {})},
            args=tuple(args),
            ready_timeout=ready_timeout,
        )
        #: The node's name in the cluster.
        self.node = node
        self.slots = slots

    def __repr__(self) -> str:
        return f"RunningWorker({self.node!r}, pid={self.pid})"

    def start(self) -> None:
        """Start the process and wait until it takes jobs; RuntimeError if it never does."""
        command = [sys.executable, "-m", "wsrf_uws.cli", "worker", "--node", self.node]
        command += ["--slots", str(self.slots), "--data", str(self.data_dir), *self.args]
        self._launch(command, _WORKER_READY, f"the worker {self.node}")


def cluster_command(
    *args: str,
    database_url: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``wsrf-uws ARGS`` against the cluster's database; its output is captured.

    For instance ``cluster_command("cluster", "status", "--json", database_url=url)``.
    """
    command = [sys.executable, "-m", "wsrf_uws.cli", *args]
    return subprocess.run(
        command,
        env=_environment(database_url, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class RunningCluster:
    """The processes :func:`running_cluster` started, and what they share."""

    data_dir: Path
    database_url: str
    #: The environment every process got on top of this one's (the store's URL apart).
    env: dict[str, str]
    frontends: list[RunningFrontend] = field(default_factory=list)
    workers: list[RunningWorker] = field(default_factory=list)

    @property
    def processes(self) -> list[RunningFrontend | RunningWorker]:
        """Every node's process: the front-ends, then the workers."""
        return [*self.frontends, *self.workers]

    def frontend(self, node: str) -> RunningFrontend:
        """The front-end called ``node``."""
        return next(f for f in self.frontends if f.node == node)

    def worker(self, node: str) -> RunningWorker:
        """The worker called ``node``."""
        return next(w for w in self.workers if w.node == node)

    def node(self, name: str) -> RunningFrontend | RunningWorker:
        """The front-end or worker called ``name``."""
        return next(n for n in self.processes if n.node == name)

    def add_worker(self, node: str, *, slots: int = 1) -> RunningWorker:
        """Start one more worker on the same store and data directory."""
        worker = RunningWorker(
            self.data_dir, node=node, slots=slots, database_url=self.database_url, env=self.env
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def open_store(self) -> PostgresJobStore:
        """A store object on the cluster's database, to read what the nodes recorded
        (close it when done)."""
        from ..store.postgres import PostgresJobStore

        return PostgresJobStore(self.database_url, max_connections=2)

    def status(self) -> dict[str, Any]:
        """What ``wsrf-uws cluster status --json`` prints, parsed; RuntimeError if it fails."""
        done = cluster_command(
            "cluster", "status", "--json", database_url=self.database_url, env=self.env
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"wsrf-uws cluster status exited {done.returncode}: {done.stderr.strip()}"
            )
        parsed: dict[str, Any] = json.loads(done.stdout)
        return parsed

    def logs(self) -> str:
        """Every process's log, each under its node's name (for a failing test's report)."""
        parts = []
        for process in self.processes:
            parts.append(f"----- {process.node} -----\n{''.join(process.log[-60:])}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop every process still running (SIGTERM), the workers first; one that does not
        end within 30 seconds is killed."""
        for process in reversed(self.processes):
            if process.process is not None:
                with suppress(subprocess.TimeoutExpired):  # stop() has killed it
                    process.stop()


@contextmanager
def running_cluster(
    data_dir: Path,
    *,
    database_url: str,
    frontends: int = 2,
    workers: int = 2,
    slots: int = 1,
    env: Mapping[str, str] | None = None,
    heartbeat_interval: float = 0.2,
    heartbeat_ttl: float = 1.5,
) -> Iterator[RunningCluster]:
    """``frontends`` front-ends (nodes ``fe0``, ``fe1``, ...) and ``workers`` workers (nodes
    ``w0``, ``w1``, ... of ``slots`` slots each) sharing ``data_dir`` and the PostgreSQL
    database at ``database_url``, started together and stopped at the end of the block.

    Every process gets :data:`~wsrf_uws.testing.server.TEST_ENVIRONMENT`, then
    :data:`CLUSTER_TEST_ENVIRONMENT`, then ``env``, and heartbeat timings short enough for
    tests: ``heartbeat_interval`` and ``heartbeat_ttl`` in seconds (a killed node is dead
    for the cluster ``heartbeat_ttl`` seconds after its last heartbeat; a worker that could
    not heartbeat for ``heartbeat_ttl - heartbeat_interval`` seconds stops its jobs).
    """
    shared = {
        **CLUSTER_TEST_ENVIRONMENT,
        "WSRF_UWS_CLUSTER__HEARTBEAT_INTERVAL": str(heartbeat_interval),
        "WSRF_UWS_CLUSTER__HEARTBEAT_TTL": str(heartbeat_ttl),
        **(env or {}),
    }
    cluster = RunningCluster(Path(data_dir), database_url, shared)
    cluster.frontends = [
        RunningFrontend(data_dir, node=f"fe{i}", database_url=database_url, env=shared)
        for i in range(frontends)
    ]
    cluster.workers = [
        RunningWorker(data_dir, node=f"w{i}", slots=slots, database_url=database_url, env=shared)
        for i in range(workers)
    ]
    processes = cluster.processes
    try:
        # Together: each process spends seconds importing and connecting.
        with ThreadPoolExecutor(max_workers=max(1, len(processes))) as pool:
            for started in [pool.submit(process.start) for process in processes]:
                started.result()
        yield cluster
    finally:
        cluster.stop()
