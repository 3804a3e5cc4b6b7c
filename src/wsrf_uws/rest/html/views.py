"""What the pages show of a job, worked out before the templates see it.

The templates only lay values out: which buttons a phase allows, how far the job has
come, and the times as text are decided here, where they are typed and tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ...core.model import ANONYMOUS, Job, ProgressStep, StepStatus
from ...core.phases import FINAL_PHASES, Phase
from ...wire.times import format_utc

#: The phases a job is started from (PHASE=RUN; HELD: queued again).
STARTABLE = frozenset({Phase.PENDING, Phase.HELD})
#: The phases in which a job moves on by itself, so that its page reloads itself.
MOVING = frozenset({Phase.QUEUED, Phase.EXECUTING})
#: What the extend button adds to the destruction time (the lifetime policy may cut it).
EXTENSION = timedelta(days=1)
_FINISHED_STEPS = frozenset({StepStatus.DONE, StepStatus.SKIPPED})


@dataclass(frozen=True)
class StepView:
    """One step of the job's progress, with its depth in the tree of steps."""

    label: str
    status: str
    detail: str | None
    depth: int


@dataclass(frozen=True)
class ResultView:
    """One result, as a link."""

    name: str
    href: str
    mime_type: str
    size: int | None


@dataclass(frozen=True)
class JobView:
    """Everything the job page shows of one job."""

    job: Job
    url: str
    owner: str
    #: From 0 to 1; None when neither the job nor its steps tell.
    fraction: float | None
    steps: tuple[StepView, ...]
    times: tuple[tuple[str, str], ...]
    results: tuple[ResultView, ...]
    may_start: bool
    may_abort: bool
    #: The DESTRUCTION the extend button posts; None when the job lives for ever.
    extended_destruction: str | None
    refresh: bool


def fraction_done(job: Job) -> float | None:
    """How far ``job`` has come: its own fraction, else the share of its top-level steps
    finished; 1 once COMPLETED; None when nothing tells."""
    if job.phase is Phase.COMPLETED:
        return 1.0
    if job.progress.fraction is not None:
        return min(1.0, max(0.0, job.progress.fraction))
    steps = job.progress.steps
    if steps:
        return sum(step.status in _FINISHED_STEPS for step in steps) / len(steps)
    return None


def step_views(steps: tuple[ProgressStep, ...], depth: int = 0) -> tuple[StepView, ...]:
    """The steps and their sub-steps, depth first, each with its depth."""
    views: list[StepView] = []
    for step in steps:
        views.append(StepView(step.label, str(step.status), step.detail, depth))
        views.extend(step_views(step.substeps, depth + 1))
    return tuple(views)


def times(job: Job) -> tuple[tuple[str, str], ...]:
    """The job's times as (label, text) rows; unset ones are left out."""
    rows = [("created", format_utc(job.creation_time))]
    if job.start_time is not None:
        rows.append(("started", format_utc(job.start_time)))
    if job.end_time is not None:
        rows.append(("ended", format_utc(job.end_time)))
    if job.quote.duration is not None:
        rows.append(("quote", format_utc(job.creation_time + job.quote.duration)))
    limit = f"{job.execution_duration} s" if job.execution_duration else "none"
    rows.append(("run-time limit", limit))
    destruction = "never" if job.termination_time is None else format_utc(job.termination_time)
    rows.append(("destruction", destruction))
    return tuple(rows)


def job_view(job: Job, *, url: str, results: tuple[ResultView, ...], now: datetime) -> JobView:
    """The page's view of ``job``, served at ``url``."""
    extended = None
    if job.termination_time is not None:
        extended = format_utc(max(job.termination_time, now) + EXTENSION)
    return JobView(
        job=job,
        url=url,
        owner="" if job.owner == ANONYMOUS else job.owner,
        fraction=fraction_done(job),
        steps=step_views(job.progress.steps),
        times=times(job),
        results=results,
        may_start=job.phase in STARTABLE,
        may_abort=job.phase not in FINAL_PHASES,
        extended_destruction=extended,
        refresh=job.phase in MOVING,
    )
