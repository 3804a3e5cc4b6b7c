"""Instants and durations as written on the wire (wsrf_uws.wire.times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from wsrf_uws.wire.times import as_utc, format_utc, parse_duration


def test_an_instant_is_written_in_utc_with_a_z_and_no_trailing_zeros() -> None:
    paris = timezone(timedelta(hours=1))
    assert format_utc(datetime(2025, 1, 2, 4, 5, 6, tzinfo=paris)) == "2025-01-02T03:05:06Z"
    fraction = datetime(2025, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)
    assert format_utc(fraction) == "2025-01-02T03:04:05.25Z"
    assert format_utc(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05Z"  # naive is UTC


def test_as_utc_takes_a_naive_time_as_utc_and_converts_an_aware_one() -> None:
    assert as_utc(datetime(2025, 1, 1, 12)) == datetime(2025, 1, 1, 12, tzinfo=UTC)
    eastern = timezone(timedelta(hours=-5))
    converted = as_utc(datetime(2025, 1, 1, 7, tzinfo=eastern))
    assert converted.tzinfo is UTC and converted.hour == 12


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT2H", timedelta(hours=2)),
        ("P1DT30M", timedelta(days=1, minutes=30)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("PT1,5S", timedelta(seconds=1.5)),
        ("P1Y", timedelta(days=365)),
        ("P1M", timedelta(days=30)),
        ("P2W1D", timedelta(days=15)),
        ("P1Y2M3DT4H5M6.5S", timedelta(days=428, hours=4, minutes=5, seconds=6.5)),
        ("P0.5D", timedelta(hours=12)),
        ("-P1D", timedelta(days=-1)),
        ("+PT90S", timedelta(seconds=90)),
        ("  PT1M ", timedelta(minutes=1)),
        ("P0D", timedelta(0)),
    ],
)
def test_durations_are_read_as_xml_schema_and_iso_8601_write_them(
    text: str, expected: timedelta
) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1DT", "pt2h", "PT-1H", "P1H", "PT1H1H", "PT.5S", "90", "1 day"]
)
def test_what_is_not_a_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 duration"):
        parse_duration(text)


def test_a_duration_a_timedelta_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_duration("P10000000000D")
