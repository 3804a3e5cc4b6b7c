"""Slurm in a cluster: the leader alone submits, follows and stops the Slurm jobs.

Any node may lead (:mod:`wsrf_uws.core.node`), so every node has a :class:`SlurmLeader`;
it works only while its node leads. Workers never claim the jobs of its contracts
(:meth:`~wsrf_uws.core.cluster.ClusterStore.claim`'s ``exclude``).

- **Taking up** (:meth:`SlurmLeader.lead`): once the term has settled (below), a fresh
  :class:`~.slurm.SlurmExecutor` adopts the Slurm jobs its records name, as after a
  restart (the records are files in the shared data directory). Then every job still recorded on
  :data:`~wsrf_uws.core.cluster.SLURM_NODE` that no record names has no Slurm job (its
  leader died between taking it up and ``sbatch``, or after the job ended): a QUEUED
  one is released, to be submitted again; an EXECUTING one follows §2.4's rules
  (isolated: queued again; otherwise HELD).
- **Handing over**: a thread of its own, woken by :data:`~wsrf_uws.core.cluster.Signal.QUEUED`
  and :data:`~wsrf_uws.core.cluster.Signal.ENDED` from any node, reads the QUEUED jobs of
  its contracts that no executor has taken up, and submits them. Each is taken up in the
  store (a compare-and-set on its node) before ``sbatch``: two leaders at once (one cut
  off and not yet aware of it) never submit one job twice.
- **Stopping**: an abort or a destroy through any front-end reaches the leader as
  :data:`~wsrf_uws.core.cluster.Signal.STOP`; the executor ``scancel``\\ s, and releasing the
  job sends :data:`~wsrf_uws.core.cluster.Signal.ENDED`, which the front-end waits for.
- **Stepping down**: the executor stops submitting and following; the jobs in Slurm
  go on, for the next leader.
- **Settling**: a node takes the lead as soon as the lock is free, which a former
  leader cut off from the store may not know yet: it follows its jobs until a heartbeat
  fails, at the latest until it fences itself, ``ttl - interval`` after its last
  heartbeat (:class:`~wsrf_uws.core.node.ClusterNode`). So a new term takes up the jobs
  only ``settle`` seconds (the cluster's ``ttl``) after its node took the lead: no job
  is followed by two leaders at once, as no run is recovered elsewhere before its node
  fenced itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection

from ..core.clock import Clock
from ..core.cluster import SLURM_NODE, ClusterStore, LeaderExecutor
from ..core.phases import Phase
from ..core.ports import ExecutionListener
from ..core.recovery import recover_runs
from ..core.registry import ContractRegistry
from .slurm import SlurmExecutor
from .slurm_runs import SlurmMarks

log = logging.getLogger(__name__)

#: Seconds before the hand-over looks again after the store failed it.
HAND_OVER_RETRY = 1.0


class StoreMarks(SlurmMarks):
    """Jobs in Slurm are recorded on :data:`SLURM_NODE` in the cluster's store."""

    def __init__(self, store: ClusterStore) -> None:
        self._store = store

    def take(self, resource_id: str) -> bool:
        return self._store.take_queued(resource_id, node=SLURM_NODE)

    def release(self, resource_id: str) -> None:
        self._store.run_ended(resource_id, node=SLURM_NODE)


class _Term:
    """One term of leadership: its executor and its hand-over thread."""

    def __init__(self, executor: SlurmExecutor) -> None:
        self.executor = executor
        self.wake = threading.Event()
        self.ending = threading.Event()
        self.thread: threading.Thread | None = None

    def end(self) -> None:
        self.ending.set()
        self.wake.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()
        self.executor.shutdown()


class SlurmLeader(LeaderExecutor):
    """The :class:`LeaderExecutor` of the contracts on Slurm (see the module).

    ``make_executor(marks)`` builds a Slurm executor that records its jobs with ``marks``
    (one per term of leadership: an executor does not start twice). ``settle`` is how
    many seconds a term waits after its node took the lead before taking up the Slurm
    jobs: the cluster's heartbeat ttl (see the module), none outside a cluster.
    """

    def __init__(
        self,
        *,
        store: ClusterStore,
        registry: ContractRegistry,
        clock: Clock,
        contracts: Collection[str],
        make_executor: Callable[[SlurmMarks], SlurmExecutor],
        settle: float = 0.0,
    ) -> None:
        self.contracts = frozenset(contracts)
        self._store = store
        self._registry = registry
        self._clock = clock
        self._make_executor = make_executor
        self._settle = settle
        #: When this node was first asked to lead since it last stepped down (monotonic).
        self._asked_since: float | None = None
        #: Serializes take-ups (which ask Slurm, and may take seconds).
        self._taking_up = threading.Lock()
        #: Guards the term; never held while waiting (step_down runs on a heartbeat).
        self._lock = threading.Lock()
        self._term: _Term | None = None
        #: Step-downs so far: a take-up that saw one meanwhile does not lead.
        self._step_downs = 0
        #: The end of the last term, under way (a step-down that did not wait).
        self._ending: threading.Thread | None = None

    def lead(self, listener: ExecutionListener) -> None:
        with self._taking_up:
            with self._lock:
                if self._term is not None or not self._settled():
                    return
                ending, self._ending = self._ending, None
                step_downs = self._step_downs
            if ending is not None:
                ending.join()  # the last term's threads are gone before a new one starts
            executor = self._make_executor(StoreMarks(self._store))
            executor.start(listener)
            term = _Term(executor)
            try:
                if executor.unresolved:
                    raise RuntimeError(
                        "Slurm could not say which jobs it runs for "
                        f"{', '.join(executor.unresolved)}; taking up the Slurm jobs later"
                    )
                self._release_untracked(executor)
            except BaseException:
                term.end()
                raise
            with self._lock:
                stepped_down = self._step_downs != step_downs
                if not stepped_down:
                    self._term = term
            if stepped_down:  # the leadership was lost during the take-up
                term.end()
                return
            term.thread = threading.Thread(
                target=self._hand_over, args=(term,), name="wsrf-uws-slurm-leader", daemon=True
            )
            term.thread.start()
            term.wake.set()
        log.info(
            "following %d job(s) in Slurm as the leader (contracts %s)",
            len(executor.active()),
            ", ".join(sorted(self.contracts)),
        )

    def step_down(self, *, wait: bool = True) -> None:
        with self._lock:
            self._asked_since = None
            self._step_downs += 1
            term, self._term = self._term, None
            if term is not None and not wait:
                self._ending = threading.Thread(
                    target=term.end, name="wsrf-uws-slurm-step-down", daemon=True
                )
                self._ending.start()
        if term is None:
            return
        log.info("no longer leading: the jobs in Slurm go on for the next leader")
        if wait:
            term.end()

    def wake(self) -> None:
        term = self._term
        if term is not None:
            term.wake.set()

    def holds(self, resource_id: str) -> bool:
        term = self._term
        return term is not None and resource_id in term.executor.active()

    def cancel(self, resource_id: str) -> bool:
        term = self._term
        return term is not None and term.executor.cancel(resource_id)

    # -- the term's work ---------------------------------------------------------------

    def _settled(self) -> bool:
        """Whether ``settle`` seconds have passed since this node was first asked to lead
        (the node asks again at each beat while it leads). Under the lock."""
        now = time.monotonic()
        if self._asked_since is None:
            self._asked_since = now
            if self._settle > 0:
                log.info(
                    "leading: taking up the Slurm jobs in %.1f s, once a former leader "
                    "has stopped following them",
                    self._settle,
                )
        return now - self._asked_since >= self._settle

    def _release_untracked(self, executor: SlurmExecutor) -> None:
        """Jobs recorded on Slurm's node that no record names have no Slurm job (see the
        module): queued ones are released, running ones recovered."""
        held = executor.active()
        for job in self._store.queued_jobs(self.contracts, node=SLURM_NODE):
            if job.resource_id not in held:
                log.info(
                    "%s was taken up for Slurm, never submitted: submitted now", job.resource_id
                )
                self._store.run_ended(job.resource_id, node=SLURM_NODE)
        lost = [
            job
            for job in self._store.running_on(SLURM_NODE)
            if job.resource_id not in held and job.phase is Phase.EXECUTING
        ]
        if lost:
            report = recover_runs(
                lost,
                store=self._store,
                registry=self._registry,
                clock=self._clock,
                requeue=lambda job: None,  # the hand-over finds it QUEUED
                cause="the loss of its Slurm job",
                running_on=SLURM_NODE,
            )
            log.warning(
                "%d job(s) recorded in Slurm had no Slurm job: %d queued again, %d held",
                len(lost),
                len(report.requeued),
                len(report.held),
            )

    def _hand_over(self, term: _Term) -> None:
        """Submit the QUEUED jobs of the contracts that no executor has taken up."""
        while True:
            term.wake.wait()
            term.wake.clear()
            if term.ending.is_set():
                return
            try:
                held = term.executor.active()
                for job in self._store.queued_jobs(self.contracts):
                    if job.resource_id not in held:
                        term.executor.submit(
                            job.resource_id, owner=job.owner, contract=job.contract
                        )
            except Exception:
                log.exception("handing queued jobs to Slurm failed; trying again")
                if not term.ending.wait(HAND_OVER_RETRY):
                    term.wake.set()
