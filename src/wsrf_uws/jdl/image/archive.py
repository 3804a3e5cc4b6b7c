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
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import Latitude, Longitude
from astropy.io import fits
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS
from cdshealpix import nested

from .fields import Field, SkyPolygon, angular_distance, polygon_contains

__all__ = [
    "BAND_WAVELENGTHS",
    "ArchiveIndex",
    "Frame",
    "NotAnImage",
    "Refresh",
    "healpix_order",
    "polygon_cells",
    "read_frames",
]

#: Approximate wavelength ranges (m) of common filters, used when a header gives none.
BAND_WAVELENGTHS: dict[str, tuple[float, float]] = {
    # SDSS-like ugriz (roughly the half-maximum ranges).
    "u": (3.25e-7, 3.85e-7),
    "g": (4.05e-7, 5.50e-7),
    "r": (5.60e-7, 6.95e-7),
    "i": (6.95e-7, 8.40e-7),
    "z": (8.25e-7, 9.50e-7),
    # Johnson-Cousins and near infrared.
    "U": (3.30e-7, 3.98e-7),
    "B": (3.90e-7, 4.90e-7),
    "V": (5.00e-7, 5.90e-7),
    "R": (5.80e-7, 7.40e-7),
    "I": (7.30e-7, 8.80e-7),
    "J": (1.11e-6, 1.36e-6),
    "H": (1.50e-6, 1.80e-6),
    "K": (2.00e-6, 2.40e-6),
    "Ks": (2.00e-6, 2.31e-6),
}

# Version 2 added pixel_bytes; an index of another version is rebuilt.
_SCHEMA_VERSION = "2"
_FITS_SIGNATURE = b"SIMPLE  ="
_GZIP_SIGNATURE = b"\x1f\x8b"
# Files whose headers are read per write transaction: short enough that a second opener
# waits little, long enough that the commits do not dominate.
_BATCH = 64
# The deepest HEALPix order used (cells of about 0.2 arcsec).
_MAX_ORDER = 20
# The HEALPix cell size at order 0, in degrees: sqrt(4 pi / 12) rad.
_ORDER0_CELL = math.degrees(math.sqrt(math.pi / 3.0))
# Keys of a frame row, in the order of the frames table's columns after id.
_FRAME_COLUMNS = (
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


class NotAnImage(Exception):
    """A file holds no image the archive can serve; the message is the reason."""


@dataclass(frozen=True)
class Frame:
    """One indexed image: an HDU of a FITS file, and everything an ObsCore row needs.

    Angles are degrees (ICRS), times MJD, ``exptime`` seconds, wavelengths metres. Values a
    header does not give are None.
    """

    #: The file, absolute.
    path: Path
    #: The HDU's index in the file (0 for the primary HDU).
    hdu: int
    obs_id: str
    collection: str
    band: str | None
    naxis1: int
    naxis2: int
    #: The centre (the middle of the pixel grid).
    ra: float
    dec: float
    #: The four corners of the outer pixel edges, from ``WCS.calc_footprint``.
    footprint: SkyPolygon
    #: The size of a pixel, degrees (square root of the pixel area).
    pixel_scale: float
    t_min: float | None
    t_max: float | None
    exptime: float | None
    em_min: float | None
    em_max: float | None
    facility: str | None
    instrument: str | None
    bunit: str | None
    #: The size of the whole file in bytes.
    file_size: int
    #: Bytes per pixel of an image cut from this frame: 4 (float32) for 8- and 16-bit
    #: integers and float32, 8 (float64) for 32- and 64-bit integers and float64.
    pixel_bytes: int

    @property
    def fov(self) -> float:
        """The diameter in degrees of the smallest circle about the centre holding the frame."""
        return 2.0 * max(
            float(angular_distance(self.ra, self.dec, ra, dec)) for ra, dec in self.footprint
        )


@dataclass(frozen=True)
class Refresh:
    """What one visit of the archive folder changed in the index."""

    #: Files whose headers were read (new or changed), including those found unusable.
    indexed: tuple[Path, ...] = ()
    #: Files dropped from the index because they are gone.
    removed: tuple[Path, ...] = ()


def healpix_order(size: float) -> int:
    """The HEALPix order whose cells are at least half ``size`` degrees across.

    A frame or field of that size then touches a few cells per side (at most about 16 in
    all), whatever its size, which keeps both the index and a query's cell list small.
    """
    if not size > 0.0:
        return _MAX_ORDER
    order = math.floor(math.log2(2.0 * _ORDER0_CELL / size))
    return max(0, min(_MAX_ORDER, order))


def polygon_cells(polygon: SkyPolygon, depth: int) -> list[int]:
    """The HEALPix cells (nested, at ``depth``) that a sky polygon touches, sorted.

    cdshealpix returns every cell the polygon overlaps (and possibly a few neighbours); a
    polygon it cannot handle (degenerate) falls back to the circumscribed cone.
    """
    ra = np.array([p[0] for p in polygon])
    dec = np.array([p[1] for p in polygon])
    try:
        ipix, _, _ = nested.polygon_search(
            Longitude(ra * u.deg), Latitude(dec * u.deg), depth, flat=True
        )
    except (ValueError, IndexError):
        ipix = np.empty(0, dtype=np.uint64)
    if len(ipix) == 0:
        # A polygon smaller than a cell, or one cdshealpix refused: use the enclosing cone.
        alpha, delta = np.radians(ra), np.radians(dec)
        vector = np.array(
            [
                np.mean(np.cos(delta) * np.cos(alpha)),
                np.mean(np.cos(delta) * np.sin(alpha)),
                np.mean(np.sin(delta)),
            ]
        )
        centre_ra = math.degrees(math.atan2(vector[1], vector[0])) % 360.0
        centre_dec = math.degrees(math.atan2(vector[2], math.hypot(vector[0], vector[1])))
        radius = float(np.max(angular_distance(centre_ra, centre_dec, ra, dec)))
        ipix, _, _ = nested.cone_search(
            Longitude(centre_ra * u.deg),
            Latitude(centre_dec * u.deg),
            max(radius, 1e-6) * 1.001 * u.deg,
            depth,
            flat=True,
        )
    return sorted({int(p) for p in ipix})


def read_frames(path: Path, *, collection: str) -> list[Frame]:
    """The frames of one FITS file, reading headers only.

    ``collection`` is used where a header has no ``OBSCOLL`` keyword. Raises
    :class:`NotAnImage` when the file is not FITS or holds no 2-D image with a celestial WCS.
    """
    with path.open("rb") as stream:
        start = stream.read(len(_FITS_SIGNATURE))
    if not (start.startswith(_FITS_SIGNATURE) or start.startswith(_GZIP_SIGNATURE)):
        raise NotAnImage("not a FITS file (it does not start with a SIMPLE card)")
    file_size = path.stat().st_size
    problems: list[str] = []
    found: list[tuple[int, fits.Header, fits.Header, WCS, int, int]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdus:
                primary = hdus[0].header
                for index, hdu in enumerate(hdus):
                    header = hdu.header
                    if not hdu.is_image or header.get("NAXIS", 0) == 0:
                        continue
                    shape = _image_shape(hdu)
                    if len(shape) != 2:
                        problems.append(f"HDU {index} has {len(shape)} axes, not 2")
                        continue
                    try:
                        wcs = WCS(header, hdus)
                    except Exception as error:  # WCS raises many types for bad headers.
                        problems.append(f"HDU {index} has an unusable WCS ({error})")
                        continue
                    if wcs.naxis != 2 or not wcs.has_celestial or wcs.celestial.naxis != 2:
                        problems.append(f"HDU {index} has no celestial WCS")
                        continue
                    found.append((index, header.copy(), primary.copy(), wcs, shape[1], shape[0]))
    except Exception as error:  # astropy raises OSError, ValueError, KeyError... on bad files.
        raise NotAnImage(f"unreadable FITS file ({type(error).__name__}: {error})") from None
    if not found:
        reason = "; ".join(problems) if problems else "it holds no image HDU"
        raise NotAnImage(f"no 2-D image with a celestial WCS: {reason}")
    frames = [
        _frame(path, index, header, primary, wcs, naxis1, naxis2, collection, file_size)
        for index, header, primary, wcs, naxis1, naxis2 in found
    ]
    return _unique_obs_ids(frames, [header for _, header, *_ in found])


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
            _prepare(connection, timeout=timeout)
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
            with self._lock, _WriteTransaction(self._db):
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
        with self._lock, _WriteTransaction(self._db):
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
        text = str(path)
        self._db.execute("DELETE FROM files WHERE path = ?", (text,))
        self._db.execute(
            "INSERT INTO files (path, size, mtime_ns, skipped) VALUES (?, ?, ?, ?)",
            (text, stamp[0], stamp[1], skipped),
        )
        for frame in frames:
            values = _frame_row(frame)
            cursor = self._db.execute(
                f"INSERT INTO frames ({', '.join(_FRAME_COLUMNS)}) "  # noqa: S608 (own names)
                f"VALUES ({', '.join('?' * len(_FRAME_COLUMNS))})",
                values,
            )
            frame_id = cursor.lastrowid
            depth = healpix_order(frame.fov)
            self._db.executemany(
                "INSERT OR IGNORE INTO cells (depth, ipix, frame) VALUES (?, ?, ?)",
                [(depth, ipix, frame_id) for ipix in polygon_cells(frame.footprint, depth)],
            )

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
                for first, last in _runs(cells_at(coarse)):
                    candidates.update(
                        row[0]
                        for row in self._db.execute(
                            "SELECT frame FROM cells WHERE depth = ? AND ipix >= ? AND ipix < ?",
                            (depth, first << shift, (last + 1) << shift),
                        )
                    )
            frames = self._frames_by_id(candidates, band=band, collection=collection)
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
            frames = self._frames_by_id(candidates, band=band, collection=collection)
        return [frame for frame in frames if polygon_contains(frame.footprint, ra, dec)]

    def frames(self) -> list[Frame]:
        """Every indexed frame, by obs_id."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_FRAME_COLUMNS)} FROM frames "  # noqa: S608 (own names)
                "ORDER BY obs_id, path, hdu"
            ).fetchall()
        return [_frame_from_row(row) for row in rows]

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

    def _frames_by_id(
        self, ids: Iterable[int], *, band: str | None, collection: str | None
    ) -> list[Frame]:
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
            rows += self._db.execute(
                f"SELECT {', '.join(_FRAME_COLUMNS)}, obs_id, path, hdu FROM frames "  # noqa: S608
                f"WHERE id IN ({', '.join('?' * len(chunk))}){conditions}",
                [*chunk, *extra],
            ).fetchall()
        rows.sort(key=lambda row: tuple(row[-3:]))
        return [_frame_from_row(row[: len(_FRAME_COLUMNS)]) for row in rows]


# -- the index file ------------------------------------------------------------------------


class _WriteTransaction:
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


def _prepare(connection: sqlite3.Connection, *, timeout: float) -> None:
    """Switch to WAL, create the tables, and start afresh if they are of another version."""
    _enable_wal(connection, timeout=timeout)
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")
    with _WriteTransaction(connection):
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


def _runs(cells: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Sorted cell numbers grouped into runs of consecutive numbers: (first, last) each."""
    iterator = iter(cells)
    first = next(iterator, None)
    if first is None:
        return
    last = first
    for cell in iterator:
        if cell != last + 1:
            yield first, last
            first = cell
        last = cell
    yield first, last


def _frame_row(frame: Frame) -> tuple[Any, ...]:
    values = []
    for name in _FRAME_COLUMNS:
        value = getattr(frame, name)
        if name == "path":
            value = str(value)
        elif name == "footprint":
            value = json.dumps([list(corner) for corner in value])
        values.append(value)
    return tuple(values)


def _frame_from_row(row: Sequence[Any]) -> Frame:
    values = dict(zip(_FRAME_COLUMNS, row, strict=True))
    values["path"] = Path(values["path"])
    values["footprint"] = tuple((float(r), float(d)) for r, d in json.loads(values["footprint"]))
    return Frame(**values)


# -- reading headers -----------------------------------------------------------------------


def _image_shape(hdu: Any) -> tuple[int, ...]:
    """The data shape (numpy order) from the header, without reading the data."""
    header = hdu.header
    naxis = int(header.get("ZNAXIS", header.get("NAXIS", 0)))
    prefix = "ZNAXIS" if "ZNAXIS" in header else "NAXIS"
    return tuple(int(header.get(f"{prefix}{axis}", 0)) for axis in range(naxis, 0, -1))


def _frame(
    path: Path,
    index: int,
    header: fits.Header,
    primary: fits.Header,
    wcs: WCS,
    naxis1: int,
    naxis2: int,
    collection: str,
    file_size: int,
) -> Frame:
    def keyword(name: str) -> Any:
        # Extensions inherit what they do not say from the primary header.
        if name in header:
            return header[name]
        return primary.get(name) if index > 0 else None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        centre = wcs.pixel_to_world_values((naxis1 - 1) / 2.0, (naxis2 - 1) / 2.0)
        corners = wcs.calc_footprint(axes=(naxis1, naxis2), center=False)
        scale = math.sqrt(abs(float(np.linalg.det(wcs.celestial.pixel_scale_matrix))))
    band = _text(keyword("FILTER"))
    em_min, em_max = _wavelengths(keyword, band)
    t_min, t_max, exptime = _times(keyword)
    return Frame(
        path=path,
        hdu=index,
        obs_id=_text(keyword("OBS_ID")) or path.name.split(".")[0],
        collection=_text(keyword("OBSCOLL")) or collection,
        band=band,
        naxis1=naxis1,
        naxis2=naxis2,
        ra=float(centre[0]) % 360.0,
        dec=float(centre[1]),
        footprint=tuple((float(r) % 360.0, float(d)) for r, d in corners),
        pixel_scale=scale,
        t_min=t_min,
        t_max=t_max,
        exptime=exptime,
        em_min=em_min,
        em_max=em_max,
        facility=_text(keyword("TELESCOP")),
        instrument=_text(keyword("INSTRUME")),
        bunit=_text(keyword("BUNIT")),
        file_size=file_size,
        pixel_bytes=staged_pixel_bytes(header),
    )


def staged_pixel_bytes(header: fits.Header) -> int:
    """Bytes per pixel of an image made from an HDU with ``header``.

    Images are written as floats: float32 where that holds the values exactly (8- and
    16-bit integers, float32), float64 otherwise (see ``cutout._as_float``). A
    tile-compressed HDU gives its image's type in ZBITPIX.
    """
    bitpix = int(header.get("ZBITPIX", header.get("BITPIX", -32)))
    return 4 if bitpix in (8, 16, -32) else 8


def _unique_obs_ids(frames: list[Frame], headers: list[fits.Header]) -> list[Frame]:
    """Give frames of one file that share an obs_id a suffix: the EXTNAME, or the HDU index."""
    counts: dict[str, int] = {}
    for frame in frames:
        counts[frame.obs_id] = counts.get(frame.obs_id, 0) + 1
    result = []
    for frame, header in zip(frames, headers, strict=True):
        if counts[frame.obs_id] > 1:
            suffix = _text(header.get("EXTNAME")) or str(frame.hdu)
            frame = _replace(frame, obs_id=f"{frame.obs_id}.{suffix}")
        result.append(frame)
    return result


def _replace(frame: Frame, **changes: Any) -> Frame:
    values = {name: getattr(frame, name) for name in _FRAME_COLUMNS}
    values.update(changes)
    return Frame(**values)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _mjd(value: Any, scale: str) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return float(Time(text, format="isot", scale=scale).mjd)
    except ValueError:
        return None


def _times(keyword: Any) -> tuple[float | None, float | None, float | None]:
    """t_min, t_max (MJD) and the exposure time (s) from the usual keywords."""
    scale = (_text(keyword("TIMESYS")) or "UTC").lower()
    if scale not in Time.SCALES:
        scale = "utc"
    t_min = _number(keyword("MJD-OBS"))
    if t_min is None:
        t_min = _mjd(keyword("DATE-OBS"), scale)
    t_max = _number(keyword("MJD-END"))
    if t_max is None:
        t_max = _mjd(keyword("DATE-END"), scale)
    exptime = _number(keyword("EXPTIME"))
    if exptime is None:
        exptime = _number(keyword("EXPOSURE"))
    if t_max is None and t_min is not None and exptime is not None:
        t_max = t_min + exptime / 86400.0
    if exptime is None and t_min is not None and t_max is not None:
        exptime = (t_max - t_min) * 86400.0
    return t_min, t_max, exptime


def _wavelengths(keyword: Any, band: str | None) -> tuple[float | None, float | None]:
    """em_min, em_max (m): WAVELMIN/WAVELMAX (nm, the ESO convention), else by band."""
    low, high = _number(keyword("WAVELMIN")), _number(keyword("WAVELMAX"))
    if low is not None and high is not None:
        return low / 1e9, high / 1e9
    if band is not None and band in BAND_WAVELENGTHS:
        return BAND_WAVELENGTHS[band]
    return None, None
