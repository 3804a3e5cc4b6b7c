"""A small pool of long-lived TAP sync query workers (:mod:`.worker`), with a time limit.

Why processes and not the request threads: a query's DuckDB work must be bounded in time,
memory and result size like a job's, and only a process can be stopped at any point (a
DuckDB interrupt is checked between operators; a stuck or too-long query is killed with
its worker). Why long-lived workers and not a job per query: a worker keeps its
catalogue open, so a tiny query costs a pipe round trip and its own work, not a process
start and a catalogue open (``bench/tap_bench.py`` measures both).

At most ``size`` queries run at once; a request waits up to half of ``seconds`` for a
free worker, then is refused (:class:`PoolBusy`): a caller waits at most one and a half
times the limit for an answer. A query that runs longer than ``seconds``
gets its worker killed (:class:`QueryTimedOut`); a new one takes its place at the next
query. Workers start on the first query, so a service that never answers TAP sync spends
nothing on them, and are started with ``spawn``: DuckDB connections must not cross a
``fork()``.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from multiprocessing.process import BaseProcess

from .worker import Answer, SyncQuery, WorkerSettings, serve

log = logging.getLogger(__name__)

#: How long a new worker may take to open its catalogue before it counts as failed.
START_SECONDS = 60.0


class PoolBusy(Exception):
    """Every worker stayed busy for as long as a request may wait."""


class QueryTimedOut(Exception):
    """A query ran longer than the pool's limit; its worker was killed."""


class WorkerFailed(Exception):
    """A worker died, or could not start (its catalogue could not be opened...)."""


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, settings: WorkerSettings) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=serve, args=(child, settings), name="wsrf-uws-tap-sync", daemon=True
        )
        self.process.start()
        child.close()
        if not self.connection.poll(START_SECONDS):
            self.stop()
            raise WorkerFailed("a TAP query worker did not start in time")
        try:
            ready = self.connection.recv()
        except EOFError:
            self.stop()
            raise WorkerFailed("a TAP query worker ended at start-up (see the log)") from None
        if ready != "ready":
            self.stop()
            raise WorkerFailed(f"a TAP query worker said {ready!r} at start-up")

    def ask(self, query: SyncQuery, *, seconds: float) -> Answer:
        """Send ``query`` and wait for the answer, at most ``seconds``."""
        self.connection.send(query)
        if not self.connection.poll(seconds):
            raise QueryTimedOut(seconds)
        answer: Answer = self.connection.recv()
        return answer

    def stop(self) -> None:
        """Kill the process at once and reap it."""
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


class QueryPool:
    """Up to ``size`` workers answering :class:`SyncQuery` requests, each within ``seconds``."""

    def __init__(self, settings: WorkerSettings, *, size: int, seconds: float) -> None:
        self.settings = settings
        self.size = size
        self.seconds = seconds
        #: How long a query waits for a free worker: half of what it may then run.
        self.wait_seconds = seconds / 2
        self._idle: list[_Worker] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._closed = False
        #: Workers killed for running too long, since the pool was made (for the tests and
        #: the operator's log).
        self.killed = 0

    def run(self, query: SyncQuery) -> Answer:
        """The answer to ``query`` from a free worker.

        Raises :class:`PoolBusy` if no worker became free within :attr:`wait_seconds`,
        :class:`QueryTimedOut` if the query ran longer, :class:`WorkerFailed` if the
        worker died or could not start.
        """
        if not self._slots.acquire(timeout=self.wait_seconds):
            raise PoolBusy(self.wait_seconds)
        try:
            worker = self._take()
            started = time.monotonic()
            try:
                answer = worker.ask(query, seconds=self.seconds)
            except QueryTimedOut:
                self.killed += 1
                log.warning(
                    "TAP sync query stopped after %.1f s (worker %s killed): %.200s",
                    time.monotonic() - started,
                    worker.process.pid,
                    query.adql,
                )
                worker.stop()
                raise
            except (EOFError, OSError):
                worker.stop()
                raise WorkerFailed("the TAP query worker ended during the query") from None
            self._give_back(worker)
            return answer
        finally:
            self._slots.release()

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise WorkerFailed("the service is stopping")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.stop()
        return _Worker(self.settings)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if self._closed:
                worker.stop()
            else:
                self._idle.append(worker)

    def worker_pids(self) -> list[int]:
        """The process ids of the idle workers (for tests and the operator)."""
        with self._lock:
            return [w.process.pid for w in self._idle if w.process.pid is not None]

    def close(self) -> None:
        """Stop every idle worker; busy ones stop when their query ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()
