"""What the job page shows, worked out from a job: progress, buttons, times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wsrf_uws.core.model import Job, Progress, ProgressStep, Quote, StepStatus
from wsrf_uws.core.phases import Phase
from wsrf_uws.rest.html.views import EXTENSION, fraction_done, job_view, step_views

CREATED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
JOB = Job(
    resource_id="abc",
    contract="steps",
    owner="alice",
    phase=Phase.PENDING,
    creation_time=CREATED,
    termination_time=CREATED + timedelta(days=7),
    execution_duration=0,
    jdl=b"<job/>",
    address="http://127.0.0.1/uws/steps",
)


def steps(*statuses: StepStatus) -> tuple[ProgressStep, ...]:
    return tuple(ProgressStep(f"s{i}", status) for i, status in enumerate(statuses))


def test_the_fraction_comes_from_the_job_else_from_its_steps() -> None:
    assert fraction_done(JOB) is None
    done = steps(StepStatus.DONE, StepStatus.SKIPPED, StepStatus.ACTIVE, StepStatus.PENDING)
    assert fraction_done(replace(JOB, progress=Progress(steps=done))) == 0.5
    told = Progress(fraction=0.25, steps=done)
    assert fraction_done(replace(JOB, progress=told)) == 0.25
    assert fraction_done(replace(JOB, progress=Progress(fraction=1.7))) == 1.0
    assert fraction_done(replace(JOB, phase=Phase.COMPLETED)) == 1.0


def test_sub_steps_are_listed_below_their_step() -> None:
    tree = (ProgressStep("a", substeps=(ProgressStep("a1", StepStatus.DONE),)), ProgressStep("b"))
    views = step_views(tree)
    assert [(v.label, v.depth, v.status) for v in views] == [
        ("a", 0, "pending"),
        ("a1", 1, "done"),
        ("b", 0, "pending"),
    ]


@pytest.mark.parametrize(
    ("phase", "start", "abort", "refresh"),
    [
        (Phase.PENDING, True, True, False),
        (Phase.HELD, True, True, False),
        (Phase.QUEUED, False, True, True),
        (Phase.EXECUTING, False, True, True),
        (Phase.COMPLETED, False, False, False),
        (Phase.ABORTED, False, False, False),
    ],
)
def test_the_buttons_follow_the_phase(
    phase: Phase, start: bool, abort: bool, refresh: bool
) -> None:
    view = job_view(replace(JOB, phase=phase), url="u", results=(), now=CREATED)
    assert (view.may_start, view.may_abort, view.refresh) == (start, abort, refresh)


def test_extend_adds_a_day_to_the_destruction_and_none_to_an_endless_job() -> None:
    view = job_view(JOB, url="u", results=(), now=CREATED)
    assert view.extended_destruction == "2026-12-15T10:00:00Z"
    assert CREATED + timedelta(days=7) + EXTENSION == datetime(2026, 12, 15, 10, tzinfo=UTC)
    endless = job_view(replace(JOB, termination_time=None), url="u", results=(), now=CREATED)
    assert endless.extended_destruction is None
    assert dict(endless.times)["destruction"] == "never"


def test_times_leave_out_what_is_not_known() -> None:
    quoted = replace(JOB, quote=Quote(duration=timedelta(minutes=5)), execution_duration=60)
    rows = dict(job_view(quoted, url="u", results=(), now=CREATED).times)
    assert rows == {
        "created": "2026-12-07T10:00:00Z",
        "quote": "2026-12-07T10:05:00Z",
        "run-time limit": "60 s",
        "destruction": "2026-12-14T10:00:00Z",
    }
