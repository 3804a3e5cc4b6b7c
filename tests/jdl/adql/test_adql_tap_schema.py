"""The catalogue's TAP_SCHEMA as TAP 1.1 §4 asks: reserved names delimited, TAP_SCHEMA's own
foreign keys, and a catalogue an older version built brought up to date when it is opened.

The catalogues are real DuckDB files (a small synthetic one); the "older version" is made by
undoing, in the file, what the current version writes.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from wsrf_uws.jdl.adql.catalog import Catalog, build_synthetic, ensure_catalog
from wsrf_uws.jdl.adql.reserved_words import adql_name, plain_name
from wsrf_uws.jdl.adql.tap_schema import DESCRIPTION_VERSION, description_version

#: TAP_SCHEMA's foreign keys (TAP 1.1 §4): from table, target table, from column, target column.
EXPECTED_KEYS = {
    ("tap_schema.tables", "tap_schema.schemas", "schema_name", "schema_name"),
    ("tap_schema.columns", "tap_schema.tables", "table_name", "table_name"),
    ("tap_schema.keys", "tap_schema.tables", "from_table", "table_name"),
    ("tap_schema.keys", "tap_schema.tables", "target_table", "table_name"),
    ("tap_schema.key_columns", "tap_schema.keys", "key_id", "key_id"),
}


def keys(connection: duckdb.DuckDBPyConnection) -> set[tuple[str, ...]]:
    rows = connection.execute(
        "SELECT k.from_table, k.target_table, c.from_column, c.target_column "
        "FROM tap_schema.keys AS k JOIN tap_schema.key_columns AS c ON k.key_id = c.key_id"
    ).fetchall()
    return {tuple(row) for row in rows}


def listed_names(connection: duckdb.DuckDBPyConnection) -> set[str]:
    rows = connection.execute(
        "SELECT column_name FROM tap_schema.columns WHERE table_name = 'tap_schema.columns'"
    ).fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.duckdb"
    build_synthetic(path, rows=100)
    return path


def test_a_new_catalogue_lists_size_delimited_and_its_own_keys(catalogue: Path) -> None:
    with duckdb.connect(str(catalogue), read_only=True) as connection:
        assert description_version(connection) == DESCRIPTION_VERSION
        assert keys(connection) == EXPECTED_KEYS
        names = listed_names(connection)
    assert '"size"' in names
    assert "size" not in names
    assert "column_name" in names
    # In memory the column has the name the database knows: queries are checked with it.
    with Catalog.open(catalogue) as opened:
        table = opened.metadata.table("tap_schema.columns")
        assert table is not None
        assert "size" in table.column_names


def test_an_older_catalogue_is_upgraded_in_place_when_ensured(catalogue: Path) -> None:
    with duckdb.connect(str(catalogue)) as connection:  # what an older version wrote
        connection.execute("DELETE FROM tap_schema.keys")
        connection.execute("DELETE FROM tap_schema.key_columns")
        connection.execute(
            "UPDATE tap_schema.columns SET column_name = 'size' WHERE column_name = '\"size\"'"
        )
        connection.execute("COMMENT ON TABLE tap_schema.schemas IS NULL")
        assert description_version(connection) == 0
        rows_before = connection.execute("SELECT count(*) FROM synthetic.main").fetchone()

    def must_not_rebuild(path: Path) -> None:
        raise AssertionError(f"{path} was rebuilt rather than upgraded")

    assert ensure_catalog(catalogue, build=must_not_rebuild) == catalogue
    with duckdb.connect(str(catalogue), read_only=True) as connection:
        assert description_version(connection) == DESCRIPTION_VERSION
        assert keys(connection) == EXPECTED_KEYS
        assert '"size"' in listed_names(connection)
        assert connection.execute("SELECT count(*) FROM synthetic.main").fetchone() == (rows_before)
    # Up to date now: a second call opens nothing for writing and changes nothing.
    modified = catalogue.stat().st_mtime_ns
    ensure_catalog(catalogue, build=must_not_rebuild)
    assert catalogue.stat().st_mtime_ns == modified


@pytest.mark.parametrize(
    ("name", "written"),
    [("size", '"size"'), ("SIZE", '"SIZE"'), ("value", '"value"'), ("ra", "ra"), ("hpx", "hpx")],
)
def test_reserved_words_are_written_delimited_and_read_back(name: str, written: str) -> None:
    assert adql_name(name) == written
    assert plain_name(written) == name
