"""The archive index: what it records, what it skips, re-indexing, coverage queries, two openers."""

from __future__ import annotations

import gzip
import math
import multiprocessing
import os
import sqlite3
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Latitude, Longitude
from astropy.io import fits
from astropy.time import Time
from cdshealpix import nested

from wsrf_uws.jdl.image.archive import ArchiveIndex
from wsrf_uws.jdl.image.fields import Field, angular_distance
from wsrf_uws.jdl.image.frames import BAND_WAVELENGTHS
from wsrf_uws.jdl.image.healpix_cells import healpix_order, polygon_cells

from image_support import (
    field_samples,
    frame_wcs,
    inside_frame,
    obs_ids,
    open_and_report,
    write_frame,
)

SCALE = 0.01  # degrees per pixel: a 40-pixel frame is 0.4 degrees across


# -- an archive of frames placed for the edge cases -----------------------------------------

#: name -> (ra, dec, rotation): frames of 40 x 0.01 degrees.
EDGE_FRAMES = {
    "plain": (10.0, 0.0, 0.0),  # corners at 10 +- 0.2, 0 +- 0.2
    "diamond": (20.0, 0.0, 45.0),  # vertices 0.283 degrees out along RA and Dec
    "left": (30.0, 0.0, 0.0),  # left and right leave a gap of 0.2 degrees
    "right": (30.6, 0.0, 0.0),
    "wrap": (359.9, 10.0, 0.0),  # reaches past RA 0 to about 0.103
    "pole": (45.0, 89.9, 30.0),  # holds the north pole
    "south": (300.0, -89.8, 10.0),
}


@pytest.fixture(scope="module")
def edge_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[ArchiveIndex, Path]:
    root = tmp_path_factory.mktemp("edges")
    for name, (ra, dec, rotation) in EDGE_FRAMES.items():
        write_frame(
            root / f"{name}.fits",
            ra=ra,
            dec=dec,
            scale=SCALE,
            rotation=rotation,
            keywords={"OBS_ID": name, "FILTER": "r"},
        )
    index = ArchiveIndex.open(root, index_path=tmp_path_factory.mktemp("index") / "i.sqlite")
    yield index, root
    index.close()


def separation(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Angle in degrees between two directions, from their unit vectors."""
    a, b = (
        np.array([math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d)])
        for r, d in (
            (math.radians(ra1), math.radians(dec1)),
            (math.radians(ra2), math.radians(dec2)),
        )
    )
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(a @ b)))


def oracle(root: Path, field: Field) -> list[str]:
    """The frames some sample point of the field falls on, by each file's own WCS."""
    ra, dec = field_samples(field, per_side=110)
    # Frames are 0.29 degrees and fields at most 0.3 degrees from centre to corner.
    near = [
        name
        for name, (frame_ra, frame_dec, _) in EDGE_FRAMES.items()
        if separation(field.ra, field.dec, frame_ra, frame_dec) < 0.7
    ]
    return sorted(name for name in near if inside_frame(root / f"{name}.fits", ra, dec).any())


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        # Only the field's corner reaches into the frame's corner, 0.02 degrees deep.
        (Field(10.28, 0.28, 0.2, 0.2), ["plain"]),
        # The same field moved 0.04 degrees further out diagonally: a gap at the corner.
        (Field(10.32, 0.32, 0.2, 0.2), []),
        # Inside the rotated frame's RA/Dec bounding box and circumscribed circle, but
        # beyond its edge (x + y = 0.283): only the exact footprint test says no.
        (Field(20.19, 0.19, 0.08, 0.08), []),
        (Field(20.17, 0.17, 0.08, 0.08), ["diamond"]),
        # Between two frames, and straddling the gap.
        (Field(30.3, 0.0, 0.15, 0.15), []),
        (Field(30.3, 0.0, 0.3, 0.1), ["left", "right"]),
        # Across RA 0, from either side of it.
        (Field(0.05, 10.0, 0.05, 0.05), ["wrap"]),
        (Field(359.99, 10.0, 0.05, 0.05), ["wrap"]),
        (Field.from_box(359.95, 0.02, 9.9, 10.1), ["wrap"]),
        (Field(0.3, 10.0, 0.05, 0.05), []),
        # At and near the poles.
        (Field(0.0, 90.0, 0.05, 0.05), ["pole"]),
        (Field(225.0, 89.5, 0.2, 0.2), []),
        (Field(120.0, -90.0, 0.1, 0.1), ["south"]),
        (Field(120.0, -89.3, 0.1, 0.1), []),
    ],
)
def test_covering_edge_cases(
    edge_archive: tuple[ArchiveIndex, Path], field: Field, expected: list[str]
) -> None:
    index, root = edge_archive
    found = obs_ids(index.covering(field))
    assert found == expected
    # The hand-placed expectation agrees with the files' own WCS.
    assert oracle(root, field) == expected


def test_covering_agrees_with_the_wcs_for_random_fields(
    edge_archive: tuple[ArchiveIndex, Path],
) -> None:
    index, root = edge_archive
    rng = np.random.default_rng(7)
    checked = found = 0
    for ra, dec, _ in EDGE_FRAMES.values():
        wcs = frame_wcs(ra, dec, side=40, scale=SCALE)
        for _ in range(20):
            # Fields around each frame: same size scale, centres up to 0.5 degrees away.
            x, y = rng.uniform(-30.0, 70.0, 2)
            centre_ra, centre_dec = (float(v) for v in wcs.pixel_to_world_values(x, y))
            field = Field(centre_ra, centre_dec, *(float(s) for s in rng.uniform(0.03, 0.4, 2)))
            # Sampling can miss a sliver of overlap, so compare with a field 0.005 degrees
            # smaller on every side (its hits surely overlap) and one as much larger (it
            # overlaps any frame the field touches by more than the sample spacing).
            shrunk = Field(field.ra, field.dec, field.width - 0.01, field.height - 0.01)
            grown = Field(field.ra, field.dec, field.width + 0.01, field.height + 0.01)
            covering = set(obs_ids(index.covering(field)))
            assert set(oracle(root, shrunk)) <= covering <= set(oracle(root, grown)), field
            checked += 1
            found += bool(covering)
    # Both outcomes occurred often enough for the comparison to mean something.
    assert 15 < found < checked - 15


def test_spatial_index_loses_no_frame_of_any_size(tmp_path: Path) -> None:
    """Frames from 4 degrees down to 1.4 arcsec (HEALPix orders 4 to 17 side by side), fields
    larger and smaller than them: the index finds every frame the exact test accepts."""
    rng = np.random.default_rng(5)
    root = tmp_path / "archive"
    places = [(60.0, 30.0), (0.2, -10.0), (200.0, 88.5)]
    count = 0
    for ra, dec in places:
        for size in (4.0, 1.0, 0.3, 0.05, 0.01, 0.002, 0.0004):
            for _ in range(3):
                # Scatter within 2 degrees of the place (wrapping RA, across the pole).
                xi, eta = rng.uniform(-2.0, 2.0, 2)
                centre = frame_wcs(ra, dec, side=1, scale=1.0).pixel_to_world_values(xi, eta)
                write_frame(
                    root / f"f{count:03d}.fits",
                    ra=float(centre[0]),
                    dec=float(centre[1]),
                    side=20,
                    scale=size / 20,
                    rotation=float(rng.uniform(0.0, 90.0)),
                )
                count += 1
    with ArchiveIndex.open(root, index_path=tmp_path / "i.sqlite") as index:
        frames = index.frames()
        assert len({healpix_order(f.fov) for f in frames}) >= 6
        coarser = finer = found = 0
        for _ in range(150):
            ra, dec = places[int(rng.integers(len(places)))]
            xi, eta = rng.uniform(-2.5, 2.5, 2)
            centre = frame_wcs(ra, dec, side=1, scale=1.0).pixel_to_world_values(xi, eta)
            size = float(10.0 ** rng.uniform(-3.5, 0.6))
            field = Field(float(centre[0]), float(centre[1]), size, size * rng.uniform(0.3, 1.0))
            exact = [f.obs_id for f in frames if field.overlaps(f.footprint)]
            assert obs_ids(index.covering(field)) == exact, field
            found += bool(exact)
            coarser += any(healpix_order(2 * field.radius) < healpix_order(f.fov) for f in frames)
            finer += any(healpix_order(2 * field.radius) > healpix_order(f.fov) for f in frames)
        # Fields both coarser and finer than frames were asked for.
        assert coarser > 50 and finer > 50
        assert 30 < found < 145  # and some find none


def test_covering_filters_by_band_and_collection(tmp_path: Path) -> None:
    for band in ("g", "r"):
        for folder in ("deep", "wide"):
            write_frame(
                tmp_path / "archive" / folder / f"{band}.fits",
                ra=150.0,
                dec=2.0,
                keywords={"OBS_ID": f"{folder}-{band}", "FILTER": band},
            )
    with ArchiveIndex.open(tmp_path / "archive", index_path=tmp_path / "i.sqlite") as index:
        field = Field(150.0, 2.0, 0.1, 0.1)
        assert obs_ids(index.covering(field)) == ["deep-g", "deep-r", "wide-g", "wide-r"]
        assert obs_ids(index.covering(field, band="r")) == ["deep-r", "wide-r"]
        assert obs_ids(index.covering(field, collection="wide")) == ["wide-g", "wide-r"]
        assert obs_ids(index.covering(field, band="g", collection="deep")) == ["deep-g"]
        assert index.covering(field, band="i") == []
        assert index.bands() == ["g", "r"]
        # Without OBSCOLL the collection is the first folder below the root.
        assert index.collections() == ["deep", "wide"]


def test_containing(edge_archive: tuple[ArchiveIndex, Path]) -> None:
    index, _ = edge_archive
    assert obs_ids(index.containing(10.19, 0.19)) == ["plain"]
    assert obs_ids(index.containing(10.21, 0.0)) == []
    assert obs_ids(index.containing(20.0, 0.27)) == ["diamond"]
    assert obs_ids(index.containing(20.15, 0.15)) == []
    assert obs_ids(index.containing(0.05, 10.0)) == ["wrap"]
    assert obs_ids(index.containing(123.0, 90.0)) == ["pole"]


# -- HEALPix order and cells -----------------------------------------------------------------


def cell_size(order: int) -> float:
    """Side of a HEALPix cell in degrees: the square root of its area (4 pi / 12 / 4^order)."""
    return math.degrees(math.sqrt(4.0 * math.pi / (12.0 * 4.0**order)))


@pytest.mark.parametrize(
    "size", [1e-5, 3e-4, 0.01, 0.0833, 0.284, 0.4, 1.0, 5.0, 14.0, 40.0, 200.0]
)
def test_healpix_order_is_the_deepest_with_cells_of_half_the_size(size: float) -> None:
    order = healpix_order(size)
    assert 0 <= order <= 20
    if order > 0:
        assert cell_size(order) >= size / 2.0
    if order < 20:
        assert cell_size(order + 1) < size / 2.0


def test_frame_cells_are_few_and_cover_the_frame() -> None:
    rng = np.random.default_rng(3)
    for _ in range(60):
        size = float(10.0 ** rng.uniform(-3.5, 1.2))
        dec = float(rng.choice([rng.uniform(-89.9, 89.9), rng.uniform(85.0, 89.99)]))
        wcs = frame_wcs(
            float(rng.uniform(0.0, 360.0)),
            dec,
            side=100,
            scale=size / 100.0,
            rotation=float(rng.uniform(0.0, 90.0)),
        )
        corners = tuple(
            (float(r), float(d)) for r, d in wcs.calc_footprint(axes=(100, 100), center=False)
        )
        centre = wcs.pixel_to_world_values(49.5, 49.5)
        diameter = 2.0 * max(
            float(angular_distance(centre[0], centre[1], r, d)) for r, d in corners
        )
        order = healpix_order(diameter)
        cells = polygon_cells(corners, order)
        assert 1 <= len(cells) <= 30, (size, dec, len(cells))
        # Conservative: every point of the frame lies in one of its cells.
        x, y = rng.uniform(-0.5, 99.5, (2, 400))
        ra, dec_points = wcs.pixel_to_world_values(x, y)
        points = nested.lonlat_to_healpix(
            Longitude(ra * u.deg), Latitude(dec_points * u.deg), order
        )
        assert set(points.tolist()) <= set(cells)


# -- what a frame records --------------------------------------------------------------------


def test_frame_metadata_from_the_header(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    path = write_frame(
        root / "survey" / "one.fits",
        ra=150.0,
        dec=2.0,
        side=30,
        scale=0.002,
        rotation=20.0,
        keywords={
            "OBS_ID": "obs-1",
            "OBSCOLL": "SURVEY-X",
            "FILTER": "i",
            "TELESCOP": "T1",
            "INSTRUME": "CAM",
            "BUNIT": "adu",
            "EXPTIME": 300.0,
            "DATE-OBS": "2024-01-02T03:04:05",
        },
    )
    other = write_frame(
        root / "two.fits",
        ra=151.0,
        dec=2.0,
        keywords={"MJD-OBS": 60000.5, "MJD-END": 60000.52, "WAVELMIN": 500.0, "WAVELMAX": 600.0},
    )
    with ArchiveIndex.open(root, index_path=tmp_path / "i.sqlite") as index:
        first, second = sorted(index.frames(), key=lambda f: str(f.path))
    header = fits.getheader(path)
    wcs = frame_wcs(150.0, 2.0, side=30, scale=0.002, rotation=20.0)
    assert first.path == path.resolve()
    assert (first.hdu, first.obs_id, first.collection, first.band) == (0, "obs-1", "SURVEY-X", "i")
    assert (first.naxis1, first.naxis2) == (30, 30)
    assert (first.ra, first.dec) == pytest.approx((150.0, 2.0), abs=1e-9)
    expected_corners = wcs.calc_footprint(axes=(30, 30), center=False)
    assert np.allclose(np.array(first.footprint), expected_corners, atol=1e-9)
    assert first.pixel_scale == pytest.approx(0.002, rel=1e-9)
    mjd = Time(header["DATE-OBS"], scale="utc").mjd
    assert first.t_min == pytest.approx(mjd, abs=1e-9)
    assert first.t_max == pytest.approx(mjd + 300.0 / 86400.0, abs=1e-9)
    assert first.exptime == 300.0
    assert (first.em_min, first.em_max) == BAND_WAVELENGTHS["i"]
    assert (first.facility, first.instrument, first.bunit) == ("T1", "CAM", "adu")
    assert first.file_size == path.stat().st_size
    assert first.fov == pytest.approx(0.002 * 30 * math.sqrt(2.0), rel=1e-3)

    # A bare file: obs_id from the name, collection from the root, times from MJD keywords,
    # wavelengths from WAVELMIN/WAVELMAX in nm.
    assert second.path == other.resolve()
    assert (second.obs_id, second.collection, second.band) == ("two", "archive", None)
    assert (second.t_min, second.t_max) == (60000.5, 60000.52)
    assert second.exptime == pytest.approx(0.02 * 86400.0)
    assert (second.em_min, second.em_max) == pytest.approx((5e-7, 6e-7))
    assert (second.facility, second.instrument, second.bunit) == (None, None, None)


def test_multi_extension_file_gives_one_frame_per_image(tmp_path: Path) -> None:
    primary = fits.PrimaryHDU()
    primary.header["OBS_ID"] = "mef"
    primary.header["TELESCOP"] = "BIG"
    primary.header["FILTER"] = "z"
    extensions = []
    for number, ra in enumerate((40.0, 40.5), start=1):
        header = frame_wcs(ra, -5.0, side=20, scale=0.01).to_header()
        header["EXTNAME"] = f"CCD{number}"
        extensions.append(fits.ImageHDU(np.zeros((20, 20), np.float32), header))
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=[1.0])])
    root = tmp_path / "archive"
    root.mkdir()
    fits.HDUList([primary, *extensions, table]).writeto(root / "mef.fits")
    with ArchiveIndex.open(root, index_path=tmp_path / "i.sqlite") as index:
        frames = index.frames()
        assert [(f.obs_id, f.hdu) for f in frames] == [("mef.CCD1", 1), ("mef.CCD2", 2)]
        assert {(f.facility, f.band) for f in frames} == {("BIG", "z")}
        assert obs_ids(index.covering(Field(40.5, -5.0, 0.1, 0.1))) == ["mef.CCD2"]
        assert index.skipped == []


# -- skipping --------------------------------------------------------------------------------


def test_unusable_files_are_skipped_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    good = write_frame(root / "good.fits", ra=1.0, dec=1.0)
    (root / "notes.txt").write_text("observing log\n")
    (root / "empty.fits").write_bytes(b"")
    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(root / "nowcs.fits")
    fits.HDUList(
        [fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]
    ).writeto(root / "table.fits")
    cube_header = frame_wcs(1.0, 1.0, side=8, scale=0.01).to_header()
    fits.PrimaryHDU(np.zeros((3, 8, 8), np.float32), cube_header).writeto(root / "cube.fits")
    (root / "truncated.fits").write_bytes(good.read_bytes()[:1000])
    with gzip.open(root / "zipped.fits.gz", "wb") as stream:
        stream.write(good.read_bytes())
    (root / ".hidden.fits").write_bytes(good.read_bytes())
    (root / ".cache").mkdir()
    (root / ".cache" / "copy.fits").write_bytes(good.read_bytes())

    with ArchiveIndex.open(root, index_path=root / "index.sqlite") as index:
        reasons = {path.name: reason for path, reason in index.skipped}
        assert sorted(reasons) == [
            "cube.fits",
            "empty.fits",
            "notes.txt",
            "nowcs.fits",
            "table.fits",
            "truncated.fits",
        ]
        assert "not a FITS file" in reasons["notes.txt"]
        assert "not a FITS file" in reasons["empty.fits"]
        assert "no celestial WCS" in reasons["nowcs.fits"]
        assert "holds no image HDU" in reasons["table.fits"]
        assert "3 axes" in reasons["cube.fits"]
        assert "unreadable FITS file" in reasons["truncated.fits"]
        # Hidden files, hidden folders and the index itself are not archive files.
        assert obs_ids(index.frames()) == ["good", "zipped"]
        indexed = {path.name for path in index.last_refresh.indexed}
        assert ".hidden.fits" not in indexed
        assert "index.sqlite" not in indexed


# -- re-indexing -----------------------------------------------------------------------------


def bump_mtime(path: Path) -> None:
    """Make a rewrite visible even where the file system's clock is coarse."""
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 2_000_000_000))


def test_only_new_and_changed_files_are_read_again(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    index_path = tmp_path / "i.sqlite"
    paths = [
        write_frame(root / f"f{n}.fits", ra=100.0 + n, dec=0.0, keywords={"OBS_ID": f"f{n}"})
        for n in range(4)
    ]
    with ArchiveIndex.open(root, index_path=index_path) as index:
        assert sorted(index.last_refresh.indexed) == sorted(p.resolve() for p in paths)
        assert len(index) == 4

    with ArchiveIndex.open(root, index_path=index_path) as index:
        assert index.last_refresh.indexed == ()
        assert index.last_refresh.removed == ()
        assert len(index) == 4

    # Rewritten (moved on the sky, renamed), deleted, added, and spoiled.
    write_frame(paths[0], ra=120.0, dec=0.0, keywords={"OBS_ID": "moved"})
    bump_mtime(paths[0])
    paths[1].unlink()
    added = write_frame(root / "sub" / "new.fits", ra=130.0, dec=0.0)
    paths[2].write_bytes(b"overwritten by mistake")
    with ArchiveIndex.open(root, index_path=index_path) as index:
        assert sorted(index.last_refresh.indexed) == sorted(
            p.resolve() for p in (paths[0], paths[2], added)
        )
        assert index.last_refresh.removed == (paths[1].resolve(),)
        assert obs_ids(index.frames()) == ["f3", "moved", "new"]
        assert obs_ids(index.covering(Field(120.0, 0.0, 0.1, 0.1))) == ["moved"]
        assert index.covering(Field(100.0, 0.0, 0.1, 0.1)) == []
        assert index.covering(Field(102.0, 0.0, 0.1, 0.1)) == []
        assert [p.name for p, _ in index.skipped] == ["f2.fits"]
        # The cells of replaced and removed frames went with them.
        database = sqlite3.connect(index_path)
        try:
            (orphans,) = database.execute(
                "SELECT count(*) FROM cells WHERE frame NOT IN (SELECT id FROM frames)"
            ).fetchone()
        finally:
            database.close()
        assert orphans == 0

    # A refresh of an unchanged archive through an open index reads nothing.
    with ArchiveIndex.open(root, index_path=index_path, refresh=False) as index:
        assert index.last_refresh.indexed == ()
        assert index.refresh().indexed == ()
        assert len(index) == 3


def test_missing_archive_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ArchiveIndex.open(tmp_path / "nowhere", index_path=tmp_path / "i.sqlite")


# -- two processes ---------------------------------------------------------------------------


def test_two_processes_indexing_a_new_archive_share_the_work(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    count = 150
    for n in range(count):
        write_frame(root / f"f{n:03d}.fits", ra=(n * 2.3) % 360.0, dec=-60.0 + n * 0.8, side=16)
    index_path = tmp_path / "shared.sqlite"
    # Fresh interpreters (as the service and a worker are), released together by a barrier
    # once both have imported everything.
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=open_and_report, args=(str(root), str(index_path), start, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=90) for _ in workers]
    for paths, frames in reports:
        assert frames == count, paths  # a child's traceback, if it failed
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    indexed = [path for paths, _ in reports for path in paths]
    # Every file was read exactly once, by one process or the other, and both see them all.
    assert sorted(indexed) == sorted(str(p.resolve()) for p in root.iterdir())
    assert [frames for _, frames in reports] == [count, count]
    with ArchiveIndex.open(root, index_path=index_path) as index:
        assert index.last_refresh.indexed == ()
        assert len(index) == count
        assert len(set(obs_ids(index.frames()))) == count
