"""What the catalogue holds, described TAP_SCHEMA-style inside the catalogue file itself.

A catalogue is one DuckDB file. Next to the data tables, its schema ``tap_schema`` holds
the tables of IVOA TAP 1.1 §4 (``schemas``, ``tables``, ``columns``, ``keys``,
``key_columns``, with the standard column names, describing themselves as well), so the
description travels with the data and can be queried in ADQL like any other table. One
table is the project's own: ``tap_schema.spatial_index`` says which columns of a table
are its position (for the geometry rewrite) and which holds its HEALPix index. As TAP asks,
a column named by a reserved word is listed delimited (``"size"``), and ``keys`` and
``key_columns`` hold TAP_SCHEMA's own foreign keys.

The description has a version: :mod:`.tap_schema_upgrade` brings one an older version
wrote up to date.

:class:`TableInfo` and :class:`CatalogMetadata` are that description in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...vo.columns import ColumnInfo
from .reserved_words import adql_name, plain_name
from .tap_schema_upgrade import (
    DESCRIPTION_VERSION,
    SCHEMA,
    SELF_KEYS,
    description_version,
    target_column,
    upgrade_description,
)

if TYPE_CHECKING:
    import duckdb  # in annotations only: the service reads this module without DuckDB

__all__ = [
    "DESCRIPTION_VERSION",
    "SCHEMA",
    "SELF_DESCRIPTION",
    "SELF_KEYS",
    "CatalogMetadata",
    "TableInfo",
    "create_description_tables",
    "describe_schema",
    "describe_table",
    "description_version",
    "healpix_column",
    "read_metadata",
    "target_column",
    "upgrade_description",
]


def healpix_column(order: int, *, name: str = "hpx") -> ColumnInfo:
    """The description of a catalogue's HEALPix index column (nested scheme, ``order``)."""
    return ColumnInfo(
        name=name,
        datatype="long",
        ucd="pos.healpix",
        description=f"HEALPix index of (ra, dec), nested scheme, order {order}",
    )


@dataclass(frozen=True)
class TableInfo:
    """One table of the catalogue: its columns' metadata and its spatial index.

    ``ra_column``/``dec_column`` name the ICRS position in degrees; ``healpix_column``
    holds the nested HEALPix index of that position at ``healpix_order``, and the table
    is stored sorted by it (so a range of indices is a range of row groups).
    """

    schema_name: str
    table_name: str
    columns: tuple[ColumnInfo, ...]
    description: str | None = None
    utype: str | None = None
    ra_column: str | None = None
    dec_column: str | None = None
    healpix_column: str | None = None
    healpix_order: int | None = None
    _by_name: dict[str, ColumnInfo] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name.lower(): c for c in self.columns})
        for role in ("ra_column", "dec_column", "healpix_column"):
            name = getattr(self, role)
            if name is not None and name.lower() not in self._by_name:
                raise ValueError(f"{self.name}: {role} {name!r} is not one of its columns")
        if (self.healpix_column is None) != (self.healpix_order is None):
            raise ValueError(f"{self.name}: healpix_column and healpix_order go together")

    @property
    def name(self) -> str:
        """The qualified name, ``schema.table``."""
        return f"{self.schema_name}.{self.table_name}"

    def column(self, name: str) -> ColumnInfo | None:
        """The column called ``name`` (compared case-insensitively), if any."""
        return self._by_name.get(name.lower())

    @property
    def column_names(self) -> list[str]:
        """The column names in table order."""
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class CatalogMetadata:
    """Every table a query may name, by qualified lower-case name, with schema notes."""

    tables: Mapping[str, TableInfo]
    schemas: Mapping[str, str | None]

    def table(self, name: str) -> TableInfo | None:
        """The table called ``name`` (``schema.table``, compared case-insensitively)."""
        return self.tables.get(name.lower())


def _column(name: str, datatype: str, description: str, **more: str | None) -> ColumnInfo:
    arraysize = "*" if datatype == "char" else None
    return ColumnInfo(
        name=name, datatype=datatype, arraysize=arraysize, description=description, **more
    )


#: The description tables themselves (TAP 1.1 §4), described as TAP asks.
SELF_DESCRIPTION: tuple[TableInfo, ...] = (
    TableInfo(
        SCHEMA,
        "schemas",
        description="The schemas of this catalogue.",
        columns=(
            _column("schema_name", "char", "schema name, for reference to tap_schema.tables"),
            _column("utype", "char", "lists the utypes of schemas in the tableset"),
            _column("description", "char", "brief description of the schema"),
            _column("schema_index", "int", "recommended sort order when listing schemas"),
        ),
    ),
    TableInfo(
        SCHEMA,
        "tables",
        description="The tables of this catalogue.",
        columns=(
            _column("schema_name", "char", "the schema name from tap_schema.schemas"),
            _column("table_name", "char", "the table name as it should be used in queries"),
            _column("table_type", "char", "one of: table, view"),
            _column("utype", "char", "lists the utype of tables in the tableset"),
            _column("description", "char", "brief description of the table"),
            _column("table_index", "int", "recommended sort order when listing tables"),
        ),
    ),
    TableInfo(
        SCHEMA,
        "columns",
        description="The columns of this catalogue's tables.",
        columns=(
            _column("table_name", "char", "table name from tap_schema.tables"),
            _column("column_name", "char", "column name"),
            _column("utype", "char", "lists the utypes of columns in the tableset"),
            _column("ucd", "char", "UCD of column if any"),
            _column("unit", "char", "unit in VO standard format"),
            _column("description", "char", "brief description of column"),
            _column("datatype", "char", "ADQL datatype as in section 2.5"),
            _column("arraysize", "char", "length of variable length datatypes"),
            _column("xtype", "char", "a DALI or custom extended type annotation"),
            _column("size", "int", "same as arraysize but as an integer (deprecated)"),
            _column("principal", "int", "a principal column; 1 means true, 0 false"),
            _column("indexed", "int", "an indexed column; 1 means true, 0 false"),
            _column("std", "int", "a standard column; 1 means true, 0 false"),
            _column("column_index", "int", "recommended sort order when listing columns"),
        ),
    ),
    TableInfo(
        SCHEMA,
        "keys",
        description="Foreign keys between tables.",
        columns=(
            _column("key_id", "char", "unique key identifier"),
            _column("from_table", "char", "fully qualified table name"),
            _column("target_table", "char", "fully qualified table name"),
            _column("utype", "char", "lists the utype of keys in the tableset"),
            _column("description", "char", "describes keys in the tableset"),
        ),
    ),
    TableInfo(
        SCHEMA,
        "key_columns",
        description="The columns of the foreign keys.",
        columns=(
            _column("key_id", "char", "key identifier from tap_schema.keys"),
            _column("from_column", "char", "key column name in the from_table"),
            _column("target_column", "char", "key column name in the target_table"),
        ),
    ),
    TableInfo(
        SCHEMA,
        "spatial_index",
        description=(
            "This service's own addition: for each table with a sky position, the columns "
            "holding it and the column holding its HEALPix index (nested scheme)."
        ),
        columns=(
            _column("table_name", "char", "table name from tap_schema.tables"),
            _column("ra_column", "char", "the column holding the ICRS right ascension (deg)"),
            _column("dec_column", "char", "the column holding the ICRS declination (deg)"),
            _column("healpix_column", "char", "the column holding the HEALPix index, if any"),
            _column("healpix_order", "int", "the HEALPix order of that index"),
        ),
    ),
)

_SQL_TYPES = {"char": "VARCHAR", "int": "INTEGER"}


def create_description_tables(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the ``tap_schema`` tables (if missing) and describe them in themselves."""
    connection.execute("CREATE SCHEMA IF NOT EXISTS tap_schema")
    for table in SELF_DESCRIPTION:
        columns = ", ".join(f'"{c.name}" {_SQL_TYPES[c.datatype]}' for c in table.columns)
        connection.execute(f"CREATE TABLE IF NOT EXISTS {table.name} ({columns})")
    describe_schema(connection, SCHEMA, "The description of this catalogue (IVOA TAP 1.1).")
    for table in SELF_DESCRIPTION:
        describe_table(connection, table)
    upgrade_description(connection)


def describe_schema(
    connection: duckdb.DuckDBPyConnection, schema_name: str, description: str | None
) -> None:
    """Record (or replace) the description of a schema."""
    connection.execute("DELETE FROM tap_schema.schemas WHERE schema_name = ?", [schema_name])
    connection.execute(
        "INSERT INTO tap_schema.schemas VALUES (?, NULL, ?, "
        "(SELECT coalesce(max(schema_index), 0) + 1 FROM tap_schema.schemas))",
        [schema_name, description],
    )


def describe_table(connection: duckdb.DuckDBPyConnection, table: TableInfo) -> None:
    """Record (or replace) the description of ``table`` and of its columns."""
    name = table.name
    for statement in (
        "DELETE FROM tap_schema.tables WHERE table_name = ?",
        "DELETE FROM tap_schema.columns WHERE table_name = ?",
        "DELETE FROM tap_schema.spatial_index WHERE table_name = ?",
    ):
        connection.execute(statement, [name])
    connection.execute(
        "INSERT INTO tap_schema.tables VALUES (?, ?, 'table', ?, ?, "
        "(SELECT coalesce(max(table_index), 0) + 1 FROM tap_schema.tables))",
        [table.schema_name, name, table.utype, table.description],
    )
    indexed = {table.healpix_column}
    principal = {table.ra_column, table.dec_column}
    connection.executemany(
        "INSERT INTO tap_schema.columns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                name,
                adql_name(c.name),
                c.utype,
                c.ucd,
                c.unit,
                c.description,
                c.datatype,
                c.arraysize,
                c.xtype,
                _size(c.arraysize),
                int(c.name in principal or _is_main(c)),
                int(c.name in indexed),
                int(table.schema_name == SCHEMA),
                index,
            ]
            for index, c in enumerate(table.columns, start=1)
        ],
    )
    if table.ra_column is not None or table.healpix_column is not None:
        connection.execute(
            "INSERT INTO tap_schema.spatial_index VALUES (?, ?, ?, ?, ?)",
            [name, table.ra_column, table.dec_column, table.healpix_column, table.healpix_order],
        )


def _size(arraysize: str | None) -> int | None:
    digits = (arraysize or "").rstrip("*")
    return int(digits) if digits.isdigit() else None


def _is_main(column: ColumnInfo) -> bool:
    return column.ucd is not None and "meta.main" in column.ucd


def read_metadata(connection: duckdb.DuckDBPyConnection) -> CatalogMetadata:
    """The description stored in a catalogue; raises ValueError if it has none."""
    found = connection.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = ? AND table_catalog = current_database()",
        [SCHEMA],
    ).fetchone()
    if not found or found[0] < len(SELF_DESCRIPTION):
        raise ValueError("the database has no complete tap_schema description: not a catalogue")
    schemas = {
        str(name): description
        for name, description in connection.execute(
            "SELECT schema_name, description FROM tap_schema.schemas "
            "ORDER BY schema_index, schema_name"
        ).fetchall()
    }
    columns: dict[str, list[ColumnInfo]] = {}
    for row in connection.execute(
        "SELECT table_name, column_name, datatype, arraysize, unit, ucd, description, utype, "
        "xtype FROM tap_schema.columns ORDER BY table_name, column_index"
    ).fetchall():
        columns.setdefault(str(row[0]).lower(), []).append(
            ColumnInfo(
                name=plain_name(row[1]),
                datatype=row[2],
                arraysize=row[3],
                unit=row[4],
                ucd=row[5],
                description=row[6],
                utype=row[7],
                xtype=row[8],
            )
        )
    spatial = {
        str(row[0]).lower(): row[1:]
        for row in connection.execute(
            "SELECT table_name, ra_column, dec_column, healpix_column, healpix_order "
            "FROM tap_schema.spatial_index"
        ).fetchall()
    }
    tables: dict[str, TableInfo] = {}
    for schema_name, table_name, description, utype in connection.execute(
        "SELECT schema_name, table_name, description, utype FROM tap_schema.tables "
        "ORDER BY table_index, table_name"
    ).fetchall():
        qualified = str(table_name).lower()
        ra, dec, healpix, order = spatial.get(qualified, (None, None, None, None))
        tables[qualified] = TableInfo(
            schema_name=schema_name,
            table_name=qualified.split(".", 1)[1],
            columns=tuple(columns.get(qualified, [])),
            description=description,
            utype=utype,
            ra_column=ra,
            dec_column=dec,
            healpix_column=healpix,
            healpix_order=order,
        )
    return CatalogMetadata(tables=tables, schemas=schemas)
