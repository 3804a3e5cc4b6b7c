"""The demonstration archive: deterministic, idempotent, complete, and fully indexed."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from wsrf_uws.jdl.image.archive import ArchiveIndex
from wsrf_uws.jdl.image.demo import (
    DEMO_BANDS,
    DEMO_CENTRE,
    DEMO_FILES,
    demo_archive_complete,
    demo_stars,
    make_demo_archive,
)
from wsrf_uws.jdl.image.fields import Field, angular_distance

OBSCORE_KEYWORDS = (
    "OBS_ID",
    "OBSCOLL",
    "TELESCOP",
    "INSTRUME",
    "FILTER",
    "EXPTIME",
    "MJD-OBS",
    "MJD-END",
    "DATE-OBS",
    "BUNIT",
    "WAVELMIN",
    "WAVELMAX",
    "RADESYS",
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("demo") / "archive"
    return folder, make_demo_archive(folder)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_files_and_headers(archive: tuple[Path, list[Path]]) -> None:
    folder, paths = archive
    assert [p.name for p in paths] == list(DEMO_FILES)
    assert sorted(p.name for p in folder.iterdir()) == sorted(DEMO_FILES)
    assert 2 * 9 == len(paths) <= 20
    for path in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(path) as hdus:
                assert len(hdus) == 1
                header, data = hdus[0].header, hdus[0].data
                wcs = WCS(header)
        for keyword in OBSCORE_KEYWORDS:
            assert keyword in header, (path.name, keyword)
        assert header["OBS_ID"] == path.stem
        assert header["FILTER"] in DEMO_BANDS
        assert header["MJD-END"] > header["MJD-OBS"]
        assert header["WAVELMIN"] < header["WAVELMAX"]
        assert header["RADESYS"] == "ICRS"
        assert all(f"CD{i}_{j}" in header for i in (1, 2) for j in (1, 2))
        assert list(wcs.wcs.ctype) == ["RA---TAN", "DEC--TAN"]
        # 512 x 512 float32 at 2 arcsec per pixel, about 1 MB.
        assert data.shape == (512, 512) and data.dtype.kind == "f" and data.dtype.itemsize == 4
        assert np.allclose(
            [s.to_value("arcsec") for s in wcs.proj_plane_pixel_scales()], 2.0, rtol=1e-9
        )
        assert 1_000_000 < path.stat().st_size < 1_100_000
        # Rotated by 0 to 40 degrees (CD1_2 = scale * sin(rotation)).
        rotation = np.degrees(np.arcsin(header["CD1_2"] / (2.0 / 3600.0)))
        assert 0.0 <= rotation <= 40.0
        # Sky with noise and stars.
        median = float(np.median(data))
        assert 100.0 < median < 400.0
        assert float(np.max(data)) > median + 1000.0


def test_every_frame_is_indexed_around_the_field(
    archive: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    folder, paths = archive
    with ArchiveIndex.open(folder, index_path=tmp_path / "i.sqlite") as index:
        assert len(index) == len(paths)
        assert index.skipped == []
        assert index.bands() == ["g", "r"]
        assert index.collections() == ["wsrf-uws-demo"]
        frames = index.frames()
        # A 3x3 grid of pointings about the centre in each band.
        for frame in frames:
            assert angular_distance(frame.ra, frame.dec, *DEMO_CENTRE) < 0.45
        assert {f.facility for f in frames} == {"DEMO-1.2m"}
        assert all(f.t_min and f.t_max and f.exptime and f.em_min and f.em_max for f in frames)
        # The centre is covered in both bands; neighbouring frames of a band overlap little.
        centre = Field(*DEMO_CENTRE, 0.01, 0.01)
        assert sorted(f.band for f in index.covering(centre)) == ["g", "r"]
        for band in DEMO_BANDS:
            middle = next(f for f in frames if f.obs_id == f"demo-{band}-04")
            core = Field(middle.ra, middle.dec, 0.2, 0.2)
            assert [f.obs_id for f in index.covering(core, band=band)] == [middle.obs_id]


def test_second_call_changes_nothing(archive: tuple[Path, list[Path]]) -> None:
    folder, paths = archive
    before = snapshot(folder)
    assert demo_archive_complete(folder)
    assert make_demo_archive(folder) == paths
    assert snapshot(folder) == before


def test_incomplete_archive_is_completed(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    paths = make_demo_archive(folder)
    reference = {p.name: p.read_bytes() for p in paths}
    kept = snapshot(folder)
    paths[3].unlink()
    paths[5].write_bytes(reference[paths[5].name][:5000])  # truncated
    assert not demo_archive_complete(folder)
    make_demo_archive(folder)
    assert demo_archive_complete(folder)
    assert {p.name: p.read_bytes() for p in paths} == reference
    after = snapshot(folder)
    changed = sorted(name for name in kept if after[name] != kept[name])
    assert changed == sorted([paths[3].name, paths[5].name])
    # No temporary files are left behind.
    assert sorted(p.name for p in folder.iterdir()) == sorted(DEMO_FILES)


def test_reproducible_byte_for_byte_per_seed(
    archive: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    _, paths = archive
    again = make_demo_archive(tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]
    other = make_demo_archive(tmp_path / "other", seed=7)
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(other, paths, strict=True))
    # An archive of another seed does not count as the default one.
    assert demo_archive_complete(tmp_path / "other", seed=7)
    assert not demo_archive_complete(tmp_path / "other")


def test_stars_are_where_the_star_list_says(archive: tuple[Path, list[Path]]) -> None:
    _, paths = archive
    data = fits.getdata(paths[DEMO_FILES.index("demo-r-04.fits")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        wcs = WCS(fits.getheader(paths[DEMO_FILES.index("demo-r-04.fits")]))
    checked = 0
    for star in demo_stars()[:200]:
        x, y = (float(v) for v in wcs.world_to_pixel_values(star.ra, star.dec))
        if 10 <= x <= 500 and 10 <= y <= 500:
            ix, iy = round(x), round(y)
            stamp = data[iy - 3 : iy + 4, ix - 3 : ix + 4]
            # The brightest pixel near the listed position is at most a pixel away from it.
            peak_y, peak_x = np.unravel_index(np.argmax(stamp), stamp.shape)
            assert abs(ix - 3 + peak_x - x) <= 1.0 and abs(iy - 3 + peak_y - y) <= 1.0
            checked += 1
    assert checked >= 5
