"""The operator's actions on the store: each changes the selected jobs with compare-and-set
transitions (a job that moved meanwhile is left alone and reported), notes on each job
who did what, and records that an operator acted, for the running services to catch up
(:class:`~wsrf_uws.core.operator_watch.OperatorWatch`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ..core.model import Job
from ..core.operator_state import OperatorState
from ..core.phases import FINAL_PHASES, Phase
from ..core.ports import JobChanges, JobStore
from ..wire.times import format_utc

log = logging.getLogger("wsrf_uws.admin")


@dataclass(frozen=True)
class Action:
    """One bulk action: the phases it applies to, and its change of one job."""

    name: str
    #: Past tense, for the messages ("aborted").
    done: str
    phases: frozenset[Phase]
    #: Changes the job in the store; the job as changed, or None if it had moved.
    apply: Callable[[JobStore, Job, str, datetime], Job | None]


def _abort(store: JobStore, job: Job, who: str, now: datetime) -> Job | None:
    return store.transition(
        job.resource_id,
        Phase.ABORTED,
        expected={job.phase},
        changes=JobChanges(end_time=now, note=f"aborted by operator {who} ({format_utc(now)})"),
    )


def _resume(store: JobStore, job: Job, who: str, now: datetime) -> Job | None:
    return store.transition(
        job.resource_id,
        Phase.QUEUED,
        expected={job.phase},
        changes=JobChanges(note=f"resumed by operator {who} ({format_utc(now)})"),
    )


def _rerun(store: JobStore, job: Job, who: str, now: datetime) -> Job | None:
    return store.rerun(
        job.resource_id,
        changes=JobChanges(
            end_time=None, error=None, note=f"rerun by operator {who} ({format_utc(now)})"
        ),
    )


def _destroy(store: JobStore, job: Job, who: str, now: datetime) -> Job | None:
    # Expired now: the service's reaper destroys it as any expired resource (stops its
    # work, releases what the contract holds, removes its folder); at its next start if
    # no service runs.
    return store.update(
        job.resource_id,
        JobChanges(termination_time=now, note=f"destroyed by operator {who} ({format_utc(now)})"),
    )


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "abort",
            "aborted",
            frozenset(Phase) - FINAL_PHASES - {Phase.UNKNOWN},
            _abort,
        ),
        Action("resume", "resumed", frozenset({Phase.HELD, Phase.SUSPENDED}), _resume),
        Action("rerun", "queued again", frozenset({Phase.ERROR, Phase.ABORTED}), _rerun),
        Action("destroy", "set to expire now", frozenset(Phase), _destroy),
    )
}


@dataclass
class Outcome:
    """What an action did: the jobs changed, and those left as they were, with why."""

    changed: list[Job] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def refusal_to_rerun(job: Job) -> str | None:
    """Why ``job`` cannot be rerun (None: it can): only an isolated job runs twice safely."""
    if job.isolated is not True:
        return "its contract does not say it may run again (not isolated)"
    return None


def apply(action: Action, store: JobStore, jobs: list[Job], *, who: str, now: datetime) -> Outcome:
    """Apply ``action`` to ``jobs`` as the operator ``who``, log it, and record that an
    operator acted."""
    outcome = Outcome()
    for job in jobs:
        reason = refusal_to_rerun(job) if action.name == "rerun" else None
        if reason is None:
            changed = action.apply(store, job, who, now)
            if changed is not None:
                outcome.changed.append(changed)
                continue
            reason = "it changed meanwhile"
        outcome.skipped[job.resource_id] = reason
    if outcome.changed:
        store.operator_acted()
    log.info(
        "operator %s: %s %d job(s)%s%s",
        who,
        action.name,
        len(outcome.changed),
        f": {', '.join(job.resource_id for job in outcome.changed)}" if outcome.changed else "",
        f"; {len(outcome.skipped)} left as they were" if outcome.skipped else "",
    )
    return outcome


def hold_queue(store: JobStore, *, hold: bool, who: str, now: datetime) -> OperatorState:
    """Hold (or release) the queue as the operator ``who``, and log it."""
    state = store.operator_acted(hold=hold, by=who, now=now)
    log.info("operator %s: %s the queue", who, "held" if hold else "released")
    return state
