"""The REST binding's control parameters: what is read, and what is refused (400)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from wsrf_uws.core.phases import Phase
from wsrf_uws.rest.http import RestError
from wsrf_uws.rest.parameters import (
    read_after,
    read_destruction,
    read_last,
    read_phases,
    read_wait,
)

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_phases_are_read_in_any_case_and_repeated() -> None:
    assert read_phases(["pending", "EXECUTING"]) == {Phase.PENDING, Phase.EXECUTING}
    assert read_phases([]) is None


def test_times_are_utc_with_or_without_a_zone_and_with_microseconds() -> None:
    assert read_after("2026-12-07T10:00:00Z") == NOW
    assert read_after("2026-12-07T10:00:00") == NOW
    assert read_after("2026-12-07T11:00:00.000000+01:00") == NOW


def test_destruction_is_brought_within_the_policy_and_never_past() -> None:
    latest = NOW + timedelta(days=7)
    assert read_destruction("2099-01-01T00:00:00Z", now=NOW, latest=latest) == latest
    assert read_destruction("2026-12-08T10:00:00Z", now=NOW, latest=latest) == NOW + timedelta(
        days=1
    )
    with pytest.raises(RestError, match="not in the future"):
        read_destruction("2026-12-07T09:00:00Z", now=NOW, latest=latest)


def test_wait_negative_means_as_long_as_allowed() -> None:
    assert read_wait("-1") == -1.0
    assert read_wait("2.5") == 2.5


@pytest.mark.parametrize(
    ("read", "value"),
    [
        (lambda v: read_phases([v]), "RUNNING"),
        (read_after, "yesterday"),
        (lambda v: read_last(v, limit=10), "0"),
        (lambda v: read_last(v, limit=10), "11"),
        (lambda v: read_last(v, limit=10), "ten"),
        (read_wait, "nan"),
        (read_wait, "soon"),
    ],
)
def test_bad_values_are_400(read: Callable[[str], object], value: str) -> None:
    with pytest.raises(RestError) as refused:
        read(value)
    assert refused.value.status.startswith("400")
