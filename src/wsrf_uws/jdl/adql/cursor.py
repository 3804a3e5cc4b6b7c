"""A job's query result kept as an Arrow IPC file, so any row range can be served cheaply.

Why: ``exposeRows(start, end)`` must cost what the rows requested cost, wherever they lie
in a result of millions of rows. The result is written once, streaming, to an uncompressed
Arrow IPC ("Feather v2") file cut into batches of one fixed size; reading it back is a
memory map, so row ``r`` lies in batch ``r // batch_rows`` by arithmetic and a page is a
zero-copy slice of at most a few batches. Opening reads the footer and two message headers,
never the data, so a cursor may be opened per request.

Layout of the file (readable by any Arrow IPC reader):

- the schema's metadata holds the column descriptions (:class:`ColumnInfo`, as JSON) and
  the batch size, so the file describes itself;
- batches ``0 .. n-1`` hold the rows, every one ``batch_rows`` long except the last, which
  may be shorter;
- one more, empty, batch closes the file; its custom metadata holds the row count,
  whether the query had more rows than were kept (overflow), and which ``char`` columns
  hold text that is not ASCII (declared ``unicodeChar`` from then on), all known only at
  the end of the stream.

Why text columns are widened only when needed: VOTable ``char`` is ASCII, ``unicodeChar``
is UTF-16, which measured twice as slow to write and 60% larger in BINARY2 for ASCII
names (docs/adql.md); a check per batch (``string_is_ascii``) costs little.

Rows are numbered from 0 in the order the query produced them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pyarrow as pa
import pyarrow.compute as pc

from ...core.atomic import atomic_path
from ...vo.columns import ColumnInfo

#: Schema metadata key: the column descriptions, a JSON list of ColumnInfo fields.
COLUMNS_KEY = b"wsrf_uws.adql.columns"
#: Schema metadata key: the fixed number of rows per batch (decimal).
BATCH_ROWS_KEY = b"wsrf_uws.adql.batch_rows"
#: Schema metadata key: the layout version of the file.
FORMAT_KEY = b"wsrf_uws.adql.cursor"
FORMAT_VERSION = b"1"
#: Custom metadata keys of the closing batch.
TOTAL_ROWS_KEY = b"wsrf_uws.adql.total_rows"
OVERFLOW_KEY = b"wsrf_uws.adql.overflow"
#: Custom metadata key of the closing batch: the positions (comma-separated) of the ``char``
#: columns some value of which is not ASCII, declared ``unicodeChar`` when read back.
UNICODE_KEY = b"wsrf_uws.adql.unicode_columns"

DEFAULT_BATCH_ROWS = 65536


@dataclass(frozen=True)
class CursorSummary:
    """What :func:`write_cursor` wrote."""

    total_rows: int
    """Rows kept in the file."""
    overflow: bool
    """True when the reader had more rows than ``max_rows`` (they were not kept)."""
    columns: list[ColumnInfo]
    batch_rows: int
    path: Path
    bytes: int
    """Size of the file."""


def write_cursor(
    reader: pa.RecordBatchReader,
    path: Path,
    *,
    columns: list[ColumnInfo],
    max_rows: int | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    on_rows: Callable[[int], None] | None = None,
) -> CursorSummary:
    """Stream ``reader`` into a cursor file at ``path``, replacing any file there atomically.

    Memory stays bounded by about two batches whatever the size of the result. The file
    appears at ``path`` complete (written atomically and durably, see
    :mod:`wsrf_uws.core.atomic`) or not at all: on an error the temporary file is removed
    and the error propagates.

    Overflow convention: to apply a MAXREC of ``m``, let the query return up to ``m + 1``
    rows (``LIMIT m + 1``) and pass ``max_rows=m``: the first ``m`` rows are kept and
    ``overflow`` says whether a further row existed. The reader is not read beyond that
    row, nor closed: that is the caller's business (``with reader:``), and it matters, as a
    DuckDB connection refuses new queries while one of its readers is open and undrained.
    With ``max_rows=None`` every row is kept and ``overflow`` is false.

    ``columns`` describes the reader's columns by position (names in the Arrow schema may
    repeat, as SQL allows) and is stored in the file; a ``char`` column that receives
    non-ASCII text is declared ``unicodeChar`` in the summary and when the file is read.
    Dictionary-encoded columns are stored decoded. ``on_rows`` is called with the number
    of rows written so far after each batch, and at least once, with the final count, at
    the end.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    if max_rows is not None and max_rows < 0:
        raise ValueError(f"max_rows must be None or at least 0, not {max_rows}")
    source_schema = reader.schema
    if len(columns) != len(source_schema):
        raise ValueError(
            f"{len(columns)} column descriptions for a result of {len(source_schema)} columns "
            f"({', '.join(source_schema.names)}): give exactly one ColumnInfo per column"
        )
    schema = _decoded_schema(source_schema).with_metadata(
        {
            FORMAT_KEY: FORMAT_VERSION,
            COLUMNS_KEY: json.dumps([asdict(c) for c in columns]).encode(),
            BATCH_ROWS_KEY: str(batch_rows).encode(),
        }
    )
    path = Path(path)
    with (
        atomic_path(path) as temporary,
        pa.OSFile(str(temporary), "wb") as sink,
        pa.ipc.new_file(sink, schema) as writer,
    ):
        text = _TextWatch(columns, schema)
        rebatcher = _Rebatcher(
            writer, schema, batch_rows=batch_rows, on_rows=on_rows, watch=text.check
        )
        overflow = _copy_rows(reader, rebatcher, max_rows=max_rows)
        total_rows = rebatcher.finish()
        trailer = {
            TOTAL_ROWS_KEY: str(total_rows).encode(),
            OVERFLOW_KEY: b"true" if overflow else b"false",
        }
        if text.unicode:
            trailer[UNICODE_KEY] = ",".join(str(i) for i in sorted(text.unicode)).encode()
        writer.write_batch(_empty(schema), custom_metadata=trailer)
    if rebatcher.reported != total_rows and on_rows is not None:
        on_rows(total_rows)
    return CursorSummary(
        total_rows=total_rows,
        overflow=overflow,
        columns=_widened(columns, text.unicode),
        batch_rows=batch_rows,
        path=path,
        bytes=path.stat().st_size,
    )


def _copy_rows(
    reader: pa.RecordBatchReader, rebatcher: _Rebatcher, *, max_rows: int | None
) -> bool:
    """Feed the reader's rows to ``rebatcher``, up to ``max_rows``; True if more existed."""
    kept = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        if max_rows is not None:
            room = max_rows - kept
            if room == 0:
                return True
            if batch.num_rows > room:
                rebatcher.add(batch.slice(0, room))
                return True
        rebatcher.add(batch)
        kept += batch.num_rows
    return False


class _TextWatch:
    """Finds the ``char`` columns holding text that is not ASCII (checked until found)."""

    def __init__(self, columns: list[ColumnInfo], schema: pa.Schema) -> None:
        self.pending = {
            index
            for index, (info, field) in enumerate(zip(columns, schema, strict=True))
            if info.datatype == "char" and pa.types.is_string(field.type)
        }
        self.unicode: set[int] = set()

    def check(self, batch: pa.RecordBatch) -> None:
        for index in list(self.pending):
            if not pc.all(pc.string_is_ascii(batch.column(index)), min_count=0).as_py():
                self.pending.discard(index)
                self.unicode.add(index)


def _widened(columns: list[ColumnInfo], unicode: set[int]) -> list[ColumnInfo]:
    return [
        replace(c, datatype="unicodeChar") if i in unicode else c for i, c in enumerate(columns)
    ]


class _Rebatcher:
    """Writes incoming batches of any sizes as batches of exactly ``batch_rows`` rows."""

    def __init__(
        self,
        writer: Any,
        schema: pa.Schema,
        *,
        batch_rows: int,
        on_rows: Callable[[int], None] | None,
        watch: Callable[[pa.RecordBatch], None] | None = None,
    ) -> None:
        self._watch = watch
        self._writer = writer
        self._schema = schema
        self._batch_rows = batch_rows
        self._on_rows = on_rows
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.written = 0
        self.reported: int | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        batch = _decoded(batch, self._schema)
        if not self._pending:
            # Whole batches straight from the source cost no copy.
            whole = batch.num_rows - batch.num_rows % self._batch_rows
            for start in range(0, whole, self._batch_rows):
                self._write(batch.slice(start, self._batch_rows))
            if whole < batch.num_rows:
                self._pending.append(batch.slice(whole))
                self._pending_rows = batch.num_rows - whole
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self._batch_rows:
            combined = pa.concat_batches(self._pending)
            self._pending, self._pending_rows = [], 0
            self.add(combined)

    def finish(self) -> int:
        """Write what is left as the (short) last batch; the number of rows written."""
        if self._pending:
            self._write(pa.concat_batches(self._pending))
            self._pending, self._pending_rows = [], 0
        return self.written

    def _write(self, batch: pa.RecordBatch) -> None:
        if self._watch is not None:
            self._watch(batch)
        self._writer.write_batch(batch)
        self.written += batch.num_rows
        if self._on_rows is not None:
            self._on_rows(self.written)
            self.reported = self.written


def _decoded_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with dictionary types replaced by their value types.

    The IPC file format cannot hold a dictionary that changes between batches, and
    query engines emit one dictionary per batch.
    """
    fields = [
        field.with_type(field.type.value_type) if pa.types.is_dictionary(field.type) else field
        for field in schema
    ]
    return pa.schema(fields)


def _decoded(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if not any(pa.types.is_dictionary(column.type) for column in batch.columns):
        return batch
    arrays = [
        column.dictionary_decode() if pa.types.is_dictionary(column.type) else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)


class ResultCursor:
    """Read access to a cursor file written by :func:`write_cursor`.

    Rows are numbered from 0. :meth:`rows` takes Python-slice bounds: ``start`` inclusive,
    ``end`` exclusive, both clamped to :attr:`total_rows`. The tables it returns are
    zero-copy views of the memory-mapped file; they stay valid after :meth:`close` (the
    mapping lives while a view does) and even after the file is deleted.

    One cursor may be shared by several threads: the only state touched per call (the
    Arrow file reader) is used under a lock, for the few microseconds it takes to locate
    a batch. Opening is cheap too (the footer and two message headers are read), so a
    cursor per request is fine.
    """

    def __init__(
        self,
        path: Path,
        *,
        source: Any,
        reader: Any,
        columns: list[ColumnInfo],
        batch_rows: int,
        total_rows: int,
        overflow: bool,
    ) -> None:
        """Use :meth:`open`."""
        self.path = path
        self.columns = columns
        self.batch_rows = batch_rows
        self.total_rows = total_rows
        self.overflow = overflow
        self.schema: pa.Schema = reader.schema.remove_metadata()
        self._source = source
        self._reader = reader
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: Path) -> ResultCursor:
        """Map the cursor file at ``path``; ValueError if it is not one."""
        path = Path(path)
        source = pa.memory_map(str(path), "r")
        try:
            try:
                reader = pa.ipc.open_file(source)
            except pa.ArrowInvalid as error:
                raise ValueError(f"{path} is not an Arrow IPC file: {error}") from error
            columns, batch_rows = _read_schema_metadata(path, reader.schema.metadata or {})
            total_rows, overflow, unicode = _read_trailer(path, reader, batch_rows)
            columns = _widened(columns, unicode)
        except BaseException:
            source.close()
            raise
        return cls(
            path,
            source=source,
            reader=reader,
            columns=columns,
            batch_rows=batch_rows,
            total_rows=total_rows,
            overflow=overflow,
        )

    def rows(self, start: int, end: int) -> pa.Table:
        """Rows ``start`` (inclusive) to ``end`` (exclusive), counted from 0.

        Both bounds are clamped to :attr:`total_rows`, so a range past the end gives fewer
        rows or none; ``start == end`` gives an empty table with the result's columns.
        ValueError for a negative bound or ``end < start``.
        """
        start, end = self._bounds(start, end)
        return pa.Table.from_batches(list(self._slices(start, end, None)), schema=self.schema)

    def iter_batches(
        self, chunk_rows: int = DEFAULT_BATCH_ROWS, *, start: int = 0, end: int | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Rows ``start`` to ``end`` (default: all) as zero-copy batches of at most ``chunk_rows``.

        Bounds follow :meth:`rows`. Memory stays bounded whatever the range: each batch is
        a view of the mapped file.
        """
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
        start, end = self._bounds(start, self.total_rows if end is None else end)
        return self._slices(start, end, chunk_rows)

    def close(self) -> None:
        """Release the file mapping (views already handed out stay valid)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._reader = None
                self._source.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.total_rows} rows"
        return f"<ResultCursor {self.path} {state}>"

    def _bounds(self, start: int, end: int) -> tuple[int, int]:
        if start < 0 or end < 0:
            raise ValueError(
                f"row range [{start}, {end}) has a negative bound: rows are counted from 0"
            )
        if end < start:
            raise ValueError(
                f"row range [{start}, {end}) ends before it starts: end must be >= start "
                "(end is exclusive)"
            )
        return min(start, self.total_rows), min(end, self.total_rows)

    def _batch(self, index: int) -> pa.RecordBatch:
        with self._lock:
            if self._reader is None:
                raise ValueError(f"result cursor {self.path} is closed")
            return self._reader.get_batch(index)

    def _slices(self, start: int, end: int, chunk_rows: int | None) -> Iterator[pa.RecordBatch]:
        """Views of rows [start, end), cut at batch boundaries and every ``chunk_rows``."""
        if self._closed:
            raise ValueError(f"result cursor {self.path} is closed")
        position = start
        while position < end:
            index, offset = divmod(position, self.batch_rows)
            batch = self._batch(index)
            length = min(batch.num_rows - offset, end - position)
            if chunk_rows is not None:
                length = min(length, chunk_rows)
            yield batch.slice(offset, length).replace_schema_metadata(None)
            position += length


def _read_schema_metadata(path: Path, metadata: dict[bytes, bytes]) -> tuple[list[ColumnInfo], int]:
    if metadata.get(FORMAT_KEY) != FORMAT_VERSION:
        raise ValueError(
            f"{path} is not a result cursor (layout {FORMAT_VERSION.decode()}) written by "
            f"write_cursor: its schema metadata lacks {FORMAT_KEY.decode()}="
            f"{FORMAT_VERSION.decode()}"
        )
    try:
        columns = [ColumnInfo(**fields) for fields in json.loads(metadata[COLUMNS_KEY])]
        batch_rows = int(metadata[BATCH_ROWS_KEY])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: unreadable cursor metadata: {error}") from error
    return columns, batch_rows


def _read_trailer(path: Path, reader: Any, batch_rows: int) -> tuple[int, bool, set[int]]:
    """The row count, overflow flag and non-ASCII text columns from the closing batch,
    checked against the layout."""
    batches = reader.num_record_batches
    if batches < 1:
        raise ValueError(f"{path}: cursor file has no closing batch (was it cut short?)")
    trailer = reader.get_batch_with_custom_metadata(batches - 1)
    metadata = trailer.custom_metadata or {}
    try:
        total_rows = int(metadata[TOTAL_ROWS_KEY])
        overflow = {b"true": True, b"false": False}[metadata[OVERFLOW_KEY]]
        listed = metadata.get(UNICODE_KEY, b"").decode()
        unicode = {int(i) for i in listed.split(",")} if listed else set()
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: cursor file's closing batch lacks {error}") from error
    data_batches = batches - 1
    last_rows = reader.get_batch(data_batches - 1).num_rows if data_batches else 0
    laid_out = (data_batches - 1) * batch_rows + last_rows if data_batches else 0
    bad_last = data_batches > 0 and not 0 < last_rows <= batch_rows
    if laid_out != total_rows or bad_last:
        raise ValueError(
            f"{path}: cursor file holds {data_batches} batches of {batch_rows} rows ending "
            f"with {last_rows}, which does not make the {total_rows} rows it announces"
        )
    return total_rows, overflow, unicode
