"""Result metadata: units and UCDs from TAP_SCHEMA, timestamps, and text beyond ASCII.

The expected units and UCDs are read from the catalogue's ``tap_schema.columns`` table
with DuckDB directly, not through the translation under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from wsrf_uws.jdl.adql.catalog import Catalog
from wsrf_uws.jdl.adql.cursor import ResultCursor, write_cursor
from wsrf_uws.jdl.adql.query import describe, execute, result_columns, translate
from wsrf_uws.vo.columns import ColumnInfo

from adql_support import catalog_path


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    opened = Catalog.open(catalog_path(tmp_path_factory))
    yield opened
    opened.close()


def tap_schema_columns(catalog: Catalog, table: str) -> list[tuple[str, str | None, str | None]]:
    rows = (
        catalog.connection()
        .execute(
            "SELECT column_name, unit, ucd FROM tap_schema.columns WHERE table_name = ? "
            "ORDER BY column_index",
            [table],
        )
        .fetchall()
    )
    return [(str(name), unit or None, ucd or None) for name, unit, ucd in rows]


def described(catalog: Catalog, adql: str) -> list[ColumnInfo]:
    return describe(catalog, translate(adql, metadata=catalog.metadata, maxrec=None))


@pytest.mark.parametrize("table", ["hipparcos.main", "test.sources"])
def test_every_catalogue_column_carries_its_unit_and_ucd(catalog: Catalog, table: str) -> None:
    expected = tap_schema_columns(catalog, table)
    assert any(unit for _, unit, _ in expected) and all(ucd for _, _, ucd in expected)
    for adql in (
        f"SELECT * FROM {table}",
        f"SELECT t.* FROM {table} AS t",
        f"SELECT * FROM (SELECT * FROM {table}) AS inner_table",
        f"WITH w AS (SELECT * FROM {table}) SELECT * FROM w",
    ):
        got = [(c.name, c.unit, c.ucd) for c in described(catalog, adql)]
        assert got == expected, adql


def test_columns_of_a_join_keep_their_own_tables_metadata(catalog: Catalog) -> None:
    hip = {name: (unit, ucd) for name, unit, ucd in tap_schema_columns(catalog, "hipparcos.main")}
    src = {name: (unit, ucd) for name, unit, ucd in tap_schema_columns(catalog, "test.sources")}
    columns = described(
        catalog,
        "SELECT h.plx, s.flux, h.pmra AS motion FROM hipparcos.main AS h "
        "JOIN test.sources AS s ON s.hip_ref = h.hip",
    )
    assert [(c.unit, c.ucd) for c in columns] == [hip["plx"], src["flux"], hip["pmra"]]


def test_timestamps_are_char_with_the_timestamp_xtype(catalog: Catalog) -> None:
    adql = (
        "SELECT TOP 1 CAST('2024-05-01 12:30:00' AS TIMESTAMP) AS seen, "
        "'x' AS plain FROM hipparcos.main"
    )
    translated = translate(adql, metadata=catalog.metadata, maxrec=None)
    bound = describe(catalog, translated)
    reader = execute(catalog, translated)
    ran = result_columns(reader.schema, translated)
    table = reader.read_all()
    for columns in (bound, ran):
        assert [(c.datatype, c.xtype) for c in columns] == [
            ("char", "timestamp"),
            ("char", None),
        ]
    assert table.column("seen").to_pylist()[0].startswith("2024-05-01T12:30:00")


def cursor_of(catalog: Catalog, adql: str, path: Path) -> list[ColumnInfo]:
    translated = translate(adql, metadata=catalog.metadata, maxrec=None)
    with execute(catalog, translated) as reader:
        columns = result_columns(reader.schema, translated)
        assert {c.datatype for c in columns if c.name != "hip"} == {"char"}
        summary = write_cursor(reader, path, columns=columns, batch_rows=7)
    with ResultCursor.open(path) as cursor:
        assert cursor.columns == summary.columns
    return summary.columns


def test_text_columns_become_unicode_only_where_a_value_needs_it(
    catalog: Catalog, tmp_path: Path
) -> None:
    columns = cursor_of(
        catalog,
        # The non-ASCII value arrives in a late batch only (batches of 7 rows here).
        "SELECT TOP 30 hip, CASE WHEN hip = 25 THEN 'Ångström' ELSE 'A' END AS late, "
        "UPPER('café') AS loud, 'plain' AS ascii, CAST(NULL AS VARCHAR) AS nothing, "
        "s.name FROM hipparcos.main LEFT JOIN test.sources AS s ON s.hip_ref = hip ORDER BY hip",
        tmp_path / "cursor.arrow",
    )
    datatypes = {c.name: c.datatype for c in columns}
    assert datatypes == {
        "hip": "int",
        "late": "unicodeChar",
        "loud": "unicodeChar",
        "ascii": "char",
        "nothing": "char",
        "name": "char",
    }


def test_a_cursor_without_the_unicode_list_reads_as_before(tmp_path: Path) -> None:
    # Cursors written before text columns were checked have no list in their trailer.
    columns = [ColumnInfo("name", "char", arraysize="*")]
    reader = pa.RecordBatchReader.from_batches(
        pa.schema([("name", pa.string())]), [pa.record_batch([pa.array(["a", "b"])], ["name"])]
    )
    summary = write_cursor(reader, tmp_path / "c.arrow", columns=columns)
    assert summary.columns == columns
    with ResultCursor.open(tmp_path / "c.arrow") as cursor:
        assert cursor.columns == columns
        assert cursor.rows(0, 2).column("name").to_pylist() == ["a", "b"]
