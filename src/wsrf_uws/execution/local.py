"""The local executor: each job in a worker process of its own, a fixed number of slots.

One supervisor thread owns the running jobs. It waits on every worker's connection
and exit sentinel at once (no polling), applies reports as they arrive, and enforces
each job's execution duration. Stopping a job sends SIGTERM to its process group and
descendants, then SIGKILL after a grace period, and waits until nothing is left.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, cast

import psutil

from ..core.model import Progress
from .base import ExecutionListener, Executor, Outcome, OutcomeKind, RunSpec
from .processes import descendants, kill_tree, signal_tree
from .worker import run_job

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Run:
    spec: RunSpec
    process: BaseProcess
    conn: Connection
    deadline: float | None
    stop: OutcomeKind | None = None
    kill_at: float | None = None
    known: list[psutil.Process] = field(default_factory=list)
    final: tuple[Any, ...] | None = None
    done: threading.Event = field(default_factory=threading.Event)


class LocalExecutor(Executor):
    """Runs jobs in local worker processes, ``slots`` at a time, the rest queued in order.

    ``start_method`` is a :mod:`multiprocessing` start method; the default
    ``forkserver`` forks workers from a clean server process, which is safe in a
    threaded service and fast after the first job.
    """

    def __init__(
        self, *, slots: int = 2, kill_grace: float = 2.0, start_method: str = "forkserver"
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        # Every start method's context has Process; typeshed only types the base class.
        self._ctx = cast(SpawnContext, multiprocessing.get_context(start_method))
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(["wsrf_uws.execution.worker"])
        self.slots = slots
        self.kill_grace = kill_grace
        self._lock = threading.Lock()
        self._queue: deque[str] = deque()
        self._runs: dict[str, _Run] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._listener: ExecutionListener | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    # -- Executor --------------------------------------------------------------------

    def start(self, listener: ExecutionListener) -> None:
        self._listener = listener
        self._thread = threading.Thread(target=self._supervise, name="wsrf-uws-executor")
        self._thread.start()
        finalizer = weakref.WeakMethod(self.shutdown)
        atexit.register(lambda: (method := finalizer()) and method())

    def submit(self, resource_id: str) -> None:
        with self._lock:
            if resource_id not in self._runs and resource_id not in self._queue:
                self._queue.append(resource_id)
        self._wake()

    def cancel(self, resource_id: str) -> bool:
        with self._lock:
            if resource_id in self._queue:
                self._queue.remove(resource_id)
                return True
            run = self._runs.get(resource_id)
            if run is None:
                return False
            if run.stop is None:
                run.stop = OutcomeKind.ABORTED
                self._terminate(run)
        self._wake()
        run.done.wait(self.kill_grace + 30)
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._queue.clear()
            for run in self._runs.values():
                if run.stop is None:
                    run.stop = OutcomeKind.INTERRUPTED
                    self._terminate(run)
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def active(self) -> dict[str, str]:
        with self._lock:
            held = {rid: "queued" for rid in self._queue}
            held.update({rid: "running" for rid in self._runs})
            return held

    # -- the supervisor thread ---------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"!")

    def _supervise(self) -> None:
        while True:
            with self._lock:
                if self._closing and not self._runs:
                    return
                self._fill_slots()
                runs = list(self._runs.values())
            waitables: list[Any] = [self._wake_r]
            for run in runs:
                waitables += [run.conn, run.process.sentinel]
            ready = set(wait(waitables, self._next_timer(runs)))
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            now = time.monotonic()
            for run in runs:
                exited = run.process.sentinel in ready
                if exited or run.conn in ready:
                    self._drain(run)
                if exited:
                    self._finish(run)
                else:
                    self._enforce_limits(run, now)

    def _fill_slots(self) -> None:
        assert self._listener is not None
        while self._queue and len(self._runs) < self.slots and not self._closing:
            resource_id = self._queue.popleft()
            try:
                spec = self._listener.claim(resource_id)
            except Exception:
                log.exception("claiming %s failed", resource_id)
                continue
            if spec is None:
                continue
            parent, child = self._ctx.Pipe()
            process = self._ctx.Process(
                target=run_job, args=(spec, child), name=f"wsrf-uws-job-{resource_id[:12]}"
            )
            try:
                process.start()
            except Exception as exc:
                log.exception("starting a worker for %s failed", resource_id)
                parent.close()
                self._notify(
                    "on_finished",
                    resource_id,
                    Outcome(OutcomeKind.FAILED, f"the job could not be started: {exc}"),
                )
                continue
            finally:
                child.close()
            duration = spec.execution_duration
            deadline = time.monotonic() + duration if duration else None
            self._runs[resource_id] = _Run(spec, process, parent, deadline)

    def _next_timer(self, runs: list[_Run]) -> float | None:
        times = [t for run in runs for t in (run.deadline, run.kill_at) if t is not None]
        return max(0.0, min(times) - time.monotonic()) if times else None

    def _drain(self, run: _Run) -> None:
        rid = run.spec.resource_id
        progress: Progress | None = None
        while True:
            try:
                if not run.conn.poll():
                    break
                message = run.conn.recv()
            except (EOFError, OSError, ValueError):
                break
            except Exception:
                log.exception("unreadable report from the worker of %s", rid)
                break
            kind = message[0]
            if kind == "progress":
                progress = message[1]  # only the latest of a burst is worth writing
            elif kind == "state":
                self._notify("on_state", rid, message[1])
            elif kind == "result":
                self._notify("on_result", rid, message[1])
            elif kind in ("done", "failed"):
                run.final = message
        if progress is not None:
            self._notify("on_progress", rid, progress)

    def _enforce_limits(self, run: _Run, now: float) -> None:
        if run.deadline is not None and now >= run.deadline and run.stop is None:
            run.stop = OutcomeKind.TIMED_OUT
            self._terminate(run)
        if run.kill_at is not None and now >= run.kill_at:
            run.kill_at = None
            kill_tree(run.process.pid or 0, run.known)

    def _terminate(self, run: _Run) -> None:
        pid = run.process.pid
        if pid is None:
            return
        run.known = descendants(pid)
        if self.kill_grace <= 0:
            kill_tree(pid, run.known)
            return
        signal_tree(pid, signal.SIGTERM, run.known)
        run.kill_at = time.monotonic() + self.kill_grace

    def _finish(self, run: _Run) -> None:
        # Whatever the job started and left in its group dies with it.
        kill_tree(run.process.pid or 0, run.known)
        run.process.join()
        run.conn.close()
        with self._lock:
            self._runs.pop(run.spec.resource_id, None)
        self._notify("on_finished", run.spec.resource_id, self._outcome(run))
        run.done.set()

    def _outcome(self, run: _Run) -> Outcome:
        if run.stop is OutcomeKind.TIMED_OUT:
            return Outcome(
                OutcomeKind.TIMED_OUT,
                f"the job exceeded its execution duration of {run.spec.execution_duration} s "
                "and was stopped",
            )
        if run.stop is not None:
            return Outcome(run.stop)
        if run.final is not None and run.final[0] == "done":
            return Outcome(OutcomeKind.COMPLETED)
        if run.final is not None:
            _, message, transient, detail = run.final
            return Outcome(OutcomeKind.FAILED, message, transient, detail)
        return Outcome(OutcomeKind.DIED, _describe_exit(run.process.exitcode))

    def _notify(self, method: str, *args: Any) -> None:
        try:
            getattr(self._listener, method)(*args)
        except Exception:
            log.exception("the engine failed to record %s for %s", method, args[0])


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    return f"the worker process ended unexpectedly (exit status {code})"
