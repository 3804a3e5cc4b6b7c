"""A service process catching up with what operators did in the store.

Each service process watches the store's operator generation
(:class:`~wsrf_uws.core.operator_state.OperatorState`, one primary-key read per
interval) and, when it moves, catches up: it stops the runs of jobs no longer active
(aborted or destroyed by an operator), hands the QUEUED jobs its executor does not hold
to the executor (resumed and rerun jobs, and those a released queue kept waiting), and
wakes the reaper for jobs an operator set to expire. While the queue is held, no job is
claimed (:meth:`ExecutionRecorder.claim`, a cluster node's claiming thread): QUEUED jobs
wait, the running ones go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .phases import ACTIVE_PHASES, Phase
from .ports import Executor, JobStore

log = logging.getLogger(__name__)


class OperatorWatch:
    """A thread of a service process catching up with the operators' actions.

    ``schedule_expiry`` wakes the reaper (the service's duties know which process
    reaps). Reads the store's :class:`OperatorState` every ``interval`` seconds.
    """

    def __init__(
        self,
        *,
        store: JobStore,
        executor: Executor,
        schedule_expiry: Callable[[], None],
        interval: float = 2.0,
    ) -> None:
        self._store = store
        self._executor = executor
        self._schedule_expiry = schedule_expiry
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: int | None = None

    def start(self) -> None:
        """Remember the current generation and start watching."""
        try:
            self._seen = self._store.operator_state().generation
        except Exception:
            log.exception("reading the operators' state failed; catching up when it works")
        self._thread = threading.Thread(target=self._run, name="wsrf-uws-operator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:
                log.exception("catching up with the operators' actions failed; trying again")

    def check(self) -> bool:
        """Catch up if the generation moved; whether it had."""
        state = self._store.operator_state()
        if state.generation == self._seen:
            return False
        self._seen = state.generation
        held = self._executor.active()
        for resource_id, status in held.items():
            job = self._store.get(resource_id)
            if status == "running" and (job is None or job.phase not in ACTIVE_PHASES):
                log.info("stopping %s: an operator ended it", resource_id)
                self._executor.cancel(resource_id)
        if state.hold is None:
            for job in self._store.in_phases({Phase.QUEUED}):
                if job.resource_id not in held:
                    self._executor.submit(job.resource_id, owner=job.owner, contract=job.contract)
        self._schedule_expiry()
        return True
