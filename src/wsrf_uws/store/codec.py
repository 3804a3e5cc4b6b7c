"""Conversion between job values and storable columns (JSON text, integer microseconds).

Shared by every SQL store so they agree on the representation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.model import ErrorSummary, ErrorType, Progress, ProgressStep, Quote, Result, StepStatus
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
}
