"""The VOSpace 2.1 REST endpoint (``jdl/vospace/rest.py``) over real HTTP on loopback: every
route with each method it defines and the faults it answers (status, fault name, Allow
and WWW-Authenticate), nodes, properties, paging, transfers and bytes (ranges, announced
MD5s, busy, short and cut-off uploads), quota, ownership, expiry, hostile input, and
every document held against the genuine VOSpace 2.1, UWS 1.1 and VOSI schemas (skipped
without ../shared). Negotiation itself is in ``test_vospace_transfers.py``."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from lxml import etree
from pyvo.io.vosi import parse_capabilities

from wsrf_uws.jdl.vospace.properties import ISPUBLIC
from wsrf_uws.jdl.vospace.rest import VOSpaceApplication

from vospace_support import (
    ALICE,
    BOB,
    CORE,
    UWS,
    Endpoint,
    call,
    child_names,
    create,
    endpoint_url,
    fault,
    genuine_validator,
    negotiate,
    node_schema,
    node_xml,
    properties_of,
    raw_request,
    running_endpoint,
    transfer_xml,
    upload,
    vos,
)

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


def test_a_declared_length_over_quota_is_refused_before_reading(ep: Endpoint) -> None:
    space = ep.space(quota=100)
    url = endpoint_url(negotiate(ep, f"{space.name}/big", "pushToVoSpace", "httpput")[1])
    answer = call(ep, "PUT", url, b"z" * 101, auth=None)
    # The code only: the reason phrase is "Content Too Large" from Python 3.13 on.
    assert answer.fault == (413, "QuotaExceeded")
    assert answer.taken == 0
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


# -- routes: every resource, method and shared fault -----------------------------------


@pytest.fixture
def site(ep: Endpoint) -> dict[str, str]:
    """What the route tests fill in: a space ``S`` of alice's holding a data node ``f``
    (ten bytes) and a folder ``dir``, a transfer job ``JOB`` pulling ``f`` and its data
    URL ``DATA`` (under the service)."""
    space = ep.space().name
    assert upload(ep, f"{space}/f", b"0123456789").status_code == 201
    assert create(ep, f"{space}/dir", "ContainerNode").status_code == 201
    job, details = negotiate(ep, f"{space}/f", "pullFromVoSpace", "httpget")
    data = endpoint_url(details).removeprefix(ep.service + "/")
    return {"S": space, "JOB": job.rsplit("/", 1)[-1], "DATA": data}


def at(ep: Endpoint, site: dict[str, str], route: str) -> str:
    return f"{ep.service}/{route.format(**site)}"


ALL_NODE_METHODS = "GET, HEAD, PUT, POST, DELETE"
ROUTE_FAULTS = [
    # An HTTP method a resource does not define: 405, with the methods it does.
    ("PATCH", "nodes/{S}/f", 405, "OperationNotSupported", ALL_NODE_METHODS),
    ("POST", "capabilities", 405, "OperationNotSupported", "GET, HEAD"),
    ("PUT", "availability", 405, "OperationNotSupported", "GET, HEAD"),
    ("GET", "synctrans", 405, "OperationNotSupported", "POST"),
    ("PUT", "synctrans", 405, "OperationNotSupported", "POST"),
    ("GET", "transfers", 405, "OperationNotSupported", "POST"),
    ("POST", "transfers/{JOB}", 405, "OperationNotSupported", "GET, HEAD"),
    ("DELETE", "transfers/{JOB}/phase", 405, "OperationNotSupported", "GET, HEAD"),
    ("POST", "{DATA}", 405, "OperationNotSupported", "PUT, GET, HEAD"),
    ("DELETE", "{DATA}", 405, "OperationNotSupported", "PUT, GET, HEAD"),
    ("PUT", "files/{S}/f", 405, "OperationNotSupported", "GET, HEAD"),
    ("DELETE", "auth/files/{S}/f", 405, "OperationNotSupported", "GET, HEAD"),
    # Nothing is served there.
    ("GET", "", 404, "NodeNotFound", None),
    ("GET", "elsewhere/{S}", 404, "NodeNotFound", None),
    ("GET", "capabilities/more", 404, "NodeNotFound", None),
    ("GET", "availability/more", 404, "NodeNotFound", None),
    ("POST", "synctrans/more", 404, "NodeNotFound", None),
    ("GET", "transfers/{JOB}/nothing", 404, "NodeNotFound", None),
    ("GET", "transfers/{JOB}/results/other", 404, "NodeNotFound", None),
    ("GET", "transfers/{JOB}/error", 404, "NodeNotFound", None),  # it has none
    ("GET", "transfers/no-such-job", 404, "NodeNotFound", None),
    ("POST", "transfers/no-such-job/phase", 404, "NodeNotFound", None),
    ("GET", "{DATA}x", 404, "NodeNotFound", None),
    ("GET", "data/no-such-token/{S}/f", 404, "NodeNotFound", None),
    ("DELETE", "nodes/{S}/none", 404, "NodeNotFound", None),
    ("POST", "nodes/{S}/none/x", 404, "ContainerNotFound", None),
    # The root and the spaces belong to the service and the UWS contract.
    ("PUT", "nodes/", 403, "PermissionDenied", None),
    ("POST", "nodes/", 403, "PermissionDenied", None),
    ("DELETE", "nodes/", 403, "PermissionDenied", None),
    ("DELETE", "nodes/{S}", 403, "PermissionDenied", None),
    # Parameters and paths that are not acceptable.
    ("GET", "nodes/{S}?detail=everything", 400, "InvalidArgument", None),
    ("GET", "nodes/{S}?limit=ten", 400, "InvalidArgument", None),
    ("GET", "nodes/{S}?limit=-1", 400, "InvalidArgument", None),
    ("GET", "nodes/{S}?uri=vos://example.org!elsewhere/{S}/f", 400, "InvalidURI", None),
    ("GET", "nodes/?uri=vos://example.org!vospace/{S}/f", 400, "InvalidURI", None),
    ("GET", "nodes/{S}?detail=%FF", 400, "InvalidArgument", None),
    ("GET", "nodes/{S}/%FF", 400, "InvalidURI", None),
    ("GET", "nodes/{S}/.auto", 400, "InvalidURI", None),
    ("GET", "files/", 400, "InvalidArgument", None),
    ("GET", "files/{S}/dir", 400, "InvalidArgument", None),
]


@pytest.mark.parametrize(
    ("method", "route", "status", "name", "allow"),
    ROUTE_FAULTS,
    ids=[f"{method} {route}" for method, route, *_ in ROUTE_FAULTS],
)
def test_every_route_answers_its_faults(
    ep: Endpoint,
    site: dict[str, str],
    method: str,
    route: str,
    status: int,
    name: str,
    allow: str | None,
) -> None:
    answer = requests.request(
        method, at(ep, site, route), auth=ALICE, allow_redirects=False, timeout=10
    )
    assert fault(answer) == (status, name), answer.text
    assert answer.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert answer.headers.get("Allow") == allow


def test_the_mount_point_itself_serves_nothing(ep: Endpoint) -> None:
    assert fault(requests.get(ep.service, timeout=10)) == (404, "NodeNotFound")


def test_auth_paths_are_the_same_resources(ep: Endpoint, site: dict[str, str]) -> None:
    for route in ("nodes/{S}/f", "files/{S}/f", "transfers/{JOB}/phase", "capabilities"):
        plain = requests.get(at(ep, site, route), auth=ALICE, timeout=10)
        auth = requests.get(at(ep, site, "auth/" + route), auth=ALICE, timeout=10)
        assert plain.status_code == 200, route
        assert (auth.status_code, auth.content) == (200, plain.content), route


def test_head_answers_the_headers_of_a_get_without_the_body(
    ep: Endpoint, site: dict[str, str]
) -> None:
    routes = ["capabilities", "availability", "nodes/{S}", "nodes/{S}/f", "files/{S}/f"]
    routes += ["transfers/{JOB}", "transfers/{JOB}/phase", "{DATA}"]
    for route in routes:
        url = at(ep, site, route)
        got = requests.get(url, auth=ALICE, timeout=10)
        head = requests.head(url, auth=ALICE, timeout=10)
        assert (head.status_code, got.status_code) == (200, 200), route
        assert head.content == b"" and got.content != b"", route
        for header in ("Content-Type", "Content-Length"):
            assert head.headers[header] == got.headers[header], (route, header)


WRONG = ("alice", "not her password")


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", "nodes/"),
        ("GET", "nodes/{S}/f"),
        ("PUT", "nodes/{S}/new"),
        ("POST", "nodes/{S}/f"),
        ("DELETE", "nodes/{S}/f"),
        ("GET", "files/{S}/f"),
        ("POST", "synctrans"),
        ("GET", "synctrans?TARGET=x&DIRECTION=pullFromVoSpace&PROTOCOL=y"),
        ("POST", "transfers"),
        ("GET", "transfers/{JOB}"),
    ],
)
def test_wrong_credentials_get_401_with_a_challenge(
    ep: Endpoint, site: dict[str, str], method: str, route: str
) -> None:
    answer = requests.request(method, at(ep, site, route), auth=WRONG, timeout=10)
    assert fault(answer) == (401, "NotAuthenticated")
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="wsrf-uws"'
    assert requests.get(at(ep, site, "files/{S}/f"), auth=ALICE, timeout=10).ok


def test_data_urls_and_vosi_need_no_credentials(ep: Endpoint, site: dict[str, str]) -> None:
    # Whatever the client sends along, even wrong: the token, or nothing, is what counts.
    for auth in (None, WRONG):
        for route in ("{DATA}", "capabilities", "availability"):
            assert requests.get(at(ep, site, route), auth=auth, timeout=10).status_code == 200


class _BrokenInput:
    """A request body whose connection fails while it is read."""

    def read(self, size: int = -1) -> bytes:
        raise ConnectionResetError("the client went away")


def test_an_unexpected_failure_is_an_internal_fault_that_leaves_nothing(
    ep: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    space = ep.space()
    url = endpoint_url(negotiate(ep, f"{space.name}/f", "pushToVoSpace", "httpput")[1])
    with caplog.at_level("ERROR", logger="wsrf_uws.jdl.vospace.rest"):
        broken = {"CONTENT_LENGTH": "10", "wsgi.input": _BrokenInput()}
        answer = call(ep, "PUT", url, auth=None, environ=broken)
    assert answer.fault == (500, "InternalFault")
    assert b"the client went away" not in answer.body  # no detail of the failure leaks
    assert "VOSpace request PUT" in caplog.text and "ConnectionResetError" in caplog.text
    stored = ep.store.space(space.name)
    assert (stored.used_bytes, stored.reserved_bytes) == (0, 0)
    assert not ep.store.get_node((space.name, "f"))[1].busy


def test_availability_says_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    with running_endpoint(tmp_path) as broken:
        url = f"{broken.service}/availability"
        namespace = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
        healthy = etree.fromstring(requests.get(url, timeout=10).content)
        assert healthy.findtext(f"{namespace}available") == "true"
        conn = sqlite3.connect(broken.root / "vospace.sqlite")
        conn.execute("DROP TABLE spaces")
        conn.commit()
        conn.close()
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 200
        root = etree.fromstring(answer.content)
        assert root.findtext(f"{namespace}available") == "false"
        assert root.findtext(f"{namespace}note") == "the node store cannot be read"
        assert root.find(f"{namespace}upSince") is None


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"service_id": "elsewhere"}, "differs from the store's"),
        ({"mount_path": "vospace"}, "must start, and not end"),
        ({"mount_path": "/vospace/"}, "must start, and not end"),
        ({"max_listing": 0}, "must be positive"),
        ({"max_document_bytes": 0}, "must be positive"),
        ({"max_transfers_per_owner": 0}, "must be >= 1"),
        ({"max_anonymous_transfers": 0}, "must be >= 1"),
    ],
)
def test_the_endpoint_refuses_options_that_cannot_work(
    ep: Endpoint, options: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        VOSpaceApplication(
            store=ep.store, base_url=ep.base_url, authenticate=ep.app.authenticate, **options
        )


# -- request decoding -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CONTENT_LENGTH": "ten"}, (400, "InvalidArgument")),
        ({"CONTENT_LENGTH": "-1"}, (400, "InvalidArgument")),
        ({"QUERY_STRING": "&".join(f"p{i}=v" for i in range(51))}, (400, "InvalidArgument")),
        ({"QUERY_STRING": "detail=%ff"}, (400, "InvalidArgument")),
        ({"PATH_INFO": "/vospace/nodes/\xff"}, (400, "InvalidURI")),
        ({"CONTENT_LENGTH": ""}, (200, "<?xml")),
        ({"QUERY_STRING": "detail=min&detail=max"}, (200, "<?xml")),
    ],
)
def test_what_a_request_says_is_decoded_strictly(
    ep: Endpoint, environ: dict[str, str], expected: tuple[int, str]
) -> None:
    space = ep.space().name
    answer = call(ep, "GET", ep.nodes(space), environ=environ)
    assert answer.fault == expected, answer.body


# -- creating, changing and deleting nodes ----------------------------------------------


def node_document(uri: str, inside: str = "", *, attributes: str = "") -> bytes:
    return (
        f'<vos:node xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" {attributes} uri="{uri}">'
        f"{inside}</vos:node>"
    ).encode()


def prop(uri: str, value: str = "v") -> str:
    return f'<vos:property uri="{uri}">{value}</vos:property>'


CONTAINER = 'xsi:type="vos:ContainerNode"'
LINK = 'xsi:type="vos:LinkNode"'
BAD_NODE_DOCUMENTS = [
    ("not XML", b"<vos:node", (400, "InvalidArgument")),
    ("not a node", b'<vos:transfer xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0"/>', None),
    ("no uri", b'<node xmlns="http://www.ivoa.net/xml/VOSpace/v2.0"/>', (400, "InvalidURI")),
    (
        "a foreign type",
        node_document("{uri}", attributes='xmlns:x="urn:x" xsi:type="x:ContainerNode"'),
        (400, "TypeNotSupported"),
    ),
    (
        "a type VOSpace has but this service does not create",
        node_document("{uri}", attributes='xsi:type="vos:StructuredDataNode"'),
        (400, "TypeNotSupported"),
    ),
    (
        "a property without uri",
        node_document("{uri}", "<vos:properties><vos:property>v</vos:property></vos:properties>"),
        None,
    ),
    (
        "a property twice",
        node_document("{uri}", f"<vos:properties>{prop(CORE + 'title') * 2}</vos:properties>"),
        None,
    ),
    (
        "a relative property URI",
        node_document("{uri}", f"<vos:properties>{prop('title')}</vos:properties>"),
        None,
    ),
    (
        "a property URI too long",
        node_document("{uri}", f"<vos:properties>{prop('urn:' + 'x' * 1100)}</vos:properties>"),
        None,
    ),
    (
        "a property value too long",
        node_document(
            "{uri}", f"<vos:properties>{prop(CORE + 'title', 'v' * 8193)}</vos:properties>"
        ),
        None,
    ),
    (
        "a read-only property",
        node_document("{uri}", f"<vos:properties>{prop(CORE + 'date')}</vos:properties>"),
        (403, "PermissionDenied"),
    ),
    (
        "a container with a target",
        node_document(
            "{uri}", "<vos:target>vos://example.org!vospace/x</vos:target>", attributes=CONTAINER
        ),
        None,
    ),
    ("a link without target", node_document("{uri}", attributes=LINK), None),
    (
        "a link with two targets",
        node_document("{uri}", "<vos:target>urn:a</vos:target>" * 2, attributes=LINK),
        None,
    ),
    (
        "a link to a relative path",
        node_document("{uri}", "<vos:target>other/node</vos:target>", attributes=LINK),
        None,
    ),
    (
        "a link with a space in its target",
        node_document("{uri}", "<vos:target>http://example.org/a b</vos:target>", attributes=LINK),
        None,
    ),
    (
        "a link target too long",
        node_document("{uri}", f"<vos:target>urn:{'x' * 4100}</vos:target>", attributes=LINK),
        None,
    ),
]


@pytest.mark.parametrize(
    ("document", "expected"),
    [(document, expected) for _, document, expected in BAD_NODE_DOCUMENTS],
    ids=[what for what, *_ in BAD_NODE_DOCUMENTS],
)
def test_a_node_document_that_cannot_be_accepted_creates_nothing(
    ep: Endpoint, document: bytes, expected: tuple[int, str] | None
) -> None:
    space = ep.space().name
    path = f"{space}/new"
    body = document.replace(b"{uri}", ep.uri(path).encode())
    answer = requests.put(ep.nodes(path), data=body, auth=ALICE, timeout=10)
    assert fault(answer) == (expected or (400, "InvalidArgument")), answer.text
    assert requests.get(ep.nodes(path), auth=ALICE, timeout=10).status_code == 404
    assert ep.store.space(space).node_count == 1


def test_a_node_document_is_read_leniently_where_clients_differ(ep: Endpoint) -> None:
    space = ep.space().name
    # No xsi:type: an unstructured data node; comments and processing instructions, and
    # children outside the VOSpace namespace, are ignored.
    untyped = node_document(
        ep.uri(f"{space}/plain"),
        f"<!-- a comment --><?pi x?><other xmlns='urn:other'/><vos:properties><!-- c -->"
        f"{prop(CORE + 'title', 't')}</vos:properties>",
    )
    answer = requests.put(ep.nodes(f"{space}/plain"), data=untyped, auth=ALICE, timeout=10)
    assert answer.status_code == 201, answer.text
    root = etree.fromstring(answer.content)
    assert root.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "vos:UnstructuredDataNode"
    assert properties_of(answer.content)[CORE + "title"] == ("t", False)
    # A link may point at any absolute URI, a URN included.
    assert create(ep, f"{space}/urn", "LinkNode", target="urn:example:thing").status_code == 201


def test_set_node_changes_properties_only(ep: Endpoint) -> None:
    space = ep.space().name
    target = ep.uri(f"{space}/dir")
    assert create(ep, f"{space}/dir", "ContainerNode").ok
    assert create(ep, f"{space}/dir/child", "DataNode").ok
    assert create(ep, f"{space}/data", "DataNode").ok
    assert create(ep, f"{space}/ln", "LinkNode", target=target).ok

    def post(path: str, xsi_type: str, properties: dict[str, str | None], **kw: str):
        document = node_xml(ep.uri(path), xsi_type, properties, **kw)
        return requests.post(ep.nodes(path), data=document, auth=ALICE, timeout=10)

    retyped = post(f"{space}/data", "ContainerNode", {})
    assert fault(retyped) == (400, "InvalidArgument") and "cannot change the type" in retyped.text
    # Both data types are the same kind of node here.
    assert post(f"{space}/data", "UnstructuredDataNode", {CORE + "title": "t"}).ok
    moved = post(f"{space}/ln", "LinkNode", {}, target=ep.uri(f"{space}/data"))
    assert fault(moved) == (400, "InvalidArgument") and "target" in moved.text
    assert post(f"{space}/ln", "LinkNode", {CORE + "title": "t"}, target=target).ok
    # A container answers with its children; a stale date sent back is ignored.
    stale = post(f"{space}/dir", "ContainerNode", {CORE + "date": "2000-01-01T00:00:00Z"})
    assert stale.status_code == 200
    assert child_names(stale.content) == ["child"]
    assert properties_of(stale.content)[CORE + "date"][0] != "2000-01-01T00:00:00Z"
    many = {f"urn:p:{i}": "v" for i in range(101)}
    assert fault(post(f"{space}/data", "DataNode", many)) == (400, "InvalidArgument")
    assert fault(post(f"{space}/none", "DataNode", {})) == (404, "NodeNotFound")
    assert fault(post("", "ContainerNode", {})) == (403, "PermissionDenied")


def test_only_the_owner_creates_below_a_public_container(ep: Endpoint) -> None:
    space = ep.space("bob").name
    assert create(ep, f"{space}/pub", "ContainerNode", BOB, properties={ISPUBLIC: "true"}).ok
    refused = create(ep, f"{space}/pub/mine", "ContainerNode", ALICE)
    assert fault(refused) == (403, "PermissionDenied")
    assert "only the owner of" in refused.text
    # Below a container she cannot see, she is told nothing exists.
    assert create(ep, f"{space}/private", "ContainerNode", BOB).ok
    hidden = create(ep, f"{space}/private/mine", "ContainerNode", ALICE)
    assert fault(hidden) == (404, "ContainerNotFound")
    assert requests.get(ep.nodes(f"{space}/pub"), auth=BOB, timeout=10).ok


def test_the_root_lists_spaces_by_page_and_by_detail(ep: Endpoint) -> None:
    names = sorted(ep.space().name for _ in range(3))
    everything = child_names(requests.get(ep.nodes(), auth=ALICE, timeout=10).content)
    assert set(names) <= set(everything)
    page = requests.get(
        ep.nodes(), params={"uri": ep.uri(names[1]), "limit": 2}, auth=ALICE, timeout=10
    )
    assert child_names(page.content) == [n for n in everything if n >= names[1]][:2]
    for detail, own_views, child_properties in (
        ("min", False, False),
        ("properties", False, True),
        ("max", True, True),
    ):
        root = etree.fromstring(
            requests.get(ep.nodes(), params={"detail": detail}, auth=ALICE, timeout=10).content
        )
        assert (root.find(vos("accepts")) is not None) == own_views, detail
        child = root.find(f"{vos('nodes')}/{vos('node')}")
        assert (child.find(vos("properties")) is not None) == child_properties, detail
        assert child.find(vos("accepts")) is None  # listed children never carry views


# -- bytes out: downloads and ranges ----------------------------------------------------


TEN = b"0123456789"


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=0-0", 206, TEN[:1], "bytes 0-0/10"),
        ("bytes=7-", 206, TEN[7:], "bytes 7-9/10"),
        ("bytes=-3", 206, TEN[7:], "bytes 7-9/10"),
        ("bytes=-30", 206, TEN, "bytes 0-9/10"),
        ("bytes=5-100", 206, TEN[5:], "bytes 5-9/10"),
        ("bytes=5-2", 200, TEN, None),
        ("bytes=0-1,3-4", 200, TEN, None),
        ("items=0-1", 200, TEN, None),
        ("bytes=-", 200, TEN, None),
        ("bytes=10-", 416, None, None),
        ("bytes=-0", 416, None, None),
    ],
)
def test_downloads_honour_one_byte_range(
    ep: Endpoint,
    site: dict[str, str],
    header: str,
    status: int,
    body: bytes | None,
    content_range: str | None,
) -> None:
    for route in ("files/{S}/f", "{DATA}"):
        answer = requests.get(
            at(ep, site, route), headers={"Range": header}, auth=ALICE, timeout=10
        )
        assert answer.status_code == status, (route, answer.text)
        assert answer.headers.get("Content-Range") == content_range
        if body is None:
            assert fault(answer) == (416, "InvalidArgument")
        else:
            assert answer.content == body
            assert answer.headers["Content-Length"] == str(len(body))


def test_a_download_says_what_it_is(ep: Endpoint) -> None:
    space = ep.space().name
    name = 'résumé "final".txt'
    path = f"{space}/{name}"
    assert upload(ep, path, b"text").status_code == 201
    answer = requests.get(f"{ep.service}/files/{space}/{quote(name)}", auth=ALICE, timeout=10)
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["Content-Disposition"] == (
        'inline; filename="r_sum_ _final_.txt"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt"
    )
    md5 = hashlib.md5(b"text").hexdigest()
    assert answer.headers["ETag"] == f'"{md5}"'
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["Last-Modified"].endswith(" GMT")
    for properties, expected in (
        ({CORE + "mimetype": "text/plain"}, "text/plain"),
        ({CORE + "mimetype": None, CORE + "type": "image/fits"}, "image/fits"),
        ({CORE + "type": "no slash"}, "application/octet-stream"),
    ):
        document = node_xml(ep.uri(f"{space}/{quote(name)}"), "DataNode", properties)
        assert requests.post(ep.nodes(f"{space}/{quote(name)}"), data=document, auth=ALICE).ok
        typed = requests.get(f"{ep.service}/files/{space}/{quote(name)}", auth=ALICE, timeout=10)
        assert typed.headers["Content-Type"] == expected


def test_a_data_node_without_bytes_downloads_as_empty(ep: Endpoint) -> None:
    space = ep.space().name
    assert create(ep, f"{space}/empty", "DataNode").ok
    for headers in ({}, {"Range": "bytes=0-"}):
        answer = requests.get(
            f"{ep.service}/files/{space}/empty", headers=headers, auth=ALICE, timeout=10
        )
        assert (answer.status_code, answer.content) == (200, b"")
        assert answer.headers["Content-Length"] == "0"
        assert "ETag" not in answer.headers


# -- bytes in: uploads -------------------------------------------------------------------


def push_url(ep: Endpoint, path: str) -> str:
    return endpoint_url(negotiate(ep, path, "pushToVoSpace", "httpput")[1])


def md5_header(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Content-MD5": md5_header(b"payload")}, 201),
        ({"Digest": "SHA-256=abc, md5=" + md5_header(b"payload")}, 201),
        ({"Digest": "SHA-256=abc"}, 201),
        ({"Content-MD5": md5_header(b"other")}, (412, "InvalidData")),
        ({"Digest": "md5=" + md5_header(b"other")}, (412, "InvalidData")),
        ({"Digest": "md5=!!notbase64!!"}, (400, "InvalidArgument")),
        ({"Content-MD5": "AAAA"}, (400, "InvalidArgument")),
    ],
)
def test_an_upload_is_checked_against_the_md5_it_announces(
    ep: Endpoint, headers: dict[str, str], expected: int | tuple[int, str]
) -> None:
    space = ep.space().name
    answer = requests.put(push_url(ep, f"{space}/f"), data=b"payload", headers=headers, timeout=10)
    if expected == 201:
        assert answer.status_code == 201
        assert answer.headers["Digest"] == "md5=" + md5_header(b"payload")
    else:
        assert fault(answer) == expected
        assert ep.store.get_node((space, "f"))[1].md5 is None
        assert ep.store.space(space).used_bytes == 0


def test_an_upload_into_a_node_being_written_is_refused(ep: Endpoint) -> None:
    space = ep.space().name
    url = push_url(ep, f"{space}/f")
    with ep.store.begin_upload((space, "f"), expected_length=3) as other:
        busy = requests.put(url, data=b"mine", timeout=10)
        assert fault(busy) == (409, "NodeBusy")
        other.write(b"its")
        other.commit()
    assert requests.get(f"{ep.service}/files/{space}/f", auth=ALICE, timeout=10).content == b"its"
    assert requests.put(url, data=b"mine", timeout=10).status_code == 200


def test_a_body_shorter_than_announced_is_refused_and_leaves_nothing(ep: Endpoint) -> None:
    space = ep.space().name
    url = push_url(ep, f"{space}/f")
    answer = call(ep, "PUT", url, b"x" * 50, auth=None, environ={"CONTENT_LENGTH": "100"})
    assert answer.fault == (400, "InvalidData")
    assert b"50 bytes short" in answer.body
    assert ep.store.space(space).reserved_bytes == 0
    assert ep.store.get_node((space, "f"))[1].md5 is None


def test_an_upload_cut_off_by_the_client_leaves_nothing(ep: Endpoint) -> None:
    space = ep.space().name
    assert upload(ep, f"{space}/f", b"before").ok
    url = urlsplit(push_url(ep, f"{space}/f"))
    with socket.create_connection((url.hostname, url.port), timeout=10) as client:
        client.sendall(
            f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n".encode()
            + b"Content-Length: 100000\r\n\r\n"
            + b"x" * 5000
        )
    # The server answers others meanwhile and after; the node keeps its bytes.
    files = f"{ep.service}/files/{space}/f"
    assert requests.get(files, auth=ALICE, timeout=10).content == b"before"
    assert ep.store.space(space).reserved_bytes == 0
    assert not ep.store.get_node((space, "f"))[1].busy
    assert requests.put(url.geturl(), data=b"after", timeout=10).status_code == 200


@pytest.fixture
def ep(endpoint: Endpoint) -> Endpoint:
    """The module's endpoint, with a check that no test leaves an upload behind."""
    yield endpoint
    assert endpoint.partial_files() == []
