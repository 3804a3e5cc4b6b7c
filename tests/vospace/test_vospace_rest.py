"""The VOSpace 2.1 REST endpoint over real HTTP on loopback: nodes, properties, paging,
transfers and bytes, quota, ownership, expiry, hostile input, and every document held
against the genuine VOSpace 2.1, UWS 1.1 and VOSI schemas (skipped without ../shared)."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from lxml import etree
from pyvo.io.vosi import parse_capabilities

from wsrf_uws.jdl.vospace.errors import (
    NodeNotFound,
    QuotaBelowUsageError,
    SpaceConflictError,
    SpaceNotFoundError,
)
from wsrf_uws.jdl.vospace.store import SpaceStore

from vospace_support import (
    CORE,
    UWS,
    Endpoint,
    child_names,
    genuine_validator,
    node_schema,
    node_xml,
    properties_of,
    raw_request,
    running_endpoint,
    transfer_xml,
    vos,
)

ALICE = ("alice", "alice-secret")
BOB = ("bob", "bob-secret")
QUOTA_URI = "ivo://example.org/vospace#quota"
EXPIRES_URI = "ivo://example.org/vospace#expires"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with running_endpoint(tmp_path_factory.mktemp("vospace")) as running:
        yield running


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> tuple[etree.XMLSchema, object]:
    schema = node_schema(tmp_path_factory.mktemp("schemas"))
    validator = genuine_validator()
    if schema is None or validator is None:
        pytest.skip("the genuine schemas (../shared) are not available")
    return schema, validator


def create(ep: Endpoint, path: str, xsi_type: str, auth=ALICE, **kw: object) -> requests.Response:
    return requests.put(
        ep.nodes(path), data=node_xml(ep.uri(path), xsi_type, **kw), auth=auth, timeout=10
    )


def negotiate(
    ep: Endpoint, path: str, direction: str, protocol: str, auth=ALICE, **kw: object
) -> tuple[str, bytes]:
    """POST a transfer to synctrans; returns (job URL, transfer details document)."""
    answer = requests.post(
        f"{ep.service}/synctrans",
        data=transfer_xml(ep.uri(path), direction, protocol, **kw),
        auth=auth,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["Location"]
    assert location.endswith("/results/transferDetails")
    details = requests.get(location, auth=auth, timeout=10)
    assert details.status_code == 200
    return location.rsplit("/results/", 1)[0], details.content


def endpoint_url(details: bytes) -> str:
    urls = [e.text for e in etree.fromstring(details).iter(vos("endpoint"))]
    assert urls, details.decode()
    return urls[0]


def upload(ep: Endpoint, path: str, data: bytes, auth=ALICE) -> requests.Response:
    _, details = negotiate(ep, path, "pushToVoSpace", "httpput", auth=auth)
    return requests.put(endpoint_url(details), data=data, timeout=10)


def available(ep: Endpoint, space: str) -> int:
    props = properties_of(requests.get(ep.nodes(space), auth=ALICE, timeout=10).content)
    return int(props[CORE + "availableSpace"][0])


# -- VOSI and the registry stand-in ---------------------------------------------------


def test_capabilities_list_every_feature_for_anonymous_and_basic_clients(ep: Endpoint) -> None:
    answer = requests.get(f"{ep.service}/capabilities", timeout=10)
    assert answer.status_code == 200
    capabilities = parse_capabilities(io.BytesIO(answer.content), pedantic=True)
    by_id = {c.standardid: c for c in capabilities}
    for standard_id, path in [
        ("ivo://ivoa.net/std/VOSI#availability", "availability"),
        ("ivo://ivoa.net/std/VOSpace/v2.0#nodes", "nodes"),
        ("ivo://ivoa.net/std/VOSpace#sync-2.1", "synctrans"),
        ("ivo://ivoa.net/std/VOSpace/v2.0#transfers", "transfers"),
        ("ivo://ivoa.net/std/VOSpace#files-proto", "files"),
    ]:
        interfaces = by_id[standard_id].interfaces
        # VOSI is public; the VOSpace features have an anonymous and an HTTP Basic interface.
        expected = [[]] if "VOSI" in standard_id else [[], ["ivo://ivoa.net/sso#BasicAA"]]
        assert [[m.standardid for m in i.securitymethods] for i in interfaces] == expected
        assert {type(i).__name__ for i in interfaces} == {"ParamHTTP"}
        assert {i.accessurls[0].content for i in interfaces} == {f"{ep.service}/{path}"}
    # What the CADC client makes of it: the anonymous URL without credentials, the
    # Basic one with them.
    cadcutils = pytest.importorskip("cadcutils.net.wscapabilities")
    reader = cadcutils.CapabilitiesReader().parsexml(answer.content)
    nodes = "ivo://ivoa.net/std/VOSpace/v2.0#nodes"
    assert reader.get_access_url(nodes, [], "vs:ParamHTTP") == f"{ep.service}/nodes"
    basic = ["ivo://ivoa.net/sso#BasicAA"]
    assert reader.get_access_url(nodes, basic, "vs:ParamHTTP") == f"{ep.service}/nodes"


def test_availability_and_resource_caps(ep: Endpoint, schemas) -> None:
    _, validator = schemas
    answer = requests.get(f"{ep.service}/availability", timeout=10)
    root = etree.fromstring(answer.content)
    assert validator.errors(root) == []
    assert root.findtext("{http://www.ivoa.net/xml/VOSIAvailability/v1.0}available") == "true"
    caps = requests.get(f"{ep.base_url}/reg/resource-caps", timeout=10)
    assert caps.status_code == 200
    lines = [line for line in caps.text.splitlines() if not line.startswith("#")]
    assert lines == [f"ivo://example.org/vospace = {ep.service}/capabilities"]


def test_bodyless_requests_expecting_continue_are_answered(ep: Endpoint) -> None:
    # The CADC client sends "Expect: 100-continue" on its GETs; unpatched waitress
    # would wait for a body forever (waitress_compat.fix_expect_continue).
    status, body = raw_request(
        ep.base_url, "GET", "/vospace/availability", headers={"Expect": "100-continue"}
    )
    assert status == 200 and b"available" in body


# -- nodes ----------------------------------------------------------------------------


def test_node_crud_with_every_type(ep: Endpoint) -> None:
    space = ep.space().name
    assert create(ep, f"{space}/dir", "ContainerNode").status_code == 201
    assert create(ep, f"{space}/dir/data", "UnstructuredDataNode").status_code == 201
    assert create(ep, f"{space}/dir/plain", "DataNode").status_code == 201
    link = create(ep, f"{space}/ln", "LinkNode", target=ep.uri(f"{space}/dir/data"))
    assert link.status_code == 201
    assert etree.fromstring(link.content).findtext(vos("target")) == ep.uri(f"{space}/dir/data")
    listing = requests.get(ep.nodes(f"{space}/dir"), auth=ALICE, timeout=10)
    assert child_names(listing.content) == ["data", "plain"]
    # Faults, each with its VOSpace name.
    duplicate = create(ep, f"{space}/dir", "ContainerNode")
    assert (duplicate.status_code, duplicate.text.split()[0]) == (409, "DuplicateNode")
    orphan = create(ep, f"{space}/nowhere/x", "ContainerNode")
    assert (orphan.status_code, orphan.text.split()[0]) == (404, "ContainerNotFound")
    under_link = create(ep, f"{space}/ln/x", "ContainerNode")
    assert (under_link.status_code, under_link.text.split()[0]) == (400, "LinkFound")
    structured = create(ep, f"{space}/st", "StructuredDataNode")
    assert (structured.status_code, structured.text.split()[0]) == (400, "TypeNotSupported")
    mismatch = requests.put(
        ep.nodes(f"{space}/a"),
        data=node_xml(ep.uri(f"{space}/b"), "ContainerNode"),
        auth=ALICE,
        timeout=10,
    )
    assert (mismatch.status_code, mismatch.text.split()[0]) == (400, "InvalidURI")
    # Recursive delete.
    assert requests.delete(ep.nodes(f"{space}/dir"), auth=ALICE, timeout=10).status_code == 204
    gone = requests.get(ep.nodes(f"{space}/dir/data"), auth=ALICE, timeout=10)
    assert (gone.status_code, gone.text.split()[0]) == (404, "ContainerNotFound")
    missing = requests.get(ep.nodes(f"{space}/dir"), auth=ALICE, timeout=10)
    assert (missing.status_code, missing.text.split()[0]) == (404, "NodeNotFound")
    assert ep.store.space(space).node_count == 2  # the space and the link


def test_root_lists_own_and_public_spaces_and_refuses_writes(ep: Endpoint) -> None:
    mine = ep.space("alice").name
    theirs = ep.space("bob").name
    public = ep.space("bob").name
    public_doc = node_xml(ep.uri(public), "ContainerNode", {CORE + "ispublic": "true"})
    assert requests.post(ep.nodes(public), data=public_doc, auth=BOB, timeout=10).ok
    listed = child_names(requests.get(ep.nodes(), auth=ALICE, timeout=10).content)
    assert mine in listed and public in listed and theirs not in listed
    anonymous = child_names(requests.get(ep.nodes(), timeout=10).content)
    assert public in anonymous and mine not in anonymous
    # Spaces come only from the UWS contract; nobody creates or deletes them here.
    new_space = create(ep, "brandnew", "ContainerNode")
    assert new_space.status_code == 403
    assert "UWS" in new_space.text and new_space.text.startswith("PermissionDenied")
    assert requests.delete(ep.nodes(mine), auth=ALICE, timeout=10).status_code == 403
    assert ep.store.space("brandnew") is None and ep.store.space(mine) is not None


def test_listing_pages_with_uri_and_limit(ep: Endpoint) -> None:
    space = ep.space().name
    names = ["b", "a", "é", "c10", "c9", "Z", "d"]
    for name in names:
        assert create(ep, f"{space}/{name}", "ContainerNode").status_code == 201
    collected: list[str] = []
    start = None
    while True:
        params = {"limit": 3, **({"uri": ep.uri(f"{space}/{quote(start)}")} if start else {})}
        page = child_names(
            requests.get(ep.nodes(space), params=params, auth=ALICE, timeout=10).content
        )
        page = [requests.utils.unquote(n) for n in page]
        if start is not None:
            assert page[0] == start  # the start is inclusive
            page = page[1:]
        collected += page
        if len(page) < 2:
            break
        start = page[-1]
    assert collected == sorted(names)  # code point order, no duplicates, none missing
    empty = requests.get(ep.nodes(space), params={"limit": 0}, auth=ALICE, timeout=10)
    assert child_names(empty.content) == []
    stranger = requests.get(
        ep.nodes(space), params={"uri": ep.uri(f"{space}/a/deeper")}, auth=ALICE, timeout=10
    )
    assert (stranger.status_code, stranger.text.split()[0]) == (400, "InvalidURI")


def test_properties_set_delete_and_read_only(ep: Endpoint) -> None:
    space = ep.space(quota=5000).name
    path = f"{space}/file"
    assert create(ep, path, "DataNode", properties={CORE + "title": "first"}).ok
    answer = requests.post(
        ep.nodes(path),
        data=node_xml(
            ep.uri(path), "DataNode", {CORE + "description": "words", CORE + "title": None}
        ),
        auth=ALICE,
        timeout=10,
    )
    assert answer.status_code == 200
    props = properties_of(answer.content)
    assert props[CORE + "description"] == ("words", False)
    assert CORE + "title" not in props
    assert props[CORE + "creator"] == ("alice", True)
    assert props[CORE + "length"] == ("0", True)
    # Read-only properties: refused when changed, accepted when sent back unchanged.
    changed = requests.post(
        ep.nodes(path),
        data=node_xml(ep.uri(path), "DataNode", {CORE + "length": "99"}),
        auth=ALICE,
        timeout=10,
    )
    assert (changed.status_code, changed.text.split()[0]) == (403, "PermissionDenied")
    unchanged = requests.post(
        ep.nodes(path),
        data=node_xml(ep.uri(path), "DataNode", {CORE + "length": "0", CORE + "title": "t"}),
        auth=ALICE,
        timeout=10,
    )
    assert unchanged.status_code == 200
    assert properties_of(unchanged.content)[CORE + "title"] == ("t", False)
    created_read_only = create(ep, f"{space}/x", "DataNode", properties={CORE + "MD5": "0"})
    assert created_read_only.status_code == 403
    bad_flag = create(ep, f"{space}/y", "DataNode", properties={CORE + "ispublic": "maybe"})
    assert (bad_flag.status_code, bad_flag.text.split()[0]) == (400, "InvalidArgument")
    # The space's own: quota, expiry, available space.
    space_props = properties_of(requests.get(ep.nodes(space), auth=ALICE, timeout=10).content)
    assert space_props[QUOTA_URI] == ("5000", True)
    assert space_props[CORE + "availableSpace"] == ("5000", True)
    assert EXPIRES_URI not in space_props  # this space has no expiry


# -- bytes ----------------------------------------------------------------------------


def test_upload_then_download_gives_identical_bytes_and_md5(ep: Endpoint) -> None:
    space = ep.space(quota=100_000).name
    path = f"{space}/data.bin"
    data = bytes(range(256)) * 150
    md5 = hashlib.md5(data).hexdigest()
    stored = upload(ep, path, data)
    assert stored.status_code == 201
    props = properties_of(requests.get(ep.nodes(path), auth=ALICE, timeout=10).content)
    assert props[CORE + "MD5"] == (md5, True)
    assert props[CORE + "length"] == (str(len(data)), True)
    # Pull through a negotiated URL, and through the files endpoint.
    _, details = negotiate(ep, path, "pullFromVoSpace", "httpget")
    pulled = requests.get(endpoint_url(details), timeout=10)
    files = requests.get(f"{ep.service}/files/{path}", auth=ALICE, timeout=10)
    for answer in (pulled, files):
        assert answer.status_code == 200
        assert answer.content == data
        assert hashlib.md5(answer.content).hexdigest() == md5
        assert answer.headers["Digest"].startswith("md5=")
    partial = requests.get(
        f"{ep.service}/files/{path}", headers={"Range": "bytes=100-199"}, auth=ALICE, timeout=10
    )
    assert (partial.status_code, partial.content) == (206, data[100:200])
    # A wrong announced MD5 leaves the stored bytes as they were.
    _, details = negotiate(ep, path, "pushToVoSpace", "httpput")
    wrong = requests.put(
        endpoint_url(details),
        data=b"other",
        headers={"Digest": "md5=" + "A" * 22 + "=="},
        timeout=10,
    )
    assert wrong.status_code == 412
    assert requests.get(f"{ep.service}/files/{path}", auth=ALICE, timeout=10).content == data
    assert ep.partial_files() == []
    # A pull URL does not write, a push URL does not read.
    assert requests.put(endpoint_url(_pull(ep, path)), data=b"x", timeout=10).status_code == 404
    assert requests.get(endpoint_url(details), timeout=10).status_code == 404


def test_links_lead_to_the_bytes_inside_the_service_only(ep: Endpoint) -> None:
    space = ep.space().name
    assert upload(ep, f"{space}/target", b"linked bytes").ok
    assert create(ep, f"{space}/ln", "LinkNode", target=ep.uri(f"{space}/target")).ok
    assert create(ep, f"{space}/ln2", "LinkNode", target=ep.uri(f"{space}/ln")).ok
    assert create(ep, f"{space}/out", "LinkNode", target="https://example.com/x").ok
    via = requests.get(f"{ep.service}/files/{space}/ln2", auth=ALICE, timeout=10)
    assert via.content == b"linked bytes"
    _, details = negotiate(ep, f"{space}/ln", "pullFromVoSpace", "httpget")
    assert requests.get(endpoint_url(details), timeout=10).content == b"linked bytes"
    outside = requests.get(f"{ep.service}/files/{space}/out", auth=ALICE, timeout=10)
    assert (outside.status_code, outside.text.split()[0]) == (400, "LinkFound")


def _pull(ep: Endpoint, path: str) -> bytes:
    return negotiate(ep, path, "pullFromVoSpace", "httpsget")[1]


def test_quota_refusals_leave_nothing_and_keep_available_space_exact(ep: Endpoint) -> None:
    space = ep.space(quota=1000)
    assert upload(ep, f"{space.name}/first", b"a" * 600).status_code == 201
    assert available(ep, space.name) == 400
    # Known length over the quota: refused before the body is read.
    _, details = negotiate(ep, f"{space.name}/second", "pushToVoSpace", "httpput")
    refused = requests.put(endpoint_url(details), data=b"b" * 401, timeout=10)
    assert (refused.status_code, refused.text.split()[0]) == (413, "QuotaExceeded")
    # Unknown length (chunked): refused once the bytes go beyond the quota.
    chunked = requests.put(endpoint_url(details), data=iter([b"c" * 300, b"c" * 300]), timeout=10)
    assert (chunked.status_code, chunked.text.split()[0]) == (413, "QuotaExceeded")
    assert ep.partial_files() == []
    assert available(ep, space.name) == 400
    stored = ep.store.space(space.name)
    assert (stored.used_bytes, stored.reserved_bytes) == (600, 0)
    # Exactly the room left fits; replacing a file counts its old length as freed.
    assert requests.put(endpoint_url(details), data=b"d" * 400, timeout=10).ok
    assert available(ep, space.name) == 0
    assert upload(ep, f"{space.name}/first", b"e" * 600).status_code == 200
    assert available(ep, space.name) == 0
    assert ep.data_files(space) == 2
    # An announced length that cannot fit fails the negotiation and creates nothing.
    job, details = negotiate(ep, f"{space.name}/third", "pushToVoSpace", "httpput", length=1)
    assert requests.get(f"{job}/phase", auth=ALICE, timeout=10).text == "ERROR"
    assert requests.get(f"{job}/error", auth=ALICE, timeout=10).text.startswith("QuotaExceeded")
    assert list(etree.fromstring(details).iter(vos("protocol"))) == []
    assert requests.get(ep.nodes(f"{space.name}/third"), auth=ALICE, timeout=10).status_code == 404


class _CountingInput(io.BytesIO):
    """A request body that records how much of it the application read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        block = super().read(size)
        self.taken += len(block)
        return block


def test_a_declared_length_over_quota_is_refused_before_reading(ep: Endpoint) -> None:
    space = ep.space(quota=100)
    url = endpoint_url(negotiate(ep, f"{space.name}/big", "pushToVoSpace", "httpput")[1])
    body = _CountingInput(b"z" * 101)
    answered: list[str] = []
    environ = {
        "REQUEST_METHOD": "PUT",
        "PATH_INFO": url.removeprefix(ep.base_url),
        "QUERY_STRING": "",
        "CONTENT_LENGTH": "101",
        "wsgi.input": body,
        "wsgi.input_terminated": True,
    }
    chunks = ep.app(environ, lambda status, headers, *exc: answered.append(status))
    # The code only: the reason phrase is "Content Too Large" from Python 3.13 on.
    assert [status.split()[0] for status in answered] == ["413"]
    assert b"".join(chunks).startswith(b"QuotaExceeded")
    assert body.taken == 0
    assert ep.store.space(space.name).reserved_bytes == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_concurrent_uploads_race_for_the_last_bytes(ep: Endpoint, chunked: bool) -> None:
    space = ep.space(quota=1000)
    urls = [
        endpoint_url(negotiate(ep, f"{space.name}/{name}", "pushToVoSpace", "httpput")[1])
        for name in ("left", "right")
    ]
    barrier = threading.Barrier(len(urls))
    statuses: list[int] = []

    def send(url: str) -> None:
        body = b"x" * 1000
        barrier.wait()
        data = iter([body[:500], body[500:]]) if chunked else body
        statuses.append(requests.put(url, data=data, timeout=30).status_code)

    threads = [threading.Thread(target=send, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 413]
    stored = ep.store.space(space.name)
    assert (stored.used_bytes, stored.reserved_bytes) == (1000, 0)
    assert available(ep, space.name) == 0
    assert ep.partial_files() == []


# -- who may do what ------------------------------------------------------------------


def _answers(ep: Endpoint, space: str, auth: tuple[str, str] | None) -> list[tuple]:
    """What ``auth`` gets for every kind of request about ``space`` and the nodes a test
    space holds (``secret``, ``dir``): reads, listings, properties, writes, transfers of
    both forms and their jobs, with the space's name written ``S``."""

    def seen(answer: requests.Response) -> tuple:
        return (
            answer.status_code,
            answer.headers.get("Content-Type"),
            answer.headers.get("Location", "").replace(space, "S"),
            answer.text.replace(space, "S"),
        )

    def document(path: str, xsi_type: str = "ContainerNode") -> bytes:
        return node_xml(ep.uri(path), xsi_type, {CORE + "title": "t"})

    get = {"auth": auth, "timeout": 10, "allow_redirects": False}
    answers: list[tuple] = []
    for path in (space, f"{space}/secret", f"{space}/dir", f"{space}/dir/x", f"{space}/nothing"):
        answers.append(seen(requests.get(ep.nodes(path), **get)))
        answers.append(seen(requests.head(ep.nodes(path), **get)))
        answers.append(seen(requests.get(ep.nodes(path), params={"detail": "properties"}, **get)))
        answers.append(seen(requests.get(ep.nodes(path), params={"limit": 1}, **get)))
        answers.append(seen(requests.get(f"{ep.service}/auth/nodes/{path}", **get)))
        answers.append(seen(requests.get(f"{ep.service}/files/{path}", **get)))
        answers.append(seen(requests.post(ep.nodes(path), data=document(path), **get)))
        answers.append(seen(requests.delete(ep.nodes(path), **get)))
        answers.append(
            seen(requests.put(ep.nodes(f"{path}/new"), data=document(f"{path}/new"), **get))
        )
        for direction, protocol in (("pullFromVoSpace", "httpget"), ("pushToVoSpace", "httpput")):
            posted = requests.post(
                f"{ep.service}/synctrans",
                data=transfer_xml(ep.uri(path), direction, protocol),
                **get,
            )
            job = posted.headers["Location"].rsplit("/results/", 1)[0]
            answers.append((posted.status_code, posted.text))
            for part in ("phase", "error", "results/transferDetails"):
                answers.append(seen(requests.get(f"{job}/{part}", **get)))
            by_parameters = {"TARGET": ep.uri(path), "DIRECTION": direction}
            by_parameters["PROTOCOL"] = CORE + protocol
            answers.append(
                seen(requests.get(f"{ep.service}/synctrans", params=by_parameters, **get))
            )
    return answers


def test_another_users_private_space_answers_exactly_like_an_unknown_one(ep: Endpoint) -> None:
    space = ep.space("alice").name
    assert upload(ep, f"{space}/secret", b"private bytes").ok
    assert create(ep, f"{space}/dir", "ContainerNode").ok
    # A space of the same name length that does not exist, with the same node names.
    unknown = "s" + "0" * (len(space) - 1)
    assert ep.store.space(unknown) is None
    for auth in (BOB, None):
        theirs = _answers(ep, space, auth)
        assert theirs == _answers(ep, unknown, auth)
        assert not any(
            answer[0] == 403 and "PermissionDenied only" in answer[-1] for answer in theirs
        )
        listed = child_names(requests.get(ep.nodes(), auth=auth, timeout=10).content)
        assert space not in listed
    # Nothing the intruders tried was created or changed.
    listing = requests.get(ep.nodes(space), auth=ALICE, timeout=10)
    assert child_names(listing.content) == ["dir", "secret"]
    assert (
        requests.get(f"{ep.service}/files/{space}/secret", auth=ALICE).content == b"private bytes"
    )
    # The check can fail: alice herself gets other answers for her space than for none.
    assert _answers(ep, space, ALICE) != _answers(ep, unknown, ALICE)


def test_public_nodes_stay_readable_and_only_the_owner_writes(ep: Endpoint) -> None:
    space = ep.space("alice").name
    path = f"{space}/secret"
    assert upload(ep, path, b"private bytes").ok
    _, details = negotiate(ep, path, "pullFromVoSpace", "httpget")
    # Alice makes the node public: anyone reads it, nobody else writes it.
    public = node_xml(ep.uri(path), "DataNode", {CORE + "ispublic": "true"})
    assert requests.post(ep.nodes(path), data=public, auth=ALICE, timeout=10).ok
    for auth in (BOB, None):
        assert requests.get(ep.nodes(path), auth=auth, timeout=10).status_code == 200
        files = requests.get(f"{ep.service}/files/{path}", auth=auth, timeout=10)
        assert files.content == b"private bytes"
        # What they can see, they are told they may not change.
        changed = requests.post(ep.nodes(path), data=public, auth=auth, timeout=10)
        assert (changed.status_code, changed.text.split()[0]) == (403, "PermissionDenied")
        job, _ = negotiate(ep, path, "pushToVoSpace", "httpput", auth=auth)
        error = requests.get(f"{job}/error", auth=auth, timeout=10)
        assert error.text.startswith("PermissionDenied")
        assert requests.delete(ep.nodes(path), auth=auth, timeout=10).status_code == 403
        # A pull by parameters needs no record and gives the bytes.
        by_parameters = requests.get(
            f"{ep.service}/synctrans",
            params={
                "TARGET": ep.uri(path),
                "DIRECTION": "pullFromVoSpace",
                "PROTOCOL": CORE + "httpget",
                "REQUEST": "redirect",
            },
            auth=auth,
            timeout=10,
        )
        assert by_parameters.content == b"private bytes"
    # Public again private: the others' view of it is gone, data URLs included.
    private = node_xml(ep.uri(path), "DataNode", {CORE + "ispublic": "false"})
    assert requests.post(ep.nodes(path), data=private, auth=ALICE, timeout=10).ok
    assert requests.get(ep.nodes(path), auth=BOB, timeout=10).status_code == 404
    assert requests.get(endpoint_url(details), timeout=10).content == b"private bytes"  # alice's
    # A public container shows others its public children only, a full page of them.
    assert create(ep, f"{space}/pub", "ContainerNode", properties={CORE + "ispublic": "true"}).ok
    for name, flag in (("a", " TRUE "), ("b", "false"), ("c", "true"), ("d", "true")):
        kept = create(ep, f"{space}/pub/{name}", "DataNode", properties={CORE + "ispublic": flag})
        assert kept.ok
    for auth, expected in ((ALICE, ["a", "b"]), (BOB, ["a", "c"]), (None, ["a", "c"])):
        page = requests.get(ep.nodes(f"{space}/pub"), params={"limit": 2}, auth=auth, timeout=10)
        assert child_names(page.content) == expected
    # Anonymous callers are refused every write, with the same words whatever the path.
    for target in (f"{space}/intruder", "no-such-space/intruder"):
        refused = create(ep, target, "ContainerNode", auth=None)
        assert (refused.status_code, refused.text.split()[0]) == (403, "PermissionDenied")
        assert "anonymous callers may not change" in refused.text
    wrong = requests.get(ep.nodes(path), auth=("alice", "wrong"), timeout=10)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Basic realm="wsrf-uws"'


def test_an_expired_space_answers_as_gone_until_extended(ep: Endpoint) -> None:
    space = ep.space(expires=ep.clock.now() + timedelta(hours=1)).name
    path = f"{space}/kept"
    assert upload(ep, path, b"bytes").ok
    _, details = negotiate(ep, path, "pullFromVoSpace", "httpget")
    expires = properties_of(requests.get(ep.nodes(space), auth=ALICE, timeout=10).content)
    assert EXPIRES_URI in expires
    ep.clock.advance(timedelta(minutes=61))
    for url in (ep.nodes(space), ep.nodes(path), f"{ep.service}/files/{path}"):
        assert requests.get(url, auth=ALICE, timeout=10).status_code == 404
    assert requests.get(endpoint_url(details), timeout=10).status_code == 404
    assert space not in child_names(requests.get(ep.nodes(), auth=ALICE, timeout=10).content)
    assert space in ep.store.expired_spaces()
    # Extended before the reaper deleted it: there again, data intact.
    ep.store.set_expiry(space, ep.clock.now() + timedelta(hours=1))
    assert requests.get(f"{ep.service}/files/{path}", auth=ALICE, timeout=10).content == b"bytes"


def test_delete_space_removes_nodes_data_and_transfers(ep: Endpoint) -> None:
    space = ep.space()
    assert upload(ep, f"{space.name}/a", b"1" * 100).ok
    assert create(ep, f"{space.name}/dir", "ContainerNode").ok
    assert upload(ep, f"{space.name}/dir/b", b"2" * 100).ok
    job, details = negotiate(ep, f"{space.name}/a", "pullFromVoSpace", "httpget")
    assert ep.data_files(space) == 2
    folders_before = set((ep.root / "blobs").iterdir())
    assert ep.store.delete_space(space.name) is True
    assert ep.store.space(space.name) is None
    assert requests.get(ep.nodes(space.name), auth=ALICE, timeout=10).status_code == 404
    assert requests.get(endpoint_url(details), timeout=10).status_code == 404
    assert requests.get(job, auth=ALICE, timeout=10).status_code == 404
    assert len(folders_before - set((ep.root / "blobs").iterdir())) == 1
    assert ep.store.delete_space(space.name) is False
    rows = (
        ep.store._connection()
        .execute("SELECT COUNT(*) FROM nodes WHERE space = ?", (space.name,))
        .fetchone()[0]
    )
    assert rows == 0


# -- hostile input --------------------------------------------------------------------


def test_path_traversal_and_bad_names_are_refused(ep: Endpoint) -> None:
    space = ep.space().name
    assert upload(ep, f"{space}/inside", b"inside").ok
    outside = ep.root.parent / "outside.txt"
    outside.write_bytes(b"must never be served")
    auth = {"Authorization": requests.auth._basic_auth_str(*ALICE)}
    attempts = [
        f"/vospace/nodes/{space}/../{space}",
        f"/vospace/nodes/{space}/%2e%2e/%2e%2e/outside.txt",
        f"/vospace/files/{space}/../../outside.txt",
        f"/vospace/files/{space}/..%2f..%2foutside.txt",
        f"/vospace/files/{space}/%2e%2e%2f%2e%2e%2fvospace.sqlite",
        f"/vospace/nodes/{space}//inside",
        f"/vospace/nodes/{space}/a%00b",
        f"/vospace/nodes/{space}/line%0abreak",
        f"/vospace/nodes/{space}/" + "n" * 300,
        f"/vospace/data/token/../../{space}/inside",
    ]
    for path in attempts:
        status, body = raw_request(ep.base_url, "GET", path, headers=auth)
        assert status in (400, 404), (path, status, body)
        assert b"never be served" not in body
        assert body.split()[0] in (b"InvalidURI", b"NodeNotFound"), (path, body)
    created = raw_request(ep.base_url, "PUT", f"/vospace/nodes/{space}/a%2fb", headers=auth)
    assert created[0] in (400, 404)


def test_hostile_xml_is_refused_and_creates_nothing(ep: Endpoint) -> None:
    space = ep.space().name
    entity = (
        f'<?xml version="1.0"?><!DOCTYPE node [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<vos:node xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'uri="{ep.uri(space + "/evil")}" xsi:type="vos:ContainerNode"><vos:properties>'
        f'<vos:property uri="{CORE}title">&x;</vos:property></vos:properties></vos:node>'
    ).encode()
    refused = requests.put(ep.nodes(f"{space}/evil"), data=entity, auth=ALICE, timeout=10)
    assert (refused.status_code, refused.text.split()[0]) == (400, "InvalidArgument")
    assert "root:" not in refused.text
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<vos:transfer xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0">&b;</vos:transfer>'
    )
    refused = requests.post(f"{ep.service}/synctrans", data=laughs, auth=ALICE, timeout=10)
    assert (refused.status_code, refused.text.split()[0]) == (400, "InvalidArgument")
    huge = node_xml(ep.uri(f"{space}/big"), "DataNode", {CORE + "title": "x" * (2 << 20)})
    too_big = requests.put(ep.nodes(f"{space}/big"), data=huge, auth=ALICE, timeout=10)
    assert (too_big.status_code, too_big.text.split()[0]) == (413, "RequestEntityTooLarge")
    assert requests.get(ep.nodes(f"{space}/evil"), auth=ALICE, timeout=10).status_code == 404
    assert ep.store.space(space).node_count == 1


# -- transfers and documents ----------------------------------------------------------


def test_parameter_transfer_redirects_to_the_bytes(ep: Endpoint) -> None:
    space = ep.space().name
    assert upload(ep, f"{space}/p", b"by parameters").ok
    answer = requests.get(
        f"{ep.service}/synctrans",
        params={
            "TARGET": ep.uri(f"{space}/p"),
            "DIRECTION": "pullFromVoSpace",
            "PROTOCOL": CORE + "httpget",
            "REQUEST": "redirect",
        },
        auth=ALICE,
        timeout=10,
    )
    assert answer.status_code == 200  # followed the 303 to the data URL
    assert answer.history[0].status_code == 303
    assert answer.content == b"by parameters"


def test_every_document_is_valid_against_the_genuine_schemas(ep: Endpoint, schemas) -> None:
    node_schema_, validator = schemas
    space = ep.space(expires=ep.clock.now() + timedelta(days=1)).name
    assert create(ep, f"{space}/dir", "ContainerNode").ok
    assert upload(ep, f"{space}/dir/file", b"content").ok
    assert create(ep, f"{space}/ln", "LinkNode", target=ep.uri(f"{space}/dir/file")).ok
    documents = [requests.get(ep.nodes(), auth=ALICE, timeout=10).content]
    for path in (space, f"{space}/dir", f"{space}/dir/file", f"{space}/ln"):
        for detail in ("min", "max", "properties"):
            answer = requests.get(ep.nodes(path), params={"detail": detail}, auth=ALICE, timeout=10)
            documents.append(answer.content)
    for document in documents:
        root = etree.fromstring(document)
        assert node_schema_.validate(root), (node_schema_.error_log.last_error, document)
    # The check can fail: a container without its list of children is not valid.
    broken = etree.fromstring(documents[1])
    broken.remove(broken.find(vos("nodes")))
    assert not node_schema_.validate(broken)
    # Transfers (completed and failed), their jobs and results: VOSpace and UWS 1.1.
    good_job, good = negotiate(
        ep,
        f"{space}/dir/file",
        "pullFromVoSpace",
        "httpget",
        security_method="ivo://ivoa.net/sso#BasicAA",
    )
    bad_job, bad = negotiate(ep, f"{space}/dir", "pullFromVoSpace", "httpget")
    assert etree.fromstring(good).find(f"{vos('protocol')}/{vos('securityMethod')}") is not None
    for document in (
        good,
        bad,
        requests.get(good_job, auth=ALICE, timeout=10).content,
        requests.get(bad_job, auth=ALICE, timeout=10).content,
        requests.get(f"{good_job}/results", auth=ALICE, timeout=10).content,
    ):
        root = etree.fromstring(document)
        assert validator.errors(root) == [], document
    job = etree.fromstring(requests.get(bad_job, auth=ALICE, timeout=10).content)
    assert job.findtext(f"{{{UWS}}}phase") == "ERROR"
    assert job.findtext(f"{{{UWS}}}errorSummary/{{{UWS}}}message").startswith("InvalidArgument")


def test_async_transfer_endpoint(ep: Endpoint) -> None:
    space = ep.space().name
    answer = requests.post(
        f"{ep.service}/transfers",
        data=transfer_xml(ep.uri(f"{space}/new"), "pushToVoSpace", "httpput"),
        auth=ALICE,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303
    job = answer.headers["Location"]
    run = requests.post(f"{job}/phase", data={"PHASE": "RUN"}, auth=ALICE, allow_redirects=False)
    assert (run.status_code, run.headers["Location"]) == (303, job)
    assert requests.get(f"{job}/phase", auth=ALICE, timeout=10).text == "COMPLETED"
    assert requests.get(f"{job}/phase", auth=BOB, timeout=10).status_code == 404
    details = requests.get(f"{job}/results/transferDetails", auth=ALICE, timeout=10).content
    assert requests.put(endpoint_url(details), data=b"async", timeout=10).status_code == 201


# -- the store, as the UWS contract uses it -------------------------------------------


def test_space_management_api(ep: Endpoint, tmp_path: Path) -> None:
    store = ep.store
    first = store.create_space(name="job-1", owner="alice", quota_bytes=10, expires=None)
    again = store.create_space(name="job-1", owner="alice", quota_bytes=99, expires=None)
    assert again == first and first.identifier == "vos://example.org!vospace/job-1"
    assert first.node_path == "/job-1"
    with pytest.raises(SpaceConflictError):
        store.create_space(name="job-1", owner="bob", quota_bytes=10, expires=None)
    with pytest.raises(ValueError, match="anonymous"):
        store.create_space(name="job-2", owner="anonymous", quota_bytes=10, expires=None)
    assert upload(ep, "job-1/f", b"12345678").ok
    with pytest.raises(QuotaBelowUsageError):
        store.set_quota("job-1", 7)
    assert store.set_quota("job-1", 8).available_bytes == 0
    with pytest.raises(SpaceNotFoundError):
        store.set_expiry("no-such-space", None)
    # Another process (the worker at startJob) creates a space in the same store.
    code = (
        "import sys; from pathlib import Path; from wsrf_uws.core.clock import SystemClock;"
        "from wsrf_uws.jdl.vospace.store import SpaceStore;"
        "s = SpaceStore(Path(sys.argv[1]), authority='example.org', clock=SystemClock());"
        "print(s.create_space(name='from-worker', owner='bob', quota_bytes=5, expires=None)"
        ".identifier)"
    )
    worker = subprocess.run(
        [sys.executable, "-c", code, str(ep.root)], capture_output=True, text=True, timeout=60
    )
    assert worker.stdout.strip() == "vos://example.org!vospace/from-worker", worker.stderr
    assert (
        child_names(requests.get(ep.nodes(), auth=BOB, timeout=10).content).count("from-worker")
        == 1
    )
    # A second store on the same root sees the same spaces (as the service process does).
    other = SpaceStore(ep.root, authority="example.org", clock=ep.clock)
    assert other.space("from-worker").owner == "bob"
    other.close()


def test_sweep_reclaims_abandoned_uploads_and_expired_transfers(ep: Endpoint) -> None:
    space = ep.space(quota=1000)
    job, _ = negotiate(ep, f"{space.name}/left", "pushToVoSpace", "httpput")
    node = ep.store.get_node((space.name, "left"))[1]
    abandoned = ep.store.begin_upload(node.path, expected_length=None)
    abandoned.write(b"q" * 100)  # and then the process "dies": no commit, no abort
    assert ep.store.space(space.name).reserved_bytes == 100
    assert len(ep.partial_files()) == 1
    assert ep.store.sweep().uploads_aborted == 0  # not stale yet
    ep.clock.advance(timedelta(hours=2))
    report = ep.store.sweep()
    assert report.uploads_aborted == 1 and report.transfers_removed >= 1
    assert ep.store.space(space.name).reserved_bytes == 0
    assert ep.partial_files() == []
    assert requests.get(f"{job}/phase", auth=ALICE, timeout=10).status_code == 404
    with pytest.raises(NodeNotFound):
        abandoned.commit()  # its reservation is gone: it can no longer land


@pytest.fixture
def ep(endpoint: Endpoint) -> Endpoint:
    """The module's endpoint, with a check that no test leaves an upload behind."""
    yield endpoint
    assert endpoint.partial_files() == []
