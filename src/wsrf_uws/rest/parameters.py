"""Reading the UWS 1.1 control parameters of the REST binding; a bad value is a 400.

Times are ISO 8601; one without a zone is UTC (UWS 1.1 §2.1.5 writes them in UTC), and
microseconds are accepted (pyvo sends them).
"""

from __future__ import annotations

from datetime import datetime

from ..core.phases import Phase
from ..wire.times import as_utc
from .http import bad_parameter


def read_phases(values: list[str]) -> frozenset[Phase] | None:
    """``PHASE`` (repeatable): the phases named; None when none is."""
    if not values:
        return None
    phases = set()
    for value in values:
        try:
            phases.add(Phase(value.strip().upper()))
        except ValueError:
            names = ", ".join(phase.value for phase in Phase)
            raise bad_parameter(f"PHASE={value!r} names no phase ({names})") from None
    return frozenset(phases)


def read_time(value: str, *, name: str) -> datetime:
    """An ISO 8601 instant, in UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise bad_parameter(
            f"{name}={value!r} is not an ISO 8601 time (2026-12-07T10:00:00Z)"
        ) from None


def read_after(value: str | None) -> datetime | None:
    """``AFTER``: the jobs created after that instant."""
    return None if value is None else read_time(value, name="AFTER")


def read_last(value: str | None, *, limit: int) -> int | None:
    """``LAST``: the n most recent jobs (1 to ``limit``)."""
    if value is None:
        return None
    try:
        last = int(value.strip())
    except ValueError:
        raise bad_parameter(f"LAST={value!r} is not a number of jobs") from None
    if last < 1:
        raise bad_parameter("LAST must be a positive number of jobs")
    if last > limit:
        raise bad_parameter(
            f"LAST={last} asks for more jobs than this service lists at once (at most "
            f"{limit}); ask for fewer, or page with AFTER"
        )
    return last


def read_wait(value: str) -> float:
    """``WAIT``: seconds to block; -1 (any negative number): as long as allowed."""
    try:
        seconds = float(value.strip())
    except ValueError:
        raise bad_parameter(f"WAIT={value!r} is not a number of seconds") from None
    if seconds != seconds:  # NaN
        raise bad_parameter("WAIT is not a number of seconds")
    return -1.0 if seconds < 0 else seconds


def read_destruction(value: str, *, now: datetime, latest: datetime) -> datetime:
    """``DESTRUCTION``: a future time, brought back to ``latest`` when beyond it (UWS 1.1
    §2.2.3: the service may choose another value). A past time is refused: destroying a
    job is ``DELETE``'s (a past time that destroyed would surprise, vollt#57)."""
    requested = read_time(value, name="DESTRUCTION")
    if requested <= now:
        raise bad_parameter(
            f"DESTRUCTION={value} is not in the future; DELETE the job to destroy it now"
        )
    return min(requested, latest)
