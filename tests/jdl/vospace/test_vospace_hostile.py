"""Hostile load on the VOSpace endpoint (issue 14): transfer negotiations are bounded per
owner and short-lived until used, a GET negotiates without recording anything, and
request bodies are bounded per route, refused from their Content-Length before they are
read. Over real HTTP on loopback (an in-process waitress, as test_vospace_rest, and a
real ``wsrf-uws serve`` for the settings), with a real SQLite store.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from lxml import etree

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import Service
from wsrf_uws.jdl.vospace.schema import STATEMENTS
from wsrf_uws.jdl.vospace.store import SpaceStore
from wsrf_uws.jdl.vospace.wsgi import CHUNK_BYTES
from wsrf_uws.testing import ManualClock
from wsrf_uws.testing.server import RunningServer

from vospace_support import (
    ALICE,
    BOB,
    CORE,
    PASSWORDS,
    Endpoint,
    call,
    node_xml,
    running_endpoint,
    transfer_xml,
    vos,
)

HTTPGET = CORE + "httpget"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """An endpoint with small bounds: 3 transfers for anonymous callers together, 5 per
    user, unused ones kept 10 minutes, used ones an hour; 4 KiB documents; spaces, and so
    uploads, of at most 50 KB."""
    with running_endpoint(
        tmp_path_factory.mktemp("hostile"),
        max_anonymous_transfers=3,
        max_transfers_per_owner=5,
        unused_transfer_lifetime=timedelta(minutes=10),
        transfer_lifetime=timedelta(hours=1),
        max_document_bytes=4096,
        max_space_bytes=50_000,
    ) as running:
        yield running


def records(ep: Endpoint) -> int:
    """Transfer records in the store, expired or not."""
    return int(ep.store._connection().execute("SELECT COUNT(*) FROM transfers").fetchone()[0])


def post_transfer(
    ep: Endpoint, path: str, direction: str = "pullFromVoSpace", auth: Any = None
) -> requests.Response:
    protocol = "httpget" if direction == "pullFromVoSpace" else "httpput"
    return requests.post(
        f"{ep.service}/synctrans",
        data=transfer_xml(ep.uri(path), direction, protocol),
        auth=auth,
        allow_redirects=False,
        timeout=10,
    )


def data_url(ep: Endpoint, answer: requests.Response, auth: Any) -> str:
    """The data URL of the transfer a 303 from synctrans leads to."""
    assert answer.status_code == 303, answer.text
    details = requests.get(answer.headers["Location"], auth=auth, timeout=10)
    return str(next(etree.fromstring(details.content).iter(vos("endpoint"))).text)


def public_file(ep: Endpoint, data: bytes = b"public bytes") -> str:
    """A public data node of alice's, with ``data``; its path."""
    space = ep.space("alice", quota=100_000).name
    path = f"{space}/open"
    answer = post_transfer(ep, path, "pushToVoSpace", auth=ALICE)
    assert requests.put(data_url(ep, answer, ALICE), data=data, timeout=10).status_code == 201
    public = node_xml(ep.uri(path), "DataNode", {CORE + "ispublic": "true"})
    assert requests.post(ep.nodes(path), data=public, auth=ALICE, timeout=10).ok
    return path


def clear_transfers(ep: Endpoint) -> None:
    """Let every transfer record expire (tests share the endpoint)."""
    ep.clock.advance(timedelta(hours=2))


# -- transfer negotiations ------------------------------------------------------------


def test_a_get_by_parameters_records_nothing_and_still_gives_the_bytes(small: Endpoint) -> None:
    path = public_file(small)
    before = records(small)
    parameters = {"TARGET": small.uri(path), "DIRECTION": "pullFromVoSpace", "PROTOCOL": HTTPGET}
    for _ in range(20):
        answer = requests.get(f"{small.service}/synctrans", params=parameters, timeout=10)
        assert answer.status_code == 200, answer.text
    # POST with the parameters in the query is the same request in VOSpace 2.1: no job.
    posted = requests.post(f"{small.service}/synctrans", params=parameters, timeout=10)
    assert posted.status_code == 200
    assert records(small) == before
    # The transfer document it answers names a data URL that works, without credentials,
    # and the redirect form leads straight to the bytes.
    url = next(etree.fromstring(answer.content).iter(vos("endpoint"))).text
    assert requests.get(url, timeout=10).content == b"public bytes"
    redirect = requests.get(
        f"{small.service}/synctrans", params={**parameters, "REQUEST": "redirect"}, timeout=10
    )
    assert (redirect.history[0].status_code, redirect.content) == (303, b"public bytes")
    # A fault is answered as such (there is no job to hold it), and records nothing.
    missing = requests.get(
        f"{small.service}/synctrans",
        params={**parameters, "TARGET": small.uri(path + "-missing")},
        timeout=10,
    )
    assert (missing.status_code, missing.text.split()[0]) == (404, "ContainerNotFound")
    assert records(small) == before
    # A signed data URL is good for its node only, in its direction only, not forged.
    token = urlsplit(url).path.split("/")[3]
    assert requests.put(url, data=b"x", timeout=10).status_code == 404
    other = url.replace(path, path.replace("open", "other"))
    assert requests.get(other, timeout=10).status_code == 404
    forged = url.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert requests.get(forged, timeout=10).status_code == 404
    # It ends with the transfer lifetime (an hour), like a used recorded transfer.
    small.clock.advance(timedelta(minutes=61))
    assert requests.get(url, timeout=10).status_code == 404


def test_negotiations_are_bounded_per_owner_with_anonymous_callers_as_one(small: Endpoint) -> None:
    clear_transfers(small)
    path = public_file(small)
    space = path.split("/")[0]
    for _ in range(3):
        assert post_transfer(small, path).status_code == 303
    held = records(small)
    refused = post_transfer(small, path)
    assert refused.status_code == 429
    assert refused.text.startswith("QuotaExceeded anonymous callers hold 3 transfer")
    assert 1 <= int(refused.headers["Retry-After"]) <= 600
    # The async endpoint counts the same records.
    async_refused = requests.post(
        f"{small.service}/transfers",
        data=transfer_xml(small.uri(path), "pullFromVoSpace", "httpget"),
        allow_redirects=False,
        timeout=10,
    )
    assert async_refused.status_code == 429
    assert records(small) == held
    # Anonymous callers' bound is theirs: users negotiate on, up to their own bound, and
    # a refused push creates no node.
    for name in "abcd":  # and the push that made the public file
        assert post_transfer(small, f"{space}/{name}", "pushToVoSpace", ALICE).status_code == 303
    over = post_transfer(small, f"{space}/f", "pushToVoSpace", ALICE)
    assert over.status_code == 429
    assert over.text.startswith("QuotaExceeded 'alice' holds 5 transfer negotiations")
    assert requests.get(small.nodes(f"{space}/f"), auth=ALICE, timeout=10).status_code == 404
    assert post_transfer(small, path, auth=BOB).status_code == 303
    # Unused negotiations last ten minutes; then there is room again, and the expired
    # records are deleted as new ones come.
    small.clock.advance(timedelta(minutes=11))
    assert post_transfer(small, path).status_code == 303
    assert post_transfer(small, f"{space}/f", "pushToVoSpace", ALICE).status_code == 303
    assert records(small) == 3  # the two new ones, and the used push of public_file


def test_an_unused_negotiation_expires_early_and_a_used_one_lasts_the_hour(
    small: Endpoint,
) -> None:
    clear_transfers(small)
    path = public_file(small, b"read me")
    unused = data_url(small, post_transfer(small, path), None)
    used = data_url(small, post_transfer(small, path), None)
    assert requests.get(used, timeout=10).content == b"read me"
    small.clock.advance(timedelta(minutes=11))
    assert requests.get(unused, timeout=10).status_code == 404
    assert requests.get(used, timeout=10).content == b"read me"  # a retry, say
    small.clock.advance(timedelta(minutes=48))
    assert requests.get(used, timeout=10).content == b"read me"
    small.clock.advance(timedelta(minutes=2))
    assert requests.get(used, timeout=10).status_code == 404


# -- request bodies -------------------------------------------------------------------


def test_bodies_over_the_route_limit_are_refused_before_they_are_read(small: Endpoint) -> None:
    clear_transfers(small)
    space = small.space("alice", quota=1_000_000).name
    big = b"<x/>" + b" " * 5000
    for method, url in [
        ("GET", small.nodes(space)),
        ("GET", f"{small.service}/availability"),
        ("DELETE", small.nodes(f"{space}/none")),
        ("POST", f"{small.service}/synctrans"),
        ("POST", f"{small.service}/transfers/unknown/phase"),
        ("PUT", small.nodes(f"{space}/node")),
        ("PUT", f"{small.service}/auth/nodes/{space}/node"),
    ]:
        answer = call(small, method, url, big, declared=True)
        assert (answer.code, answer.taken) == (413, 0), (method, url, answer.body)
        assert answer.body.startswith(b"RequestEntityTooLarge the request body has 5004 bytes")
    # A chunked document is read up to the limit, not beyond.
    answer = call(small, "PUT", small.nodes(f"{space}/node"), big, declared=False)
    assert answer.fault == (413, "RequestEntityTooLarge")
    assert answer.taken <= 4096 + CHUNK_BYTES
    # Uploads take more: up to the largest space (here 50 000 bytes) by the route's
    # limit, then up to the room left in their space.
    upload = data_url(small, post_transfer(small, f"{space}/f", "pushToVoSpace", ALICE), ALICE)
    answer = call(small, "PUT", upload, b"u" * 50_001, declared=True, auth=None)
    assert (answer.code, answer.taken) == (413, 0)
    assert answer.body.startswith(b"RequestEntityTooLarge the upload has 50001 bytes")
    answer = call(small, "PUT", upload, b"u" * 40_000, declared=True, auth=None)
    assert (answer.code, answer.taken) == (201, 40_000)
    assert small.partial_files() == []


def test_an_oversized_body_on_any_route_gets_413_over_http(small: Endpoint) -> None:
    # waitress (in this fixture, as in the server) reads the body before the application
    # runs; what is checked here is the answer a real HTTP client gets.
    for method, route in [("GET", "availability"), ("GET", "nodes/"), ("DELETE", "nodes/a/b")]:
        answer = requests.request(
            method, f"{small.service}/{route}", data=b"z" * 10_000, auth=ALICE, timeout=10
        )
        assert (answer.status_code, answer.text.split()[0]) == (413, "RequestEntityTooLarge")
    assert requests.get(f"{small.service}/availability", timeout=10).status_code == 200


# -- the settings, on a real service ---------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("hostile-server")
    users = root / "users"
    for name, password in PASSWORDS.items():
        UsersFile.add(users, name, password)
    env = {
        "WSRF_UWS_AUTHORITY": "example.org",
        "WSRF_UWS_USERS_FILE": str(users),
        "WSRF_UWS_CONTRACTS": json.dumps(["vospace"]),
        "WSRF_UWS_VOSPACE__MAX_ANONYMOUS_TRANSFERS": "2",
        "WSRF_UWS_VOSPACE__MAX_TRANSFERS_PER_OWNER": "3",
        "WSRF_UWS_VOSPACE__UNUSED_TRANSFER_LIFETIME": "PT2M",
        "WSRF_UWS_VOSPACE__MAX_DOCUMENT_BYTES": "4096",
        "WSRF_UWS_VOSPACE__MAX_SPACE_BYTES": "100000",
    }
    running = RunningServer(root / "data", env=env)
    running.start()
    yield running
    running.stop()


def test_the_settings_bound_a_served_endpoint(server: RunningServer, tmp_path: Path) -> None:
    service = Service(server.url("vospace"), username="alice", password=PASSWORDS["alice"])
    job = service.create('<job xmlns="urn:wsrf-uws:vospace:v1"><size>50000</size></job>')
    job.start()
    assert job.wait(timeout=60, poll=0.1).phase == "COMPLETED"
    space = job.resource_id
    uri = f"vos://example.org!vospace/{space}"
    base = f"{server.base_url}/vospace"

    def negotiate(path: str, direction: str, auth: Any) -> requests.Response:
        protocol = "httpget" if direction == "pullFromVoSpace" else "httpput"
        return requests.post(
            f"{base}/synctrans",
            data=transfer_xml(f"{uri}/{path}", direction, protocol),
            auth=auth,
            allow_redirects=False,
            timeout=30,
        )

    statuses = [negotiate("any", "pullFromVoSpace", None).status_code for _ in range(3)]
    assert statuses == [303, 303, 429]
    statuses = [negotiate(f"f{i}", "pushToVoSpace", ALICE).status_code for i in range(4)]
    assert statuses == [303, 303, 303, 429]
    refused = negotiate("f9", "pushToVoSpace", ALICE)
    assert 1 <= int(refused.headers["Retry-After"]) <= 120
    # Bodies: 4 KiB for anything but an upload; an upload as large as the space allows.
    document = requests.get(f"{base}/availability", data=b"z" * 5000, timeout=30)
    assert document.status_code == 413
    upload_url = _reuse_data_url(base, uri, space)
    assert requests.put(upload_url, data=b"u" * 40_000, timeout=30).status_code == 201
    over = requests.put(upload_url, data=b"u" * 100_001, timeout=30)
    assert (over.status_code, over.text.split()[0]) == (413, "RequestEntityTooLarge")
    job.destroy()


def _reuse_data_url(base: str, uri: str, space: str) -> str:
    """A push data URL for ``{space}/f0`` from a parameter negotiation (recorded nowhere,
    so alice's bound, which she has reached, does not apply)."""
    answer = requests.get(
        f"{base}/synctrans",
        params={"TARGET": f"{uri}/f0", "DIRECTION": "pushToVoSpace", "PROTOCOL": CORE + "httpput"},
        auth=ALICE,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(next(etree.fromstring(answer.content).iter(vos("endpoint"))).text)


def test_a_store_of_schema_version_1_gains_the_owner_index(tmp_path: Path) -> None:
    # A file as the previous release left it: every table, no index by owner.
    conn = sqlite3.connect(tmp_path / "vospace.sqlite")
    for statement in STATEMENTS:
        if "transfers_owner" not in statement:
            conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    store = SpaceStore(tmp_path, authority="example.org", clock=ManualClock())
    try:
        indexes = store._connection().execute("PRAGMA index_list(transfers)").fetchall()
        assert "transfers_owner" in {row["name"] for row in indexes}
        assert store._connection().execute("PRAGMA user_version").fetchone()[0] == 2
        plan = store._connection().execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM transfers WHERE owner = ? AND expires > ?",
            ("alice", "2026"),
        )
        assert "transfers_owner" in " ".join(str(row["detail"]) for row in plan)
    finally:
        store.close()
