"""The local executor: each job in a worker process of its own, a fixed number of slots.

A job's process is forked from its contract's warm parent (:mod:`.warm`), which has
imported the contract's modules already, so it starts in milliseconds; the first job of a
contract waits for that parent to start. One supervisor thread owns the running jobs. It
waits on every worker's connection and exit sentinel at once (no polling), applies
reports as they arrive, records a job's end as soon as the job has said how it ended
(its process may take milliseconds more to exit, holding its slot), and enforces each
job's execution duration. Stopping a job sends SIGTERM to its process group and
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from typing import Any, cast

import psutil

from ..core.model import Progress, Result
from ..core.ports import ExecutionListener, Executor, Outcome, OutcomeKind, RunSpec
from .job_process import ColdProcess, JobProcess
from .messages import ProgressReport, ResultReport, RunCompleted, RunEnd, RunFailed, StateReport
from .processes import descendants, kill_tree, signal_tree
from .spare_process import SpareReady
from .spares import Spares
from .warm import (
    WarmParent,
    WarmParentUnavailable,
    WarmState,
    can_start_warm,
    preload_modules,
)
from .zygote import job_setup

log = logging.getLogger(__name__)

#: The most reports of one run the supervisor reads per turn.
MESSAGES_PER_TURN = 64
#: Seconds a run that filled its turn waits before it is read again.
READ_PAUSE = 0.05


@dataclass(frozen=True)
class _Claimed:
    """A job claimed for a slot whose process has not started: its warm parent is starting."""

    spec: RunSpec
    owner: str


@dataclass(eq=False)
class _Run:
    spec: RunSpec
    owner: str
    process: JobProcess
    conn: Connection
    deadline: float | None
    #: Not read before this instant (monotonic): the run filled its last turn.
    read_after: float = 0.0
    stop: OutcomeKind | None = None
    kill_at: float | None = None
    known: list[psutil.Process] = field(default_factory=list)
    final: RunEnd | None = None
    #: The job closed its connection: nothing more to read (its process is ending).
    eof: bool = False
    #: Its end is in the store already: it said how it ended, and its process is exiting.
    recorded: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class LocalExecutor(Executor):
    """Runs jobs in local worker processes, ``slots`` at a time, the rest queued.

    ``max_running(owner)`` is how many of one owner's jobs may run at once (default:
    any number); queued jobs beyond it wait for one of the owner's runs to end. Each
    owner's jobs start in the order they were submitted; free slots go round the
    owners, fewest running first.

    ``start_method`` ``"warm"`` (the default) forks each job's process from its
    contract's warm parent (:class:`~.warm.WarmParent`), started at the contract's first
    job; a :mod:`multiprocessing` start method (``forkserver``, ``spawn``, ``fork``)
    starts every job cold instead, importing its contract in the new process. Jobs that no
    warm parent can serve start cold with ``forkserver``. ``preload`` names, by contract,
    the modules of its warm parent (:func:`~.warm.preload_plan`): a job submitted with its
    contract's name then stays queued while its warm parent starts, and is claimed once it
    can start at once. A contract not named there gets its warm parent when its first job
    is claimed, and that job waits for it in EXECUTING. A contract with a
    :meth:`~wsrf_uws.core.contract.Contract.prepare_run` hook also gets up to
    ``spare_processes`` prepared spare job processes (:mod:`.spares`), which take its next
    jobs (0: none); spares hold no slot. ``nice``
    is added to each worker's scheduling niceness (and so to every process a job
    starts): jobs then take the processor only when the service's request threads leave
    it.
    """

    def __init__(
        self,
        *,
        slots: int = 2,
        kill_grace: float = 2.0,
        start_method: str = "warm",
        max_running: Callable[[str], int] | None = None,
        nice: int = 0,
        preload: Mapping[str, Sequence[str]] | None = None,
        spare_processes: int = 1,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.nice = nice
        self._warm_starts = start_method == "warm"
        cold = "forkserver" if self._warm_starts else start_method
        # Every start method's context has Process; typeshed only types the base class.
        self._ctx = cast(SpawnContext, multiprocessing.get_context(cold))
        if cold == "forkserver":
            self._ctx.set_forkserver_preload(["wsrf_uws.execution.worker"])
        #: The warm parent of each contract that has run a job, by contract name.
        self._warm: dict[str, WarmParent] = {}
        #: The prepared spare job processes of each contract that declares a hook.
        self._spares = Spares(per_contract=spare_processes, nice=nice)
        self._preload = {name: list(modules) for name, modules in (preload or {}).items()}
        self.slots = slots
        self.kill_grace = kill_grace
        self._max_running = max_running
        self._lock = threading.Lock()
        #: Queued jobs by owner, each owner's in submission order.
        self._queue: dict[str, deque[str]] = {}
        self._queued_owner: dict[str, str] = {}
        self._queued_contract: dict[str, str] = {}
        #: When each owner last got a slot (a counter), for the round among equals.
        self._served: dict[str, int] = {}
        self._turns = 0
        self._runs: dict[str, _Run] = {}
        #: Claimed jobs waiting for their warm parent; each holds a slot.
        self._claimed: dict[str, _Claimed] = {}
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
            held = (self._runs, self._claimed, self._queued_owner)
            if not any(resource_id in jobs for jobs in held):
                self._queued_owner[resource_id] = owner
                self._queued_contract[resource_id] = contract
                self._queue.setdefault(owner, deque()).append(resource_id)
                if self._warm_starts and contract in self._preload and not self._closing:
                    self._warm_parent_of(contract, self._preload[contract])
        self._wake()

    def cancel(self, resource_id: str) -> bool:
        with self._lock:
            if self._unqueue(resource_id):
                return True
            claimed = self._claimed.pop(resource_id, None)
            run = self._runs.get(resource_id)
            if run is not None and run.recorded:
                # Its work is over and its end recorded: the process is only exiting
                # (closing what it prepared), which a Destroy need not wait for.
                return False
            if run is not None and run.stop is None:
                run.stop = OutcomeKind.ABORTED
                self._terminate(run)
        if claimed is not None:
            self._never_started([resource_id], OutcomeKind.ABORTED)
            self._wake()
            return True
        if run is None:
            return False
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
            self._queued_contract.clear()
            claimed = list(self._claimed)
            self._claimed.clear()
            for run in self._runs.values():
                if run.stop is None and not run.recorded:  # a recorded one is exiting
                    run.stop = OutcomeKind.INTERRUPTED
                    self._terminate(run)
        self._never_started(claimed, OutcomeKind.INTERRUPTED)
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        for warm in list(self._warm.values()):
            warm.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def interrupt_all(self, *, at_once: bool = False) -> list[str]:
        with self._lock:
            stopped = list(self._queued_owner)
            self._queue.clear()
            self._queued_owner.clear()
            self._queued_contract.clear()
            claimed = list(self._claimed)
            self._claimed.clear()
            stopped += claimed
            for run in self._runs.values():
                if run.stop is None and not run.recorded:
                    run.stop = OutcomeKind.INTERRUPTED
                    stopped.append(run.spec.resource_id)
                    if at_once:
                        pid = run.process.pid
                        run.known = descendants(pid)
                        kill_tree(pid, run.known)
                    else:
                        self._terminate(run)
        self._never_started(claimed, OutcomeKind.INTERRUPTED)
        self._wake()
        return stopped

    def active(self) -> dict[str, str]:
        with self._lock:
            held = {rid: "queued" for rid in self._queued_owner}
            held.update({rid: "running" for rid in self._claimed})
            held.update({rid: "running" for rid, run in self._runs.items() if not run.recorded})
            return held

    def spare_pids(self, contract: str) -> list[int]:
        """The pids of ``contract``'s spare processes that are ready, the next job's
        first (:mod:`.spares`)."""
        return self._spares.ready_pids(contract)

    def warm_parent(self, contract: str) -> WarmParent | None:
        """The warm parent of ``contract``'s jobs (None before its first job, or with a
        :mod:`multiprocessing` start method)."""
        return self._warm.get(contract)

    # -- the queue (called with the lock held) -----------------------------------------

    def _unqueue(self, resource_id: str) -> bool:
        owner = self._queued_owner.pop(resource_id, None)
        self._queued_contract.pop(resource_id, None)
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
        owners = [run.owner for run in self._runs.values()]
        for owner in owners + [claimed.owner for claimed in self._claimed.values()]:
            running[owner] = running.get(owner, 0) + 1
        eligible = [
            owner
            for owner in self._queue
            if (self._max_running is None or running.get(owner, 0) < self._max_running(owner))
            and not self._waits_for_warm_parent(self._queue[owner][0])
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
                    break
                self._fill_slots()
                runs = list(self._runs.values())
                closing = self._closing
            if not closing:  # outside the lock: a fork must not hold up submit()
                self._spares.replenish(self._warm)
            waitables: list[Any] = [self._wake_r, *self._spares.waitables()]
            now = time.monotonic()
            for run in runs:
                waitables.append(run.process.sentinel)
                if run.read_after <= now and not run.eof:
                    waitables.append(run.conn)
            ready = set(wait(waitables, self._next_timer(runs)))
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            self._spares.serve(ready)
            for run in runs:
                if run.process.sentinel in ready and run.process.reap():
                    self._drain(run, limit=None)  # what it wrote before it ended
                    self._finish(run)
                    continue
                # Deadlines before reports: however busy a job keeps its connection, its
                # time is up when it is up.
                self._enforce_limits(run, time.monotonic())
                if run.conn in ready:
                    self._drain(run, limit=MESSAGES_PER_TURN)
        self._spares.close()

    def _fill_slots(self) -> None:
        for resource_id in list(self._claimed):  # their warm parent may be ready now
            self._start(resource_id)
        listener = self._engine()
        while len(self._runs) + len(self._claimed) < self.slots and not self._closing:
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
            self._claimed[resource_id] = _Claimed(spec, owner)
            self._start(resource_id)

    def _start(self, resource_id: str) -> None:
        """Start the process of a claimed job, unless its warm parent is not ready yet
        (it is started when the warm parent says it is)."""
        claimed = self._claimed[resource_id]
        spec = claimed.spec
        spare = self._spares.take(spec) if self._warm_starts else None
        if spare is not None:  # prepared already: it runs the job at once
            self._spares.want(spec)
            del self._claimed[resource_id]
            self._runs[resource_id] = self._new_run(claimed, *spare)
            return
        warm = self._warm_parent(spec)
        if warm is not None and warm.state is WarmState.BOOTING:
            return
        parent, child = self._ctx.Pipe()
        process: JobProcess
        try:
            if warm is not None and warm.state is WarmState.READY:
                try:
                    process = warm.fork(child)
                except WarmParentUnavailable:
                    parent.close()
                    return  # it is being replaced: this job starts when it is ready
                self._hand_over(process, parent, spec)
                self._spares.want(spec)
            else:
                process = ColdProcess(self._ctx, spec, child, self.nice)
        except Exception as exc:
            log.exception("starting a worker for %s failed", resource_id)
            parent.close()
            del self._claimed[resource_id]
            outcome = Outcome(OutcomeKind.FAILED, f"the job could not be started: {exc}")
            with _recording("the end", resource_id):
                self._engine().on_finished(resource_id, outcome)
            return
        finally:
            child.close()
        del self._claimed[resource_id]
        self._runs[resource_id] = self._new_run(claimed, process, parent)

    def _new_run(self, claimed: _Claimed, process: JobProcess, conn: Connection) -> _Run:
        duration = claimed.spec.execution_duration
        deadline = time.monotonic() + duration if duration else None
        return _Run(claimed.spec, claimed.owner, process, conn, deadline)

    def _hand_over(self, process: JobProcess, conn: Connection, spec: RunSpec) -> None:
        """Tell a job process forked by a warm parent how to run (see :mod:`.zygote`)."""
        try:
            conn.send(job_setup(nice=self.nice))
            conn.send(spec)
        except BaseException:
            kill_tree(process.pid, [])
            process.reap()
            process.close()
            raise

    def _warm_parent(self, spec: RunSpec) -> WarmParent | None:
        """The warm parent of the job's contract, started on its first job; None where the
        job starts cold."""
        if not self._warm_starts or not can_start_warm(spec.contract):
            return None
        warm = self._warm_parent_of(spec.contract.name, preload_modules(spec.contract))
        return None if warm.state is WarmState.FAILED else warm

    def _warm_parent_of(self, contract: str, modules: Sequence[str]) -> WarmParent:
        warm = self._warm.get(contract)
        if warm is None:
            warm = WarmParent(contract, modules, nice=self.nice, on_change=self._wake)
            self._warm[contract] = warm
            warm.start()
        return warm

    def _waits_for_warm_parent(self, resource_id: str) -> bool:
        """Whether a queued job is left queued: its contract's warm parent is starting."""
        warm = self._warm.get(self._queued_contract.get(resource_id, ""))
        return warm is not None and warm.state is WarmState.BOOTING

    def _never_started(self, resource_ids: list[str], kind: OutcomeKind) -> None:
        """Report the end of claimed jobs that were stopped before their process started."""
        for resource_id in resource_ids:
            with _recording("the end", resource_id):
                self._engine().on_finished(resource_id, Outcome(kind))

    def _next_timer(self, runs: list[_Run]) -> float | None:
        # A deadline counts until it is enforced (or the run has ended): one past would
        # otherwise wake the supervisor at once, again and again, through the kill grace.
        deadlines = [r.deadline for r in runs if r.stop is None and not r.recorded]
        spares = self._spares.next_deadline()
        times = [t for t in [*deadlines, *(r.kill_at for r in runs), spares] if t is not None]
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
                run.eof = True  # a closed connection stays readable: not waited for again
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
                case SpareReady():  # it was taken while preparing (see .spares)
                    self._spares.report(run.spec.contract.name, message)
        if limit is not None and read >= limit:
            run.read_after = time.monotonic() + READ_PAUSE
        listener = self._engine()
        if results:
            with _recording("results", rid):
                listener.on_results(rid, list(results.values()))
        if run.final is not None and run.stop is None and not run.recorded:
            # The job has said how it ended, after its results and its last progress, and
            # stopped whatever it started: its end is recorded now, not once its process
            # has finished exiting (milliseconds for a process holding large libraries),
            # with the state and progress it reported last.
            run.recorded = True
            with _recording("the end", rid):
                listener.on_finished(rid, self._outcome(run), state=state, progress=progress)
            return
        if state is not None:
            with _recording("the state", rid):
                listener.on_state(rid, state)
        if progress is not None:
            with _recording("progress", rid):
                listener.on_progress(rid, progress)

    def _enforce_limits(self, run: _Run, now: float) -> None:
        if run.recorded:
            return  # over: its process is exiting
        if run.deadline is not None and now >= run.deadline and run.stop is None:
            run.stop = OutcomeKind.TIMED_OUT
            self._terminate(run)
        if run.kill_at is not None and now >= run.kill_at:
            run.kill_at = None
            kill_tree(run.process.pid, run.known)

    def _terminate(self, run: _Run) -> None:
        pid = run.process.pid
        run.known = descendants(pid)
        if self.kill_grace <= 0:
            kill_tree(pid, run.known)
            return
        signal_tree(pid, signal.SIGTERM, run.known)
        run.kill_at = time.monotonic() + self.kill_grace

    def _finish(self, run: _Run) -> None:
        # Whatever the job started and left in its group dies with it.
        kill_tree(run.process.pid, run.known)
        run.process.close()
        run.conn.close()
        with self._lock:
            self._runs.pop(run.spec.resource_id, None)
        if not run.recorded:
            with _recording("the end", run.spec.resource_id):
                self._engine().on_finished(run.spec.resource_id, self._outcome(run))
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
    if code is None:
        return "the worker process ended unexpectedly (its exit status is unknown)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    return f"the worker process ended unexpectedly (exit status {code})"
