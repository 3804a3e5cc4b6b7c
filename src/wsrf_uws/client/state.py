"""The ``uwscore:JobState`` property, parsed: everything a client polls for, in one value.

:func:`parse_job_state` reads the element the service sends (see
``schemas/wsrf-uws-core.xsd``, ``JobStateType``) into a frozen :class:`JobState`. The
element itself stays available as :attr:`JobState.element`, and the contract's own part
(images, rows, space, ...) as :attr:`JobState.contract`, both as lxml elements, since
only the contract knows what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from lxml import etree

from ..wire.namespaces import CORE, XLINK, q
from .times import parse_datetime, parse_duration

_XLINK_HREF = q(XLINK, "href")

#: Phases a job never leaves (except to be archived or destroyed).
FINAL_PHASES = frozenset({"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"})

#: Phases :meth:`~wsrf_uws.client.Job.wait` stops at: the final ones, and HELD, which
#: lasts until someone calls ``resumeJob``.
SETTLED_PHASES = FINAL_PHASES | {"HELD"}


class Result(NamedTuple):
    """One result of a job: its name, where to download it, its MIME type and size (bytes)."""

    name: str
    href: str
    mime_type: str | None
    size: int | None


@dataclass(frozen=True)
class Step:
    """A named step of the work, with its status (pending, active, done, failed, skipped)."""

    label: str
    status: str
    detail: str | None = None
    substeps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class JobError:
    """The error report of a job that failed: ``fatal`` or ``transient``, and what happened."""

    type: str
    message: str
    detail: str | None = None


@dataclass(frozen=True)
class JobState:
    """One reading of a job's state."""

    phase: str
    creation_time: datetime
    #: Run-time limit in seconds; 0 means none.
    execution_duration: int
    run_count: int
    start_time: datetime | None = None
    end_time: datetime | None = None
    estimated_duration: timedelta | None = None
    #: Estimated cost per quantity (for instance ``{"cpu-seconds": 1.5}``).
    estimated_cost: dict[str, float] = field(default_factory=dict)
    #: From 0 to 1, when the job reports it.
    fraction: float | None = None
    steps: tuple[Step, ...] = ()
    error: JobError | None = None
    results: tuple[Result, ...] = ()
    #: A remark from the service, e.g. why a job is HELD after a restart.
    note: str | None = None
    #: The contract's own part of the state, if any.
    contract: etree._Element | None = None
    #: The ``uwscore:JobState`` element this was read from.
    element: etree._Element | None = None

    @property
    def is_final(self) -> bool:
        """Whether the job has ended (COMPLETED, ERROR, ABORTED, ARCHIVED)."""
        return self.phase in FINAL_PHASES

    @property
    def error_message(self) -> str | None:
        """The message of the error report, if there is one."""
        return None if self.error is None else self.error.message

    def result(self, name: str) -> Result | None:
        """The result called ``name``, if the job has one."""
        return next((result for result in self.results if result.name == name), None)


def parse_job_state(element: etree._Element) -> JobState:
    """The :class:`JobState` of a ``uwscore:JobState`` element."""

    def text(local: str) -> str | None:
        found = element.find(q(CORE, local))
        return None if found is None else (found.text or "").strip()

    def time(local: str) -> datetime | None:
        value = text(local)
        return None if value is None else parse_datetime(value)

    created = time("CreationTime")
    if created is None:
        raise ValueError("a JobState without CreationTime")
    duration = text("EstimatedDuration")
    fraction = text("FractionComplete")
    error = element.find(q(CORE, "Error"))
    contract = next(
        (
            child
            for child in element
            if isinstance(child.tag, str) and etree.QName(child).namespace != CORE
        ),
        None,
    )
    return JobState(
        phase=text("Phase") or "UNKNOWN",
        creation_time=created,
        execution_duration=int(text("ExecutionDuration") or 0),
        run_count=int(text("RunCount") or 0),
        start_time=time("StartTime"),
        end_time=time("EndTime"),
        estimated_duration=None if duration is None else parse_duration(duration),
        estimated_cost={
            cost.get("quantity", ""): float(cost.text or 0)
            for cost in element.iterchildren(q(CORE, "EstimatedCost"))
        },
        fraction=None if fraction is None else float(fraction),
        steps=tuple(_step(step) for step in element.iterchildren(q(CORE, "Step"))),
        error=None if error is None else _error(error),
        results=tuple(_result(result) for result in element.iterchildren(q(CORE, "Result"))),
        note=text("Note"),
        contract=contract,
        element=element,
    )


def _step(element: etree._Element) -> Step:
    detail = element.find(q(CORE, "Detail"))
    return Step(
        label=element.get("label", ""),
        status=element.get("status", ""),
        detail=None if detail is None else detail.text or "",
        substeps=tuple(_step(child) for child in element.iterchildren(q(CORE, "Step"))),
    )


def _error(element: etree._Element) -> JobError:
    message = element.find(q(CORE, "Message"))
    detail = element.find(q(CORE, "Detail"))
    return JobError(
        type=element.get("type", "fatal"),
        message="" if message is None else message.text or "",
        detail=None if detail is None else detail.text or "",
    )


def _result(element: etree._Element) -> Result:
    size = element.get("size")
    return Result(
        name=element.get("name", ""),
        href=element.get(_XLINK_HREF, ""),
        mime_type=element.get("mimeType"),
        size=None if size is None else int(size),
    )
