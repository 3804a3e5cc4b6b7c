"""The adql job state: the JSON the store keeps (jobs stored before the state was a
dataclass read back the same), and the ``adql:state`` element it renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from lxml import etree

from wsrf_uws.jdl.adql.cursor import write_cursor
from wsrf_uws.jdl.adql.state import CURSOR_FILE, AdqlState, ExposedRows, state_element
from wsrf_uws.vo.columns import ColumnInfo

ADQL = "urn:wsrf-uws:adql:v1"

#: The three forms the store holds, as the contract wrote them before the dataclass.
CREATED: dict[str, Any] = {
    "query": "SELECT TOP 3 hip, ra FROM hipparcos.main",
    "maxrec": 100,
    "serialization": "TABLEDATA",
}
COMPLETED: dict[str, Any] = {
    **CREATED,
    "rows": 3,
    "overflow": True,
    "columns": [
        {
            "name": "hip",
            "datatype": "int",
            "arraysize": None,
            "unit": None,
            "ucd": "meta.id;meta.main",
            "description": "Hipparcos number",
            "utype": None,
            "xtype": None,
        },
        {
            "name": "ra",
            "datatype": "double",
            "arraysize": None,
            "unit": "deg",
            "ucd": "pos.eq.ra",
            "description": None,
            "utype": None,
            "xtype": None,
        },
    ],
}
EXPOSED: dict[str, Any] = {**COMPLETED, "exposed": {"start": 1, "end": 3}}


@pytest.mark.parametrize(
    "stored", [CREATED, COMPLETED, EXPOSED], ids=["created", "completed", "exposed"]
)
def test_a_stored_state_reads_back_to_the_same_json(stored: dict[str, Any]) -> None:
    state = AdqlState.from_dict(json.loads(json.dumps(stored)))
    assert json.dumps(state.to_dict()) == json.dumps(stored)


def test_the_dataclass_holds_what_the_json_says() -> None:
    state = AdqlState.from_dict(EXPOSED)
    assert state.query == CREATED["query"]
    assert state.serialization == "TABLEDATA"
    assert state.result is not None
    assert (state.result.rows, state.result.overflow) == (3, True)
    assert state.result.columns[0] == ColumnInfo(
        "hip", "int", ucd="meta.id;meta.main", description="Hipparcos number"
    )
    assert state.exposed == ExposedRows(1, 3)
    assert AdqlState.from_dict(CREATED).result is None


def test_completing_and_exposing_write_what_the_contract_wrote() -> None:
    created = AdqlState.from_dict(CREATED)
    completed = created.completed(
        rows=3,
        overflow=True,
        columns=[
            ColumnInfo("hip", "int", ucd="meta.id;meta.main", description="Hipparcos number"),
            ColumnInfo("ra", "double", unit="deg", ucd="pos.eq.ra"),
        ],
    )
    assert completed.to_dict() == COMPLETED
    assert completed.exposing(start=1, end=3).to_dict() == EXPOSED
    assert created.to_dict() == CREATED  # frozen: the earlier state is unchanged


def test_a_state_stored_before_serializations_reads_with_the_default() -> None:
    older = {"query": "SELECT 1", "maxrec": 10}
    assert AdqlState.from_dict(older).serialization == "BINARY2"


def test_an_unknown_serialization_is_refused() -> None:
    with pytest.raises(ValueError, match="FITS"):
        AdqlState.from_dict({**CREATED, "serialization": "FITS"})


def test_the_element_of_a_completed_job(tmp_path: Path) -> None:
    element = state_element(AdqlState.from_dict(COMPLETED), workdir=tmp_path)
    assert etree.tostring(element, encoding="unicode") == (
        f'<adql:state xmlns:adql="{ADQL}">'
        "<adql:query>SELECT TOP 3 hip, ra FROM hipparcos.main</adql:query>"
        "<adql:maxrec>100</adql:maxrec><adql:rows>3</adql:rows>"
        "<adql:overflow>true</adql:overflow><adql:columns>"
        '<adql:column name="hip" datatype="int" ucd="meta.id;meta.main">Hipparcos number'
        "</adql:column>"
        '<adql:column name="ra" datatype="double" unit="deg" ucd="pos.eq.ra"/>'
        "</adql:columns></adql:state>"
    )


def test_the_element_of_a_new_job_has_only_the_query() -> None:
    element = state_element(AdqlState.from_dict(CREATED), workdir=None)
    assert [child.tag.split("}")[1] for child in element] == ["query", "maxrec"]


def test_the_exposed_rows_are_read_from_the_cursor_file(tmp_path: Path) -> None:
    columns = [ColumnInfo("hip", "int"), ColumnInfo("ra", "double")]
    schema = pa.schema([("hip", pa.int32()), ("ra", pa.float64())])
    table = pa.table({"hip": [7, 8, 9], "ra": [1.5, 2.5, 3.5]}, schema=schema)
    write_cursor(table.to_reader(), tmp_path / CURSOR_FILE, columns=columns)
    element = state_element(AdqlState.from_dict(EXPOSED), workdir=tmp_path)
    exposed = element.find(f"{{{ADQL}}}exposedRows")
    assert exposed is not None
    assert (exposed.get("start"), exposed.get("end")) == ("1", "3")
    cells = [td.text for td in exposed.iter("{http://www.ivoa.net/xml/VOTable/v1.3}TD")]
    assert cells == ["8", "2.5", "9", "3.5"]  # TABLEDATA, as the state asks
