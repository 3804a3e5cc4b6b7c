"""ADQL in, DuckDB SQL and Arrow record batches out: the engine of the ``adql`` contract.

How a job uses it::

    catalog = Catalog.open(path)                              # once per process
    translated = translate(adql, metadata=catalog.metadata, maxrec=maxrec)   # createJob
    columns = describe(catalog, translated)                   # createJob: DuckDB binds it
    reader = execute(catalog, translated, interrupt=stop)     # the run
    for batch in reader: ...                                  # at most maxrec + 1 rows

:func:`translate` refuses a query with :class:`AdqlError` (line, column, reason); it
needs only the catalogue's metadata, not a connection. :func:`describe` asks DuckDB to
bind the SQL without running it, which catches type errors (``'a' + 1``) at createJob
and gives the output columns. With ``maxrec`` set, the SQL returns at most ``maxrec + 1``
rows: the runner keeps ``maxrec`` and reports overflow (TAP ``QUERY_STATUS=OVERFLOW``)
when the extra row arrives. :func:`execute` streams record batches whose column types
have VOTable counterparts (see :func:`result_columns`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp
from sqlglot.errors import SqlglotError

from ...core.sizes import format_bytes
from ...vo.columns import ColumnInfo
from .catalog import Catalog
from .crossmatch import plan_crossmatches
from .dialect import parse_adql
from .errors import AdqlError
from .geometry import rewrite_geometry
from .size import TOO_DEEP, QuerySize
from .tap_schema import CatalogMetadata
from .uploads import Upload, register, rename_upload_tables, unregister
from .validation import check_structure, resolve

__all__ = [
    "AdqlError",
    "ExecutionError",
    "ExecutionInterrupted",
    "QueryInterrupt",
    "QueryOutOfMemory",
    "TranslatedQuery",
    "describe",
    "execute",
    "result_columns",
    "translate",
]

#: Rows per record batch that :func:`execute` asks DuckDB for by default.
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class TranslatedQuery:
    """An accepted ADQL query and the DuckDB SQL that answers it.

    ``maxrec`` is the job's MAXREC (None: no limit); the SQL then returns at most
    ``maxrec + 1`` rows (:attr:`row_limit`), so that the runner can tell a result that
    was cut from one that fits exactly. ``tables`` are the catalogue tables read.
    ``columns`` describe the output columns as far as known before running: columns
    taken straight from a table carry its metadata; a computed column has its name and
    ``datatype=""`` (filled in from DuckDB's types by :func:`result_columns`).
    """

    adql: str
    sql: str
    maxrec: int | None
    tables: tuple[str, ...]
    columns: tuple[ColumnInfo, ...]

    @property
    def row_limit(self) -> int | None:
        """The most rows the SQL returns: ``maxrec + 1``, or None."""
        return None if self.maxrec is None else self.maxrec + 1


def translate(
    adql: str,
    *,
    metadata: CatalogMetadata,
    maxrec: int | None,
    size: QuerySize | None = None,
) -> TranslatedQuery:
    """Check ``adql`` against the catalogue and translate it to DuckDB SQL.

    Raises :class:`AdqlError` for a syntax error, a statement that is not a query,
    anything outside ADQL 2.1 (or outside what this service supports), names of tables,
    columns or functions that do not exist, and a query text beyond ``size`` (by default
    :class:`QuerySize`'s bounds) or nested too deeply to translate. Raises ValueError for
    a negative ``maxrec``.
    """
    if maxrec is not None and maxrec < 0:
        raise ValueError(f"MAXREC must not be negative, got {maxrec}")
    try:
        return _translate(adql, metadata=metadata, maxrec=maxrec, size=size)
    except RecursionError:
        # The bounds on the text keep parentheses shallow, but a chain of thousands of
        # operators (a OR b OR c ...) is one deep tree that every pass walks recursively.
        raise AdqlError(TOO_DEEP) from None
    except SqlglotError as exc:
        raise AdqlError(f"the query cannot be translated: {exc}") from None


def _translate(
    adql: str, *, metadata: CatalogMetadata, maxrec: int | None, size: QuerySize | None
) -> TranslatedQuery:
    tree = parse_adql(adql, size=size)
    check_structure(tree)
    while isinstance(tree, exp.Subquery) and not any(
        value for key, value in tree.args.items() if key != "this"
    ):
        tree = tree.this  # a query in parentheses: the parentheses say nothing
    resolution = resolve(tree, metadata)
    tree = rename_upload_tables(tree)
    tree = plan_crossmatches(tree)
    tree = rewrite_geometry(tree, metadata)
    _normalise_literals(tree)
    if maxrec is not None:
        _limit(tree, maxrec + 1)
    return TranslatedQuery(
        adql=adql,
        # The tree is this call's own and dropped after: no defensive copy (a fifth of a
        # tiny query's translation).
        sql=tree.sql(dialect="duckdb", copy=False),
        maxrec=maxrec,
        tables=resolution.tables,
        columns=resolution.columns,
    )


def _normalise_literals(tree: exp.Expr) -> None:
    """Make decimal literals DOUBLE: DuckDB would type ``1.5`` as DECIMAL(2,1).

    ADQL has no exact decimal type; results in DECIMAL would need converting anyway.
    """
    for literal in tree.find_all(exp.Literal):
        text = literal.name
        if literal.is_string or "." not in text or "e" in text.lower():
            continue
        value = float(text)
        if math.isfinite(value):
            literal.set("this", f"{value!r}e0")


def _limit(tree: exp.Expr, rows: int) -> None:
    existing = tree.args.get("limit")
    if isinstance(existing, exp.Limit):
        rows = min(rows, int(existing.expression.name))
    tree.set("limit", exp.Limit(expression=exp.Literal.number(rows)))


# -- types ---------------------------------------------------------------------------------


def _normalised_type(arrow_type: pa.DataType) -> pa.DataType:
    """The Arrow type a result column is delivered in: one with a VOTable counterpart."""
    if pa.types.is_decimal(arrow_type):
        return pa.int64() if arrow_type.scale == 0 else pa.float64()
    if pa.types.is_int8(arrow_type):
        return pa.int16()
    if pa.types.is_uint16(arrow_type):
        return pa.int32()
    if pa.types.is_uint32(arrow_type) or pa.types.is_uint64(arrow_type):
        return pa.int64()
    if pa.types.is_float16(arrow_type):
        return pa.float32()
    if (
        pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
        or pa.types.is_temporal(arrow_type)
        or pa.types.is_null(arrow_type)
    ):
        return pa.string()
    if pa.types.is_large_binary(arrow_type) or pa.types.is_binary_view(arrow_type):
        return pa.binary()
    if (
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or (pa.types.is_list_view(arrow_type) or pa.types.is_large_list_view(arrow_type))
    ):
        return pa.list_(_normalised_type(arrow_type.value_type))
    if pa.types.is_fixed_size_list(arrow_type):
        return pa.list_(_normalised_type(arrow_type.value_type), arrow_type.list_size)
    return arrow_type


#: Field metadata of a normalised column that holds ISO 8601 dates or timestamps.
XTYPE_KEY = b"wsrf_uws.adql.xtype"


def _temporal_xtype(arrow_type: pa.DataType) -> str | None:
    """``timestamp`` (DALI) for a date or timestamp type, else None."""
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "timestamp"
    return None


def _normalised_field(field: pa.Field) -> pa.Field:
    xtype = _temporal_xtype(field.type)
    metadata = {XTYPE_KEY: xtype.encode()} if xtype else None
    return pa.field(field.name, _normalised_type(field.type), metadata=metadata)


def _normalised_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([_normalised_field(f) for f in schema])


def _normalised_column(column: pa.Array, target: pa.DataType) -> pa.Array:
    if column.type == target:
        return column
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_date(column.type):
        return pc.strftime(column, format="%Y-%m-%d")
    return column.cast(target)


def _normalised(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema):
        return batch
    return pa.record_batch(
        [_normalised_column(batch.column(i), f.type) for i, f in enumerate(schema)], schema=schema
    )


_ARROW_VOTABLE = [
    (pa.types.is_boolean, "boolean"),
    (pa.types.is_uint8, "unsignedByte"),
    (pa.types.is_int16, "short"),
    (pa.types.is_int32, "int"),
    (pa.types.is_int64, "long"),
    (pa.types.is_float32, "float"),
    (pa.types.is_float64, "double"),
    (pa.types.is_string, "char"),
    (pa.types.is_binary, "unsignedByte"),
]


def _votable_type(arrow_type: pa.DataType) -> tuple[str, str | None]:
    """(datatype, arraysize) of a column of (normalised) ``arrow_type``."""
    arrow_type = _normalised_type(arrow_type)
    if pa.types.is_fixed_size_list(arrow_type):
        return _votable_type(arrow_type.value_type)[0], str(arrow_type.list_size)
    if pa.types.is_list(arrow_type):
        return _votable_type(arrow_type.value_type)[0], "*"
    for test, datatype in _ARROW_VOTABLE:
        if test(arrow_type):
            return datatype, "*" if datatype == "char" or pa.types.is_binary(arrow_type) else None
    raise ValueError(f"no VOTable datatype for the Arrow type {arrow_type}")


_DUCKDB_ARROW = {
    "BOOLEAN": pa.bool_(),
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "HUGEINT": pa.decimal128(38, 0),
    "UTINYINT": pa.uint8(),
    "USMALLINT": pa.uint16(),
    "UINTEGER": pa.uint32(),
    "UBIGINT": pa.uint64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "BLOB": pa.binary(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", "UTC"),
    '"NULL"': pa.null(),
    "NULL": pa.null(),
}


def _arrow_from_duckdb(type_name: str) -> pa.DataType:
    text = type_name.strip()
    if text.endswith("[]"):
        return pa.list_(_arrow_from_duckdb(text[:-2]))
    if text.endswith("]") and "[" in text:
        inner, _, size = text[:-1].rpartition("[")
        return pa.list_(_arrow_from_duckdb(inner), int(size))
    if text.startswith("DECIMAL"):
        precision, scale = (int(p) for p in text[text.index("(") + 1 : -1].split(","))
        return pa.decimal128(precision, scale)
    if text in _DUCKDB_ARROW:
        return _DUCKDB_ARROW[text]
    raise ValueError(f"the result type {type_name} has no VOTable counterpart")


def result_columns(
    result: pa.Schema | duckdb.DuckDBPyRelation, translated: TranslatedQuery
) -> list[ColumnInfo]:
    """The output columns: DuckDB's names and types merged with the traced metadata.

    ``result`` is the schema of the batches :func:`execute` returned, or the relation
    DuckDB bound (:func:`describe` uses that). VOTable datatypes follow the Arrow type:
    int16 short, int32 int, int64 long, float32 float, float64 double, bool boolean,
    string char (arraysize ``*``), lists of those with an arraysize. Dates and
    timestamps are ``char`` with ``xtype="timestamp"`` (DALI), their values ISO 8601
    text. Text columns are declared ``char`` here; the cursor declares ``unicodeChar``
    those whose values turn out not to be ASCII (:func:`.cursor.write_cursor`).
    """
    if isinstance(result, pa.Schema):
        names, types = result.names, list(result.types)
        xtypes = [
            (f.metadata or {}).get(XTYPE_KEY, b"").decode() or _temporal_xtype(f.type)
            for f in result
        ]
    else:
        names = list(result.columns)
        types = [_arrow_from_duckdb(str(t)) for t in result.types]
        xtypes = [_temporal_xtype(t) for t in types]
    traced = list(translated.columns)
    by_name = {c.name.lower(): c for c in traced}
    merged = []
    for index, (name, arrow_type, xtype) in enumerate(zip(names, types, xtypes, strict=True)):
        datatype, arraysize = _votable_type(arrow_type)
        if len(traced) == len(names):
            known: ColumnInfo | None = traced[index]
        else:
            known = by_name.get(name.lower())
        if known is None:
            merged.append(
                ColumnInfo(name=name, datatype=datatype, arraysize=arraysize, xtype=xtype)
            )
            continue
        if arraysize == "*" and known.arraysize not in (None, "*") and datatype != "char":
            arraysize = known.arraysize  # e.g. a POINT: always two values
        merged.append(
            replace(
                known,
                name=name,
                datatype=datatype,
                arraysize=arraysize,
                xtype=xtype or known.xtype,
            )
        )
    return merged


# -- running -------------------------------------------------------------------------------


class ExecutionError(Exception):
    """DuckDB could not run a translated query (a type error, a value out of range...)."""


class ExecutionInterrupted(ExecutionError):
    """The query was stopped through its :class:`QueryInterrupt`."""


class QueryOutOfMemory(ExecutionError):
    """The query needed more memory (and spill disk) than its catalogue may use.

    The message says how much the service gives a query, for the job's error summary.
    """


class QueryInterrupt:
    """A handle to stop the query :func:`execute` runs, from another thread or a signal handler.

    :meth:`interrupt` takes no lock and may be called from a ``SIGTERM`` handler: DuckDB
    lets Python signal handlers run while a query executes, and the query then fails
    with :class:`ExecutionInterrupted`. An interrupt requested before the query starts
    stops it at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self._connection: duckdb.DuckDBPyConnection | None = None

    def interrupt(self) -> None:
        """Stop the running query (or the next one this handle is given to)."""
        self.requested = True
        connection = self._connection
        if connection is not None:
            connection.interrupt()

    def _attach(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        if self.requested:
            raise ExecutionInterrupted("the query was interrupted before it started")

    def _detach(self) -> None:
        self._connection = None


def describe(
    catalog: Catalog, translated: TranslatedQuery, *, uploads: Sequence[Upload] = ()
) -> list[ColumnInfo]:
    """The output columns of ``translated``, from DuckDB binding it (nothing is run).

    ``uploads`` are the job's tables the query may read as ``TAP_UPLOAD.name``.
    Raises :class:`AdqlError` when DuckDB refuses the SQL (mostly type errors such as
    comparing a number with a string), with DuckDB's reason.
    """
    connection = catalog.connection()
    names = register(connection, uploads)
    try:
        relation = connection.sql(translated.sql)
        return result_columns(relation, translated)
    except duckdb.Error as exc:
        raise AdqlError(_duckdb_reason(exc)) from None
    except ValueError as exc:  # a result type with no VOTable counterpart
        raise AdqlError(str(exc)) from None
    finally:
        unregister(connection, names)


def _out_of_memory(exc: BaseException, catalog: Catalog) -> str:
    """What a caller should read when a query ran out of memory (and of spill disk)."""
    if catalog.memory_bytes is None:
        return f"out of memory: {_duckdb_reason(exc)}"
    given = f"the {format_bytes(catalog.memory_bytes)} of memory"
    # DuckDB names the setting whose limit was hit when it could not spill any more.
    if catalog.spill_bytes and "max_temp_directory_size" in str(exc):
        given += f" and {format_bytes(catalog.spill_bytes)} of disk"
    return (
        f"out of memory: the query needs more than {given} this service gives a query; "
        "ask for less at once (fewer or narrower columns, fewer groups in GROUP BY, no "
        "cross join of large tables, a narrower WHERE)"
    )


def _duckdb_reason(exc: BaseException) -> str:
    """DuckDB's message without its SQL excerpt and candidate lists (first line only)."""
    text = str(exc).strip().split("\n", 1)[0].strip()
    return text or type(exc).__name__


def execute(
    catalog: Catalog,
    translated: TranslatedQuery,
    *,
    batch_rows: int = BATCH_ROWS,
    interrupt: QueryInterrupt | None = None,
    uploads: Sequence[Upload] = (),
) -> pa.RecordBatchReader:
    """Run ``translated`` on its own connection and stream the result.

    At most :attr:`TranslatedQuery.row_limit` rows arrive, in the query's order, in
    batches of up to ``batch_rows``; column types are normalised to ones with a VOTable
    counterpart (DECIMAL and HUGEINT become double/long, timestamps ISO 8601 text).
    Errors raise :class:`ExecutionError` (from this call or while reading);
    ``interrupt`` or :meth:`Catalog.interrupt` can stop the query
    (:class:`ExecutionInterrupted`). ``uploads`` are the job's tables (``TAP_UPLOAD``),
    registered on the query's connection until the last batch is read.
    """
    connection = catalog.query_connection()
    names: list[str] = []
    try:
        names = register(connection, uploads)
        if interrupt is not None:
            interrupt._attach(connection)
        reader = connection.sql(translated.sql).to_arrow_reader(batch_rows)
    except BaseException as exc:
        if interrupt is not None:
            interrupt._detach()
        unregister(connection, names)
        catalog.release(connection)
        raise _execution_error(exc, interrupt, catalog) from None
    schema = _normalised_schema(reader.schema)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in reader:
                yield _normalised(batch, schema)
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise _execution_error(exc, interrupt, catalog) from None
        finally:
            if interrupt is not None:
                interrupt._detach()
            unregister(connection, names)
            catalog.release(connection)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _execution_error(
    exc: BaseException, interrupt: QueryInterrupt | None, catalog: Catalog
) -> BaseException:
    if isinstance(exc, ExecutionError):
        return exc
    # DuckDB's own limit, or an allocation refused while it fills Arrow buffers (which
    # reaches Python through the Arrow stream as an OSError carrying DuckDB's message).
    if isinstance(exc, duckdb.OutOfMemoryException | pa.ArrowMemoryError | MemoryError) or (
        isinstance(exc, pa.ArrowException | OSError) and "Out of Memory Error" in str(exc)
    ):
        return QueryOutOfMemory(_out_of_memory(exc, catalog))
    if (
        isinstance(exc, duckdb.InterruptException)
        or (interrupt is not None and interrupt.requested)
        or "INTERRUPT" in str(exc)
    ):
        return ExecutionInterrupted("the query was interrupted")
    if isinstance(exc, duckdb.Error | pa.ArrowException | OSError):
        return ExecutionError(_duckdb_reason(exc))
    return exc
