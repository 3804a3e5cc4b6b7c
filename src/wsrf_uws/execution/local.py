"""The local executor: each job in a worker process of its own, a fixed number of slots.

One supervisor thread owns the running jobs. It waits on every worker's connection
and exit sentinel at once (no polling), applies reports as they arrive, and enforces
each job's execution duration. Stopping a job sends SIGTERM to its process group and
descendants, then SIGKILL after a grace period, and waits until nothing is left.

Slots are shared fairly: a free slot goes to the owner with the fewest running jobs
(among equals, the one served longest ago), never beyond the owner's quota of
executing jobs, so one owner's hundred queued jobs do not keep another's waiting.

No job can monopolize the supervisor: it reads at most :data:`MESSAGES_PER_TURN`
reports of a run per turn, records only the latest progress and state of each turn
and its results in one transaction, and leaves a run that filled its turn unread for
:data:`READ_PAUSE` seconds. A job that reports faster than that then blocks in its
own writes, and every turn still checks every deadline.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, cast

import psutil

from ..core.model import Progress, Result
from ..core.ports import ExecutionListener, Executor, Outcome, OutcomeKind, RunSpec
from .messages import ProgressReport, ResultReport, RunCompleted, RunEnd, RunFailed, StateReport
from .processes import descendants, kill_tree, signal_tree
from .worker import run_job

log = logging.getLogger(__name__)

#: The most reports of one run the supervisor reads per turn.
MESSAGES_PER_TURN = 64
#: Seconds a run that filled its turn waits before it is read again.
READ_PAUSE = 0.05


@dataclass(eq=False)
class _Run:
    spec: RunSpec
    owner: str
    process: BaseProcess
    conn: Connection
    deadline: float | None
    #: Not read before this instant (monotonic): the run filled its last turn.
    read_after: float = 0.0
    stop: OutcomeKind | None = None
    kill_at: float | None = None
    known: list[psutil.Process] = field(default_factory=list)
    final: RunEnd | None = None
    done: threading.Event = field(default_factory=threading.Event)


class LocalExecutor(Executor):
    """Runs jobs in local worker processes, ``slots`` at a time, the rest queued.

    ``max_running(owner)`` is how many of one owner's jobs may run at once (default:
    any number); queued jobs beyond it wait for one of the owner's runs to end. Each
    owner's jobs start in the order they were submitted; free slots go round the
    owners, fewest running first.

    ``start_method`` is a :mod:`multiprocessing` start method; the default
    ``forkserver`` forks workers from a clean server process, which is safe in a
    threaded service and fast after the first job. ``nice`` is added to each worker's
    scheduling niceness (and so to every process a job starts): jobs then take the
    processor only when the service's request threads leave it.
    """

    def __init__(
        self,
        *,
        slots: int = 2,
        kill_grace: float = 2.0,
        start_method: str = "forkserver",
        max_running: Callable[[str], int] | None = None,
        nice: int = 0,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.nice = nice
        # Every start method's context has Process; typeshed only types the base class.
        self._ctx = cast(SpawnContext, multiprocessing.get_context(start_method))
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(["wsrf_uws.execution.worker"])
        self.slots = slots
        self.kill_grace = kill_grace
        self._max_running = max_running
        self._lock = threading.Lock()
        #: Queued jobs by owner, each owner's in submission order.
        self._queue: dict[str, deque[str]] = {}
        self._queued_owner: dict[str, str] = {}
        #: When each owner last got a slot (a counter), for the round among equals.
        self._served: dict[str, int] = {}
        self._turns = 0
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

    def submit(self, resource_id: str, *, owner: str = "", contract: str = "") -> None:
        with self._lock:
            if resource_id not in self._runs and resource_id not in self._queued_owner:
                self._queued_owner[resource_id] = owner
                self._queue.setdefault(owner, deque()).append(resource_id)
        self._wake()

    def cancel(self, resource_id: str) -> bool:
        with self._lock:
            if self._unqueue(resource_id):
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
            self._queued_owner.clear()
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

    def interrupt_all(self, *, at_once: bool = False) -> list[str]:
        with self._lock:
            stopped = list(self._queued_owner)
            self._queue.clear()
            self._queued_owner.clear()
            for run in self._runs.values():
                if run.stop is None:
                    run.stop = OutcomeKind.INTERRUPTED
                    stopped.append(run.spec.resource_id)
                    if at_once:
                        pid = run.process.pid or 0
                        run.known = descendants(pid)
                        kill_tree(pid, run.known)
                    else:
                        self._terminate(run)
        self._wake()
        return stopped

    def active(self) -> dict[str, str]:
        with self._lock:
            held = {rid: "queued" for rid in self._queued_owner}
            held.update({rid: "running" for rid in self._runs})
            return held

    # -- the queue (called with the lock held) -----------------------------------------

    def _unqueue(self, resource_id: str) -> bool:
        owner = self._queued_owner.pop(resource_id, None)
        if owner is None:
            return False
        waiting = self._queue[owner]
        waiting.remove(resource_id)
        if not waiting:
            del self._queue[owner]
        return True

    def _next_queued(self) -> tuple[str, str] | None:
        """The job (and owner) the next free slot goes to, taken off the queue; None if
        no owner with queued jobs may run one more."""
        running: dict[str, int] = {}
        for run in self._runs.values():
            running[run.owner] = running.get(run.owner, 0) + 1
        eligible = [
            owner
            for owner in self._queue
            if self._max_running is None or running.get(owner, 0) < self._max_running(owner)
        ]
        if not eligible:
            return None
        owner = min(eligible, key=lambda o: (running.get(o, 0), self._served.get(o, 0)))
        resource_id = self._queue[owner][0]
        self._unqueue(resource_id)
        self._turns += 1
        self._served[owner] = self._turns
        if len(self._served) > 2 * (len(self._queue) + len(running)) + 16:
            # Owners with nothing queued or running are forgotten (the table stays small):
            # such an owner's next job simply counts as not served for a while.
            self._served = {
                o: t
                for o, t in self._served.items()
                if o == owner or o in self._queue or o in running
            }
        return resource_id, owner

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
            now = time.monotonic()
            for run in runs:
                waitables.append(run.process.sentinel)
                if run.read_after <= now:
                    waitables.append(run.conn)
            ready = set(wait(waitables, self._next_timer(runs)))
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            for run in runs:
                if run.process.sentinel in ready:
                    self._drain(run, limit=None)  # what it wrote before it ended
                    self._finish(run)
                    continue
                # Deadlines before reports: however busy a job keeps its connection, its
                # time is up when it is up.
                self._enforce_limits(run, time.monotonic())
                if run.conn in ready:
                    self._drain(run, limit=MESSAGES_PER_TURN)

    def _fill_slots(self) -> None:
        listener = self._engine()
        while len(self._runs) < self.slots and not self._closing:
            chosen = self._next_queued()
            if chosen is None:
                return
            resource_id, owner = chosen
            try:
                spec = listener.claim(resource_id)
            except Exception:
                log.exception("claiming %s failed", resource_id)
                continue
            if spec is None:
                continue
            parent, child = self._ctx.Pipe()
            process = self._ctx.Process(
                target=run_job,
                args=(spec, child, self.nice),
                name=f"wsrf-uws-job-{resource_id[:12]}",
            )
            try:
                process.start()
            except Exception as exc:
                log.exception("starting a worker for %s failed", resource_id)
                parent.close()
                outcome = Outcome(OutcomeKind.FAILED, f"the job could not be started: {exc}")
                with _recording("the end", resource_id):
                    listener.on_finished(resource_id, outcome)
                continue
            finally:
                child.close()
            duration = spec.execution_duration
            deadline = time.monotonic() + duration if duration else None
            self._runs[resource_id] = _Run(spec, owner, process, parent, deadline)

    def _next_timer(self, runs: list[_Run]) -> float | None:
        times = [t for run in runs for t in (run.deadline, run.kill_at) if t is not None]
        now = time.monotonic()
        times += [run.read_after for run in runs if run.read_after > now]
        return max(0.0, min(times) - now) if times else None

    def _drain(self, run: _Run, *, limit: int | None) -> None:
        """Apply up to ``limit`` (None: all) waiting reports of ``run``.

        Only the latest progress and state count (each replaces the one before), and
        the results go to the store together, so a turn costs at most three writes.
        """
        rid = run.spec.resource_id
        progress: Progress | None = None
        state: dict[str, Any] | None = None
        results: dict[str, Result] = {}
        read = 0
        while limit is None or read < limit:
            try:
                if not run.conn.poll():
                    break
                message = run.conn.recv()
            except (EOFError, OSError, ValueError):
                break
            except Exception:
                log.exception("unreadable report from the worker of %s", rid)
                break
            read += 1
            match message:
                case ProgressReport():
                    progress = message.progress
                case StateReport():
                    state = message.state
                case ResultReport(result=result):
                    results.pop(result.name, None)  # the later one of a name counts
                    results[result.name] = result
                case RunCompleted() | RunFailed():
                    run.final = message
        if limit is not None and read >= limit:
            run.read_after = time.monotonic() + READ_PAUSE
        listener = self._engine()
        if results:
            with _recording("results", rid):
                listener.on_results(rid, list(results.values()))
        if state is not None:
            with _recording("the state", rid):
                listener.on_state(rid, state)
        if progress is not None:
            with _recording("progress", rid):
                listener.on_progress(rid, progress)

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
        outcome = self._outcome(run)
        with _recording("the end", run.spec.resource_id):
            self._engine().on_finished(run.spec.resource_id, outcome)
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
        if isinstance(run.final, RunCompleted):
            return Outcome(OutcomeKind.COMPLETED)
        if isinstance(run.final, RunFailed):
            return Outcome(
                OutcomeKind.FAILED, run.final.message, run.final.transient, run.final.detail
            )
        return Outcome(OutcomeKind.DIED, _describe_exit(run.process.exitcode))

    def _engine(self) -> ExecutionListener:
        if self._listener is None:
            raise RuntimeError("the executor has not been started")
        return self._listener


@contextlib.contextmanager
def _recording(what: str, resource_id: str) -> Iterator[None]:
    """Log, and otherwise ignore, the engine's failure to record a report: the supervisor
    must go on serving every other job."""
    try:
        yield
    except Exception:
        log.exception("the engine failed to record %s for %s", what, resource_id)


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    return f"the worker process ended unexpectedly (exit status {code})"
