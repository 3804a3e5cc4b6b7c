"""The result cursor: an Arrow IPC file of fixed-size batches, paged by row range.

Results come from generated readers (odd batch sizes, so the cursor has to re-batch) and
from a real DuckDB query; pages are compared with the rows the reader produced.
"""

from __future__ import annotations

import io
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psutil
import pyarrow as pa
import pytest
from astropy.io.votable import parse

from wsrf_uws.jdl.adql.cursor import ResultCursor, write_cursor
from wsrf_uws.vo.columns import ColumnInfo
from wsrf_uws.vo.votable import write_votable

SCHEMA = pa.schema([("row", pa.int64()), ("value", pa.float64()), ("label", pa.string())])
COLUMNS = [
    ColumnInfo("row", "long", ucd="meta.id"),
    ColumnInfo("value", "double", unit="deg", description="row / 4"),
    ColumnInfo("label", "char", "*"),
]


def generated(
    rows: int, batch: int, pulled: list[int] | None = None, *, labels: bool = True
) -> Iterator[pa.RecordBatch]:
    """Rows 0..rows-1 in batches of ``batch`` (appending each batch's index to ``pulled``).

    Without ``labels`` the label column is all null (cheap to make in bulk)."""
    for index, start in enumerate(range(0, rows, batch)):
        if pulled is not None:
            pulled.append(index)
        ids = np.arange(start, min(start + batch, rows), dtype=np.int64)
        text = pa.array([f"r{i}" for i in ids]) if labels else pa.nulls(ids.size, pa.string())
        yield pa.record_batch([pa.array(ids), pa.array(ids / 4), text], schema=SCHEMA)


def reader(
    rows: int, batch: int, pulled: list[int] | None = None, *, labels: bool = True
) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(SCHEMA, generated(rows, batch, pulled, labels=labels))


def check_page(page: pa.Table, start: int, end: int) -> None:
    """``page`` holds exactly rows [start, end) of the generated result."""
    assert page.schema == SCHEMA
    assert page.column("row").to_pylist() == list(range(start, end))
    assert page.column("value").to_pylist() == [i / 4 for i in range(start, end)]
    assert page.column("label").to_pylist() == [f"r{i}" for i in range(start, end)]


@pytest.fixture
def cursor_path(tmp_path: Path) -> Path:
    """A cursor of 10 007 rows in batches of 1 000, written from batches of 777 rows."""
    path = tmp_path / "result.arrow"
    write_cursor(reader(10_007, 777), path, columns=COLUMNS, batch_rows=1000)
    return path


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 10),  # start
        (0, 1000),  # exactly the first batch
        (5000, 5100),  # middle
        (999, 1001),  # across one boundary
        (1500, 4500),  # across several
        (9990, 10_007),  # end
        (10_000, 10_007),  # the short last batch
        (0, 10_007),  # all
    ],
)
def test_rows_anywhere(cursor_path: Path, start: int, end: int) -> None:
    with ResultCursor.open(cursor_path) as cursor:
        check_page(cursor.rows(start, end), start, end)


def test_ranges_are_clamped_and_may_be_empty(cursor_path: Path) -> None:
    with ResultCursor.open(cursor_path) as cursor:
        assert cursor.total_rows == 10_007
        check_page(cursor.rows(10_000, 50_000), 10_000, 10_007)
        check_page(cursor.rows(20_000, 30_000), 0, 0)
        check_page(cursor.rows(500, 500), 0, 0)
        check_page(cursor.rows(10_007, 10_007), 0, 0)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (-1, 5, r"row range \[-1, 5\) has a negative bound"),
        (0, -5, r"row range \[0, -5\) has a negative bound"),
        (10, 5, r"row range \[10, 5\) ends before it starts"),
    ],
)
def test_bad_ranges_are_refused(cursor_path: Path, start: int, end: int, message: str) -> None:
    with ResultCursor.open(cursor_path) as cursor:
        with pytest.raises(ValueError, match=message):
            cursor.rows(start, end)
        with pytest.raises(ValueError, match=message):
            cursor.iter_batches(100, start=start, end=end)


def test_batches_have_one_fixed_size(cursor_path: Path) -> None:
    """Any Arrow reader sees batches of exactly batch_rows, a short last one, an empty end."""
    with pa.memory_map(str(cursor_path)) as source:
        plain = pa.ipc.open_file(source)
        sizes = [plain.get_batch(i).num_rows for i in range(plain.num_record_batches)]
        assert plain.schema.remove_metadata() == SCHEMA
    assert sizes == [1000] * 10 + [7, 0]


def test_the_file_describes_itself(cursor_path: Path) -> None:
    with ResultCursor.open(cursor_path) as cursor:
        assert cursor.columns == COLUMNS
        assert (cursor.batch_rows, cursor.overflow, cursor.schema) == (1000, False, SCHEMA)


def test_summary_and_progress(tmp_path: Path) -> None:
    counts: list[int] = []
    path = tmp_path / "c.arrow"
    summary = write_cursor(
        reader(2500, 300), path, columns=COLUMNS, batch_rows=1000, on_rows=counts.append
    )
    assert counts == [1000, 2000, 2500]
    assert (summary.total_rows, summary.overflow, summary.batch_rows) == (2500, False, 1000)
    assert (summary.path, summary.bytes, summary.columns) == (path, path.stat().st_size, COLUMNS)


def test_iter_batches_streams_any_range_in_bounded_chunks(cursor_path: Path) -> None:
    with ResultCursor.open(cursor_path) as cursor:
        batches = list(cursor.iter_batches(300))
        assert max(b.num_rows for b in batches) == 300
        check_page(pa.Table.from_batches(batches), 0, 10_007)
        part = list(cursor.iter_batches(5000, start=1990, end=4010))
        assert [b.num_rows for b in part] == [10, 1000, 1000, 10]
        check_page(pa.Table.from_batches(part), 1990, 4010)
        with pytest.raises(ValueError, match="chunk_rows must be at least 1"):
            cursor.iter_batches(0)


def test_empty_result(tmp_path: Path) -> None:
    counts: list[int] = []
    path = tmp_path / "empty.arrow"
    summary = write_cursor(reader(0, 10), path, columns=COLUMNS, on_rows=counts.append)
    assert (summary.total_rows, summary.overflow, counts) == (0, False, [0])
    with ResultCursor.open(path) as cursor:
        assert cursor.total_rows == 0
        check_page(cursor.rows(0, 100), 0, 0)
        assert list(cursor.iter_batches()) == []


@pytest.mark.parametrize(
    ("available", "max_rows", "kept", "overflow"),
    [
        (2001, 2000, 2000, True),  # the maxrec + 1 convention
        (5000, 2000, 2000, True),
        (2000, 2000, 2000, False),  # exactly maxrec rows: no overflow
        (1500, 2000, 1500, False),
        (10, 0, 0, True),
        (0, 0, 0, False),
    ],
)
def test_overflow(tmp_path: Path, available: int, max_rows: int, kept: int, overflow: bool) -> None:
    path = tmp_path / "c.arrow"
    pulled: list[int] = []
    summary = write_cursor(
        reader(available, 700, pulled), path, columns=COLUMNS, max_rows=max_rows, batch_rows=600
    )
    assert (summary.total_rows, summary.overflow) == (kept, overflow)
    # The reader is read up to the first row beyond max_rows, no further.
    assert len(pulled) == min(-(-available // 700), max_rows // 700 + 1)
    with ResultCursor.open(path) as cursor:
        assert (cursor.total_rows, cursor.overflow) == (kept, overflow)
        check_page(cursor.rows(0, max_rows + 10), 0, kept)


def test_a_failing_reader_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "c.arrow"
    write_cursor(reader(50, 10), path, columns=COLUMNS)
    before = path.read_bytes()

    def broken() -> Iterator[pa.RecordBatch]:
        yield from generated(30, 10)
        raise RuntimeError("the query failed")

    with pytest.raises(RuntimeError, match="the query failed"):
        write_cursor(
            pa.RecordBatchReader.from_batches(SCHEMA, broken()),
            path,
            columns=COLUMNS,
            batch_rows=10,
        )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.arrow"]


def test_bad_writes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.arrow"
    with pytest.raises(ValueError, match="2 column descriptions for a result of 3 columns"):
        write_cursor(reader(5, 5), path, columns=COLUMNS[:2])
    with pytest.raises(ValueError, match="batch_rows must be at least 1, not 0"):
        write_cursor(reader(5, 5), path, columns=COLUMNS, batch_rows=0)
    with pytest.raises(ValueError, match="max_rows must be None or at least 0, not -1"):
        write_cursor(reader(5, 5), path, columns=COLUMNS, max_rows=-1)
    assert list(tmp_path.iterdir()) == []


def test_files_that_are_not_cursors_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.arrow"
    with pa.OSFile(str(plain), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
        writer.write_batch(next(generated(5, 5)))
    with pytest.raises(ValueError, match="is not a result cursor"):
        ResultCursor.open(plain)
    text = tmp_path / "text.arrow"
    text.write_text("not arrow at all")
    with pytest.raises(ValueError, match="is not an Arrow IPC file"):
        ResultCursor.open(text)


def test_closed_cursor_refuses_but_pages_outlive_it_and_the_file(cursor_path: Path) -> None:
    cursor = ResultCursor.open(cursor_path)
    page = cursor.rows(2500, 3500)
    cursor.close()
    cursor.close()  # twice is fine
    assert cursor.closed
    with pytest.raises(ValueError, match="is closed"):
        cursor.rows(0, 1)
    os.unlink(cursor_path)
    check_page(page, 2500, 3500)


def test_dictionary_columns_from_duckdb_are_stored_decoded(tmp_path: Path) -> None:
    """A real DuckDB result (an ENUM arrives dictionary-encoded, one dictionary per batch)."""
    connection = duckdb.connect()
    connection.execute("CREATE TYPE colour AS ENUM ('red', 'green', 'blue')")
    query = (
        "SELECT range AS id, (['red', 'green', 'blue'])[range % 3 + 1]::colour AS colour, "
        "range * 0.5 AS half FROM range(5000) ORDER BY id"
    )
    columns = [
        ColumnInfo("id", "long"),
        ColumnInfo("colour", "char", "*"),
        ColumnInfo("half", "double"),
    ]
    path = tmp_path / "c.arrow"
    # DuckDB keeps the connection busy until the reader, left undrained here, is closed.
    with connection.sql(query).to_arrow_reader(700) as source:
        summary = write_cursor(source, path, columns=columns, batch_rows=1024, max_rows=4000)
    assert (summary.total_rows, summary.overflow) == (4000, True)
    expected = connection.sql(query + " LIMIT 4000").to_arrow_table()
    with ResultCursor.open(path) as cursor:
        page = cursor.rows(1000, 3100)
        assert pa.types.is_string(page.schema.field("colour").type)
        assert page.column("colour").to_pylist() == expected.column("colour").to_pylist()[1000:3100]
        assert page.column("id").to_pylist() == list(range(1000, 3100))
        assert page.column("half").to_pylist() == [i * 0.5 for i in range(1000, 3100)]


def test_one_cursor_serves_many_threads(cursor_path: Path) -> None:
    failures: list[BaseException] = []

    with ResultCursor.open(cursor_path) as cursor:

        def work(seed: int) -> None:
            rng = random.Random(seed)
            try:
                for _ in range(200):
                    start = rng.randrange(10_007)
                    end = start + rng.randrange(1, 1500)
                    check_page(cursor.rows(start, end), start, min(end, 10_007))
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_memory_stays_bounded_writing_and_streaming_a_large_result(tmp_path: Path) -> None:
    """2 M rows (48 MB of values) are written and then streamed out as a VOTable, without
    ever holding more than a few batches: the reader is consumed as the file is written,
    Arrow's allocations stay small and the process does not grow by the result's size."""
    rows, batch = 2_000_000, 50_000
    pulled: list[int] = []
    allocated: list[int] = []
    lag: list[int] = []
    process = psutil.Process()
    baseline_rss = process.memory_info().rss
    peak_rss = [baseline_rss]

    def progress(count: int) -> None:
        allocated.append(pa.total_allocated_bytes())
        peak_rss[0] = max(peak_rss[0], process.memory_info().rss)
        lag.append(len(pulled) * batch - count)

    path = tmp_path / "large.arrow"
    summary = write_cursor(
        reader(rows, batch, pulled, labels=False),
        path,
        columns=COLUMNS,
        batch_rows=65536,
        on_rows=progress,
    )
    assert summary.total_rows == rows and len(allocated) == -(-rows // 65536)
    assert max(lag) <= 65536 + batch  # at most one output and one input batch in hand
    assert max(allocated) < 8 * 2**20
    assert peak_rss[0] - baseline_rss < 24 * 2**20  # the values alone are 48 MB

    class Counting(io.RawIOBase):
        size = 0

        def write(self, data: Any) -> int:
            allocated.append(pa.total_allocated_bytes())
            self.size += memoryview(data).nbytes
            return memoryview(data).nbytes

    allocated.clear()
    sink = Counting()
    with ResultCursor.open(path) as cursor:
        written = write_votable(sink, cursor.iter_batches(), columns=COLUMNS)
    assert written == sink.size > rows * 8 * 2
    assert max(allocated) < 32 * 2**20


def test_pages_become_votables(cursor_path: Path) -> None:
    """The path exposeRows takes: open, slice, encode; astropy reads the page back."""
    with ResultCursor.open(cursor_path) as cursor:
        page = cursor.rows(995, 1005)
        buffer = io.BytesIO()
        write_votable(buffer, page, columns=cursor.columns, overflow=cursor.overflow)
    table = parse(io.BytesIO(buffer.getvalue())).get_first_table().array
    assert table["row"].tolist() == list(range(995, 1005))
    assert list(table["label"]) == [f"r{i}" for i in range(995, 1005)]
