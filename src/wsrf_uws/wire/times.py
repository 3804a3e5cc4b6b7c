"""Instants and durations as they are written on the wire.

Every instant is an aware UTC ``datetime``; on the wire it is an ``xs:dateTime`` ending in
``Z``. Lengths of time are ``xs:duration`` texts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta


def as_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """ISO 8601 with a ``Z`` suffix, as UWS clients (pyvo among them) expect; never ``+00:00``."""
    value = as_utc(value)
    # isoformat writes six fraction digits when there are microseconds; trim their zeros.
    text = value.replace(tzinfo=None).isoformat()
    return (text.rstrip("0") if value.microsecond else text) + "Z"


# ISO 8601 / xs:duration: a sign, then P, date parts, and time parts after T. Any part may
# carry a fraction (ISO 8601 allows it on the last; being lenient costs nothing here).
_NUMBER = r"(\d+(?:[.,]\d*)?)"
_DURATION = re.compile(
    rf"(?P<sign>[-+])?P(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?"
)
#: Days in each date part: xs:duration has no fixed year or month, so, as XML Schema
#: processors and pydantic do, a year counts 365 days and a month 30.
_DAYS_PER = (365, 30, 7, 1)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 / ``xs:duration`` text (``PT2H``, ``P1DT30M``, ``-P1Y``) as a timedelta.

    A year counts 365 days and a month 30. Raises ValueError for anything else, for a
    ``P`` or ``T`` with no part after it, and for a length of time a timedelta cannot hold.
    """
    value = text.strip()
    match = _DURATION.fullmatch(value)
    parts = match.groups()[1:] if match else ()
    if match is None or not any(parts) or value.endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    number = [float(part.replace(",", ".")) if part else 0.0 for part in parts]
    days = sum(count * per for count, per in zip(number[:4], _DAYS_PER, strict=True))
    hours, minutes, seconds = number[4:]
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration out of range: {text!r}") from None
    return -duration if match.group("sign") == "-" else duration
