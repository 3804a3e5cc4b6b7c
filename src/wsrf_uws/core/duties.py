"""Who does a :class:`~wsrf_uws.core.service.JobService`'s background work: run jobs,
recover them after a restart, destroy expired resources."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from .recovery import OrphanSweep, RecoveryReport, recover

if TYPE_CHECKING:
    from .service import JobService


class Duties(Protocol):
    """Who does a service's background work: run jobs, recover them after a restart, and
    destroy expired resources. One process alone (:class:`SingleProcessDuties`), or a
    node sharing the work with others (:class:`wsrf_uws.core.node.ClusterNode`)."""

    #: The cluster node's name (None: a single process).
    node: str | None

    def start(self, service: JobService) -> RecoveryReport:
        """Start the executor, recover interrupted jobs, start the reaper (where due)."""
        ...

    def stop(self, service: JobService) -> None:
        """Stop what :meth:`start` started; running jobs stay recorded as EXECUTING."""
        ...

    def schedule(self, service: JobService, termination_time: datetime | None) -> None:
        """A resource now ends at ``termination_time``: the reaper must not sleep past it."""
        ...


class SingleProcessDuties:
    """All the background work in this process: the embedded service (``serve`` on SQLite)."""

    node: str | None = None

    def __init__(self) -> None:
        #: The start-up's sweep of orphaned folders (it runs while the service serves).
        self.sweep: OrphanSweep | None = None

    def start(self, service: JobService) -> RecoveryReport:
        service.executor.start(service.recorder)
        report = recover(
            store=service.store,
            files=service.files,
            registry=service.registry,
            executor=service.executor,
            clock=service.clock,
        )
        self.sweep = OrphanSweep(files=service.files, store=service.store, report=report)
        self.sweep.wait_started()  # before anything of the service's removes a folder
        service.reaper.start()
        return report

    def stop(self, service: JobService) -> None:
        if self.sweep is not None:
            self.sweep.stop()
        service.reaper.stop()
        service.executor.shutdown()

    def schedule(self, service: JobService, termination_time: datetime | None) -> None:
        service.reaper.schedule(termination_time)
