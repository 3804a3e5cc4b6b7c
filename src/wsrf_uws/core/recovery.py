"""Restart recovery (pattern §2.4): what happens to work a stopped service left behind.

At start-up, jobs recorded as QUEUED or EXECUTING were interrupted. An *isolated*
job is queued and run again automatically; any other job (one that writes to
external resources, where two copies could race) goes to HELD with a note and waits
for ``resumeJob``. Folders left by resources that no longer exist are removed.
"""

from __future__ import annotations

import logging
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
    """Re-queue interrupted isolated jobs, hold the others, and sweep orphaned folders.

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
    report.orphan_folders = files.sweep(store.exists)
    if report.requeued or report.held or report.orphan_folders:
        log.info(
            "recovery: %d job(s) re-queued, %d held, %d orphaned folder(s) removed",
            len(report.requeued),
            len(report.held),
            len(report.orphan_folders),
        )
    return report


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
