"""The image archive: a folder of FITS images, and an SQLite index of what each one shows.

:meth:`ArchiveIndex.open` walks the archive folder and reads the headers of files that are new
or changed since the last visit (by size and modification time); a query then never opens a
FITS file. Every 2-D image HDU with a celestial WCS becomes a :class:`Frame` holding what an
ObsCore row needs. Files that are not FITS, or hold no such image, are recorded as skipped with
the reason, so one odd file never stops the archive from being served.

The spatial index stores, for each frame, the HEALPix cells (nested scheme) that its footprint
touches, at an order chosen from the frame's size so that every frame covers a handful of
cells. A query turns the field into cells, finds the frames sharing one (a superset: cell
coverage is conservative), then keeps those whose stored footprint really overlaps the field
(:meth:`Field.overlaps <.fields.Field.overlaps>`).

The service process and job workers may open the same index at once. The index file uses WAL,
and re-indexing runs in short write transactions that first re-check what is still stale, so
two openers indexing the same new archive share the work instead of repeating it.

The parts: ``frames`` (reading a file's headers), ``healpix_cells`` (the cells of a
footprint) and ``archive_index_file`` (the SQLite tables).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import astropy.units as u
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested

from .archive_index_file import (
    FRAME_COLUMNS,
    WriteTransaction,
    frame_from_row,
    frames_by_id,
    insert_file,
    prepare_index_file,
)
from .fields import Field, polygon_contains
from .frames import Frame, NotAnImage, read_frames
from .healpix_cells import cell_runs, healpix_order, polygon_cells

__all__ = ["ArchiveIndex", "Refresh"]

# Files whose headers are read per write transaction: short enough that a second opener
# waits little, long enough that the commits do not dominate.
_BATCH = 64


@dataclass(frozen=True)
class Refresh:
    """What one visit of the archive folder changed in the index."""

    #: Files whose headers were read (new or changed), including those found unusable.
    indexed: tuple[Path, ...] = ()
    #: Files dropped from the index because they are gone.
    removed: tuple[Path, ...] = ()


class ArchiveIndex:
    """The index of an archive folder: which frames exist and where they are on the sky.

    Open it with :meth:`open`. An instance may be used from several threads; each query is
    answered from the index file, so it sees what another process indexed in the meantime.
    """

    def __init__(
        self, root: Path, connection: sqlite3.Connection, *, index_path: Path | None = None
    ) -> None:
        #: The archive folder, absolute.
        self.root = root
        #: The index file (its WAL companions are not archive files either).
        self.index_path = index_path
        self._db = connection
        self._lock = threading.Lock()
        #: What the last :meth:`refresh` changed.
        self.last_refresh = Refresh()

    @classmethod
    def open(
        cls,
        root: Path,
        *,
        index_path: Path,
        refresh: bool = True,
        timeout: float = 120.0,
    ) -> ArchiveIndex:
        """Open (creating if needed) the index at ``index_path`` of the archive under ``root``.

        With ``refresh`` (the default) the folder is visited first: new and changed files are
        indexed, vanished ones dropped (see :meth:`refresh`). A process that only queries an
        index kept up to date elsewhere (a job worker) can pass ``refresh=False``.
        ``timeout`` is how long, in seconds, to wait for another process's write transaction.
        """
        root = Path(root).resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"the image archive folder {root} does not exist")
        index_path = Path(index_path).resolve()
        index_path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            index_path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            prepare_index_file(connection, timeout=timeout)
        except BaseException:
            connection.close()
            raise
        index = cls(root, connection, index_path=index_path)
        if refresh:
            index.refresh()
        return index

    def close(self) -> None:
        """Close the index file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ArchiveIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- keeping the index up to date -----------------------------------------------------

    def refresh(self) -> Refresh:
        """Index new and changed files under the root, drop vanished ones; return the changes.

        Hidden files and folders (names starting with ".") and the index's own files are not
        part of the archive.
        """
        on_disk = self._scan()
        with self._lock:
            known = {
                row[0]: (row[1], row[2])
                for row in self._db.execute("SELECT path, size, mtime_ns FROM files")
            }
        stale = sorted(p for p, stamp in on_disk.items() if known.get(p) != stamp)
        vanished = sorted(set(known) - set(on_disk))
        indexed: list[str] = []
        for start in range(0, len(stale), _BATCH):
            indexed.extend(self._index_batch(stale[start : start + _BATCH]))
        if vanished:
            with self._lock, WriteTransaction(self._db):
                self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in vanished])
        self.last_refresh = Refresh(
            indexed=tuple(Path(p) for p in indexed), removed=tuple(Path(p) for p in vanished)
        )
        return self.last_refresh

    def _scan(self) -> dict[str, tuple[int, int]]:
        """Every archive file under the root: path -> (size, mtime in ns)."""
        own = set()
        if self.index_path is not None:
            own = {str(self.index_path) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
        found: dict[str, tuple[int, int]] = {}
        for folder, subfolders, names in os.walk(self.root):
            subfolders[:] = [name for name in subfolders if not name.startswith(".")]
            for name in names:
                if name.startswith("."):
                    continue
                path = os.path.join(folder, name)
                if path in own:
                    continue
                try:
                    status = os.stat(path)
                except OSError:
                    continue  # vanished while we looked, or a dangling link
                if stat.S_ISREG(status.st_mode):
                    found[path] = (status.st_size, status.st_mtime_ns)
        return found

    def _index_batch(self, paths: Sequence[str]) -> list[str]:
        """Index those of ``paths`` still stale once the write lock is held; return them."""
        done: list[str] = []
        with self._lock, WriteTransaction(self._db):
            for path in paths:
                try:
                    status = os.stat(path)
                except OSError:
                    continue  # gone since the scan: the next refresh drops it
                stamp = (status.st_size, status.st_mtime_ns)
                row = self._db.execute(
                    "SELECT size, mtime_ns FROM files WHERE path = ?", (path,)
                ).fetchone()
                if row is not None and tuple(row) == stamp:
                    continue  # another process indexed it meanwhile
                self._store_file(Path(path), stamp)
                done.append(path)
        return done

    def _store_file(self, path: Path, stamp: tuple[int, int]) -> None:
        try:
            frames = read_frames(path, collection=self._default_collection(path))
            skipped: str | None = None
        except NotAnImage as reason:
            frames, skipped = [], str(reason)
        except OSError as error:
            frames, skipped = [], f"unreadable ({error.strerror or error})"
        insert_file(self._db, path, stamp, frames=frames, skipped=skipped)

    def _default_collection(self, path: Path) -> str:
        """The first folder below the root, or the root's own name for files directly in it."""
        parts = path.relative_to(self.root).parts
        return parts[0] if len(parts) > 1 else self.root.name

    # -- queries ---------------------------------------------------------------------------

    def covering(
        self, field: Field, *, band: str | None = None, collection: str | None = None
    ) -> list[Frame]:
        """The frames that overlap ``field`` (optionally of one band and collection).

        Ordered by obs_id (then file and HDU). Opens no FITS file.
        """
        query_depth = healpix_order(2.0 * field.radius)
        field_cells: dict[int, list[int]] = {}

        def cells_at(depth: int) -> list[int]:
            if depth not in field_cells:
                field_cells[depth] = polygon_cells(field.corners(), depth)
            return field_cells[depth]

        with self._lock:
            candidates: set[int] = set()
            for depth in self._depths():
                coarse = min(depth, query_depth)
                shift = 2 * (depth - coarse)
                for first, last in cell_runs(cells_at(coarse)):
                    candidates.update(
                        row[0]
                        for row in self._db.execute(
                            "SELECT frame FROM cells WHERE depth = ? AND ipix >= ? AND ipix < ?",
                            (depth, first << shift, (last + 1) << shift),
                        )
                    )
            frames = frames_by_id(self._db, candidates, band=band, collection=collection)
        return [frame for frame in frames if field.overlaps(frame.footprint)]

    def containing(
        self, ra: float, dec: float, *, band: str | None = None, collection: str | None = None
    ) -> list[Frame]:
        """The frames whose footprint holds the point (ra, dec) in degrees, by obs_id."""
        with self._lock:
            candidates: set[int] = set()
            for depth in self._depths():
                cell = int(
                    nested.lonlat_to_healpix(
                        Longitude([ra % 360.0] * u.deg), Latitude([dec] * u.deg), depth
                    )[0]
                )
                candidates.update(
                    row[0]
                    for row in self._db.execute(
                        "SELECT frame FROM cells WHERE depth = ? AND ipix = ?", (depth, cell)
                    )
                )
            frames = frames_by_id(self._db, candidates, band=band, collection=collection)
        return [frame for frame in frames if polygon_contains(frame.footprint, ra, dec)]

    def frames(self) -> list[Frame]:
        """Every indexed frame, by obs_id."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(FRAME_COLUMNS)} FROM frames "  # noqa: S608 (own names)
                "ORDER BY obs_id, path, hdu"
            ).fetchall()
        return [frame_from_row(row) for row in rows]

    def bands(self) -> list[str]:
        """The distinct bands (FILTER values) of the indexed frames, sorted."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT band FROM frames WHERE band IS NOT NULL ORDER BY band"
            ).fetchall()
        return [row[0] for row in rows]

    def collections(self) -> list[str]:
        """The distinct collections of the indexed frames, sorted."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT collection FROM frames ORDER BY collection"
            ).fetchall()
        return [row[0] for row in rows]

    @property
    def skipped(self) -> list[tuple[Path, str]]:
        """The files that are not part of the served archive, with the reason, by path."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, skipped FROM files WHERE skipped IS NOT NULL ORDER BY path"
            ).fetchall()
        return [(Path(path), reason) for path, reason in rows]

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM frames").fetchone()
        return int(count)

    def largest_file_bytes(self) -> int:
        """The size of the largest file holding a frame (0 for an empty archive): what a
        memory map of one frame's file may take."""
        with self._lock:
            (largest,) = self._db.execute("SELECT max(file_size) FROM frames").fetchone()
        return int(largest or 0)

    def _depths(self) -> Iterator[int]:
        """The HEALPix orders present in the cells table (a short index walk each)."""
        depth = -1
        while True:
            (depth,) = self._db.execute(
                "SELECT min(depth) FROM cells WHERE depth > ?", (depth,)
            ).fetchone()
            if depth is None:
                return
            yield int(depth)
