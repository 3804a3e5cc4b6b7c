"""The contract's state: the query, the cached result's size and columns, the exposed rows.

The state (:class:`AdqlState`) is kept in the store as small JSON (counts, column
descriptions, the last range exposed); the rows themselves are read from the cursor file
whenever the state is rendered, which costs a fraction of a millisecond for a page (see
``bench/adql_bench.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, get_args

from lxml import etree

from ...vo.columns import ColumnInfo
from ...vo.votable import Serialization, votable_bytes
from ...wire.namespaces import q
from ...wire.parsing import safe_parser
from .cursor import ResultCursor
from .jdl import AdqlJob
from .names import NAMESPACE

#: The cursor file in the job's folder (not a result: clients page it with exposeRows).
CURSOR_FILE = "cursor.arrow"
#: The whole result as one VOTable, the job's result of this name (as TAP names it).
RESULT_NAME = "result"
VOTABLE_MIME_TYPE = "application/x-votable+xml"


@dataclass(frozen=True)
class CachedResult:
    """What a completed job cached: its row count, whether rows were cut off, its columns."""

    rows: int
    overflow: bool
    columns: tuple[ColumnInfo, ...]


@dataclass(frozen=True)
class ExposedRows:
    """The range of rows ``exposeRows`` last selected (``start`` inclusive, ``end`` not)."""

    start: int
    end: int


@dataclass(frozen=True)
class AdqlState:
    """The state of an ADQL job: its query; once completed, the cached result; once a
    client called ``exposeRows``, the rows it selected.

    Kept in the store as the JSON of :meth:`to_dict`: ``query``, ``maxrec``,
    ``serialization``; then ``rows``, ``overflow`` and ``columns`` (each column's
    :class:`ColumnInfo` fields); then ``exposed`` (``start``, ``end``).
    """

    query: str
    maxrec: int
    serialization: Serialization = "BINARY2"
    result: CachedResult | None = None
    exposed: ExposedRows | None = None

    @classmethod
    def for_job(cls, job: AdqlJob) -> AdqlState:
        """The state of a new job: its query, nothing cached yet."""
        return cls(query=job.query, maxrec=job.maxrec, serialization=job.serialization)

    def completed(self, *, rows: int, overflow: bool, columns: Sequence[ColumnInfo]) -> AdqlState:
        """This state once the result is cached."""
        return replace(self, result=CachedResult(rows, overflow, tuple(columns)))

    def exposing(self, *, start: int, end: int) -> AdqlState:
        """This state once ``exposeRows`` selected rows ``start`` to ``end``."""
        return replace(self, exposed=ExposedRows(start, end))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form the store keeps."""
        data: dict[str, Any] = {
            "query": self.query,
            "maxrec": self.maxrec,
            "serialization": self.serialization,
        }
        if self.result is not None:
            data["rows"] = self.result.rows
            data["overflow"] = self.result.overflow
            data["columns"] = [asdict(column) for column in self.result.columns]
        if self.exposed is not None:
            data["exposed"] = {"start": self.exposed.start, "end": self.exposed.end}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdqlState:
        """The state a :meth:`to_dict` form (as stored by any version) describes."""
        serialization = data.get("serialization", "BINARY2")
        if serialization not in get_args(Serialization):
            raise ValueError(f"not a VOTable serialization: {serialization!r}")
        result = None
        if "rows" in data:
            result = CachedResult(
                rows=int(data["rows"]),
                overflow=bool(data.get("overflow", False)),
                columns=tuple(ColumnInfo(**column) for column in data.get("columns", ())),
            )
        exposed = data.get("exposed")
        return cls(
            query=str(data.get("query", "")),
            maxrec=int(data.get("maxrec", 0)),
            serialization=serialization,
            result=result,
            exposed=None
            if exposed is None
            else ExposedRows(int(exposed["start"]), int(exposed["end"])),
        )


def state_element(state: AdqlState, *, workdir: Path | None) -> etree._Element:
    """``adql:state``; the exposed rows are read from the cursor file in ``workdir``."""
    root = etree.Element(_q("state"), nsmap={"adql": NAMESPACE})
    etree.SubElement(root, _q("query")).text = state.query
    etree.SubElement(root, _q("maxrec")).text = str(state.maxrec)
    result = state.result
    if result is None:
        return root
    etree.SubElement(root, _q("rows")).text = str(result.rows)
    etree.SubElement(root, _q("overflow")).text = "true" if result.overflow else "false"
    columns = etree.SubElement(root, _q("columns"))
    for column in result.columns:
        element = etree.SubElement(columns, _q("column"))
        for key in ("name", "datatype", "arraysize", "unit", "ucd", "utype", "xtype"):
            value = getattr(column, key)
            if value is not None:
                element.set(key, str(value))
        if column.description:
            element.text = column.description
    if state.exposed is not None and workdir is not None:
        root.append(
            exposed_rows(
                workdir / CURSOR_FILE,
                start=state.exposed.start,
                end=state.exposed.end,
                serialization=state.serialization,
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


_q = partial(q, NAMESPACE)
