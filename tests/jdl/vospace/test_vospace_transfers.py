"""Transfer negotiation (``jdl/vospace/transfers.py``) over real HTTP on loopback: what a
``vos:transfer`` document or URL parameters may ask for, each refusal as VOSpace 2.1
words it (an ERROR job for a document, a fault for parameters), and what the data URLs
handed out let their bearer do, recorded or signed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from lxml import etree

from wsrf_uws.jdl.vospace.properties import ISPUBLIC
from wsrf_uws.jdl.vospace.transfers import MAX_LINKS

from vospace_support import (
    ALICE,
    BOB,
    CORE,
    UWS,
    VOS,
    Endpoint,
    create,
    endpoint_url,
    fault,
    negotiate,
    node_xml,
    running_endpoint,
    upload,
    vos,
)

HTTPGET, HTTPSGET, HTTPPUT = CORE + "httpget", CORE + "httpsget", CORE + "httpput"
BASIC = "ivo://ivoa.net/sso#BasicAA"
PULL, PUSH = "pullFromVoSpace", "pushToVoSpace"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with running_endpoint(tmp_path_factory.mktemp("transfers")) as running:
        yield running


@pytest.fixture
def ep(endpoint: Endpoint) -> Iterator[Endpoint]:
    yield endpoint
    endpoint.clock.advance(timedelta(hours=2))  # every transfer of the test expires
    assert endpoint.partial_files() == []


@pytest.fixture
def space(ep: Endpoint) -> str:
    """A space of alice's, 100 bytes, with ``f`` (ten bytes) and the folder ``dir``."""
    name = ep.space(quota=100).name
    assert upload(ep, f"{name}/f", b"0123456789").status_code == 201
    assert create(ep, f"{name}/dir", "ContainerNode").status_code == 201
    return name


def transfer(
    targets: list[str],
    direction: str,
    protocols: list[tuple[str, list[str]]],
    *,
    view: str | None = None,
    params: dict[str, str] | None = None,
) -> bytes:
    """A client's ``vos:transfer`` document."""
    parts = [f"<vos:target>{target}</vos:target>" for target in targets]
    parts.append(f"<vos:direction>{direction}</vos:direction>")
    if view is not None:
        parts.append(f'<vos:view uri="{view}"/>')
    for uri, methods in protocols:
        inner = "".join(f'<vos:securityMethod uri="{m}"/>' for m in methods)
        parts.append(f'<vos:protocol uri="{uri}">{inner}</vos:protocol>')
    for uri, value in (params or {}).items():
        parts.append(f'<vos:param uri="{uri}">{value}</vos:param>')
    return f'<vos:transfer xmlns:vos="{VOS}" version="2.1">{"".join(parts)}</vos:transfer>'.encode()


def post(ep: Endpoint, document: bytes, auth: Any = ALICE) -> str:
    """POST ``document`` to synctrans; the job URL it redirects to."""
    answer = requests.post(
        f"{ep.service}/synctrans", data=document, auth=auth, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["Location"].removesuffix("/results/transferDetails")


def protocols_of(details: bytes) -> list[tuple[str, str | None, str | None]]:
    """(protocol, endpoint, security method) of each protocol a transfer document offers."""
    found = []
    for protocol in etree.fromstring(details).iter(vos("protocol")):
        method = protocol.find(vos("securityMethod"))
        found.append(
            (
                protocol.get("uri"),
                protocol.findtext(vos("endpoint")),
                None if method is None else method.get("uri"),
            )
        )
    return found


# -- negotiating by document: refusals are ERROR jobs ----------------------------------


REFUSALS = [
    ("two targets", ["{S}/f", "{S}/dir"], PULL, [(HTTPGET, [])], {}, None, "InvalidArgument"),
    (
        "another service",
        ["vos://example.org!other/{S}/f"],
        PULL,
        [(HTTPGET, [])],
        {},
        None,
        "InvalidURI",
    ),
    ("a move", ["{S}/f"], "vos://example.org!vospace/{S}/g", [], {}, None, "OperationNotSupported"),
    ("no direction we know", ["{S}/f"], "sideways", [(HTTPGET, [])], {}, None, "InvalidArgument"),
    (
        "a view we do not have",
        ["{S}/f"],
        PULL,
        [(HTTPGET, [])],
        {},
        CORE + "fitsview",
        "ViewNotSupported",
    ),
    ("no protocol in common", ["{S}/f"], PULL, [(HTTPPUT, [])], {}, None, "ProtocolNotSupported"),
    ("no protocol at all", ["{S}/f"], PUSH, [], {}, None, "ProtocolNotSupported"),
    (
        "no security method in common",
        ["{S}/f"],
        PULL,
        [(HTTPGET, ["ivo://ivoa.net/sso#tls-with-certificate"])],
        {},
        None,
        "ProtocolNotSupported",
    ),
    ("pulling the root", [""], PULL, [(HTTPGET, [])], {}, None, "InvalidArgument"),
    ("pulling a folder", ["{S}/dir"], PULL, [(HTTPGET, [])], {}, None, "InvalidArgument"),
    ("pulling nothing", ["{S}/none"], PULL, [(HTTPGET, [])], {}, None, "NodeNotFound"),
    ("pushing into a space", ["{S}"], PUSH, [(HTTPPUT, [])], {}, None, "InvalidArgument"),
    ("pushing into a folder", ["{S}/dir"], PUSH, [(HTTPPUT, [])], {}, None, "InvalidArgument"),
    ("pushing nowhere", ["{S}/none/f"], PUSH, [(HTTPPUT, [])], {}, None, "ContainerNotFound"),
    (
        "a length that is no number",
        ["{S}/g"],
        PUSH,
        [(HTTPPUT, [])],
        {CORE + "length": "lots"},
        None,
        "InvalidArgument",
    ),
    (
        "a length with no room",
        ["{S}/f"],
        PUSH,
        [(HTTPPUT, [])],
        {CORE + "length": "101"},
        None,
        "QuotaExceeded",
    ),
]


@pytest.mark.parametrize(
    ("targets", "direction", "protocols", "params", "view", "name"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_a_transfer_that_cannot_be_made_is_an_error_job(
    ep: Endpoint,
    space: str,
    targets: list[str],
    direction: str,
    protocols: list[tuple[str, list[str]]],
    params: dict[str, str],
    view: str | None,
    name: str,
) -> None:
    nodes = ep.store.space(space).node_count
    uris = [
        t.format(S=space) if t.startswith("vos:") else ep.uri(t.format(S=space)) for t in targets
    ]
    document = transfer(uris, direction.format(S=space), protocols, view=view, params=params)
    job = post(ep, document)
    assert requests.get(f"{job}/phase", auth=ALICE, timeout=10).text == "ERROR"
    error = requests.get(f"{job}/error", auth=ALICE, timeout=10)
    assert error.text.split()[0] == name, error.text
    details = requests.get(f"{job}/results/transferDetails", auth=ALICE, timeout=10)
    assert protocols_of(details.content) == []
    results = etree.fromstring(requests.get(f"{job}/results", auth=ALICE, timeout=10).content)
    assert list(results) == []
    summary = etree.fromstring(requests.get(job, auth=ALICE, timeout=10).content)
    assert summary.findtext(f"{{{UWS}}}errorSummary/{{{UWS}}}message") == error.text
    assert ep.store.space(space).node_count == nodes  # a refused push creates nothing


NO_DIRECTION = f'<vos:transfer xmlns:vos="{VOS}"><vos:target>vos://x</vos:target></vos:transfer>'


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (b"<vos:transfer", "not acceptable XML"),
        (f'<vos:node xmlns:vos="{VOS}" uri="x"/>'.encode(), "not vos:transfer"),
        (transfer([], PULL, [(HTTPGET, [])]), "names no target"),
        (transfer([" "], PULL, [(HTTPGET, [])]), "names no target"),
        (NO_DIRECTION.encode(), "exactly one direction"),
        (transfer(["vos://x"], f"{PULL}</vos:direction><vos:direction>{PULL}", []), "exactly one"),
        (
            transfer(["vos://x"], PULL, [], view=f'{CORE}a"/><vos:view uri="{CORE}b'),
            "more than one view",
        ),
    ],
)
def test_what_is_no_transfer_document_is_refused_at_once(
    ep: Endpoint, document: bytes, words: str
) -> None:
    for resource in ("synctrans", "transfers"):
        answer = requests.post(f"{ep.service}/{resource}", data=document, auth=ALICE, timeout=10)
        assert fault(answer) == (400, "InvalidArgument")
        assert words in answer.text


def test_what_a_transfer_offers_follows_what_was_asked(ep: Endpoint, space: str) -> None:
    target = [ep.uri(f"{space}/f")]
    # Both protocols asked for, each with what it was asked with (Basic needs nothing
    # here, so it is offered; a method the service lacks is dropped).
    job = post(
        ep,
        transfer(target, PULL, [(HTTPGET, [BASIC, "ivo://other#method"]), (HTTPSGET, [])]),
    )
    details = requests.get(f"{job}/results/transferDetails", auth=ALICE, timeout=10).content
    offered = protocols_of(details)
    assert [(uri, method) for uri, _, method in offered] == [(HTTPGET, BASIC), (HTTPSGET, None)]
    assert len({url for _, url, _ in offered}) == 1
    assert requests.get(offered[0][1], timeout=10).content == b"0123456789"
    # The views that mean "the bytes as stored" are accepted and named in the answer.
    for view in (CORE + "defaultview", "ivo://cadc.nrc.ca/vospace/view#data"):
        job = post(ep, transfer(target, PULL, [(HTTPGET, [])], view=view))
        details = requests.get(f"{job}/results/transferDetails", auth=ALICE, timeout=10)
        assert etree.fromstring(details.content).find(vos("view")).get("uri") == view
        summary = etree.fromstring(requests.get(job, auth=ALICE, timeout=10).content)
        assert summary.findtext(f"{{{UWS}}}phase") == "COMPLETED"
        assert summary.find(f".//{vos('view')}").get("uri") == view
    # An announced length that fits: the push is offered, and the node made.
    job = post(
        ep, transfer([ep.uri(f"{space}/g")], PUSH, [(HTTPPUT, [])], params={CORE + "length": "90"})
    )
    assert requests.get(f"{job}/phase", auth=ALICE, timeout=10).text == "COMPLETED"
    assert ep.store.get_node((space, "g"))[1].length == 0


def test_a_push_into_a_node_being_written_is_refused(ep: Endpoint, space: str) -> None:
    with ep.store.begin_upload((space, "f"), expected_length=1):
        job, details = negotiate(ep, f"{space}/f", PUSH, "httpput")
        assert requests.get(f"{job}/error", auth=ALICE, timeout=10).text.startswith("NodeBusy")
        assert protocols_of(details) == []


def test_an_anonymous_transfer_job_has_no_owner(ep: Endpoint, space: str) -> None:
    public = node_xml(ep.uri(f"{space}/f"), "DataNode", {ISPUBLIC: "true"})
    assert requests.post(ep.nodes(f"{space}/f"), data=public, auth=ALICE, timeout=10).ok
    job = post(ep, transfer([ep.uri(f"{space}/f")], PULL, [(HTTPGET, [])]), auth=None)
    summary = etree.fromstring(requests.get(job, timeout=10).content)
    owner = summary.find(f"{{{UWS}}}ownerId")
    assert owner.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    assert requests.get(job, auth=ALICE, timeout=10).status_code == 404  # not hers either


# -- links ---------------------------------------------------------------------------


def test_a_pull_follows_links_inside_the_service_a_bounded_number_of_times(
    ep: Endpoint, space: str
) -> None:
    previous = f"{space}/f"
    for i in range(MAX_LINKS):
        assert create(ep, f"{space}/l{i}", "LinkNode", target=ep.uri(previous)).ok
        previous = f"{space}/l{i}"
    # MAX_LINKS links in a row reach the bytes; one more is too many.
    _, details = negotiate(ep, previous, PULL, "httpget")
    url = endpoint_url(details)
    assert url.endswith(f"/{space}/f") and requests.get(url, timeout=10).content == b"0123456789"
    assert create(ep, f"{space}/last", "LinkNode", target=ep.uri(previous)).ok
    job, _ = negotiate(ep, f"{space}/last", PULL, "httpget")
    error = requests.get(f"{job}/error", auth=ALICE, timeout=10).text
    assert error.startswith(f"LinkFound more than {MAX_LINKS} links in a row")
    # A link to the root leads to no bytes; a loop ends at the bound.
    assert create(ep, f"{space}/root", "LinkNode", target=ep.uri("")).ok
    job, _ = negotiate(ep, f"{space}/root", PULL, "httpget")
    assert "is the root" in requests.get(f"{job}/error", auth=ALICE, timeout=10).text
    assert create(ep, f"{space}/loop", "LinkNode", target=ep.uri(f"{space}/loop")).ok
    files = requests.get(f"{ep.service}/files/{space}/loop", auth=ALICE, timeout=10)
    assert fault(files) == (400, "LinkFound")


# -- negotiating by parameters: nothing recorded, faults answered as such ---------------


def by_parameters(ep: Endpoint, auth: Any = ALICE, **parameters: str) -> requests.Response:
    return requests.get(
        f"{ep.service}/synctrans", params=parameters, auth=auth, allow_redirects=False, timeout=10
    )


def test_a_parameter_transfer_answers_its_faults(ep: Endpoint, space: str) -> None:
    target = ep.uri(f"{space}/f")
    recorded = ep.store._connection().execute("SELECT COUNT(*) FROM transfers").fetchone()[0]
    missing = by_parameters(ep, TARGET=target)
    assert fault(missing) == (400, "InvalidArgument")
    assert "needs DIRECTION, PROTOCOL" in missing.text
    sideways = by_parameters(ep, TARGET=target, DIRECTION="sideways", PROTOCOL=HTTPGET)
    assert fault(sideways) == (400, "InvalidArgument")
    view = by_parameters(
        ep, TARGET=target, DIRECTION=PULL, PROTOCOL=HTTPGET, VIEW=CORE + "fitsview"
    )
    assert fault(view) == (400, "ViewNotSupported")
    protocol = by_parameters(ep, TARGET=target, DIRECTION=PULL, PROTOCOL=HTTPPUT)
    assert fault(protocol) == (400, "ProtocolNotSupported")
    anonymous = by_parameters(ep, None, TARGET=target, DIRECTION=PUSH, PROTOCOL=HTTPPUT)
    assert fault(anonymous) == (403, "PermissionDenied")
    count = ep.store._connection().execute("SELECT COUNT(*) FROM transfers").fetchone()[0]
    assert count == recorded


def test_a_parameter_push_gives_a_signed_url_for_writing_only(ep: Endpoint, space: str) -> None:
    # Parameter names are matched in any case; REQUEST=redirect only redirects a pull.
    answer = by_parameters(
        ep,
        target=ep.uri(f"{space}/new"),
        direction=PUSH,
        protocol=HTTPPUT,
        securitymethod=BASIC,
        request="redirect",
    )
    assert answer.status_code == 200, answer.text
    (offered,) = protocols_of(answer.content)
    assert (offered[0], offered[2]) == (HTTPPUT, BASIC)
    url = str(offered[1])
    assert requests.get(url, timeout=10).status_code == 404
    assert requests.head(url, timeout=10).status_code == 200
    assert requests.put(url, data=b"signed", timeout=10).status_code == 201
    files = requests.get(f"{ep.service}/files/{space}/new", auth=ALICE, timeout=10)
    assert files.content == b"signed"


# -- what a data URL allows -------------------------------------------------------------


def test_a_data_url_names_one_node_for_as_long_as_it_is_that_node(ep: Endpoint, space: str) -> None:
    job, details = negotiate(ep, f"{space}/f", PULL, "httpget")
    url = endpoint_url(details)
    token = job.rsplit("/", 1)[1]
    assert requests.get(url, timeout=10).content == b"0123456789"
    # Another path under the same token, or a failed transfer's id, is nothing.
    assert requests.get(url.replace("/f", "/dir"), timeout=10).status_code == 404
    failed, _ = negotiate(ep, f"{space}/none", PULL, "httpget")
    gone = url.replace(token, failed.rsplit("/", 1)[1])
    assert fault(requests.get(gone, timeout=10)) == (404, "NodeNotFound")
    # The node deleted and made again at the same path is another node.
    assert requests.delete(ep.nodes(f"{space}/f"), auth=ALICE, timeout=10).status_code == 204
    assert requests.get(url, timeout=10).status_code == 404
    assert upload(ep, f"{space}/f", b"new bytes").status_code == 201
    assert requests.get(url, timeout=10).status_code == 404


def test_a_data_url_ends_when_its_bearer_may_no_longer_read(ep: Endpoint, space: str) -> None:
    public = node_xml(ep.uri(f"{space}/f"), "DataNode", {ISPUBLIC: "true"})
    assert requests.post(ep.nodes(f"{space}/f"), data=public, auth=ALICE, timeout=10).ok
    _, details = negotiate(ep, f"{space}/f", PULL, "httpget", auth=BOB)
    bobs = endpoint_url(details)
    answer = by_parameters(ep, BOB, TARGET=ep.uri(f"{space}/f"), DIRECTION=PULL, PROTOCOL=HTTPGET)
    signed = protocols_of(answer.content)[0][1]
    for url in (bobs, signed):
        assert requests.get(url, timeout=10).content == b"0123456789"
    private = node_xml(ep.uri(f"{space}/f"), "DataNode", {ISPUBLIC: "false"})
    assert requests.post(ep.nodes(f"{space}/f"), data=private, auth=ALICE, timeout=10).ok
    for url in (bobs, signed):
        assert fault(requests.get(url, timeout=10)) == (404, "NodeNotFound")
    # ... and for a push, when the space is no longer there to write in.
    push = endpoint_url(negotiate(ep, f"{space}/f", PUSH, "httpput")[1])
    ep.store.set_expiry(space, ep.clock.now())
    assert fault(requests.put(push, data=b"late", timeout=10)) == (404, "NodeNotFound")
