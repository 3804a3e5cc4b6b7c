"""Progress of a job whose work is a row of named steps, done one after another.

A contract reports progress with :meth:`JobContext.progress
<wsrf_uws.core.contract.JobContext.progress>`: a fraction and, optionally, its steps. Most
work is a fixed sequence ("fetch inputs", "run", "deliver outputs"); :func:`steps_in_order`
gives the steps of such a sequence at any point of it, so every contract shows them the same
way on the wire.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

from .model import ProgressStep, StepStatus

__all__ = ["bounded_fraction", "steps_in_order"]


def steps_in_order(
    labels: Sequence[str],
    *,
    active: int,
    detail: str | None = None,
    skipped: Container[int] = (),
) -> tuple[ProgressStep, ...]:
    """The steps ``labels`` when step ``active`` (counted from 0) is under way.

    Steps before it are done, it is active and carries ``detail``, the ones after it are
    pending; an ``active`` of ``len(labels)`` or more means all are done. Steps whose index
    is in ``skipped`` are skipped whatever ``active`` is (work the job has nothing to do
    for, such as delivering outputs no one asked to deliver).
    """
    return tuple(
        ProgressStep(
            label,
            _status(index, active=active, skipped=skipped),
            detail if index == active else None,
        )
        for index, label in enumerate(labels)
    )


def bounded_fraction(value: float) -> float:
    """``value`` brought into 0..1, the range of a fraction complete."""
    return min(1.0, max(0.0, value))


def _status(index: int, *, active: int, skipped: Container[int]) -> StepStatus:
    if index in skipped:
        return StepStatus.SKIPPED
    if index < active:
        return StepStatus.DONE
    return StepStatus.ACTIVE if index == active else StepStatus.PENDING
