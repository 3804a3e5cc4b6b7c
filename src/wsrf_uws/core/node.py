"""A cluster node: one process of a deployment whose nodes share a PostgreSQL store.

The node joins the cluster under its name, heartbeats, and recovers its own
interrupted runs at start-up (pattern §2.4: isolated jobs run again, others wait in
HELD). One node of the cluster leads: it runs the reaper, recovers the jobs of
nodes that went silent, by the same rules, and runs the jobs of the contracts on Slurm
(:class:`~wsrf_uws.core.cluster.LeaderExecutor`: a new leader takes up the Slurm jobs in
flight, as a restarted service does). Leadership is a lock in the store that dies
with its holder's session, so another node takes over within a heartbeat.

Fencing: a node that cannot heartbeat for ``ttl - interval`` seconds kills its own runs,
before the leader (which waits ``ttl``, by the store's clock) may run them elsewhere;
so one job never runs on two nodes at once. When the store is back, the node recovers
what it interrupted (unless the leader did already) and claims work again.

Three threads, so that none delays another: the heartbeat (nothing else, so a long
sweep never makes a node look dead), the duties (leadership, sweeps), and the fencing
watchdog (a heartbeat stuck in a connection timeout must not delay the fencing).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from .cluster import (
    SLURM_NODE,
    ClusterSession,
    ClusterStore,
    NodeNameTakenError,
    NodeRole,
    Signal,
)
from .node_executor import NodeExecutor
from .phases import Phase
from .recorder import ExecutionRecorder
from .recovery import RecoveryReport, recover_runs

if TYPE_CHECKING:
    from .service import JobService

log = logging.getLogger(__name__)

#: Seconds between the leader's own looks at the earliest termination time.
REAPER_RECHECK = 30.0


class ClusterNode:
    """The :class:`~wsrf_uws.core.service.Duties` of a service that is one node of a cluster.

    ``executor`` is the service's executor (a :class:`NodeExecutor` on the same store).
    ``interval`` is the heartbeat period and ``ttl`` the silence after which a node
    counts as dead, both in seconds.
    """

    def __init__(
        self,
        *,
        store: ClusterStore,
        name: str,
        role: NodeRole,
        executor: NodeExecutor,
        interval: float = 1.0,
        ttl: float = 5.0,
    ) -> None:
        if ttl < 2 * interval:
            raise ValueError("the heartbeat ttl must be at least twice its interval")
        self.node: str | None = name
        self.name = name
        self.role = role
        self.interval = interval
        self.ttl = ttl
        self._store = store
        self._executor = executor
        self._service: JobService | None = None
        self._session: ClusterSession | None = None
        self._stopping = threading.Event()
        self._heartbeats: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._duties: threading.Thread | None = None
        # Fencing and rejoining never interleave (the watchdog and the heartbeat thread).
        self._fencing = threading.Lock()
        self._fenced = False
        #: When the last heartbeat that succeeded was sent (monotonic seconds).
        self._last_heartbeat = 0.0
        self._reaper_checked = 0.0
        #: Times the node was fenced (for operators and tests).
        self.fenced_count = 0

    @property
    def leading(self) -> bool:
        """Whether this node leads the cluster now."""
        return self._session is not None and self._session.leading

    # -- Duties ------------------------------------------------------------------------

    def start(self, service: JobService) -> RecoveryReport:
        """Join, recover this node's interrupted runs, start claiming, then heartbeat."""
        self._service = service
        self._session = self._store.join(
            self.name,
            role=self.role,
            slots=self._executor.slots,
            on_signal=self._on_signal,
            on_link=self._on_link,
            heartbeat_interval=self.interval,
        )
        self._last_heartbeat = time.monotonic()
        try:
            report = self._recover_own(cause="a restart of its node")
            report.merge(self._recover_unclaimed())
            self._executor.attach(
                self._session,
                leader_listener=self._slurm_recorder(service),
                on_ended=service.watch.wake,
            )
            self._executor.start(service.recorder)
        except BaseException:
            self._session.close()
            raise
        try:
            # The first beat's duties now: a lone node leads (and reaps) once started.
            self._lead()
        except Exception:
            log.exception("node %s: taking up the cluster's duties failed", self.name)
        self._heartbeats = threading.Thread(target=self._beat, name="wsrf-uws-heartbeat")
        self._heartbeats.start()
        self._watchdog = threading.Thread(target=self._watch, name="wsrf-uws-fencing")
        self._watchdog.start()
        self._duties = threading.Thread(target=self._perform_duties, name="wsrf-uws-duties")
        self._duties.start()
        return report

    @staticmethod
    def _slurm_recorder(service: JobService) -> ExecutionRecorder:
        """The recorder of the ends the leader records for Slurm jobs (a duration
        exceeded, a job Slurm ended without it saying how): for jobs recorded on
        :data:`SLURM_NODE`, as this node's recorder is for its own runs."""
        return ExecutionRecorder(
            store=service.store,
            files=service.files,
            registry=service.registry,
            clock=service.clock,
            memory_bytes=service.limits.memory_bytes,
            node=SLURM_NODE,
            events=service.events,
        )

    def stop(self, service: JobService) -> None:
        """Stop heartbeating, the reaper and the runs; leave the cluster.

        The runs end INTERRUPTED and stay recorded on this node: it recovers them if it
        is back within the ttl, else the leader does.
        """
        self._stopping.set()
        for thread in (self._heartbeats, self._watchdog, self._duties):
            if thread is not None:
                thread.join()
        service.reaper.stop()
        self._executor.shutdown()
        if self._session is not None:
            self._session.close()

    def schedule(self, service: JobService, termination_time: datetime | None) -> None:
        if termination_time is None:
            return
        if self.leading:
            service.reaper.schedule(termination_time)
        elif self._session is not None:
            try:
                self._session.send(Signal.TERMINATION, termination_time.isoformat())
            except Exception:
                # Recorded anyway; the leader finds it when it next looks.
                log.warning("could not tell the leader of a new termination time")

    # -- the threads: heartbeat, duties, fencing ---------------------------------------

    def _beat(self) -> None:
        """Heartbeat every interval, and nothing that could delay the next heartbeat."""
        while not self._stopping.is_set():
            sent = time.monotonic()
            if self._heartbeat_ok():
                self._last_heartbeat = sent
                if self._fenced:
                    try:
                        self._rejoin()
                    except Exception:
                        log.exception("node %s: rejoining the cluster failed", self.name)
            else:
                self._lost_leadership()
            # Paced from the start of the beat: a slow store does not stretch the period.
            self._stopping.wait(max(0.0, sent + self.interval - time.monotonic()))

    def _perform_duties(self) -> None:
        """Take the leadership when it is free and, while leading, sweep dead nodes."""
        while not self._stopping.is_set():
            pause = self.interval
            if not self._fenced:
                try:
                    self._lead()
                    pause = self._until_next_duty()
                except Exception:
                    log.exception("node %s: a cluster duty failed; trying again", self.name)
            self._stopping.wait(pause)

    def _heartbeat_ok(self) -> bool:
        """One heartbeat; False (with the reason logged) if it did not reach the store."""
        assert self._session is not None
        try:
            self._session.heartbeat()
        except NodeNameTakenError:
            log.error("another process took this node's name %s", self.name)
            return False
        except Exception as exc:
            log.warning("node %s: heartbeat failed: %s", self.name, exc)
            return False
        return True

    def _until_next_duty(self) -> float:
        """Seconds to the next beat; a leader wakes as soon as a node falls silent."""
        if not self.leading:
            return self.interval
        silent = self._store.seconds_until_silent(ttl=self.ttl)
        if silent is None:
            return self.interval
        return min(self.interval, max(0.0, silent) + 0.01)

    def _watch(self) -> None:
        """Fence the node when its heartbeats have failed for ``ttl - interval`` seconds.

        A thread of its own: a heartbeat attempt can block for seconds (a connection
        timing out) and must not delay the fencing past the moment the leader may run
        this node's jobs elsewhere.
        """
        while not self._stopping.wait(self.interval / 4):
            silent = time.monotonic() - self._last_heartbeat
            if not self._fenced and silent > self.ttl - self.interval:
                log.error("no heartbeat for %.1f s: killing this node's runs", silent)
                self._fence()

    def _fence(self) -> None:
        with self._fencing:
            if self._fenced:
                return
            self._fenced = True
            self._executor.step_down(wait=False)
            stopped = self._executor.fence()
            self.fenced_count += 1
        if stopped:
            log.error("fenced: killed %d run(s): %s", len(stopped), ", ".join(stopped))

    def _rejoin(self) -> None:
        """Back after fencing: recover what was interrupted, then claim again."""
        with self._fencing:
            self._recover_own(cause="a loss of its node's link to the store")
            self._fenced = False
            self._executor.unfence()
        log.info("back in the cluster after fencing")

    # -- leadership --------------------------------------------------------------------

    def _lead(self) -> None:
        assert self._session is not None
        assert self._service is not None
        if not self.leading:
            # A leadership lost unnoticed by the heartbeats (try_lead found the link gone):
            # the Slurm jobs are the next leader's. Does nothing when not leading.
            self._executor.step_down(wait=False)
            if not self._session.try_lead():
                return
            log.info("node %s now leads the cluster: it runs the reaper and the sweeps", self.name)
            self._service.reaper.start()
            orphans = self._service.files.sweep(self._store.exists)
            if orphans:
                log.info("removed %d orphaned job folder(s)", len(orphans))
            self._reaper_checked = time.monotonic()
        self._sweep_dead_nodes()
        # At every beat while leading: a take-up that failed (Slurm unreachable) is
        # tried again; one that succeeded does nothing more.
        self._executor.lead()
        if time.monotonic() - self._reaper_checked > REAPER_RECHECK:
            # A termination signal can be lost (a node's link was down as it sent it):
            # the earliest termination time, read now and then, is the safety net.
            self._reaper_checked = time.monotonic()
            self._service.reaper.schedule(self._store.next_termination_time())

    def _lost_leadership(self) -> None:
        # On the heartbeat thread: nothing here may wait (the Slurm threads end on their own).
        self._executor.step_down(wait=False)
        if self._service is not None and self._service.reaper.running:
            log.warning("node %s lost the leadership", self.name)
            self._service.reaper.stop()

    def _sweep_dead_nodes(self) -> None:
        assert self._service is not None
        for dead in self._store.dead_nodes(ttl=self.ttl):
            if dead == self.name:
                continue
            report = recover_runs(
                self._store.running_on(dead),
                store=self._store,
                registry=self._service.registry,
                clock=self._service.clock,
                requeue=self._requeued,
                cause=f"the loss of node {dead}",
                running_on=dead,
            )
            if report.requeued or report.held:
                log.warning(
                    "node %s is silent: %d of its job(s) queued again, %d held",
                    dead,
                    len(report.requeued),
                    len(report.held),
                )
            self._store.forget_node(dead, ttl=self.ttl)

    # -- recovery ----------------------------------------------------------------------

    def _recover_own(self, *, cause: str) -> RecoveryReport:
        assert self._service is not None
        return recover_runs(
            self._store.running_on(self.name),
            store=self._store,
            registry=self._service.registry,
            clock=self._service.clock,
            requeue=self._requeued,
            cause=cause,
            running_on=self.name,
        )

    def _recover_unclaimed(self) -> RecoveryReport:
        """EXECUTING jobs recorded on no node: left by a single-process service on this
        store (before it was a cluster's). A claim always records its node, so no live
        run is among them."""
        assert self._service is not None
        orphans = [job for job in self._store.in_phases({Phase.EXECUTING}) if job.node is None]
        return recover_runs(
            orphans,
            store=self._store,
            registry=self._service.registry,
            clock=self._service.clock,
            requeue=self._requeued,
            cause="a service restart",
        )

    def _requeued(self, job: object) -> None:
        if self._session is not None:
            self._session.send(Signal.QUEUED)

    # -- signals -----------------------------------------------------------------------

    def _on_signal(self, signal: Signal, payload: str) -> None:
        if signal is Signal.TERMINATION:
            if self.leading and self._service is not None:
                try:
                    self._service.reaper.schedule(datetime.fromisoformat(payload))
                except ValueError:
                    log.warning("ignored a termination signal with the time %r", payload)
            return
        self._executor.on_signal(signal, payload)

    def _on_link(self, up: bool) -> None:
        if up:
            log.info("node %s: the link to the store is back", self.name)
            if not self._fenced:
                try:
                    self._executor.reconcile()
                except Exception:
                    log.exception("node %s: checking its runs against the store failed", self.name)
        else:
            log.warning("node %s lost its link to the store", self.name)
