"""The vospace job state as the store keeps it: a state stored before it was a dataclass reads
back to the same JSON, and renders the request, the offer and the space."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from wsrf_uws.jdl.vospace.nodes import Space
from wsrf_uws.jdl.vospace.offer import SpaceOffer, SpaceRequest
from wsrf_uws.jdl.vospace.state import VospaceState, state_element

VOSPACE = "urn:wsrf-uws:vospace:v1"

#: A state as createJob stored it before the dataclass (the lifetime of the offer in seconds).
CREATED: dict[str, Any] = {
    "owner": "alice",
    "requested": {"size": 5000, "lifetime": "P40D"},
    "offer": {
        "size": 4000,
        "lifetime": 2592000.0,
        "reasons": ["size: the largest space this service offers alice is 4000 bytes"],
    },
}
#: ... and as the run left it.
CREATED_SPACE: dict[str, Any] = {**CREATED, "identifier": "vos://example.org!vospace/abc"}


@pytest.mark.parametrize("stored", [CREATED, CREATED_SPACE], ids=["offered", "created"])
def test_a_stored_state_reads_back_to_the_same_json(stored: dict[str, Any]) -> None:
    state = VospaceState.from_dict(json.loads(json.dumps(stored)))
    assert json.dumps(state.to_dict()) == json.dumps(stored)


def test_the_state_of_a_new_job_is_what_createjob_stored() -> None:
    offer = SpaceOffer(
        "alice",
        4000,
        timedelta(days=30),
        ("size: the largest space this service offers alice is 4000 bytes",),
    )
    request = SpaceRequest(5000, timedelta(days=40), "P40D")
    state = VospaceState.for_offer(offer, request)
    assert state.to_dict() == CREATED
    assert state.with_space("vos://example.org!vospace/abc").to_dict() == CREATED_SPACE
    assert VospaceState.from_dict(CREATED).offer == offer


def test_a_request_without_lifetime_is_stored_as_null() -> None:
    offer = SpaceOffer("bob", 10, timedelta(days=7))
    stored = VospaceState.for_offer(offer, SpaceRequest(10)).to_dict()
    assert stored["requested"] == {"size": 10, "lifetime": None}
    element = state_element(VospaceState.from_dict(stored), space=None, node_url="")
    requested = element.find(f"{{{VOSPACE}}}requested")
    assert requested is not None
    assert dict(requested.attrib) == {"size": "10"}


def test_the_element_shows_request_offer_reasons_and_space() -> None:
    space = Space(
        name="abc",
        identifier="vos://example.org!vospace/abc",
        owner="alice",
        quota_bytes=4000,
        used_bytes=1000,
        reserved_bytes=500,
        node_count=3,
        expires=None,
        created=datetime(2024, 5, 1, tzinfo=UTC),
    )
    element = state_element(
        VospaceState.from_dict(CREATED_SPACE), space=space, node_url="http://h/vospace/nodes/abc"
    )
    q = f"{{{VOSPACE}}}"
    requested, offer = element.find(q + "requested"), element.find(q + "offer")
    assert requested is not None
    assert offer is not None
    assert dict(requested.attrib) == {"size": "5000", "lifetime": "P40D"}
    assert dict(offer.attrib) == {"size": "4000", "lifetime": "P30D"}
    assert [r.text for r in offer] == CREATED["offer"]["reasons"]
    assert element.findtext(q + "space/" + q + "identifier") == space.identifier
    assert element.findtext(q + "space/" + q + "node") == "http://h/vospace/nodes/abc"
    assert element.findtext(q + "space/" + q + "used") == "1000"
    assert element.findtext(q + "space/" + q + "available") == "2500"
