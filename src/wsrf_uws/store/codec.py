"""Conversion between job values and storable columns (JSON text, integer microseconds).

Shared by every SQL store (SQLite, PostgreSQL) so they agree on the representation: a
row means the same in either, and a job reads back equal whichever store kept it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ..core.model import (
    ErrorSummary,
    ErrorType,
    Job,
    Progress,
    ProgressStep,
    Quote,
    Result,
    StepStatus,
)
from ..core.phases import Phase
from ..wire.times import as_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def time_to_db(value: datetime | None) -> int | None:
    """Microseconds since the epoch (exact, sortable)."""
    return None if value is None else (as_utc(value) - EPOCH) // _MICROSECOND


def time_from_db(value: int | None) -> datetime | None:
    """Inverse of :func:`time_to_db`."""
    return None if value is None else EPOCH + value * _MICROSECOND


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def quote_to_db(quote: Quote) -> str:
    duration = None if quote.duration is None else quote.duration.total_seconds()
    return _dumps({"duration": duration, "cost": quote.cost})


def quote_from_db(text: str) -> Quote:
    data = json.loads(text)
    duration = data.get("duration")
    return Quote(
        duration=None if duration is None else timedelta(seconds=duration),
        cost=data.get("cost") or {},
    )


def _step_to_json(step: ProgressStep) -> dict[str, Any]:
    data: dict[str, Any] = {"label": step.label, "status": step.status.value}
    if step.detail is not None:
        data["detail"] = step.detail
    if step.substeps:
        data["substeps"] = [_step_to_json(s) for s in step.substeps]
    return data


def _step_from_json(data: dict[str, Any]) -> ProgressStep:
    return ProgressStep(
        label=data["label"],
        status=StepStatus(data["status"]),
        detail=data.get("detail"),
        substeps=tuple(_step_from_json(s) for s in data.get("substeps", ())),
    )


def progress_to_db(progress: Progress) -> str:
    return _dumps(
        {"fraction": progress.fraction, "steps": [_step_to_json(s) for s in progress.steps]}
    )


def progress_from_db(text: str) -> Progress:
    data = json.loads(text)
    return Progress(
        fraction=data.get("fraction"),
        steps=tuple(_step_from_json(s) for s in data.get("steps", ())),
    )


def error_to_db(error: ErrorSummary | None) -> str | None:
    if error is None:
        return None
    return _dumps({"message": error.message, "type": error.type.value, "detail": error.detail})


def error_from_db(text: str | None) -> ErrorSummary | None:
    if text is None:
        return None
    data = json.loads(text)
    return ErrorSummary(
        message=data["message"], type=ErrorType(data["type"]), detail=data.get("detail")
    )


def results_to_db(results: tuple[Result, ...]) -> str:
    return _dumps([_result_item(r) for r in results])


def result_to_db(result: Result) -> str:
    """One result as the JSON of one item of :func:`results_to_db`'s array."""
    return _dumps(_result_item(result))


def _result_item(r: Result) -> dict[str, Any]:
    return {"name": r.name, "location": r.location, "mime_type": r.mime_type, "size": r.size}


def results_from_db(text: str) -> tuple[Result, ...]:
    return tuple(Result(**item) for item in json.loads(text))


def state_to_db(state: dict[str, Any]) -> str:
    return _dumps(state)


def state_from_db(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


#: How each changeable field is written to its column.
ENCODERS: dict[str, Any] = {
    "start_time": time_to_db,
    "end_time": time_to_db,
    "termination_time": time_to_db,
    "execution_duration": int,
    "quote": quote_to_db,
    "progress": progress_to_db,
    "error": error_to_db,
    "results": results_to_db,
    "jdl_state": state_to_db,
    "note": lambda v: v,
    "run_count": int,
    "node": lambda v: v,
    "run_id": lambda v: v,
}


#: The columns of a job's row, in the order of :func:`job_to_row`. The JDL follows the
#: columns of the first schema, so a store that reads only those need not touch its
#: pages; columns added since come after it, as an added column does in a table.
JOB_COLUMNS: tuple[str, ...] = (
    "resource_id",
    "contract",
    "owner",
    "phase",
    "creation_time",
    "start_time",
    "end_time",
    "termination_time",
    "execution_duration",
    "address",
    "quote",
    "progress",
    "error",
    "results",
    "jdl_state",
    "note",
    "run_count",
    "jdl",
    "description",
    "isolated",
    "node",
    "run_id",
)


def job_to_row(job: Job) -> tuple[Any, ...]:
    """The values of :data:`JOB_COLUMNS` for ``job``."""
    return (
        job.resource_id,
        job.contract,
        job.owner,
        job.phase.value,
        time_to_db(job.creation_time),
        time_to_db(job.start_time),
        time_to_db(job.end_time),
        time_to_db(job.termination_time),
        job.execution_duration,
        job.address,
        quote_to_db(job.quote),
        progress_to_db(job.progress),
        error_to_db(job.error),
        results_to_db(job.results),
        state_to_db(job.jdl_state),
        job.note,
        job.run_count,
        job.jdl,
        job.description,
        job.isolated,
        job.node,
        job.run_id,
    )


class Row(Protocol):
    """A row whose columns are read by name (an ``sqlite3.Row``, a dict)."""

    def __getitem__(self, column: str, /) -> Any: ...


def job_from_row(row: Row) -> Job:
    """The job of a row read by column name (an ``sqlite3.Row`` or a dict)."""
    creation_time = time_from_db(row["creation_time"])
    assert creation_time is not None
    return Job(
        resource_id=row["resource_id"],
        contract=row["contract"],
        owner=row["owner"],
        phase=Phase(row["phase"]),
        creation_time=creation_time,
        start_time=time_from_db(row["start_time"]),
        end_time=time_from_db(row["end_time"]),
        termination_time=time_from_db(row["termination_time"]),
        execution_duration=row["execution_duration"],
        address=row["address"],
        quote=quote_from_db(row["quote"]),
        progress=progress_from_db(row["progress"]),
        error=error_from_db(row["error"]),
        results=results_from_db(row["results"]),
        jdl_state=state_from_db(row["jdl_state"]),
        note=row["note"],
        run_count=row["run_count"],
        jdl=bytes(row["jdl"]),
        description=None if row["description"] is None else bytes(row["description"]),
        isolated=None if row["isolated"] is None else bool(row["isolated"]),
        node=row["node"],
        run_id=row["run_id"],
    )
