"""The executor of a cluster node: the store is the queue, workers claim from it.

On a front-end, :meth:`NodeExecutor.submit` only tells the cluster that a job was
queued (the job is already QUEUED in the store), and :meth:`NodeExecutor.cancel` asks
the node running the job to stop it and waits until it says the run ended. On a node
that runs jobs, a claiming thread keeps the node's local executor busy: whenever a
slot is free it claims the next job from the store (:meth:`ClusterStore.claim`) and
hands it over. The thread sleeps until something can have changed (a job queued, a run
ended anywhere, the store reachable again): it never polls.

The jobs of contracts on Slurm are never claimed: the node that leads the cluster runs
them, through its :class:`~wsrf_uws.core.cluster.LeaderExecutor` (every node has one,
which works only while the node leads). Stopping such a job is asked of the leader.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .clock import Clock
from .cluster import ClusterSession, ClusterStore, LeaderExecutor, Signal
from .model import Progress, Result
from .phases import Phase
from .ports import ExecutionListener, Executor, Outcome, OutcomeKind, RunSpec
from .recorder import ExecutionRecorder

log = logging.getLogger(__name__)


class NodeExecutor(Executor):
    """The :class:`Executor` of a :class:`~wsrf_uws.core.node.ClusterNode`.

    ``local`` runs this node's jobs, ``slots`` at a time (None: a front-end, which runs
    none). ``max_running(owner)`` caps the owner's EXECUTING jobs across the cluster.
    ``stop_timeout`` bounds how long :meth:`cancel` waits for another node to stop a run
    (a node that died meanwhile never answers; the leader recovers its jobs). ``leader``
    runs the jobs of the contracts on Slurm while this node leads (None: there are none).
    """

    def __init__(
        self,
        *,
        store: ClusterStore,
        node: str,
        clock: Clock,
        local: Executor | None = None,
        slots: int = 0,
        max_running: Callable[[str], int] | None = None,
        stop_timeout: float = 15.0,
        leader: LeaderExecutor | None = None,
    ) -> None:
        if local is not None and slots < 1:
            raise ValueError("a node that runs jobs needs at least one slot")
        self.node = node
        self.local = local
        self.slots = slots
        self._store = store
        self._clock = clock
        self._max_running = max_running
        self._stop_timeout = stop_timeout
        self.leader = leader
        #: Contracts never claimed here: the leader's.
        self._excluded = frozenset() if leader is None else leader.contracts
        self._session: ClusterSession | None = None
        self._recorder: ExecutionRecorder | None = None
        self._leader_listener: ExecutionListener | None = None
        self._on_ended: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        #: Claimed jobs handed to ``local`` that it has not started yet.
        self._prepared: dict[str, RunSpec] = {}
        #: Who waits for the end of a run on another node, by resource id.
        self._waiting: dict[str, list[threading.Event]] = {}
        self._work = threading.Event()
        self._closing = False
        #: Set while the node is cut off from the store: nothing is claimed.
        self._fenced = False
        self._thread: threading.Thread | None = None

    # -- wiring ------------------------------------------------------------------------

    def attach(
        self,
        session: ClusterSession,
        *,
        leader_listener: ExecutionListener | None = None,
        on_ended: Callable[[str], None] | None = None,
    ) -> None:
        """Use ``session`` to signal the cluster (before :meth:`start`); the leader's jobs
        report to ``leader_listener`` (a recorder of :data:`SLURM_NODE`'s runs);
        ``on_ended`` hears the resource id of each run that ends anywhere in the cluster
        (it must not block: it is called on the session's thread)."""
        self._session = session
        self._leader_listener = leader_listener
        self._on_ended = on_ended

    def lead(self) -> None:
        """This node leads: its :attr:`leader` takes up the Slurm jobs (see
        :meth:`LeaderExecutor.lead`)."""
        if self.leader is None or self._closing:
            return
        if self._leader_listener is None:
            raise RuntimeError("the node has no recorder for the leader's jobs")
        self.leader.lead(self._leader_listener)

    def step_down(self, *, wait: bool = True) -> None:
        """This node no longer leads: its Slurm jobs are the next leader's."""
        if self.leader is not None:
            self.leader.step_down(wait=wait)

    # -- Executor ----------------------------------------------------------------------

    def start(self, listener: Any) -> None:
        """Start the local executor and the claiming thread (on a node that runs jobs).

        ``listener`` is the service's :class:`ExecutionRecorder`: claims happen in the
        store here, and the recorder turns what runs report into store changes.
        """
        if not isinstance(listener, ExecutionRecorder):
            raise TypeError("a cluster node records runs with the service's ExecutionRecorder")
        self._recorder = listener
        if self.local is None:
            return
        self.local.start(_LocalRuns(self))
        self._work.set()
        self._thread = threading.Thread(target=self._claim_loop, name="wsrf-uws-claims")
        self._thread.start()

    def submit(self, resource_id: str, *, owner: str = "", contract: str = "") -> None:
        # The job is QUEUED in the store: whichever worker has a free slot first claims it.
        try:
            self._send(Signal.QUEUED)
        except Exception:
            # Queued all the same: a worker finds it at its next wake-up (a signal, or
            # its link to the store coming back, which a failed send suggests was lost).
            log.exception("could not signal that %s was queued", resource_id)

    def cancel(self, resource_id: str) -> bool:
        if self.local is not None:
            with self._lock:
                prepared = self._prepared.pop(resource_id, None)
            if prepared is not None:  # claimed here, not started yet
                self.local.cancel(resource_id)
                self._run_ended(resource_id)
                return True
            if resource_id in self.local.active():
                return self.local.cancel(resource_id)
        if self.leader is not None and self.leader.holds(resource_id):
            return self.leader.cancel(resource_id)
        ended = threading.Event()
        with self._lock:
            self._waiting.setdefault(resource_id, []).append(ended)
        try:
            job = self._store.get(resource_id)
            if job is None or job.node is None:
                return False
            self._send(Signal.STOP, resource_id)
            if not ended.wait(self._stop_timeout):
                log.warning(
                    "node %s did not report the end of %s within %.0f s",
                    job.node,
                    resource_id,
                    self._stop_timeout,
                )
            return True
        finally:
            with self._lock:
                waiters = self._waiting.get(resource_id, [])
                if ended in waiters:
                    waiters.remove(ended)
                if not waiters:
                    self._waiting.pop(resource_id, None)

    def shutdown(self) -> None:
        with self._lock:
            self._closing = True
            self._prepared.clear()
        self.step_down()
        self._work.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if self.local is not None:
            self.local.shutdown()

    def active(self) -> dict[str, str]:
        return {} if self.local is None else self.local.active()

    def interrupt_all(self, *, at_once: bool = False) -> list[str]:
        with self._lock:
            self._prepared.clear()
        return [] if self.local is None else self.local.interrupt_all(at_once=at_once)

    # -- what the node tells it --------------------------------------------------------

    def on_signal(self, signal: Signal, payload: str) -> None:
        """A signal from the cluster (on the session's thread: must not block)."""
        if signal is Signal.QUEUED:
            self._work.set()
            if self.leader is not None:
                self.leader.wake()
        elif signal is Signal.ENDED:
            with self._lock:
                for event in self._waiting.get(payload, []):
                    event.set()
            if self._on_ended is not None:
                self._on_ended(payload)
            self._work.set()  # an owner may be below its limit again
            if self.leader is not None:
                self.leader.wake()
        elif signal is Signal.STOP and (
            self._runs_here(payload) or (self.leader is not None and self.leader.holds(payload))
        ):
            threading.Thread(
                target=self.cancel, args=(payload,), name="wsrf-uws-stop", daemon=True
            ).start()

    def fence(self) -> list[str]:
        """The node is cut off from the store: kill every run at once, claim nothing."""
        with self._lock:
            self._fenced = True
        return self.interrupt_all(at_once=True)

    def unfence(self) -> None:
        """The node is back in the cluster (its interrupted jobs recovered): claim again."""
        with self._lock:
            self._fenced = False
        self._work.set()

    def reconcile(self) -> None:
        """Stop the local runs the store no longer records as running here (their abort or
        destruction was signalled while the node was cut off), and look for work."""
        for resource_id, state in self.active().items():
            if state != "running":
                continue
            job = self._store.get(resource_id)
            if job is None or job.phase is not Phase.EXECUTING or job.node != self.node:
                threading.Thread(
                    target=self.cancel, args=(resource_id,), name="wsrf-uws-stop", daemon=True
                ).start()
        self._work.set()

    # -- claiming ----------------------------------------------------------------------

    def _runs_here(self, resource_id: str) -> bool:
        with self._lock:
            if resource_id in self._prepared:
                return True
        return self.local is not None and resource_id in self.local.active()

    def _claim_loop(self) -> None:
        assert self.local is not None
        assert self._recorder is not None
        while True:
            self._work.wait()
            self._work.clear()
            with self._lock:
                if self._closing:
                    return
                if self._fenced:
                    continue
            while len(self.local.active()) < self.slots:
                try:
                    if self._store.operator_state().hold is not None:
                        break  # an operator holds the queue; the release wakes us
                    job = self._store.claim(
                        self.node,
                        now=self._clock.now(),
                        max_running=self._max_running,
                        exclude=self._excluded,
                    )
                except Exception:
                    log.exception("claiming a job failed; waiting for the store")
                    break  # the session's return wakes the loop
                if job is None:
                    break
                spec = self._recorder.run_spec(job)
                if spec is None:
                    self._run_ended(job.resource_id)
                    continue
                with self._lock:
                    if self._closing or self._fenced:
                        return_to_store = True
                    else:
                        return_to_store = False
                        self._prepared[job.resource_id] = spec
                if return_to_store:
                    # Claimed as the node stopped: left EXECUTING here, it is recovered
                    # with the node's other runs.
                    break
                if not self._still_ours(job.resource_id):
                    # Aborted or destroyed between the claim and now: its STOP signal
                    # came before the job was known here. (One sent later finds it.)
                    with self._lock:
                        self._prepared.pop(job.resource_id, None)
                    self._run_ended(job.resource_id)
                    continue
                self.local.submit(job.resource_id, owner=job.owner, contract=job.contract)

    def _still_ours(self, resource_id: str) -> bool:
        try:
            job = self._store.get(resource_id)
        except Exception:
            return True  # the store is away: the node's fencing takes care of it
        return job is not None and job.phase is Phase.EXECUTING and job.node == self.node

    def _take_prepared(self, resource_id: str) -> RunSpec | None:
        with self._lock:
            return self._prepared.pop(resource_id, None)

    def _run_ended(self, resource_id: str) -> None:
        try:
            self._store.run_ended(resource_id, node=self.node)
        except Exception:
            # The job stays recorded as running here; the node's recovery (or the
            # leader's sweep) settles it.
            log.exception("recording the end of %s's run failed", resource_id)
        self._work.set()

    def _send(self, signal: Signal, payload: str = "") -> None:
        if self._session is None:
            raise RuntimeError("the node has not joined the cluster")
        self._session.send(signal, payload)


class _LocalRuns:
    """The listener of a node's local executor: hands over claimed jobs and records runs."""

    def __init__(self, executor: NodeExecutor) -> None:
        self._executor = executor
        assert executor._recorder is not None
        self._recorder = executor._recorder

    def claim(self, resource_id: str) -> RunSpec | None:
        # Claimed in the store already; None if cancelled before it could start.
        return self._executor._take_prepared(resource_id)

    def on_progress(self, resource_id: str, progress: Progress) -> None:
        self._recorder.on_progress(resource_id, progress)

    def on_state(self, resource_id: str, state: dict[str, Any]) -> None:
        self._recorder.on_state(resource_id, state)

    def on_results(self, resource_id: str, results: Sequence[Result]) -> None:
        self._recorder.on_results(resource_id, results)

    def on_finished(
        self,
        resource_id: str,
        outcome: Outcome,
        *,
        state: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self._recorder.on_finished(resource_id, outcome, state=state, progress=progress)
        if outcome.kind is OutcomeKind.INTERRUPTED:
            # The node is stopping or fenced: the job stays EXECUTING here, for the node's
            # own recovery or the leader's sweep.
            self._executor._work.set()
            return
        self._executor._run_ended(resource_id)
