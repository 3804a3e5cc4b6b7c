"""core.progress: the steps of work done in order, as every contract reports them."""

from __future__ import annotations

import pytest

from wsrf_uws.core.model import ProgressStep, StepStatus
from wsrf_uws.core.progress import bounded_fraction, steps_in_order

LABELS = ("fetch", "run", "deliver")
P, A, D, S = StepStatus.PENDING, StepStatus.ACTIVE, StepStatus.DONE, StepStatus.SKIPPED


def _statuses(steps: tuple[ProgressStep, ...]) -> list[StepStatus]:
    return [step.status for step in steps]


@pytest.mark.parametrize(
    ("active", "expected"),
    [(0, [A, P, P]), (1, [D, A, P]), (2, [D, D, A]), (3, [D, D, D]), (7, [D, D, D])],
)
def test_steps_before_the_active_one_are_done_and_after_it_pending(
    active: int, expected: list[StepStatus]
) -> None:
    steps = steps_in_order(LABELS, active=active)
    assert [step.label for step in steps] == list(LABELS)
    assert _statuses(steps) == expected


def test_only_the_active_step_carries_the_detail() -> None:
    steps = steps_in_order(LABELS, active=1, detail="3 of 8 files")
    assert [step.detail for step in steps] == [None, "3 of 8 files", None]
    assert [step.detail for step in steps_in_order(LABELS, active=3, detail="x")] == [None] * 3


def test_skipped_steps_stay_skipped_whatever_is_active() -> None:
    assert _statuses(steps_in_order(LABELS, active=0, skipped={2})) == [A, P, S]
    assert _statuses(steps_in_order(LABELS, active=3, skipped=(2,))) == [D, D, S]


def test_no_labels_no_steps() -> None:
    assert steps_in_order([], active=0) == ()


@pytest.mark.parametrize(
    ("value", "expected"), [(-0.5, 0.0), (0.0, 0.0), (0.42, 0.42), (1.0, 1.0), (3.0, 1.0)]
)
def test_a_fraction_is_kept_between_0_and_1(value: float, expected: float) -> None:
    assert bounded_fraction(value) == expected
