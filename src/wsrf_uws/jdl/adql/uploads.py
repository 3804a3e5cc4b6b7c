"""User tables for a query: small VOTables carried in the job description (TAP's upload).

A job description may carry ``<upload name="list">`` elements, each holding one VOTable
(TABLEDATA or BINARY2) in-line, or naming one by URI (``xlink:href``, fetched when the job runs:
:mod:`.remote_uploads`). The query sees each as the table ``TAP_UPLOAD.list``,
with the columns, units and UCDs the VOTable declares, so a user can crossmatch their
own list of positions against the catalogue::

    SELECT l.id, h.hip FROM TAP_UPLOAD.list AS l JOIN hipparcos.main AS h
    ON DISTANCE(l.ra, l.dec, h.ra, h.dec) < 5/3600.

A column may be a number, a boolean, a ``bit`` (read as a boolean), text, or a
one-dimensional array of numbers, booleans or bits (``arraysize="3"``, ``"*"``, ``"10*"``:
a DuckDB list); its ``xtype`` is kept. Complex numbers and arrays of more than one
dimension are refused, as DuckDB has no column to hold them as VOTable means them.

The uploads of a job together may take at most ``[adql] max_upload_bytes`` of XML (the
request body limit ``max_request_bytes`` applies first). The in-line tables are read with
astropy at createJob, kept with the job description as Arrow tables, and registered on
the DuckDB connection that binds or runs the query, under the name
:func:`relation_name` (the translation renames ``TAP_UPLOAD.x`` to it).
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pyarrow as pa
from lxml import etree
from sqlglot import exp

from ...vo.columns import ColumnInfo
from .tap_schema import CatalogMetadata, TableInfo

#: The schema the uploaded tables appear in (TAP 1.1 §2.5.1).
UPLOAD_SCHEMA = "TAP_UPLOAD"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_NUMBERS = {"boolean", "unsignedByte", "short", "int", "long", "float", "double"}
_TEXT = ("char", "unicodeChar")
_ONE_DIMENSION = re.compile(r"\d*\*|\d+")


class UploadError(ValueError):
    """An upload the service cannot use; the message says why."""


@dataclass(frozen=True)
class Upload:
    """One uploaded table: its name (as in ``TAP_UPLOAD.name``), rows and description."""

    name: str
    rows: pa.Table
    info: TableInfo


def relation_name(name: str) -> str:
    """The name the upload ``name`` is registered under on a DuckDB connection."""
    return f"adql_upload_{name.lower()}"


def check_upload_name(name: str) -> None:
    """Raise :class:`UploadError` unless ``name`` may follow ``TAP_UPLOAD.``."""
    if not _NAME.fullmatch(name):
        raise UploadError(
            f"upload name {name!r}: use a letter then letters, digits or _ (at most 64)"
        )


def read_upload(name: str, votable: etree._Element, *, max_bytes: int) -> Upload:
    """The upload ``name`` from its VOTable element, at most ``max_bytes`` of XML.

    Raises :class:`UploadError` for a bad name, a table too large, a document that is not
    a VOTable astropy can read, or columns this service cannot hold (see the module).
    """
    return read_upload_bytes(name, etree.tostring(votable), max_bytes=max_bytes)


def read_upload_bytes(name: str, document: bytes, *, max_bytes: int) -> Upload:
    """The upload ``name`` from a VOTable document, at most ``max_bytes`` long.

    The document must be parsed safely first (no DOCTYPE): an in-line one comes out of the
    job description's hardened parser, a fetched one out of :func:`wire.parsing.parse_xml`.
    Raises :class:`UploadError` like :func:`read_upload`.
    """
    check_upload_name(name)
    if len(document) > max_bytes:
        raise UploadError(
            f"upload {name!r} is {len(document):,} bytes of XML; this service takes at most "
            f"{max_bytes:,} bytes of uploads per job ([adql] max_upload_bytes)"
        )
    from astropy.io.votable import parse

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parse(io.BytesIO(document), verify="ignore").get_first_table()
    except Exception as exc:  # astropy raises many kinds for a bad document
        reason = f"upload {name!r} is not a VOTable this service can read: {exc}"
        raise UploadError(reason) from None
    columns: list[ColumnInfo] = []
    arrays: list[pa.Array] = []
    data = parsed.array
    for index, field in enumerate(parsed.fields):
        columns.append(_column_info(name, field))
        arrays.append(_arrow(name, columns[-1], data[data.dtype.names[index]]))
    if len({c.name.lower() for c in columns}) != len(columns):
        raise UploadError(f"upload {name!r}: two columns have the same name")
    info = TableInfo(
        schema_name=UPLOAD_SCHEMA,
        table_name=name,
        columns=tuple(columns),
        description=f"Uploaded by the job ({len(parsed.array):,} rows).",
    )
    return Upload(name, pa.table(arrays, names=[c.name for c in columns]), info)


def _column_info(upload: str, field: object) -> ColumnInfo:
    datatype = str(getattr(field, "datatype", "char"))
    arraysize = getattr(field, "arraysize", None)
    column = getattr(field, "name", "?")
    if datatype not in _NUMBERS and datatype not in _TEXT and datatype != "bit":
        raise UploadError(
            f"upload {upload!r}: column {column!r} has the datatype {datatype}, which this "
            "service does not take"
        )
    is_array = datatype not in _TEXT and arraysize not in (None, "1")
    if (is_array or datatype in _TEXT) and arraysize and not _ONE_DIMENSION.fullmatch(arraysize):
        raise UploadError(
            f"upload {upload!r}: column {column!r} is an array of arraysize {arraysize}; "
            "this service takes arrays of one dimension only"
        )
    unit = getattr(field, "unit", None)
    return ColumnInfo(
        name=str(getattr(field, "name", "")),
        datatype={"unicodeChar": "char", "bit": "boolean"}.get(datatype, datatype),
        arraysize="*" if datatype in _TEXT else (arraysize if is_array else None),
        xtype=getattr(field, "xtype", None) or None,
        unit=str(unit) if unit is not None else None,
        ucd=getattr(field, "ucd", None) or None,
        description=getattr(field, "description", None) or None,
    )


def _arrow(upload: str, info: ColumnInfo, data: np.ma.MaskedArray) -> pa.Array:
    column = info.name
    mask = np.ma.getmaskarray(data)
    values = np.ma.getdata(data)
    if values.ndim == 2 and values.dtype.kind in "biuf":  # a fixed-size array per row
        rows = [_items(row, row_mask) for row, row_mask in zip(values, mask, strict=True)]
        return pa.array(rows, pa.list_(pa.from_numpy_dtype(values.dtype)))
    if values.dtype.kind == "O" and info.datatype != "char" and info.arraysize:
        # a variable-length array per row
        return _variable_arrays(upload, info, values, mask)
    if values.ndim != 1:
        raise UploadError(f"upload {upload!r}: column {column!r} is an array")
    if values.dtype.kind in "biuf":
        return pa.array(values, mask=mask if mask.any() else None)
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8")
    texts = [None if masked else str(value) for value, masked in zip(values, mask, strict=True)]
    return pa.array(texts, pa.string())


def _items(values: np.ndarray, mask: np.ndarray) -> list[object]:
    """The values of one array cell, a masked element as None."""
    return [
        None if masked else value
        for value, masked in zip(values.tolist(), mask.tolist(), strict=True)
    ]


#: The Arrow type of an array element of each VOTable number type (bit: boolean).
_ELEMENTS = {
    "boolean": pa.bool_(),
    "unsignedByte": pa.uint8(),
    "short": pa.int16(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
}


def _variable_arrays(
    upload: str, info: ColumnInfo, cells: np.ndarray, mask: np.ndarray
) -> pa.Array:
    """A column of variable-length arrays (astropy: one array object per row), typed as
    the column declares."""
    rows: list[list[object] | None] = []
    for cell, masked in zip(cells, mask, strict=True):
        if masked or cell is None:
            rows.append(None)
            continue
        if not isinstance(cell, np.ndarray) or cell.ndim != 1 or cell.dtype.kind not in "biuf":
            raise UploadError(
                f"upload {upload!r}: column {info.name!r} holds arrays this service cannot read"
            )
        rows.append(_items(np.ma.getdata(cell), np.ma.getmaskarray(cell)))
    return pa.array(rows, pa.list_(_ELEMENTS.get(info.datatype, pa.float64())))


def with_uploads(metadata: CatalogMetadata, uploads: Sequence[Upload]) -> CatalogMetadata:
    """``metadata`` plus the uploaded tables (schema ``TAP_UPLOAD``)."""
    if not uploads:
        return metadata
    tables = dict(metadata.tables)
    for upload in uploads:
        tables[upload.info.name.lower()] = upload.info
    schemas = {**metadata.schemas, UPLOAD_SCHEMA: "Tables uploaded with the job."}
    return replace(metadata, tables=tables, schemas=schemas)


def rename_upload_tables(tree: exp.Expr) -> exp.Expr:
    """``TAP_UPLOAD.x`` becomes the registered relation, aliased ``x`` unless aliased."""
    for table in list(tree.find_all(exp.Table)):
        db = table.args.get("db")
        if db is None or str(db.name).upper() != UPLOAD_SCHEMA:
            continue
        original: exp.Identifier = table.this
        table.set("db", None)
        table.set("this", exp.to_identifier(relation_name(original.name), quoted=True))
        if table.args.get("alias") is None:
            table.set("alias", exp.TableAlias(this=original.copy()))
    for column in list(tree.find_all(exp.Column)):
        db = column.args.get("db")
        if db is not None and str(db.name).upper() == UPLOAD_SCHEMA:
            column.set("db", None)
    return tree


def register(connection: duckdb.DuckDBPyConnection, uploads: Sequence[Upload]) -> list[str]:
    """Register the uploads on ``connection``; the names to :func:`unregister` later."""
    names = []
    try:
        for upload in uploads:
            name = relation_name(upload.name)
            connection.register(name, upload.rows)
            names.append(name)
    except BaseException:
        unregister(connection, names)
        raise
    return names


def unregister(connection: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    """Undo :func:`register`."""
    for name in names:
        connection.unregister(name)
