"""Reading XML Schema values from requests: what XML Schema allows and Python does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from wsrf_uws.soap.faults import RequestError
from wsrf_uws.soap.values import read_datetime, read_duration
from wsrf_uws.wire.elements import is_nil


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T10:00:00Z", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("2026-11-24T10:00:00", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("2026-11-24T12:00:00.5+02:00", datetime(2026, 11, 24, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-24T24:00:00Z", datetime(2026, 11, 25, tzinfo=UTC)),
        (" 2026-12-31T24:00:00Z ", datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_datetimes(text: str, expected: datetime) -> None:
    assert read_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["10000-01-01T00:00:00Z", "9999-12-31T24:00:00Z", "9999-12-31T23:00:00-05:00"]
)
def test_datetimes_python_cannot_hold_are_client_errors(text: str) -> None:
    with pytest.raises(RequestError) as caught:
        read_datetime(text)
    assert caught.value.code == "invalid-request"
    assert text in caught.value.description


def test_durations() -> None:
    assert read_duration("PT1H30M") == timedelta(minutes=90)
    assert read_duration("P2D") == timedelta(days=2)
    assert read_duration("-PT1H") == timedelta(hours=-1)
    with pytest.raises(RequestError):
        read_duration("soon")


def test_nil() -> None:
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    assert is_nil(etree.fromstring(f'<a xmlns:xsi="{xsi}" xsi:nil="true"/>'))
    assert is_nil(etree.fromstring(f'<a xmlns:xsi="{xsi}" xsi:nil="1"/>'))
    assert not is_nil(etree.fromstring(f'<a xmlns:xsi="{xsi}" xsi:nil="false"/>'))
    assert not is_nil(etree.fromstring("<a/>"))
