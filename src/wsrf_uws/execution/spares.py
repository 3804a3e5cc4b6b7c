"""Spare job processes: a contract's next job process, forked and prepared before its job.

A contract whose runs all begin alike declares
:meth:`~wsrf_uws.core.contract.Contract.prepare_run` (``adql``: start DuckDB, attach the
catalogue, read its metadata: 25 to 35 ms). For such a contract the local executor keeps
one *spare*: a job process forked from the contract's warm parent, which has run that hook
(:mod:`.spare_process`) and waits for its job. A job is handed to the spare, ready or still
preparing (it then waits only for the rest of the hook, less than a plain fork and the
whole hook would take), and the next spare is forked as soon as no job of the contract
runs (:meth:`Spares.replenish` says why). Each job still runs in a process of its own,
which an abort, an execution duration or a restart stops exactly as any other.

A spare is no job: it holds no slot, is not listed as running, and is not recorded
anywhere. What it is made from (the contract, the job's address-space limit) is learnt
from the contract's last job, so the first job of a contract starts without one. A spare
that ends unused is replaced (after :data:`MAX_SPARE_DEATHS` in a row, no more are made);
a hook that fails, or an unused spare that takes longer than :data:`PREPARE_TIMEOUT` to
prepare, is reported once in the log and the contract's jobs go on starting as plain warm
forks (a job handed to a spare whose hook then fails runs unprepared; its own execution
duration bounds a hook that never returns). :meth:`Spares.close` kills every spare. Only
the executor's supervisor thread calls a :class:`Spares`, but :meth:`Spares.ready_pid`.
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
    """The spare of each contract that has one (see the module's description)."""

    def __init__(self, *, nice: int = 0) -> None:
        self.nice = nice
        #: What each contract's spare is made from, learnt from its last job.
        self._orders: dict[str, SpareOrder] = {}
        self._spares: dict[str, _Spare] = {}
        #: Contracts whose spares failed: their jobs start as plain warm forks.
        self._given_up: set[str] = set()
        self._deaths: dict[str, int] = {}

    def take(self, spec: RunSpec) -> tuple[WarmProcess, Connection] | None:
        """The spare for ``spec``'s job, its spec sent, or None: start it otherwise.

        A spare still preparing says how its hook went on the run's connection, where
        the executor hands the :class:`~.spare_process.SpareReady` to :meth:`report`.
        """
        name = spec.contract.name
        spare = self._spares.get(name)
        if spare is None or (not spare.ready and time.monotonic() >= spare.prepare_by):
            return None
        del self._spares[name]
        if spare.order.memory_bytes != spec.memory_bytes:
            self._discard(spare)  # prepared under other limits: the next one gets the job's
            return None
        try:
            spare.conn.send(spec)
        except (OSError, ValueError):
            self._discard(spare)
            return None
        self._deaths[name] = 0
        return spare.process, spare.conn

    def want(self, spec: RunSpec) -> None:
        """Keep a spare for the next job of ``spec``'s contract (if it prepares runs)."""
        contract = spec.contract
        if contract.prepares_runs and contract.name not in self._given_up:
            self._orders[contract.name] = SpareOrder(contract, spec.memory_bytes, self.nice)

    def replenish(self, warm_parent_of: dict[str, WarmParent], *, busy: set[str]) -> None:
        """Fork a spare for every contract that wants one and has none, where its warm
        parent is ready and none of its jobs runs (``busy``: the contracts with a job
        that has not reported its outcome yet). The others are tried at the next call.

        Why not while a job of the contract runs: the hook's work (DuckDB starts eight
        threads) would take the processor from that job, and measured on two cores it
        cost a tiny query more than the spare saved the next one.
        """
        for name, order in self._orders.items():
            warm = warm_parent_of.get(name)
            if name in self._spares or name in busy or warm is None:
                continue
            if warm.state is not WarmState.READY:
                continue
            ours, theirs = Pipe()
            try:
                process = warm.fork(theirs)
            except WarmParentUnavailable:
                ours.close()
                continue
            finally:
                theirs.close()
            spare = _Spare(order, process, ours, time.monotonic() + PREPARE_TIMEOUT)
            try:
                ours.send(job_setup(nice=self.nice))
                ours.send(order)
            except (OSError, ValueError) as exc:
                log.warning("a spare of %s could not be started: %s", name, exc)
                self._discard(spare)
                continue
            self._spares[name] = spare

    def report(self, contract: str, report: SpareReady) -> None:
        """How the hook of a spare taken while preparing went (read on its job's
        connection): a failure is logged, once, and no more spares are made."""
        if report.failure is not None:
            self._give_up(
                contract, f"its contract's prepare_run failed: {report.failure}", report.detail
            )

    def waitables(self) -> list[Any]:
        """What the supervisor waits on for the spares: their ends, and the reports of
        those not ready yet."""
        found: list[Any] = []
        for spare in self._spares.values():
            found.append(spare.process.sentinel)
            if not spare.ready:
                found.append(spare.conn)
        return found

    def next_deadline(self) -> float | None:
        """The soonest instant (monotonic) a spare's preparation times out, or None."""
        times = [s.prepare_by for s in self._spares.values() if not s.ready]
        return min(times) if times else None

    def serve(self, ready: set[Any]) -> None:
        """Apply what ``ready`` (from the supervisor's wait) says of the spares: a spare
        prepared, failed, timed out or ended."""
        now = time.monotonic()
        for name, spare in list(self._spares.items()):
            if not spare.ready and spare.conn in ready:
                self._read_report(name, spare)  # first: a failed hook's spare ends after it
                if self._spares.get(name) is not spare:
                    continue  # given up
            if spare.process.sentinel in ready and spare.process.reap():
                del self._spares[name]
                self._died(name, spare)
            elif not spare.ready and now >= spare.prepare_by:
                self._give_up(name, f"its preparation took more than {PREPARE_TIMEOUT:g} s")

    def close(self) -> None:
        """Kill every spare and make no more."""
        self._orders.clear()
        for name in list(self._spares):
            self._discard(self._spares.pop(name))

    def ready_pid(self, contract: str) -> int | None:
        """The pid of ``contract``'s spare if it is ready for a job (for tests and
        operators; safe from any thread)."""
        spare = self._spares.get(contract)
        return spare.process.pid if spare is not None and spare.ready else None

    # -- inside -------------------------------------------------------------------------

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
        self._give_up(name, f"its contract's prepare_run failed: {failure}", detail)

    def _died(self, name: str, spare: _Spare) -> None:
        spare.process.close()
        spare.conn.close()
        deaths = self._deaths.get(name, 0) + 1
        self._deaths[name] = deaths
        if deaths >= MAX_SPARE_DEATHS:
            self._give_up(name, f"{deaths} spares in a row ended before their job came")
        else:
            log.warning(
                "the spare of %s (pid %d) ended unused; starting another", name, spare.process.pid
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
        spare = self._spares.pop(name, None)
        if spare is not None:
            self._discard(spare)

    def _discard(self, spare: _Spare) -> None:
        kill_tree(spare.process.pid, [])
        with contextlib.suppress(OSError):
            spare.process.reap()  # its warm parent reaps it, and says so
        spare.process.close()
        spare.conn.close()
