"""The VOSI documents of ``/tap`` and who may query, on a real ``wsrf-uws serve`` that
refuses anonymous callers: the documents stay public, queries need HTTP Basic."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
import pyvo
import requests
from lxml import etree

from wsrf_uws.accounts import UsersFile
from wsrf_uws.testing.server import RunningServer, running_server

from tap_support import query_status


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    users = tmp_path_factory.mktemp("users") / "users"
    UsersFile.add(users, "alice", "alice-secret")
    env = {
        "WSRF_UWS_ALLOW_ANONYMOUS": "false",
        "WSRF_UWS_USERS_FILE": str(users),
        "WSRF_UWS_ADQL__MAX_UPLOAD_BYTES": "500000",
        "WSRF_UWS_ADQL__MAX_MAXREC": "20000",
        "WSRF_UWS_ADQL__DEFAULT_MAXREC": "2000",
    }
    with running_server(tmp_path_factory.mktemp("tap-vosi") / "data", env=env) as running:
        yield running


def test_capabilities_declare_tap_adql_the_formats_and_the_limits(server: RunningServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tap = pyvo.dal.TAPService(f"{server.base_url}/tap")
        capabilities = tap.capabilities
    standards = {c.standardid for c in capabilities}
    assert "ivo://ivoa.net/std/TAP" in standards
    assert "ivo://ivoa.net/std/VOSI#tables" in standards
    assert tap.hardlimit == 20000
    assert tap.upload_methods and "upload-inline" in tap.upload_methods[0].ivo_id
    (language,) = tap.get_tap_capability().languages
    assert language.name == "ADQL"
    features = {form for f in language.languagefeaturelists for form in (x.form for x in f)}
    assert {"CONTAINS", "CIRCLE", "POINT"} <= features
    mimes = {output.mime for output in tap.get_tap_capability().outputformats}
    assert "text/csv;header=present" in mimes
    limit = tap.get_tap_capability().uploadlimit
    assert limit is not None and limit.hard.content == 500000


def test_availability_and_tables_are_public(server: RunningServer) -> None:
    availability = requests.get(f"{server.base_url}/tap/availability", timeout=30)
    assert availability.status_code == 200
    root = etree.fromstring(availability.content)
    assert root.findtext("{*}available") == "true"
    tables = requests.get(f"{server.base_url}/tap/tables", timeout=30)
    assert tables.status_code == 200
    document = etree.fromstring(tables.content)
    hpx = document.xpath("//table[name='hipparcos.main']/column[name='hpx']/flag/text()")
    assert hpx == ["indexed"]


def test_a_query_needs_credentials_here(server: RunningServer) -> None:
    query = {"LANG": "ADQL", "QUERY": "SELECT TOP 1 hip FROM hipparcos.main"}
    refused = requests.post(f"{server.base_url}/tap/sync", data=query, timeout=30)
    assert refused.status_code == 401
    assert query_status(refused.content)[0] == "ERROR"
    wrong = requests.post(
        f"{server.base_url}/tap/sync", data=query, auth=("alice", "nope"), timeout=30
    )
    assert wrong.status_code == 401
    answered = requests.post(
        f"{server.base_url}/tap/sync", data=query, auth=("alice", "alice-secret"), timeout=30
    )
    assert answered.status_code == 200, answered.text
    assert query_status(answered.content)[0] == "OK"
