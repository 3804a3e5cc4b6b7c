"""The JobService: every operation of the UWS pattern, independent of any binding.

Bindings (SOAP, the REST face, the CLI) call these methods with the caller's identity;
the service validates through the contract, applies the lifetime policy, and records each
change durably before returning. A resource of another owner is reported exactly like an
unknown one.

This module builds the service and runs its life (start-up, shut-down); the operations
are its parts': reading (:mod:`.job_access`), creating (:mod:`.job_creation`) and
controlling a job's life (:mod:`.job_control`). Who does the background work is the
service's :class:`~wsrf_uws.core.duties.Duties`.
"""

from __future__ import annotations

from datetime import datetime

from .clock import Clock
from .duties import Duties, SingleProcessDuties
from .execution_limits import ExecutionLimits
from .job_access import ServiceJobHandle
from .job_control import JobControl, TerminationChange
from .job_creation import JobCreation
from .job_events import AllJobEvents, JobEvents, NoJobEvents
from .job_watch import JobWatch
from .jobfiles import ResultStorage
from .lifetime import TerminationPolicy
from .operator_watch import OperatorWatch
from .ports import Executor, JobStore
from .quotas import Quotas
from .reaper import Reaper
from .recorder import ExecutionRecorder
from .recovery import RecoveryReport
from .registry import ContractRegistry

__all__ = [
    "Duties",
    "ExecutionLimits",
    "JobService",
    "ServiceJobHandle",
    "SingleProcessDuties",
    "TerminationChange",
]


class JobService(JobCreation, JobControl):
    """Create, run, inspect and forget job resources.

    Call :meth:`startup` before use (restart recovery, executor, reaper) and
    :meth:`shutdown` after; the service is also a context manager doing both.
    """

    def __init__(
        self,
        *,
        store: JobStore,
        files: ResultStorage,
        registry: ContractRegistry,
        executor: Executor,
        clock: Clock,
        policy: TerminationPolicy,
        limits: ExecutionLimits | None = None,
        quotas: Quotas | None = None,
        duties: Duties | None = None,
        events: JobEvents | None = None,
    ) -> None:
        self.store = store
        self.files = files
        self.registry = registry
        self.executor = executor
        self.clock = clock
        self.policy = policy
        self.limits = limits or ExecutionLimits()
        #: Per-owner limits; None given: nobody is limited.
        self.quotas = quotas or Quotas.unlimited()
        #: Who runs the background work: this process alone, or a cluster node.
        self.duties: Duties = duties or SingleProcessDuties()
        #: Wakes the requests waiting for a job to change (UWS 1.1 WAIT).
        self.watch = JobWatch()
        #: Told about each step of a job's life (log lines, metrics, and the watch).
        self.events: JobEvents = AllJobEvents([events or NoJobEvents(), self.watch])
        self.recorder = ExecutionRecorder(
            store=store,
            files=files,
            registry=registry,
            clock=clock,
            memory_bytes=self.limits.memory_bytes,
            node=self.duties.node,
            events=self.events,
            honour_hold=True,
        )
        self.reaper = Reaper(store=store, clock=clock, expire=self._expire)
        #: Catches up with what operators did in the store (``wsrf-uws admin``).
        self.operator_watch = OperatorWatch(
            store=store,
            executor=executor,
            schedule_expiry=lambda: self._schedule_expiry(store.next_termination_time()),
        )
        #: What restart recovery did at the last :meth:`startup`.
        self.startup_report: RecoveryReport | None = None
        self._started = False

    def startup(self) -> RecoveryReport:
        """Start the background work (:class:`Duties`): executor, restart recovery, reaper."""
        report = self.duties.start(self)
        self.operator_watch.start()
        self._started = True
        self.startup_report = report
        return report

    def shutdown(self) -> None:
        """Stop the background work; running jobs stay recorded as EXECUTING."""
        if self._started:
            self.operator_watch.stop()
            self.duties.stop(self)
            self._started = False
        self.store.close()

    def __enter__(self) -> JobService:
        self.startup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _schedule_expiry(self, termination_time: datetime | None) -> None:
        self.duties.schedule(self, termination_time)
