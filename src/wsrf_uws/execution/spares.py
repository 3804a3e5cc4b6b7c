"""Spare job processes: a contract's next job processes, forked and prepared before their jobs.

A contract whose runs all begin alike declares
:meth:`~wsrf_uws.core.contract.Contract.prepare_run` (``adql``: start DuckDB and attach
the catalogue, about 20 ms). For such a contract the local executor keeps
up to ``per_contract`` *spares* (the ``spare_processes`` setting): job processes forked
from the contract's warm parent, which have run that hook (:mod:`.spare_process`) and wait
for their jobs. A job is handed to a ready spare, or else to one still preparing (it then
waits only for the rest of the hook, less than a plain fork and the whole hook would
take). A spare taken is replaced at once, one preparing at a time
(:meth:`Spares.replenish` says why); with two, the second job of a burst finds one ready
too. Each job still runs in a process of its own, which an abort, an execution duration
or a restart stops exactly as any other.

A spare is no job: it holds no slot, is not listed as running, and is not recorded
anywhere. What it is made from (the contract, the job's address-space limit) is learnt
from the contract's last job, so the first job of a contract starts without one. A spare
that ends unused is replaced (after :data:`MAX_SPARE_DEATHS` in a row, no more are made);
a hook that fails, or an unused spare that takes longer than :data:`PREPARE_TIMEOUT` to
prepare, is reported once in the log and the contract's jobs go on starting as plain warm
forks (a job handed to a spare whose hook then fails runs unprepared; its own execution
duration bounds a hook that never returns). :meth:`Spares.close` kills every spare. Only
the executor's supervisor thread calls a :class:`Spares`, but :meth:`Spares.ready_pids`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from typing import Any

from ..core.ports import RunSpec
from .processes import kill_tree
from .spare_process import SpareOrder, SpareReady
from .warm import WarmParent, WarmParentUnavailable, WarmProcess, WarmState
from .zygote import job_setup

log = logging.getLogger(__name__)

#: Spares of one contract that may end unused in a row before no more are made.
MAX_SPARE_DEATHS = 3
#: Seconds a spare may take to prepare; one that takes longer counts as a failed hook.
PREPARE_TIMEOUT = 60.0


@dataclass(eq=False)
class _Spare:
    order: SpareOrder
    process: WarmProcess
    conn: Connection
    #: When it counts as failed if it has not said it is ready (monotonic).
    prepare_by: float
    ready: bool = False


class Spares:
    """The spares of each contract that has them (see the module's description).

    ``per_contract``: how many spares each such contract keeps; 0 makes none.
    """

    def __init__(self, *, per_contract: int = 1, nice: int = 0) -> None:
        if per_contract < 0:
            raise ValueError("per_contract must be at least 0")
        self.per_contract = per_contract
        self.nice = nice
        #: What each contract's spares are made from, learnt from its last job.
        self._orders: dict[str, SpareOrder] = {}
        #: Each contract's spares, oldest first. A list is replaced, never changed in
        #: place, so that :meth:`ready_pids` reads a whole one from any thread.
        self._spares: dict[str, tuple[_Spare, ...]] = {}
        #: Contracts whose spares failed: their jobs start as plain warm forks.
        self._given_up: set[str] = set()
        self._deaths: dict[str, int] = {}

    def take(self, spec: RunSpec) -> tuple[WarmProcess, Connection] | None:
        """A spare for ``spec``'s job, its spec sent, or None: start it otherwise.

        A ready spare is taken first, else the oldest still preparing. A spare still
        preparing says how its hook went on the run's connection, where the executor
        hands the :class:`~.spare_process.SpareReady` to :meth:`report`.
        """
        name = spec.contract.name
        for stale in [s for s in self._of(name) if s.order.memory_bytes != spec.memory_bytes]:
            self._remove(name, stale)  # prepared under other limits: the next get the job's
            self._discard(stale)
        now = time.monotonic()
        spares = self._of(name)
        spare = next((s for s in spares if s.ready), None) or next(
            (s for s in spares if now < s.prepare_by), None
        )
        if spare is None:
            return None
        self._remove(name, spare)
        try:
            spare.conn.send(spec)
        except (OSError, ValueError):
            self._discard(spare)
            return None
        self._deaths[name] = 0
        return spare.process, spare.conn

    def want(self, spec: RunSpec) -> None:
        """Keep spares for the next jobs of ``spec``'s contract (if it prepares runs)."""
        contract = spec.contract
        if self.per_contract and contract.prepares_runs and contract.name not in self._given_up:
            self._orders[contract.name] = SpareOrder(contract, spec.memory_bytes, self.nice)

    def replenish(self, warm_parent_of: dict[str, WarmParent]) -> None:
        """Fork a spare for every contract that wants more, where its warm parent is
        ready and none of its spares is still preparing. The others are tried at the
        next call (the supervisor calls again when a spare is ready).

        Why at once, while the job that took the last spare runs: a client that submits
        its next job as soon as it sees one end (``bench/latency_bench.py``) otherwise
        finds the spare still preparing. Measured on two cores, a tiny query's p50 from
        createJob to COMPLETED went from 50 to 37 ms, though the job beside the preparing
        spare runs 2 to 3 ms slower. Why one preparing at a time: a job that arrives
        meanwhile then shares the processors with one hook only.
        """
        for name, order in list(self._orders.items()):
            warm = warm_parent_of.get(name)
            spares = self._of(name)
            if len(spares) >= self.per_contract or warm is None:
                continue
            if warm.state is not WarmState.READY or not all(s.ready for s in spares):
                continue
            try:
                spare = self._fork(name, order, warm)
            except Exception as exc:  # out of descriptors, an order that cannot be sent...
                # ... must not end the supervisor thread, which calls this.
                self._give_up(name, f"a spare could not be started: {type(exc).__name__}: {exc}")
                continue
            if spare is not None:
                self._spares[name] = (*spares, spare)

    def _fork(self, name: str, order: SpareOrder, warm: WarmParent) -> _Spare | None:
        """A new spare of ``name``, its order sent; None if its warm parent is gone."""
        ours, theirs = Pipe()
        try:
            process = warm.fork(theirs)
        except BaseException as exc:
            ours.close()
            if isinstance(exc, WarmParentUnavailable):
                return None
            raise
        finally:
            theirs.close()
        spare = _Spare(order, process, ours, time.monotonic() + PREPARE_TIMEOUT)
        try:
            ours.send(job_setup(nice=self.nice))
            ours.send(order)
        except BaseException as exc:
            self._discard(spare)
            if isinstance(exc, OSError | ValueError):
                log.warning("a spare of %s could not be started: %s", name, exc)
                return None
            raise
        return spare

    def report(self, contract: str, report: SpareReady) -> None:
        """How the hook of a spare taken while preparing went (read on its job's
        connection): a failure is logged, once, and no more spares are made."""
        if report.failure is not None:
            self._give_up(
                contract, f"its contract's spare hook failed: {report.failure}", report.detail
            )

    def waitables(self) -> list[Any]:
        """What the supervisor waits on for the spares: their ends, and the reports of
        those not ready yet."""
        found: list[Any] = []
        for spare in self._all():
            found.append(spare.process.sentinel)
            if not spare.ready:
                found.append(spare.conn)
        return found

    def next_deadline(self) -> float | None:
        """The soonest instant (monotonic) a spare's preparation times out, or None."""
        times = [s.prepare_by for s in self._all() if not s.ready]
        return min(times) if times else None

    def serve(self, ready: set[Any]) -> None:
        """Apply what ``ready`` (from the supervisor's wait) says of the spares: a spare
        prepared, failed, timed out or ended."""
        now = time.monotonic()
        for name, spares in list(self._spares.items()):
            for spare in spares:
                if not spare.ready and spare.conn in ready:
                    self._read_report(name, spare)  # first: a failed hook's spare ends after it
                    if name in self._given_up:
                        break  # its spares are gone
                if spare.process.sentinel in ready and spare.process.reap():
                    self._remove(name, spare)
                    self._died(name, spare)
                elif not spare.ready and now >= spare.prepare_by:
                    self._give_up(name, f"its preparation took more than {PREPARE_TIMEOUT:g} s")
                if name in self._given_up:
                    break

    def close(self) -> None:
        """Kill every spare and make no more."""
        self._orders.clear()
        for name in list(self._spares):
            for spare in self._spares.pop(name):
                self._discard(spare)

    def ready_pids(self, contract: str) -> list[int]:
        """The pids of ``contract``'s spares that are ready for a job, oldest first (for
        tests and operators; safe from any thread)."""
        return [s.process.pid for s in self._spares.get(contract, ()) if s.ready]

    # -- inside -------------------------------------------------------------------------

    def _of(self, name: str) -> tuple[_Spare, ...]:
        return self._spares.get(name, ())

    def _all(self) -> list[_Spare]:
        return [spare for spares in self._spares.values() for spare in spares]

    def _remove(self, name: str, spare: _Spare) -> None:
        left = tuple(s for s in self._of(name) if s is not spare)
        if left:
            self._spares[name] = left
        else:
            self._spares.pop(name, None)

    def _read_report(self, name: str, spare: _Spare) -> None:
        try:
            report = spare.conn.recv()
        except (EOFError, OSError, ValueError):
            return  # it is ending: its sentinel says so
        if isinstance(report, SpareReady) and report.failure is None:
            spare.ready = True
            return
        failure = report.failure if isinstance(report, SpareReady) else repr(report)
        detail = report.detail if isinstance(report, SpareReady) else None
        self._give_up(name, f"its contract's spare hook failed: {failure}", detail)

    def _died(self, name: str, spare: _Spare) -> None:
        spare.process.close()
        spare.conn.close()
        deaths = self._deaths.get(name, 0) + 1
        self._deaths[name] = deaths
        if deaths >= MAX_SPARE_DEATHS:
            self._give_up(name, f"{deaths} spares in a row ended before their job came")
        else:
            log.warning(
                "a spare of %s (pid %d) ended unused; starting another", name, spare.process.pid
            )

    def _give_up(self, name: str, why: str, detail: str | None = None) -> None:
        if name not in self._given_up:
            log.error(
                "no more spare processes for %s: %s; its jobs start as plain warm forks%s",
                name,
                why,
                f"\n{detail}" if detail else "",
            )
        self._given_up.add(name)
        self._orders.pop(name, None)
        for spare in self._spares.pop(name, ()):
            self._discard(spare)

    def _discard(self, spare: _Spare) -> None:
        kill_tree(spare.process.pid, [])
        with contextlib.suppress(OSError):
            spare.process.reap()  # its warm parent reaps it, and says so
        spare.process.close()
        spare.conn.close()
