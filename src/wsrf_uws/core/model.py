"""The job model: what the service records about each resource.

Everything here is an immutable value. The store returns fresh snapshots; changes go
through the store's compare-and-set operations, never through mutation.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .phases import FINAL_PHASES, Phase

#: Random bytes in a resource identifier (160 bits; the contract asks for at least 128).
RESOURCE_ID_BYTES = 20

#: Owner recorded for jobs created without authentication.
ANONYMOUS = "anonymous"


def new_resource_id() -> str:
    """A fresh resource identifier: 32 lowercase base32 characters.

    Lowercase letters and digits only, so the identifier is safe as a folder name on
    case-insensitive file systems and as a URL path segment.
    """
    raw = secrets.token_bytes(RESOURCE_ID_BYTES)
    return base64.b32encode(raw).decode("ascii").lower()


@dataclass(frozen=True)
class Quote:
    """The service's estimate of what a job will take.

    ``duration`` is the estimated total run time; ``cost`` maps a quantity name
    (``"bytes"``, ``"cpu-seconds"``, ...) to its estimated amount. ``None`` means unknown.
    """

    duration: timedelta | None = None
    cost: dict[str, float] = field(default_factory=dict)


class StepStatus(StrEnum):
    """State of one named step of a job's progress."""

    PENDING = "pending"
    ACTIVE = "active"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ProgressStep:
    """One named step, with its state, an optional human detail and sub-steps."""

    label: str
    status: StepStatus = StepStatus.PENDING
    detail: str | None = None
    substeps: tuple[ProgressStep, ...] = ()


@dataclass(frozen=True)
class Progress:
    """How far a job has come: a fraction complete (0..1, or unknown) and its named steps."""

    fraction: float | None = None
    steps: tuple[ProgressStep, ...] = ()

    def text(self) -> str:
        """A human-readable summary, one line per step (sub-steps indented)."""
        lines: list[str] = []
        if self.fraction is not None:
            lines.append(f"{self.fraction:.0%} complete")

        def walk(steps: tuple[ProgressStep, ...], depth: int) -> None:
            for step in steps:
                detail = f" -- {step.detail}" if step.detail else ""
                lines.append(f"{'  ' * depth}{step.label} - {step.status.upper()}{detail}")
                walk(step.substeps, depth + 1)

        walk(self.steps, 0)
        return "\n".join(lines)


class ErrorType(StrEnum):
    """UWS errorSummary types."""

    FATAL = "fatal"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class ErrorSummary:
    """Why a job ended in ERROR (or was aborted by a limit)."""

    message: str
    type: ErrorType = ErrorType.FATAL
    detail: str | None = None


_RESULT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_result_name(name: str) -> str:
    """Return ``name`` if it can name a result (and a URL segment and a file); else raise.

    Letters, digits, ``.``, ``_`` and ``-``, not starting with a dot, at most 128 characters.
    """
    if not _RESULT_NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot name a result")
    return name


@dataclass(frozen=True)
class Result:
    """One result of a job.

    ``location`` is either a path relative to the job's folder (a file the service
    stages and serves) or an absolute URI (a result kept elsewhere).
    """

    name: str
    location: str
    mime_type: str = "application/octet-stream"
    size: int | None = None

    @property
    def is_local(self) -> bool:
        """True when the result is a file in the job's folder."""
        return "://" not in self.location


#: The longest ``RUNID`` kept (characters): a label, not a document.
MAX_RUN_ID_CHARS = 256


def check_run_id(run_id: str) -> str:
    """Return ``run_id`` if a job can keep it as its ``RUNID``; else ValueError saying why.

    At most :data:`MAX_RUN_ID_CHARS` characters, none of them a control character (the
    value is written into XML documents and HTML pages as it is).
    """
    if len(run_id) > MAX_RUN_ID_CHARS:
        raise ValueError(f"RUNID has {len(run_id)} characters; at most {MAX_RUN_ID_CHARS}")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\ufffe\uffff" for c in run_id):
        raise ValueError("RUNID holds a control character")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in run_id):
        raise ValueError("RUNID holds a lone surrogate")
    return run_id


@dataclass(frozen=True)
class Job:
    """A snapshot of one job resource as recorded by the store.

    ``termination_time`` ``None`` means an infinite lifetime (only where configured).
    ``execution_duration`` is in seconds, ``0`` meaning unlimited (UWS 1.1).
    ``jdl_state`` is the contract's own state, free-form but JSON-serializable.
    ``note`` tells the user why a job waits (for instance why it is HELD).
    ``description`` is what the contract read from the JDL at createJob, pickled
    (:mod:`wsrf_uws.core.descriptions`), and ``isolated`` whether the contract then said
    the job may be re-run automatically after a restart; None for either: not kept (a
    description that does not pickle, a job recorded by an older version).
    ``node`` is the node of the cluster the job is recorded as running on
    (:mod:`wsrf_uws.core.cluster`): set when a node claims it, cleared when that run is
    over; always None in a store without nodes (SQLite) and while nothing runs it.
    ``run_id`` is the client's own label for the job (UWS 1.1 ``RUNID``, shown as
    ``uws:runId``), kept as given and changeable while the job is PENDING; None: none.
    """

    resource_id: str
    contract: str
    owner: str
    phase: Phase
    creation_time: datetime
    termination_time: datetime | None
    execution_duration: int
    jdl: bytes
    address: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    quote: Quote = field(default_factory=Quote)
    progress: Progress = field(default_factory=Progress)
    error: ErrorSummary | None = None
    results: tuple[Result, ...] = ()
    jdl_state: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    run_count: int = 0
    description: bytes | None = field(default=None, repr=False)
    isolated: bool | None = None
    node: str | None = None
    run_id: str | None = None

    @property
    def is_final(self) -> bool:
        """True once the job has ended (COMPLETED, ERROR, ABORTED or ARCHIVED)."""
        return self.phase in FINAL_PHASES

    def result(self, name: str) -> Result | None:
        """The result called ``name``, if any."""
        return next((r for r in self.results if r.name == name), None)
