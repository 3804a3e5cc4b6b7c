"""Mosaics: the grid asked for, the frames' values resampled, and reproject as an option."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS
from numpy.typing import NDArray

from wsrf_uws.jdl.image.archive import ArchiveIndex
from wsrf_uws.jdl.image.cutout import NoOverlap, OutputTooLarge
from wsrf_uws.jdl.image.demo import demo_stars, make_demo_archive
from wsrf_uws.jdl.image.fields import Field, angular_distance
from wsrf_uws.jdl.image.frames import Frame
from wsrf_uws.jdl.image.mosaic import (
    MAX_MOSAIC_SIDE,
    MOSAIC_EXTRA,
    make_mosaic,
    mosaic_available,
    mosaic_shape,
)

ARCSEC = 1.0 / 3600.0

# Resampling needs the mosaic extra (reproject, which brings scipy); refusals do not.
needs_reproject = pytest.mark.skipif(
    importlib.util.find_spec("reproject") is None,
    reason=f"reproject is not installed (pip install {MOSAIC_EXTRA})",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ArchiveIndex:
    root = tmp_path_factory.mktemp("demo")
    make_demo_archive(root)
    index = ArchiveIndex.open(root, index_path=tmp_path_factory.mktemp("index") / "i.sqlite")
    yield index
    index.close()


def read(path: Path) -> tuple[NDArray[Any], fits.Header, WCS]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        with fits.open(path) as hdus:
            return np.array(hdus[0].data, dtype=np.float64), hdus[0].header.copy(), WCS(hdus[0])


def resampled(frames: list[Frame], ra: float, dec: float) -> float | None:
    """The mean over the frames holding (ra, dec) of their bilinear value there."""
    from scipy.ndimage import map_coordinates

    values = []
    for frame in frames:
        data, _, wcs = read(frame.path)
        x, y = (float(v) for v in wcs.world_to_pixel_values(ra, dec))
        if 0.0 <= x <= frame.naxis1 - 1 and 0.0 <= y <= frame.naxis2 - 1:
            values.append(float(map_coordinates(data, [[y], [x]], order=1)[0]))
    return sum(values) / len(values) if values else None


@needs_reproject
def test_mosaic_across_two_adjacent_frames(demo: ArchiveIndex, tmp_path: Path) -> None:
    left, right = (
        next(f for f in demo.frames() if f.obs_id == name) for name in ("demo-r-04", "demo-r-05")
    )
    field = Field((left.ra + right.ra) / 2.0, (left.dec + right.dec) / 2.0, 0.2, 0.1, label="pair")
    frames = demo.covering(field, band="r")
    assert [f.obs_id for f in frames] == ["demo-r-04", "demo-r-05"]
    scale = 3.0 * ARCSEC
    staged = make_mosaic(frames, field, pixel_scale=scale, destination=tmp_path / "m.fits")
    data, header, wcs = read(staged.path)

    # The grid asked for: its shape, the scale, north up and east left, centred on the field.
    assert data.shape == mosaic_shape(field, pixel_scale=scale) == (staged.naxis2, staged.naxis1)
    assert data.shape == (121, 241)
    assert np.allclose(
        [s.to_value("deg") for s in wcs.proj_plane_pixel_scales()], scale, rtol=1e-12
    )
    assert np.allclose(wcs.pixel_scale_matrix, [[-scale, 0.0], [0.0, scale]], atol=1e-15)
    ny, nx = data.shape
    centre = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
    assert angular_distance(field.ra, field.dec, *centre) < 1e-9
    assert angular_distance(staged.ra, staged.dec, field.ra, field.dec) < 1e-9

    # At the brightest stars in the field, the value is the frames' bilinear value there.
    stars = [s for s in demo_stars() if field.contains(s.ra, s.dec)][:6]
    assert len(stars) == 6
    compared = 0
    for star in stars:
        x, y = (round(float(v)) for v in wcs.world_to_pixel_values(star.ra, star.dec))
        ra, dec = (float(v) for v in wcs.pixel_to_world_values(x, y))
        expected = resampled(frames, ra, dec)
        if expected is None:
            assert np.isnan(data[y, x])  # the star fell in a gap between the frames
            continue
        assert data[y, x] == pytest.approx(expected, rel=1e-4)
        assert data[y, x] > 320.0 + 5 * 15.0  # well above the sky: a star was sampled
        compared += 1
    assert compared >= 4

    # Provenance and the ObsCore description.
    assert header["NCOMBINE"] == 2
    assert (header["IMCMB001"], header["IMCMB002"]) == ("demo-r-04", "demo-r-05")
    assert header["OBS_ID"] == staged.obs_id == "mosaic-pair"
    assert (header["FILTER"], header["TELESCOP"], header["BUNIT"]) == ("r", "DEMO-1.2m", "adu")
    assert header["MJD-OBS"] == min(f.t_min for f in frames)
    assert header["MJD-END"] == max(f.t_max for f in frames)
    assert staged.calib_level == 3
    assert staged.source_obs_ids == ("demo-r-04", "demo-r-05")
    assert staged.band == "r"
    assert (staged.t_min, staged.t_max) == (
        min(f.t_min for f in frames),
        max(f.t_max for f in frames),
    )
    assert staged.exptime == 90.0
    assert staged.pixel_scale == pytest.approx(scale)
    assert staged.size == staged.path.stat().st_size
    assert staged.filled_fraction == pytest.approx(np.isfinite(data).mean())


@needs_reproject
def test_pixels_beyond_the_frames_are_nan(demo: ArchiveIndex, tmp_path: Path) -> None:
    east = next(f for f in demo.frames() if f.obs_id == "demo-g-05")
    # The field runs from the frame's centre to 0.3 degrees east: half of it beyond the
    # archive's eastern edge.
    field = Field(east.ra + 0.15 / np.cos(np.radians(east.dec)), east.dec, 0.3, 0.05)
    frames = demo.covering(field, band="g")
    staged = make_mosaic(frames, field, pixel_scale=4 * ARCSEC, destination=tmp_path / "m.fits")
    data, _, _ = read(staged.path)
    assert 0.3 < staged.filled_fraction < 0.7
    # North up, east left: the first columns are the eastern ones.
    assert np.isnan(data[:, :5]).all()
    assert np.isfinite(data[:, -5:]).all()


def test_refusals(demo: ArchiveIndex, tmp_path: Path) -> None:
    field = Field(150.1, 2.2, 0.1, 0.1)
    both_bands = demo.covering(field)
    assert {f.band for f in both_bands} == {"g", "r"}
    with pytest.raises(ValueError, match="bands g, r; a mosaic combines frames of one band"):
        make_mosaic(both_bands, field, pixel_scale=ARCSEC, destination=tmp_path / "m.fits")
    far = Field(10.0, 10.0, 0.1, 0.1)
    with pytest.raises(NoOverlap, match="none of the 9 frames given overlaps"):
        make_mosaic(
            demo.covering(field, band="g") * 9,
            far,
            pixel_scale=ARCSEC,
            destination=tmp_path / "m.fits",
        )
    with pytest.raises(OutputTooLarge, match=f"the limit is {MAX_MOSAIC_SIDE} pixels a side"):
        make_mosaic(
            demo.covering(field, band="g"),
            Field(150.1, 2.2, 1.0, 1.0),
            pixel_scale=0.5 * ARCSEC,
            destination=tmp_path / "m.fits",
        )
    with pytest.raises(ValueError, match="pixel scale must be a positive number"):
        mosaic_shape(field, pixel_scale=0.0)
    assert list(tmp_path.iterdir()) == []


def test_mosaic_shape_holds_the_field() -> None:
    field = Field(0.0, 89.0, 2.0, 1.0)
    height, width = mosaic_shape(field, pixel_scale=0.01)
    # A tangent-plane grid is a little larger than width / scale pixels.
    assert width == 201 and height == 101
    assert mosaic_shape(field, pixel_scale=0.01, max_side=201) == (101, 201)
    with pytest.raises(OutputTooLarge, match="would be 201x101 pixels"):
        mosaic_shape(field, pixel_scale=0.01, max_side=200)


@needs_reproject
def test_reproject_is_found_here() -> None:
    assert mosaic_available()
    assert MOSAIC_EXTRA == "wsrf-uws[mosaic]"


def test_without_reproject_mosaics_are_unavailable(tmp_path: Path) -> None:
    # A broken reproject ahead of the real one on the path, as in an install without it.
    stub = tmp_path / "stub" / "reproject"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('reproject is not installed here')\n")
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        import wsrf_uws.jdl.image.archive, wsrf_uws.jdl.image.cutout, wsrf_uws.jdl.image.demo
        from wsrf_uws.jdl.image.fields import Field
        from wsrf_uws.jdl.image.mosaic import MosaicUnavailable, make_mosaic, mosaic_available
        from wsrf_uws.jdl.image.archive import ArchiveIndex
        assert "reproject" not in sys.modules, "imported at module import time"
        print(mosaic_available(), mosaic_available())
        root = Path(sys.argv[1])
        wsrf_uws.jdl.image.demo.make_demo_archive(root / "a")
        index = ArchiveIndex.open(root / "a", index_path=root / "i.sqlite")
        field = Field(150.1, 2.2, 0.05, 0.05)
        try:
            make_mosaic(index.covering(field, band="r"), field, pixel_scale=1e-3,
                        destination=root / "m.fits")
        except MosaicUnavailable as error:
            print("unavailable:", error)
        """
    )
    environment = dict(os.environ, PYTHONPATH=str(stub.parent))
    completed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "False False"
    assert lines[1] == (
        "unavailable: mosaics need the reproject package, which is not installed: "
        f"install {MOSAIC_EXTRA}"
    )
    assert not (tmp_path / "m.fits").exists()
