"""The contract's state: the query, the cached result's size and columns, the exposed rows.

The state kept in the store is small JSON (counts, column descriptions, the last range
exposed); the rows themselves are read from the cursor file whenever the state is
rendered, which costs a fraction of a millisecond for a page (see ``bench/adql_bench.py``).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from lxml import etree

from ...core.xmldoc import safe_parser
from .columns import ColumnInfo
from .cursor import ResultCursor
from .jdl import NAMESPACE
from .votable import Serialization, votable_bytes

#: The cursor file in the job's folder (not a result: clients page it with exposeRows).
CURSOR_FILE = "cursor.arrow"
#: The whole result as one VOTable, the job's result of this name (as TAP names it).
RESULT_NAME = "result"
VOTABLE_MIME_TYPE = "application/x-votable+xml"


def initial_state(*, query: str, maxrec: int, serialization: Serialization) -> dict[str, Any]:
    """The state of a new job: its query, nothing cached yet."""
    return {"query": query, "maxrec": maxrec, "serialization": serialization}


def completed_state(
    state: dict[str, Any], *, rows: int, overflow: bool, columns: list[ColumnInfo]
) -> dict[str, Any]:
    """``state`` once the result is cached."""
    return {
        **state,
        "rows": rows,
        "overflow": overflow,
        "columns": [asdict(column) for column in columns],
    }


def state_element(state: dict[str, Any], *, workdir: Path | None) -> etree._Element:
    """``adql:state``; the exposed rows are read from the cursor file in ``workdir``."""
    root = etree.Element(_q("state"), nsmap={"adql": NAMESPACE})
    etree.SubElement(root, _q("query")).text = str(state.get("query", ""))
    etree.SubElement(root, _q("maxrec")).text = str(int(state.get("maxrec", 0)))
    if "rows" not in state:
        return root
    etree.SubElement(root, _q("rows")).text = str(int(state["rows"]))
    etree.SubElement(root, _q("overflow")).text = "true" if state.get("overflow") else "false"
    columns = etree.SubElement(root, _q("columns"))
    for column in state.get("columns", ()):
        element = etree.SubElement(columns, _q("column"))
        for key in ("name", "datatype", "arraysize", "unit", "ucd", "utype", "xtype"):
            if column.get(key) is not None:
                element.set(key, str(column[key]))
        if column.get("description"):
            element.text = str(column["description"])
    exposed = state.get("exposed")
    if exposed is not None and workdir is not None:
        root.append(
            exposed_rows(
                workdir / CURSOR_FILE,
                start=int(exposed["start"]),
                end=int(exposed["end"]),
                serialization=state.get("serialization", "BINARY2"),
            )
        )
    return root


def exposed_rows(
    cursor_path: Path, *, start: int, end: int, serialization: Serialization
) -> etree._Element:
    """``adql:exposedRows``: rows ``start`` to ``end`` of the cached result as a VOTable."""
    with ResultCursor.open(cursor_path) as cursor:
        end = min(end, cursor.total_rows)
        start = min(start, end)
        document = votable_bytes(
            cursor.rows(start, end),
            columns=cursor.columns,
            serialization=serialization,
            overflow=cursor.overflow,
            infos=[("rows", f"{start}-{end}", f"rows {start} to {end} of {cursor.total_rows}")],
        )
    element = etree.Element(_q("exposedRows"), start=str(start), end=str(end))
    element.append(etree.fromstring(document, safe_parser()))
    return element


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"
