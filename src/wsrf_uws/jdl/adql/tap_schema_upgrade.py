"""What a catalogue's ``tap_schema`` description gained after its first version, and how a
catalogue an older version wrote is brought up to date.

Version 2 lists a column named by an ADQL reserved word delimited (``"size"``, as a query
must write it) and holds TAP_SCHEMA's own foreign keys in ``keys`` and ``key_columns``
(TAP 1.1 §4). The version is DuckDB's comment on ``tap_schema.schemas``: invisible to
queries, kept in the file. :func:`upgrade_description` rewrites only the description,
never a data table, so it is cheap and safe on a catalogue of any size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .reserved_words import adql_name, plain_name

if TYPE_CHECKING:
    import duckdb  # in annotations only: the service reads this module without DuckDB

#: The schema holding the description.
SCHEMA = "tap_schema"
#: The version of the description's layout this code writes: 2 added the delimited
#: reserved names and TAP_SCHEMA's own foreign keys. 1 (or none): before.
DESCRIPTION_VERSION = 2
_COMMENT = "wsrf-uws tap_schema "

#: TAP_SCHEMA's own foreign keys (TAP 1.1 §4): key id, from table, target table, and the
#: column pair (the same name on both sides).
SELF_KEYS = (
    ("tap_schema.tables-schemas", "tables", "schemas", "schema_name"),
    ("tap_schema.columns-tables", "columns", "tables", "table_name"),
    ("tap_schema.keys-from_table", "keys", "tables", "from_table"),
    ("tap_schema.keys-target_table", "keys", "tables", "target_table"),
    ("tap_schema.key_columns-keys", "key_columns", "keys", "key_id"),
)
#: The column of the target table each key refers to, where its name differs.
_TARGET_COLUMNS = {"from_table": "table_name", "target_table": "table_name"}


def target_column(from_column: str) -> str:
    """The column of the target table a key of :data:`SELF_KEYS` from ``from_column`` names."""
    return _TARGET_COLUMNS.get(from_column, from_column)


def description_version(connection: duckdb.DuckDBPyConnection) -> int:
    """The version of the description in the open catalogue (0 when it has none)."""
    found = connection.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = 'schemas'",
        [SCHEMA],
    ).fetchone()
    text = str(found[0] or "") if found else ""
    digits = text[len(_COMMENT) :] if text.startswith(_COMMENT) else ""
    return int(digits) if digits.isdigit() else 0


def upgrade_description(connection: duckdb.DuckDBPyConnection) -> None:
    """Bring a writable catalogue's description to :data:`DESCRIPTION_VERSION`: reserved
    column names delimited, TAP_SCHEMA's own foreign keys present, the version recorded."""
    for table_name, column_name in connection.execute(
        "SELECT table_name, column_name FROM tap_schema.columns"
    ).fetchall():
        wanted = adql_name(plain_name(column_name))
        if wanted != column_name:
            connection.execute(
                "UPDATE tap_schema.columns SET column_name = ? "
                "WHERE table_name = ? AND column_name = ?",
                [wanted, table_name, column_name],
            )
    for key_id, from_table, target_table, column in SELF_KEYS:
        connection.execute("DELETE FROM tap_schema.keys WHERE key_id = ?", [key_id])
        connection.execute("DELETE FROM tap_schema.key_columns WHERE key_id = ?", [key_id])
        connection.execute(
            "INSERT INTO tap_schema.keys VALUES (?, ?, ?, NULL, ?)",
            [
                key_id,
                f"{SCHEMA}.{from_table}",
                f"{SCHEMA}.{target_table}",
                f"{SCHEMA}.{from_table}.{column} names a row of {SCHEMA}.{target_table}",
            ],
        )
        connection.execute(
            "INSERT INTO tap_schema.key_columns VALUES (?, ?, ?)",
            [key_id, column, target_column(column)],
        )
    connection.execute(f"COMMENT ON TABLE {SCHEMA}.schemas IS '{_COMMENT}{DESCRIPTION_VERSION}'")
