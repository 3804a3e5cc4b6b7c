"""Restart recovery (pattern §2.4): what happens to work a stopped service left behind.

At start-up, jobs recorded as QUEUED or EXECUTING were interrupted. An *isolated*
job is queued and run again automatically; any other job (one that writes to
external resources, where two copies could race) goes to HELD with a note and waits
for ``resumeJob``. Folders left by resources that no longer exist are removed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..wire.times import format_utc
from .clock import Clock
from .jobfiles import JobFiles
from .phases import ACTIVE_PHASES, Phase
from .ports import Executor, JobChanges, JobStore
from .registry import ContractRegistry

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    """What start-up recovery did."""

    requeued: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    orphan_folders: list[str] = field(default_factory=list)


def recover(
    *,
    store: JobStore,
    files: JobFiles,
    registry: ContractRegistry,
    executor: Executor,
    clock: Clock,
) -> RecoveryReport:
    """Re-queue interrupted isolated jobs, hold the others, and sweep orphaned folders."""
    report = RecoveryReport()
    stamp = format_utc(clock.now())
    for job in store.in_phases(ACTIVE_PHASES):
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
                store.transition(
                    job.resource_id,
                    Phase.QUEUED,
                    expected={Phase.EXECUTING},
                    changes=JobChanges(
                        note=f"interrupted by a service restart; run again automatically ({stamp})"
                    ),
                )
            executor.submit(job.resource_id, owner=job.owner)
            report.requeued.append(job.resource_id)
            continue
        note = (
            f"interrupted by a service restart ({stamp}); it writes to external resources, "
            "so it waits for resumeJob"
        )
        if reason:
            note = f"interrupted by a service restart ({stamp}) and cannot run: {reason}"
        held = store.transition(
            job.resource_id, Phase.HELD, expected={job.phase}, changes=JobChanges(note=note)
        )
        if held:
            report.held.append(job.resource_id)
    report.orphan_folders = files.sweep(store.exists)
    if report.requeued or report.held or report.orphan_folders:
        log.info(
            "recovery: %d job(s) re-queued, %d held, %d orphaned folder(s) removed",
            len(report.requeued),
            len(report.held),
            len(report.orphan_folders),
        )
    return report
