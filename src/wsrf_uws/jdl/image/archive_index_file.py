"""The archive index file (SQLite, WAL): its tables, and frames stored in and read from it.

The index is a cache of the archive's headers: an index file of another schema version is
dropped and rebuilt rather than migrated. Write transactions are taken at once
(BEGIN IMMEDIATE) so that two processes indexing the same archive take turns.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .frames import Frame
from .healpix_cells import healpix_order, polygon_cells

# Version 2 added pixel_bytes; an index of another version is rebuilt.
_SCHEMA_VERSION = "2"
# Keys of a frame row, in the order of the frames table's columns after id.
FRAME_COLUMNS = (
    "path",
    "hdu",
    "obs_id",
    "collection",
    "band",
    "naxis1",
    "naxis2",
    "ra",
    "dec",
    "footprint",
    "pixel_scale",
    "t_min",
    "t_max",
    "exptime",
    "em_min",
    "em_max",
    "facility",
    "instrument",
    "bunit",
    "file_size",
    "pixel_bytes",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    skipped TEXT
);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
    hdu INTEGER NOT NULL,
    obs_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    band TEXT,
    naxis1 INTEGER NOT NULL,
    naxis2 INTEGER NOT NULL,
    ra REAL NOT NULL,
    dec REAL NOT NULL,
    footprint TEXT NOT NULL,
    pixel_scale REAL NOT NULL,
    t_min REAL,
    t_max REAL,
    exptime REAL,
    em_min REAL,
    em_max REAL,
    facility TEXT,
    instrument TEXT,
    bunit TEXT,
    file_size INTEGER NOT NULL,
    pixel_bytes INTEGER NOT NULL,
    UNIQUE (path, hdu)
);
CREATE INDEX IF NOT EXISTS frames_order ON frames (obs_id, path, hdu);
CREATE TABLE IF NOT EXISTS cells (
    depth INTEGER NOT NULL,
    ipix INTEGER NOT NULL,
    frame INTEGER NOT NULL REFERENCES frames(id) ON DELETE CASCADE,
    PRIMARY KEY (depth, ipix, frame)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cells_frame ON cells (frame);
"""


class WriteTransaction:
    """A write transaction taken at once (BEGIN IMMEDIATE), committed or rolled back."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.connection.execute("COMMIT" if exc_type is None else "ROLLBACK")


def prepare_index_file(connection: sqlite3.Connection, *, timeout: float) -> None:
    """Switch to WAL, create the tables, and start afresh if they are of another version."""
    _enable_wal(connection, timeout=timeout)
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")
    with WriteTransaction(connection):
        has_meta = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        version = None
        if has_meta:
            row = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            version = row[0] if row else None
        if version != _SCHEMA_VERSION:
            # An index is a cache of the archive's headers: rebuild rather than migrate.
            for table in ("cells", "frames", "files", "meta"):
                connection.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        connection.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (_SCHEMA_VERSION,)
        )


def _enable_wal(connection: sqlite3.Connection, *, timeout: float) -> None:
    """Put the index file in WAL mode (a lasting property of the file).

    Switching a new file to WAL needs a moment of exclusive access, and SQLite answers "locked"
    at once, without its busy timeout, while another process holds the file: so retry.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(
                f"the archive index cannot use write-ahead logging (journal mode {mode!r}); "
                "put it on a local file system"
            )
        return


def _frame_row(frame: Frame) -> tuple[Any, ...]:
    values = []
    for name in FRAME_COLUMNS:
        value = getattr(frame, name)
        if name == "path":
            value = str(value)
        elif name == "footprint":
            value = json.dumps([list(corner) for corner in value])
        values.append(value)
    return tuple(values)


def frame_from_row(row: Sequence[Any]) -> Frame:
    values = dict(zip(FRAME_COLUMNS, row, strict=True))
    values["path"] = Path(values["path"])
    values["footprint"] = tuple((float(r), float(d)) for r, d in json.loads(values["footprint"]))
    return Frame(**values)


def insert_file(
    connection: sqlite3.Connection,
    path: Path,
    stamp: tuple[int, int],
    *,
    frames: Sequence[Frame],
    skipped: str | None,
) -> None:
    """Record ``path`` (size, mtime in ns) with its frames and their cells, or as skipped.

    Replaces what was recorded of the file before; call it inside a write transaction.
    """
    text = str(path)
    connection.execute("DELETE FROM files WHERE path = ?", (text,))
    connection.execute(
        "INSERT INTO files (path, size, mtime_ns, skipped) VALUES (?, ?, ?, ?)",
        (text, stamp[0], stamp[1], skipped),
    )
    for frame in frames:
        values = _frame_row(frame)
        cursor = connection.execute(
            f"INSERT INTO frames ({', '.join(FRAME_COLUMNS)}) "  # noqa: S608 (own names)
            f"VALUES ({', '.join('?' * len(FRAME_COLUMNS))})",
            values,
        )
        frame_id = cursor.lastrowid
        depth = healpix_order(frame.fov)
        connection.executemany(
            "INSERT OR IGNORE INTO cells (depth, ipix, frame) VALUES (?, ?, ?)",
            [(depth, ipix, frame_id) for ipix in polygon_cells(frame.footprint, depth)],
        )


def frames_by_id(
    connection: sqlite3.Connection,
    ids: Iterable[int],
    *,
    band: str | None,
    collection: str | None,
) -> list[Frame]:
    """The frames of ``ids`` (optionally of one band and collection), by obs_id, file, HDU."""
    wanted = sorted(ids)
    conditions, extra = "", []
    if band is not None:
        conditions += " AND band = ?"
        extra.append(band)
    if collection is not None:
        conditions += " AND collection = ?"
        extra.append(collection)
    rows: list[Any] = []
    # SQLite's default limit on bound parameters is far above this chunk size.
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows += connection.execute(
            f"SELECT {', '.join(FRAME_COLUMNS)}, obs_id, path, hdu FROM frames "  # noqa: S608
            f"WHERE id IN ({', '.join('?' * len(chunk))}){conditions}",
            [*chunk, *extra],
        ).fetchall()
    rows.sort(key=lambda row: tuple(row[-3:]))
    return [frame_from_row(row[: len(FRAME_COLUMNS)]) for row in rows]
