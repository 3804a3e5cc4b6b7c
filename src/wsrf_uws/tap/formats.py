"""The answer formats of a TAP query (``RESPONSEFORMAT``, or its alias ``FORMAT``).

TAP 1.1 §2.7.1 and DALI name them by short names or media types: VOTable (BINARY2 by
default, or TABLEDATA), CSV and TSV (with a header line). :func:`response_format` reads
the parameter; :meth:`ResponseFormat.write` writes a result in that format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pa_csv

from ..vo.columns import ColumnInfo
from ..vo.votable import ByteSink, Serialization, write_votable

VOTABLE_MEDIA_TYPE = "application/x-votable+xml"


class UnknownFormat(ValueError):
    """A RESPONSEFORMAT this service does not write; the message lists those it does."""


@dataclass(frozen=True)
class ResponseFormat:
    """One answer format: its media type and how rows are written in it."""

    media_type: str
    serialization: Serialization | None = None  # VOTable only
    delimiter: str = ","

    @property
    def is_votable(self) -> bool:
        """Whether answers (and errors) in this format are VOTables."""
        return self.serialization is not None

    def write(
        self,
        out: ByteSink,
        batches: Iterable[pa.RecordBatch],
        *,
        columns: list[ColumnInfo],
        schema: pa.Schema,
        overflow: bool,
        infos: list[tuple[str, str, str | None]],
    ) -> None:
        """Write the rows of ``batches`` (typed by ``schema``) described by ``columns``."""
        if self.serialization is not None:
            write_votable(
                out,
                batches,
                columns=columns,
                serialization=self.serialization,
                overflow=overflow,
                infos=infos,
            )
            return
        _write_delimited(out, batches, schema=schema, delimiter=self.delimiter)


BINARY2 = ResponseFormat(f"{VOTABLE_MEDIA_TYPE};serialization=BINARY2", "BINARY2")
TABLEDATA = ResponseFormat(f"{VOTABLE_MEDIA_TYPE};serialization=TABLEDATA", "TABLEDATA")
CSV = ResponseFormat("text/csv;header=present", delimiter=",")
TSV = ResponseFormat("text/tab-separated-values", delimiter="\t")

#: Every accepted RESPONSEFORMAT (lower case, spaces removed) and what it means.
FORMATS: dict[str, ResponseFormat] = {
    "votable": BINARY2,
    "votable/b2": BINARY2,
    "votable/td": TABLEDATA,
    "text/xml": BINARY2,
    "application/xml": BINARY2,
    VOTABLE_MEDIA_TYPE: BINARY2,
    f"{VOTABLE_MEDIA_TYPE};serialization=binary2": BINARY2,
    f"{VOTABLE_MEDIA_TYPE};serialization=tabledata": TABLEDATA,
    "csv": CSV,
    "text/csv": CSV,
    "text/csv;header=present": CSV,
    "tsv": TSV,
    "text/tab-separated-values": TSV,
}

#: The formats the capabilities declare: (media type, short names, IVOA identifier).
DECLARED: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    (
        BINARY2.media_type,
        ("votable", "votable/b2"),
        "ivo://ivoa.net/std/TAPRegExt#output-votable-binary2",
    ),
    (TABLEDATA.media_type, ("votable/td",), "ivo://ivoa.net/std/TAPRegExt#output-votable-td"),
    (CSV.media_type, ("csv",), None),
    (TSV.media_type, ("tsv",), None),
)


def response_format(value: str | None) -> ResponseFormat:
    """The format ``RESPONSEFORMAT=value`` asks for (None or empty: VOTable BINARY2)."""
    if not value:
        return BINARY2
    key = "".join(value.split()).lower()
    found = FORMATS.get(key)
    if found is None:
        known = ", ".join(sorted({"votable", "votable/td", "csv", "tsv"}))
        raise UnknownFormat(f"RESPONSEFORMAT {value!r} is not supported; use one of {known}")
    return found


def _write_delimited(
    out: ByteSink, batches: Iterable[pa.RecordBatch], *, schema: pa.Schema, delimiter: str
) -> None:
    """CSV or TSV with a header line, a batch at a time; arrays (a POINT, say) as their
    values separated by spaces, as DALI writes arrays in text, and bytes in hexadecimal."""
    text_schema = pa.schema([pa.field(f.name, _text_type(f.type)) for f in schema])
    header = True
    for batch in batches:
        sink = pa.BufferOutputStream()
        options = pa_csv.WriteOptions(include_header=header, delimiter=delimiter)
        pa_csv.write_csv(_as_text(batch, text_schema), sink, write_options=options)
        out.write(sink.getvalue().to_pybytes())
        header = False
    if header:  # no rows: the header alone
        out.write(delimiter.join(_quoted(name) for name in schema.names).encode() + b"\n")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text_type(arrow_type: pa.DataType) -> pa.DataType:
    nested = pa.types.is_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type)
    return pa.string() if nested or pa.types.is_binary(arrow_type) else arrow_type


def _as_text(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = []
    for column, field in zip(batch.columns, schema, strict=True):
        if column.type == field.type:
            columns.append(column)
        elif pa.types.is_binary(column.type):
            columns.append(pa.array([None if v is None else v.hex() for v in column.to_pylist()]))
        else:
            columns.append(_joined(column))
    return pa.record_batch(columns, schema=schema)


def _joined(column: pa.Array) -> pa.Array:
    """Each array value as its items separated by spaces (a null item as NaN)."""
    return pa.array(
        [
            None if value is None else " ".join("NaN" if x is None else repr(x) for x in value)
            for value in column.to_pylist()
        ],
        pa.string(),
    )
