"""Times and durations as the client reads and writes them.

On the wire every time is ``xs:dateTime`` in UTC and every length of time an
``xs:duration``. A time without a zone means UTC, as it does for the service; a
duration may also be given as a number of seconds, which is what people type.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from ..wire.times import as_utc
from ..wire.times import parse_duration as parse_iso_duration


class Infinite(enum.Enum):
    """The type of :data:`INFINITE`."""

    INFINITE = "infinite"


#: A nil termination time: the resource lives until destroyed (where the service allows it).
INFINITE = Infinite.INFINITE


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 / ``xs:dateTime`` text as an aware UTC datetime (no zone: UTC)."""
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ValueError(f"not an ISO 8601 date and time: {text!r}") from None


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration (``PT2H``, ``P1DT30M``) or a number of seconds (``90``, ``1.5``)."""
    text = text.strip()
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        pass
    except OverflowError:
        raise ValueError(f"duration out of range: {text!r}") from None
    try:
        return parse_iso_duration(text)
    except ValueError:
        raise ValueError(
            f"not an ISO 8601 duration (like PT2H) nor a number of seconds: {text!r}"
        ) from None
