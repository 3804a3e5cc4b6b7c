"""Reading XML Schema values from requests (already checked against the schema)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from .faults import RequestError

_DURATION = TypeAdapter(timedelta)


def read_datetime(text: str) -> datetime:
    """An xs:dateTime (already schema-checked) as an aware UTC datetime; no zone means UTC.

    XML Schema allows what Python's datetime does not: ``24:00:00`` (the end of a day)
    and years beyond 9999; the first is read as midnight of the next day, the second
    refused with a client fault.
    """
    value = text.strip()
    end_of_day = "T24:00:00" in value
    if end_of_day:
        value = value.replace("T24:00:00", "T00:00:00", 1)
    try:
        parsed = datetime.fromisoformat(value)
        if end_of_day:
            parsed += timedelta(days=1)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise RequestError("invalid-request", f"cannot use the time {text.strip()!r}") from None


def read_duration(text: str) -> timedelta:
    """An ``xs:duration`` as a timedelta (a year counts 365 days, a month 30)."""
    try:
        value: timedelta = _DURATION.validate_python(text.strip())
    except ValidationError:
        raise RequestError("invalid-request", f"cannot use the duration {text.strip()!r}") from None
    return value
