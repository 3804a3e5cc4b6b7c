"""The negotiation of a space (``jdl/vospace/offer.py``): what a ``vospace:job`` asks for,
and the offer the owner's policy cuts it to, each cut with its reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

from wsrf_uws.core.errors import (
    InvalidJobDescriptionError,
    NotAuthenticatedError,
    QuotaExceededError,
)
from wsrf_uws.jdl.vospace.offer import (
    NAMESPACE,
    SpaceRequest,
    format_duration,
    make_offer,
    read_request,
)
from wsrf_uws.jdl.vospace.settings import SpaceLimits, VospaceSettings

POLICY = VospaceSettings(
    default_lifetime=timedelta(days=7),
    max_lifetime=timedelta(days=30),
    max_space_bytes=1000,
    max_owner_bytes=1500,
    owners={"bob": SpaceLimits(max_space_bytes=100, max_lifetime=timedelta(days=1))},
)


def job(size: int, lifetime: str | None = None) -> etree._Element:
    life = f"\n<lifetime>{lifetime}</lifetime>" if lifetime is not None else ""
    return etree.fromstring(f'<job xmlns="{NAMESPACE}"><size>{size}</size>{life}</job>')


@pytest.mark.parametrize(
    ("text", "lifetime"),
    [
        ("P7D", timedelta(days=7)),
        ("PT12H", timedelta(hours=12)),
        ("P1DT2H3M4.5S", timedelta(days=1, hours=2, minutes=3, seconds=4.5)),
        (" PT90M ", timedelta(minutes=90)),
    ],
)
def test_a_lifetime_is_read_in_days_hours_minutes_and_seconds(
    text: str, lifetime: timedelta
) -> None:
    request = read_request(job(10, text))
    assert request == SpaceRequest(size=10, lifetime=lifetime, lifetime_text=text.strip())
    assert read_request(job(10)) == SpaceRequest(size=10)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("P1Y", "years and months have no fixed length"),
        ("P1M", "years and months have no fixed length"),
        ("P", "give days, hours"),
        ("PT", "give days, hours"),
        ("P1DT", "give days, hours"),
        ("soon", "give days, hours"),
        ("PT0S", "is not positive"),
        ("P9999999999D", "longer than any this service could keep"),
    ],
)
def test_a_lifetime_that_is_no_length_of_time_is_refused_with_its_line(
    text: str, words: str
) -> None:
    with pytest.raises(InvalidJobDescriptionError, match=words) as caught:
        read_request(job(10, text))
    assert caught.value.line == 2


def test_an_offer_is_the_request_cut_down_by_the_policy_with_reasons() -> None:
    whole = make_offer(SpaceRequest(500), owner="alice", policy=POLICY, granted=0)
    assert (whole.owner, whole.size, whole.lifetime, whole.reasons) == (
        "alice",
        500,
        timedelta(days=7),
        (),
    )
    big = make_offer(
        SpaceRequest(5000, timedelta(days=60)), owner="alice", policy=POLICY, granted=0
    )
    assert (big.size, big.lifetime) == (1000, timedelta(days=30))
    assert big.reasons == (
        "size: the largest space this service offers alice is 1000 bytes",
        "lifetime: spaces of alice live at most P30D",
    )
    shared = make_offer(SpaceRequest(800), owner="alice", policy=POLICY, granted=1000)
    assert shared.size == 500
    assert shared.reasons == (
        "size: alice's spaces may hold 1500 bytes together, and 1000 are already granted",
    )
    own = make_offer(SpaceRequest(800, timedelta(days=2)), owner="bob", policy=POLICY, granted=0)
    assert (own.size, own.lifetime) == (100, timedelta(days=1))
    capped = make_offer(
        SpaceRequest(10),
        owner="alice",
        policy=POLICY,
        granted=0,
        service_max_lifetime=timedelta(hours=1),
    )
    assert capped.lifetime == timedelta(hours=1)
    assert capped.reasons == ("lifetime: spaces of alice live at most PT3600S",)


def test_no_offer_for_an_anonymous_caller_or_an_owner_with_nothing_left() -> None:
    with pytest.raises(NotAuthenticatedError, match="call with credentials"):
        make_offer(SpaceRequest(10), owner="anonymous", policy=POLICY, granted=0)
    with pytest.raises(QuotaExceededError, match="1500 of 1500 bytes are granted"):
        make_offer(SpaceRequest(10), owner="alice", policy=POLICY, granted=1500)
    with pytest.raises(QuotaExceededError):
        make_offer(SpaceRequest(0), owner="alice", policy=POLICY, granted=0)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=7), "P7D"),
        (timedelta(days=1, hours=1), "P1DT3600S"),
        (timedelta(seconds=90), "PT90S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_durations_are_written_in_days_and_seconds(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
