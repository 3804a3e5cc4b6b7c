"""The catalogue's tables for clients: ``GET /uws/adql/tables`` on a real ``wsrf-uws serve``.

The service runs on the test session's catalogue (Hipparcos 2 and ``test.sources``); the
documents are read by pyvo's VOSI parser, as a VO client would, and compared with the
table description the test wrote into the catalogue (``adql_support.SOURCES``).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from pyvo.io import vosi

from wsrf_uws.accounts import UsersFile
from wsrf_uws.testing.server import RunningServer, running_server

from adql_support import SOURCES, catalog_path

VOSI_TABLES = "http://www.ivoa.net/xml/VOSITables/v1.0"
#: The genuine VOSI tables schema, where ../shared has it.
GENUINE = Path(__file__).resolve().parents[4] / "shared" / "schemas" / "ivoa-vosi-1.1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    catalogue = catalog_path(tmp_path_factory)
    env = {"WSRF_UWS_ADQL__CATALOG": str(catalogue), "WSRF_UWS_ALLOW_ANONYMOUS": "false"}
    users = tmp_path_factory.mktemp("users") / "users"
    UsersFile.add(users, "alice", "alice-secret")
    env["WSRF_UWS_USERS_FILE"] = str(users)
    with running_server(tmp_path_factory.mktemp("vosi") / "data", env=env) as running:
        yield running


def tables_url(server: RunningServer, rest: str = "") -> str:
    return f"{server.url('adql')}/tables{rest}"


def parse(content: bytes) -> Any:
    """pyvo's reading of a VOSI tables document (its ``TablesFile``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pyvo warns about anything not as VOSI says
        return vosi.parse_tables(io.BytesIO(content))


def validate_if_genuine_schema(content: bytes) -> None:
    schemas = sorted(GENUINE.glob("VOSITables*.xsd")) if GENUINE.is_dir() else []
    if schemas:
        schema = etree.XMLSchema(etree.parse(str(schemas[0])))
        assert schema.validate(etree.fromstring(content)), schema.error_log.last_error


def test_the_tableset_lists_every_table_with_its_columns_without_credentials(
    server: RunningServer,
) -> None:
    response = requests.get(tables_url(server), timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    assert etree.fromstring(response.content).tag == f"{{{VOSI_TABLES}}}tableset"
    validate_if_genuine_schema(response.content)
    tableset = parse(response.content).tableset
    tables = {table.name: table for schema in tableset.schemas for table in schema.tables}
    assert {"hipparcos.main", "test.sources", "tap_schema.tables", "tap_schema.columns"} <= set(
        tables
    )
    sources = tables["test.sources"]
    assert sources.description == SOURCES.description
    assert [c.name for c in sources.columns] == [c.name for c in SOURCES.columns]
    for served, written in zip(sources.columns, SOURCES.columns, strict=True):
        assert served.datatype.content == written.datatype
        assert served.ucd == written.ucd
        assert served.unit == written.unit
        assert served.datatype.arraysize == (written.arraysize or "1")  # pyvo's default
    schema_names = [schema.name for schema in tableset.schemas]
    assert "test" in schema_names and "tap_schema" in schema_names


def test_detail_min_leaves_the_columns_out(server: RunningServer) -> None:
    response = requests.get(tables_url(server), params={"detail": "min"}, timeout=30)
    assert response.status_code == 200
    tables = [
        table for schema in parse(response.content).tableset.schemas for table in schema.tables
    ]
    assert tables and all(not table.columns for table in tables)


def test_one_table_is_served_on_its_own(server: RunningServer) -> None:
    response = requests.get(tables_url(server, "/test.sources"), timeout=30)
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{VOSI_TABLES}}}table"
    assert root.findtext("name") == "test.sources"
    assert [c.findtext("name") for c in root.iter("column")] == [c.name for c in SOURCES.columns]
    table = parse(response.content).table
    assert table.name == "test.sources" and len(table.columns) == len(SOURCES.columns)
    missing = requests.get(tables_url(server, "/test.nothing"), timeout=30)
    assert missing.status_code == 404


def test_the_documents_are_cacheable_and_read_only(server: RunningServer) -> None:
    first = requests.get(tables_url(server), timeout=30)
    etag = first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"]
    again = requests.get(tables_url(server), headers={"If-None-Match": etag}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    head = requests.head(tables_url(server), timeout=30)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(first.content))
    refused = requests.post(tables_url(server), data=b"x", timeout=30)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD"
