"""VOSI for the VOSpace endpoint and the registry stand-in (``jdl/vospace/vosi.py``), over
real HTTP on loopback: the interfaces listed follow whether anonymous callers are served,
and the resource-caps route answers only what it serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from wsrf_uws.jdl.vospace.vosi import BASIC_AA, CAPABILITIES

from vospace_support import Endpoint, fault, running_endpoint

VOSI_IDS = {"ivo://ivoa.net/std/VOSI#capabilities", "ivo://ivoa.net/std/VOSI#availability"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """An endpoint that lists no anonymous interface (the server requires credentials)."""
    with running_endpoint(tmp_path_factory.mktemp("closed"), allow_anonymous=False) as ep:
        yield ep


def interfaces(ep: Endpoint) -> dict[str, list[tuple[str, str, list[str]]]]:
    """standardID -> (xsi:type, access URL, security methods) of each interface listed."""
    root = etree.fromstring(requests.get(f"{ep.service}/capabilities", timeout=10).content)
    found = {}
    for capability in root.iter("capability"):
        found[capability.get("standardID")] = [
            (
                interface.get(XSI_TYPE),
                interface.findtext("accessURL"),
                [m.get("standardID") for m in interface.iter("securityMethod")],
            )
            for interface in capability.iter("interface")
        ]
    return found


def test_without_anonymous_access_only_vosi_is_listed_without_credentials(
    closed: Endpoint,
) -> None:
    listed = interfaces(closed)
    assert list(listed) == [standard_id for standard_id, _ in CAPABILITIES]
    for standard_id, path in CAPABILITIES:
        url = f"{closed.service}/{path}"
        expected = [[]] if standard_id in VOSI_IDS else [[BASIC_AA]]
        assert [methods for _, _, methods in listed[standard_id]] == expected, standard_id
        assert {(kind, access) for kind, access, _ in listed[standard_id]} == {
            ("vs:ParamHTTP", url)
        }


def test_resource_caps_answers_its_one_line_only(closed: Endpoint) -> None:
    caps = f"{closed.base_url}/reg/resource-caps"
    answer = requests.get(caps, timeout=10)
    assert answer.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert (
        answer.text.splitlines()[1] == f"ivo://example.org/vospace = {closed.service}/capabilities"
    )
    head = requests.head(caps, timeout=10)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == answer.headers["Content-Length"]
    refused = requests.post(caps, data=b"x", timeout=10)
    assert fault(refused) == (405, "OperationNotSupported")
    assert refused.headers["Allow"] == "GET, HEAD"
    assert fault(requests.get(caps + "/more", timeout=10)) == (404, "NodeNotFound")


def test_availability_reports_since_when_the_endpoint_is_up(tmp_path: Path) -> None:
    with running_endpoint(tmp_path) as ep:
        started = ep.clock.now()
        answer = requests.get(f"{ep.service}/availability", timeout=10)
        root = etree.fromstring(answer.content)
        namespace = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
        assert root.findtext(f"{namespace}available") == "true"
        assert root.findtext(f"{namespace}upSince") == started.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert root.find(f"{namespace}note") is None
