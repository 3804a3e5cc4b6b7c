"""Cutouts: centred on the field, holding it, the frame's own pixels, keywords carried."""

from __future__ import annotations

import math
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
from wsrf_uws.jdl.image.cutout import (
    NoOverlap,
    OutputTooLarge,
    StagedImage,
    make_cutout,
)
from wsrf_uws.jdl.image.demo import make_demo_archive
from wsrf_uws.jdl.image.fields import Field, angular_distance
from wsrf_uws.jdl.image.frames import Frame

from image_support import frame_wcs, write_frame


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ArchiveIndex:
    root = tmp_path_factory.mktemp("demo")
    make_demo_archive(root)
    index = ArchiveIndex.open(root, index_path=tmp_path_factory.mktemp("index") / "i.sqlite")
    yield index
    index.close()


def read(path: Path, hdu: int = 0) -> tuple[NDArray[Any], fits.Header, WCS]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        with fits.open(path) as hdus:
            data = np.array(hdus[hdu].data)
            header = hdus[hdu].header.copy()
            wcs = WCS(header, hdus)
    return data, header, wcs


def check_cutout(staged: StagedImage, frame: Frame, field: Field) -> None:
    """The cutout is centred on the field, holds it, and its pixels are the frame's."""
    data, _, wcs = read(staged.path)
    ny, nx = data.shape
    # The requested position is the middle of the image, to within half a pixel.
    x, y = wcs.world_to_pixel_values(field.ra, field.dec)
    assert abs(float(x) - (nx - 1) / 2.0) <= 0.5 + 1e-6
    assert abs(float(y) - (ny - 1) / 2.0) <= 0.5 + 1e-6
    # The whole field is inside the image.
    corners = np.array(field.corners())
    cx, cy = wcs.world_to_pixel_values(corners[:, 0], corners[:, 1])
    assert np.all((cx > -0.5 - 1e-6) & (cx < nx - 0.5 + 1e-6))
    assert np.all((cy > -0.5 - 1e-6) & (cy < ny - 0.5 + 1e-6))
    # Each pixel is the frame's pixel at the same sky position, or NaN beyond the frame.
    frame_data, _, frame_wcs_ = read(frame.path, frame.hdu)
    rows, columns = np.mgrid[0:ny, 0:nx]
    ra, dec = wcs.pixel_to_world_values(columns, rows)
    fx, fy = frame_wcs_.world_to_pixel_values(ra, dec)
    assert np.allclose(fx, np.round(fx), atol=1e-5)
    assert np.allclose(fy, np.round(fy), atol=1e-5)
    ix, iy = np.round(fx).astype(int), np.round(fy).astype(int)
    on_frame = (ix >= 0) & (ix < frame.naxis1) & (iy >= 0) & (iy < frame.naxis2)
    assert np.array_equal(data[on_frame], frame_data[iy[on_frame], ix[on_frame]])
    assert np.isnan(data[~on_frame]).all()
    # What the staged image says about itself is what the file says.
    assert staged.size == staged.path.stat().st_size
    assert (staged.naxis1, staged.naxis2) == (nx, ny)
    assert np.allclose(
        np.array(staged.footprint), wcs.calc_footprint(axes=(nx, ny), center=False), atol=1e-9
    )
    centre = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
    assert angular_distance(staged.ra, staged.dec, *centre) < 1e-9
    assert staged.filled_fraction == pytest.approx(on_frame.mean())
    assert staged.pixel_scale == pytest.approx(frame.pixel_scale, rel=1e-9)
    assert staged.fov == pytest.approx(
        2.0 * max(float(angular_distance(staged.ra, staged.dec, r, d)) for r, d in staged.footprint)
    )


def test_cutouts_of_many_fields_from_rotated_frames(demo: ArchiveIndex, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    frames = demo.frames()
    partial = whole = 0
    for number in range(30):
        frame = frames[int(rng.integers(len(frames)))]
        # Centres anywhere on the frame and up to 40 pixels beyond its edge.
        x, y = rng.uniform(-40.0, frame.naxis1 + 40.0, 2)
        wcs = read(frame.path)[2]
        ra, dec = (float(v) for v in wcs.pixel_to_world_values(x, y))
        field = Field(ra, dec, *(float(s) for s in rng.uniform(0.005, 0.15, 2)))
        if not field.overlaps(frame.footprint):
            continue
        staged = make_cutout(frame, field, tmp_path / f"cut{number}.fits")
        check_cutout(staged, frame, field)
        partial += staged.filled_fraction < 1.0
        whole += staged.filled_fraction == 1.0
    # Both kinds were exercised.
    assert partial >= 5
    assert whole >= 5


def test_cutout_of_a_field_wider_than_it_is_high_on_a_rotated_frame(
    demo: ArchiveIndex, tmp_path: Path
) -> None:
    frame = next(f for f in demo.frames() if f.obs_id == "demo-r-04")
    field = Field(frame.ra, frame.dec, 0.1, 0.02, label="strip")
    staged = make_cutout(frame, field, tmp_path / "strip.fits")
    check_cutout(staged, frame, field)
    # Rotated by some tens of degrees, the strip needs more rows than its 36 arcsec.
    assert staged.naxis1 >= 180
    assert staged.naxis2 > 36


def test_header_keywords_and_provenance(demo: ArchiveIndex, tmp_path: Path) -> None:
    frame = next(f for f in demo.frames() if f.obs_id == "demo-g-04")
    field = Field(frame.ra + 0.01, frame.dec - 0.01, 0.05, 0.04, label="target-1")
    staged = make_cutout(frame, field, tmp_path / "out" / "c.fits")
    _, header, _ = read(staged.path)
    _, source, _ = read(frame.path)
    for keyword in ("TELESCOP", "INSTRUME", "FILTER", "EXPTIME", "MJD-OBS", "MJD-END", "BUNIT"):
        assert header[keyword] == source[keyword], keyword
    for keyword in ("OBJECT", "OBSCOLL", "WAVELMIN", "WAVELMAX", "DATE-OBS"):
        assert header[keyword] == source[keyword], keyword
    assert header["OBS_ID"] == staged.obs_id == "demo-g-04-cutout-target-1"
    assert header["NCOMBINE"] == 1
    assert header["IMCMB001"] == "demo-g-04"
    assert header["ORIGFILE"] == frame.path.name
    assert header["SRCHDU"] == 0
    assert (header["FIELDRA"], header["FIELDDEC"]) == (field.ra, field.dec)
    assert (header["FIELDW"], header["FIELDH"], header["FIELDID"]) == (0.05, 0.04, "target-1")
    assert header["PROCSOFT"].startswith("wsrf-uws ")
    assert "RADESYS" in header
    assert staged.source_obs_ids == ("demo-g-04",)
    assert staged.calib_level == 2
    assert (staged.band, staged.collection) == ("g", "wsrf-uws-demo")
    assert (staged.t_min, staged.t_max, staged.exptime) == (frame.t_min, frame.t_max, 120.0)
    assert (staged.em_min, staged.em_max) == (frame.em_min, frame.em_max)
    assert (staged.facility, staged.instrument, staged.bunit) == ("DEMO-1.2m", "DEMOCAM", "adu")
    # Without a label the product is named by the position; with one, as asked.
    unlabelled = make_cutout(frame, Field(frame.ra, frame.dec, 0.01, 0.01), tmp_path / "u.fits")
    assert unlabelled.obs_id.startswith("demo-g-04-cutout-J")
    named = make_cutout(frame, field, tmp_path / "n.fits", obs_id="mine")
    assert read(named.path)[1]["OBS_ID"] == named.obs_id == "mine"


def test_no_overlap_and_too_large(demo: ArchiveIndex, tmp_path: Path) -> None:
    frame = next(f for f in demo.frames() if f.obs_id == "demo-r-00")
    with pytest.raises(NoOverlap, match="does not overlap frame demo-r-00"):
        make_cutout(frame, Field(frame.ra + 1.0, frame.dec, 0.1, 0.1), tmp_path / "x.fits")
    with pytest.raises(OutputTooLarge, match="the limit is 100 pixels a side"):
        make_cutout(frame, Field(frame.ra, frame.dec, 0.1, 0.01), tmp_path / "x.fits", max_side=100)
    assert list(tmp_path.iterdir()) == []


def test_integer_frame_in_an_extension_with_blank_pixels(tmp_path: Path) -> None:
    data = np.arange(30 * 30, dtype=np.int16).reshape(30, 30)
    data[10, 12] = -999
    header = frame_wcs(70.0, -20.0, side=30, scale=0.01, rotation=15.0).to_header()
    header["BLANK"] = -999
    header["EXTNAME"] = "SCI"
    primary = fits.PrimaryHDU()
    primary.header["OBS_ID"] = "int-frame"
    primary.header["FILTER"] = "V"
    primary.header["EXPTIME"] = 60.0
    root = tmp_path / "archive"
    root.mkdir()
    fits.HDUList([primary, fits.ImageHDU(data, header)]).writeto(root / "int.fits")
    with ArchiveIndex.open(root, index_path=tmp_path / "i.sqlite") as index:
        (frame,) = index.frames()
    assert (frame.hdu, frame.obs_id) == (1, "int-frame")
    wcs = frame_wcs(70.0, -20.0, side=30, scale=0.01, rotation=15.0)
    # Centred on the blank pixel, running off the frame's corner.
    ra, dec = (float(v) for v in wcs.pixel_to_world_values(12, 10))
    staged = make_cutout(frame, Field(ra, dec, 0.3, 0.3), tmp_path / "c.fits")
    cut, cut_header, cut_wcs = read(staged.path)
    assert cut.dtype.kind == "f" and cut.dtype.itemsize == 4
    x, y = (round(float(v)) for v in cut_wcs.world_to_pixel_values(ra, dec))
    assert math.isnan(cut[y, x])
    assert cut[y, x + 1] == data[10, 13]
    assert 0.0 < staged.filled_fraction < 1.0
    # Keywords of the primary header are inherited by the extension's cutout.
    assert (cut_header["FILTER"], cut_header["EXPTIME"], cut_header["SRCHDU"]) == ("V", 60.0, 1)


def test_cutout_replaces_a_file_atomically(tmp_path: Path) -> None:
    path = write_frame(tmp_path / "archive" / "f.fits", ra=5.0, dec=5.0)
    with ArchiveIndex.open(tmp_path / "archive", index_path=tmp_path / "i.sqlite") as index:
        (frame,) = index.frames()
    destination = tmp_path / "out" / "c.fits"
    destination.parent.mkdir()
    destination.write_bytes(b"an older result")
    staged = make_cutout(frame, Field(5.0, 5.0, 0.1, 0.1), destination)
    check_cutout(staged, frame, Field(5.0, 5.0, 0.1, 0.1))
    # Only the result is left in the folder: no temporary file.
    assert [p.name for p in destination.parent.iterdir()] == ["c.fits"]
    assert path.exists()


def test_cutout_of_a_changed_frame_is_refused(tmp_path: Path) -> None:
    path = write_frame(tmp_path / "archive" / "f.fits", ra=5.0, dec=5.0, side=40)
    with ArchiveIndex.open(tmp_path / "archive", index_path=tmp_path / "i.sqlite") as index:
        (frame,) = index.frames()
    write_frame(path, ra=5.0, dec=5.0, side=50)
    with pytest.raises(ValueError, match="changed since the archive was indexed"):
        make_cutout(frame, Field(5.0, 5.0, 0.1, 0.1), tmp_path / "c.fits")


# A long OBS_ID ("tile-compressed-cutout-J...") must not make astropy truncate a card.
@pytest.mark.filterwarnings("error::astropy.io.fits.verify.VerifyWarning")
@pytest.mark.parametrize("storage", ["plain", "gzipped", "scaled", "tile-compressed"])
def test_every_way_of_storing_pixels(tmp_path: Path, storage: str) -> None:
    """Memory-mapped and section reads give the same cutouts (check_cutout compares pixels)."""
    header = frame_wcs(210.0, 54.0, side=60, scale=0.005, rotation=25.0).to_header()
    header["OBS_ID"] = storage
    values = np.arange(60 * 60).reshape(60, 60) % 5000
    root = tmp_path / "archive"
    root.mkdir()
    path = root / ("frame.fits.gz" if storage == "gzipped" else "frame.fits")
    if storage == "scaled":
        hdus = fits.HDUList([fits.PrimaryHDU(values.astype(np.uint16) + 30000, header)])
        assert hdus[0].header["BZERO"] == 32768  # unsigned integers are stored offset
    elif storage == "tile-compressed":
        hdus = fits.HDUList(
            [
                fits.PrimaryHDU(),
                fits.CompImageHDU(values.astype(np.int16), header, tile_shape=(8, 60)),
            ]
        )
    else:
        hdus = fits.HDUList([fits.PrimaryHDU(values.astype(np.float32), header)])
    hdus.writeto(path)
    with ArchiveIndex.open(root, index_path=tmp_path / "i.sqlite") as index:
        (frame,) = index.frames()
    assert frame.obs_id == storage
    assert frame.hdu == (1 if storage == "tile-compressed" else 0)
    wcs = frame_wcs(210.0, 54.0, side=60, scale=0.005, rotation=25.0)
    for number, (x, y) in enumerate([(30.0, 30.0), (2.0, 55.0), (-3.0, 10.0)]):
        ra, dec = (float(v) for v in wcs.pixel_to_world_values(x, y))
        field = Field(ra, dec, 0.08, 0.05)
        staged = make_cutout(frame, field, tmp_path / f"c{number}.fits")
        check_cutout(staged, frame, field)
