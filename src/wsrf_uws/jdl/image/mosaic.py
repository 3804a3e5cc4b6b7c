"""Mosaics: several frames resampled onto one north-up grid covering a field.

The resampling is reproject's (``reproject_and_coadd`` with bilinear ``reproject_interp``,
frames averaged where they overlap). reproject and what it pulls in weigh some 386 MB, so it
is an optional extra (:data:`MOSAIC_EXTRA`): this module imports it only when a mosaic is
made, and :func:`mosaic_available` tells the service whether to offer mosaics at all.

Only the part of each frame under the field (plus a margin for the interpolation) is read and
resampled, so a small mosaic from large frames stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from numpy.typing import NDArray

from .budget import check_size
from .cutout import (
    NoOverlap,
    OutputTooLarge,
    StagedImage,
    _as_float,
    _carried,
    _describe_field,
    _field_tag,
    _provenance,
    _quiet,
    _staged,
    open_pixels,
    write_fits_atomically,
)
from .fields import Field
from .frames import Frame

__all__ = [
    "MAX_MOSAIC_SIDE",
    "MOSAIC_EXTRA",
    "MosaicUnavailable",
    "make_mosaic",
    "mosaic_available",
    "mosaic_shape",
    "mosaic_wcs",
]

#: What to install for mosaics.
MOSAIC_EXTRA = "wsrf-uws[mosaic]"

#: The largest mosaic side, in pixels.
MAX_MOSAIC_SIDE = 4096

# Pixels read beyond the field on each side, so the interpolation has neighbours at the edge.
_MARGIN = 2


class MosaicUnavailable(RuntimeError):
    """reproject, which mosaics need, is not installed (or does not import)."""


@cache
def mosaic_available() -> bool:
    """Whether reproject can be imported; tried once per process, then remembered."""
    if importlib.util.find_spec("reproject") is None:
        return False
    try:
        importlib.import_module("reproject")
        importlib.import_module("reproject.mosaicking")
    except ImportError:
        return False
    return True


def mosaic_shape(
    field: Field, *, pixel_scale: float, max_side: int = MAX_MOSAIC_SIDE
) -> tuple[int, int]:
    """The (height, width) in pixels of a mosaic of ``field`` at ``pixel_scale`` degrees/pixel.

    Raises :class:`OutputTooLarge` (a ValueError) naming the limit when a side would exceed
    ``max_side``, and ValueError for a scale that is not a positive number.
    """
    if not (math.isfinite(pixel_scale) and pixel_scale > 0.0):
        raise ValueError(
            f"the mosaic pixel scale must be a positive number of degrees, not {pixel_scale!r}"
        )
    half_x, half_y = field.half_extent
    # The grid is linear in the tangent plane, where the field's edges lie at tan(size / 2)
    # and a pixel is pixel_scale (in radians) wide.
    step = math.radians(pixel_scale)
    width = max(1, math.ceil(2.0 * half_x / step - 1e-9))
    height = max(1, math.ceil(2.0 * half_y / step - 1e-9))
    if width > max_side or height > max_side:
        raise OutputTooLarge(
            f"a mosaic of {_describe_field(field)} at {pixel_scale * 3600.0:g} arcsec per pixel "
            f"would be {width}x{height} pixels; the limit is {max_side} pixels a side: "
            "ask for a smaller field or a coarser pixel scale"
        )
    return height, width


def mosaic_wcs(field: Field, *, pixel_scale: float, shape: tuple[int, int]) -> WCS:
    """The mosaic's grid: TAN about the field's centre, north up, east left, at the scale."""
    height, width = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = [field.ra, field.dec]
    # The centre of the pixel grid, in FITS's 1-based pixel numbers.
    wcs.wcs.crpix = [(width + 1) / 2.0, (height + 1) / 2.0]
    wcs.wcs.cd = np.array([[-pixel_scale, 0.0], [0.0, pixel_scale]])
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.set()
    return wcs


def make_mosaic(
    frames: Sequence[Frame],
    field: Field,
    *,
    pixel_scale: float,
    destination: Path,
    obs_id: str | None = None,
    max_side: int = MAX_MOSAIC_SIDE,
    max_bytes: int | None = None,
) -> StagedImage:
    """Resample the ``frames`` that overlap ``field`` onto one grid, written to ``destination``.

    The grid is north up, centred on the field, ``pixel_scale`` degrees per pixel, and holds
    the whole field; pixels no frame covers are NaN. Frames must all be of one band.
    Raises :class:`NoOverlap` when no frame overlaps the field, :class:`OutputTooLarge` when
    the grid would exceed ``max_side`` pixels a side, :class:`~.budget.OverBudget` when the
    file would be larger than ``max_bytes`` (checked before resampling, and again before
    writing), :class:`MosaicUnavailable` without reproject.
    """
    shape = mosaic_shape(field, pixel_scale=pixel_scale, max_side=max_side)
    what = f"the mosaic of {_describe_field(field)}"
    # float32 pixels: the file is at least that large, whatever its header.
    check_size(shape[0] * shape[1] * 4, max_bytes=max_bytes, what=what)
    sources = sorted(
        (frame for frame in frames if field.overlaps(frame.footprint)),
        key=lambda frame: (frame.obs_id, str(frame.path), frame.hdu),
    )
    if not sources:
        raise NoOverlap(f"none of the {len(frames)} frames given overlaps {_describe_field(field)}")
    bands = sorted({frame.band or "(none)" for frame in sources})
    if len(bands) > 1:
        raise ValueError(
            f"the frames overlapping {_describe_field(field)} are of bands {', '.join(bands)}; "
            "a mosaic combines frames of one band: choose the band"
        )
    if not mosaic_available():
        raise MosaicUnavailable(
            f"mosaics need the reproject package, which is not installed: install {MOSAIC_EXTRA}"
        )
    from reproject import reproject_interp
    from reproject.mosaicking import reproject_and_coadd

    grid = mosaic_wcs(field, pixel_scale=pixel_scale, shape=shape)
    inputs = [_under_field(frame, grid, shape) for frame in sources]
    pieces = [(data, wcs) for data, wcs, _ in inputs if data.size]
    if not pieces:
        raise NoOverlap(f"no frame has pixels under {_describe_field(field)}")
    with _quiet():
        mosaic, coverage = reproject_and_coadd(
            pieces,
            grid,
            shape_out=shape,
            reproject_function=reproject_interp,
            combine_function="mean",
            match_background=False,
        )
    data = np.asarray(mosaic, dtype=np.float32)
    data[np.asarray(coverage) <= 0] = np.nan

    product = obs_id or f"mosaic-{_field_tag(field)}"
    header = grid.to_header()
    header.update(_common_keywords([carried for _, _, carried in inputs]))
    # A mean of frames: the exposure of one, not their sum; times span all of them.
    exposures = [frame.exptime for frame in sources if frame.exptime is not None]
    exptime = sum(exposures) / len(exposures) if exposures else None
    if exptime is not None:
        header["EXPTIME"] = (exptime, "[s] Mean exposure time of the frames combined")
    for keyword in ("MJD-OBS", "MJD-END", "DATE-OBS", "DATE-END"):
        header.remove(keyword, ignore_missing=True)
    starts = [frame.t_min for frame in sources if frame.t_min is not None]
    ends = [frame.t_max for frame in sources if frame.t_max is not None]
    if starts:
        header["MJD-OBS"] = (min(starts), "[d] Start of the first exposure (MJD)")
    if ends:
        header["MJD-END"] = (max(ends), "[d] End of the last exposure (MJD)")
    _provenance(header, product=product, sources=sources, field=field, kind="Mosaic")
    size = write_fits_atomically(
        fits.PrimaryHDU(data=data, header=header), destination, max_bytes=max_bytes, what=what
    )
    return _staged(
        Path(destination),
        size=size,
        wcs=grid,
        data=data,
        obs_id=product,
        sources=sources,
        calib_level=3,
        exptime=exptime,
    )


def _under_field(
    frame: Frame, grid: WCS, shape: tuple[int, int]
) -> tuple[NDArray[np.floating[Any]], WCS, list[tuple[str, Any, str]]]:
    """The frame's pixels under the mosaic grid (with a margin), their WCS, its keywords."""
    height, width = shape
    # The grid's outer corners; its edges are straight in any TAN frame's pixel grid too.
    edge_x = np.array([-0.5, width - 0.5, width - 0.5, -0.5])
    edge_y = np.array([-0.5, -0.5, height - 0.5, height - 0.5])
    with _quiet(), open_pixels(frame.path, frame.hdu) as (hdus, hdu, pixels):
        wcs = WCS(hdu.header, hdus)
        ra, dec = grid.pixel_to_world_values(edge_x, edge_y)
        x, y = wcs.world_to_pixel_values(ra, dec)
        ny, nx = hdu.shape
        x0 = max(0, math.floor(float(np.min(x))) - _MARGIN)
        x1 = min(nx, math.ceil(float(np.max(x))) + _MARGIN + 1)
        y0 = max(0, math.floor(float(np.min(y))) - _MARGIN)
        y1 = min(ny, math.ceil(float(np.max(y))) + _MARGIN + 1)
        carried = _carried(hdu.header, hdus[0].header if frame.hdu > 0 else None)
        if x0 >= x1 or y0 >= y1:
            return np.empty((0, 0), dtype=np.float32), wcs, carried
        piece = _as_float(np.array(pixels[y0:y1, x0:x1]), blank=hdu.header.get("BLANK"))
    return piece, wcs[y0:y1, x0:x1], carried


def _common_keywords(per_frame: list[list[tuple[str, Any, str]]]) -> list[tuple[str, Any, str]]:
    """The carried keywords every frame has with the same value."""
    first, *others = per_frame
    shared = []
    for keyword, value, comment in first:
        if all(any(k == keyword and v == value for k, v, _ in cards) for cards in others):
            shared.append((keyword, value, comment))
    return shared
