"""Restart recovery (pattern §2.4): what happens to work a stopped service left behind.

At start-up, jobs recorded as QUEUED or EXECUTING were interrupted. An *isolated*
job is queued and run again automatically; any other job (one that writes to
external resources, where two copies could race) goes to HELD with a note and waits
for ``resumeJob``. Only the interrupted jobs are read (an index of the active phases), so
recovery takes as long whatever the number of live resources. Folders left by resources
that no longer exist are removed by an :class:`OrphanSweep`, in a thread of its own: it
reads every folder, and the service serves meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ..wire.times import format_utc
from .clock import Clock
from .jobfiles import ResultStorage
from .model import Job
from .phases import ACTIVE_PHASES, Phase
from .ports import NO_CHANGES, Executor, JobChanges, JobStore
from .registry import ContractRegistry

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    """What start-up recovery did."""

    requeued: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    #: Filled by the :class:`OrphanSweep` of the start-up, once it is done.
    orphan_folders: list[str] = field(default_factory=list)

    def merge(self, other: RecoveryReport) -> None:
        """Add what ``other`` did to this report."""
        self.requeued += other.requeued
        self.held += other.held
        self.orphan_folders += other.orphan_folders


def recover(
    *,
    store: JobStore,
    files: ResultStorage,
    registry: ContractRegistry,
    executor: Executor,
    clock: Clock,
) -> RecoveryReport:
    """Re-queue interrupted isolated jobs and hold the others (orphaned folders are the
    :class:`OrphanSweep`'s).

    Call it after ``executor.start``: jobs the started executor already holds
    (:meth:`Executor.active`) were not interrupted. A batch system's executor takes up the
    jobs it left in the batch queue at start-up, and those must not be queued a second time.
    """
    adopted = executor.active()
    report = recover_runs(
        (job for job in store.in_phases(ACTIVE_PHASES) if job.resource_id not in adopted),
        store=store,
        registry=registry,
        clock=clock,
        requeue=lambda job: executor.submit(
            job.resource_id, owner=job.owner, contract=job.contract
        ),
    )
    if report.requeued or report.held:
        log.info("recovery: %d job(s) re-queued, %d held", len(report.requeued), len(report.held))
    return report


class OrphanSweep:
    """Removes the folders of resources that no longer exist, in a thread of its own.

    A crash between a resource's removal from the store and the removal of its folder
    leaves the folder behind. Finding those means reading every folder and asking the
    store about each (seconds with 10^5 resources), so it does not hold up the start: the
    service serves meanwhile. What the sweep removed goes into ``report`` when it is done.

    :meth:`wait_started` returns once the sweep has looked at its first folder, after
    :class:`~wsrf_uws.core.jobfiles.JobFiles` has emptied its trash of interrupted removals:
    removals of the service's own (destroys, the reaper) must not begin before, or the
    trash they move a folder into could be emptied under them. :meth:`stop` ends it early.
    """

    def __init__(self, *, files: ResultStorage, store: JobStore, report: RecoveryReport) -> None:
        self._files = files
        self._store = store
        self._report = report
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._sweep, name="wsrf-uws-orphan-sweep", daemon=True
        )
        self._thread.start()

    def wait_started(self, timeout: float | None = None) -> bool:
        """Block until the sweep looks at its first folder (or is over)."""
        return self._started.wait(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the sweep to end; whether it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """End the sweep at its next folder and wait for it (the next start sweeps again)."""
        self._stopping.set()
        self._thread.join()

    def _is_live(self, resource_id: str) -> bool:
        self._started.set()
        if self._stopping.is_set():
            raise _SweepStopped
        return self._store.exists(resource_id)

    def _sweep(self) -> None:
        try:
            removed = self._files.sweep(self._is_live)
        except _SweepStopped:
            return
        except Exception:
            log.exception("sweeping orphaned job folders failed (the next start sweeps again)")
            return
        finally:
            self._started.set()
        self._report.orphan_folders = removed
        if removed:
            log.info("%d orphaned job folder(s) removed", len(removed))


class _SweepStopped(Exception):
    """Raised through the sweep to end it early."""


def recover_runs(
    jobs: Iterable[Job],
    *,
    store: JobStore,
    registry: ContractRegistry,
    clock: Clock,
    requeue: Callable[[Job], None],
    cause: str = "a service restart",
    running_on: str | None = None,
) -> RecoveryReport:
    """Apply §2.4's rules to ``jobs``, whose runs were interrupted by ``cause``.

    An isolated job is queued again (an EXECUTING one goes back to QUEUED) and handed to
    ``requeue``; any other goes to HELD with a note. With ``running_on`` (a cluster node,
    dead or restarting), only jobs still recorded as running on that node change, and
    they are no longer recorded there: of a node's own recovery and the leader's sweep,
    whichever comes second finds nothing left to do.
    """
    report = RecoveryReport()
    stamp = format_utc(clock.now())
    moved = NO_CHANGES if running_on is None else JobChanges(node=None)
    for job in jobs:
        reason = None
        try:
            contract = registry.get(job.contract)
            isolated = job.isolated
            if isolated is None:  # recorded by a version that did not keep it
                isolated = contract.is_isolated(contract.parse(job.jdl))
        except Exception as exc:
            isolated, reason = False, str(exc)
        if isolated:
            if job.phase is Phase.EXECUTING:
                queued = store.transition(
                    job.resource_id,
                    Phase.QUEUED,
                    expected={Phase.EXECUTING},
                    changes=replace(
                        moved, note=f"interrupted by {cause}; run again automatically ({stamp})"
                    ),
                    running_on=running_on,
                )
                if queued is None:
                    continue
            requeue(job)
            report.requeued.append(job.resource_id)
            continue
        note = (
            f"interrupted by {cause} ({stamp}); it writes to external resources, "
            "so it waits for resumeJob"
        )
        if reason:
            note = f"interrupted by {cause} ({stamp}) and cannot run: {reason}"
        held = store.transition(
            job.resource_id,
            Phase.HELD,
            expected={job.phase},
            changes=replace(moved, note=note),
            running_on=running_on,
        )
        if held:
            report.held.append(job.resource_id)
    return report
