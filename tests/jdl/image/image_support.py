"""Helpers for the image tests: small FITS frames of known geometry, and sky sampling."""

from __future__ import annotations

import functools
import math
import traceback
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS
from numpy.typing import NDArray

from wsrf_uws.jdl.image.archive import ArchiveIndex, Refresh
from wsrf_uws.jdl.image.fields import Field


def frame_wcs(ra: float, dec: float, *, side: int, scale: float, rotation: float = 0.0) -> WCS:
    """A TAN WCS centred on (ra, dec): ``side`` pixels of ``scale`` degrees, rotated (deg)."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(side + 1) / 2.0, (side + 1) / 2.0]
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    wcs.wcs.cd = np.array([[-scale * cos, scale * sin], [scale * sin, scale * cos]])
    wcs.wcs.radesys = "ICRS"
    return wcs


def write_frame(
    path: Path,
    *,
    ra: float,
    dec: float,
    side: int = 40,
    scale: float = 0.01,
    rotation: float = 0.0,
    keywords: dict[str, Any] | None = None,
    data: NDArray[Any] | None = None,
) -> Path:
    """A FITS frame whose pixel values are all different (so a pixel identifies itself)."""
    header = frame_wcs(ra, dec, side=side, scale=scale, rotation=rotation).to_header()
    for keyword, value in (keywords or {}).items():
        header[keyword] = value
    if data is None:
        data = np.arange(side * side, dtype=np.float32).reshape(side, side) + 1000.0
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data=data, header=header).writeto(path, overwrite=True)
    return path


def field_samples(field: Field, *, per_side: int = 60) -> tuple[NDArray[Any], NDArray[Any]]:
    """Points (ra, dec) spread evenly over the field, edges excluded."""
    half_x, half_y = field.half_extent
    steps = (np.arange(per_side) + 0.5) / per_side * 2.0 - 1.0
    xi, eta = np.meshgrid(steps * half_x, steps * half_y)
    xi, eta = xi.ravel(), eta.ravel()
    alpha0, delta0 = math.radians(field.ra), math.radians(field.dec)
    # The inverse gnomonic projection, written out independently of the code under test.
    rho = np.hypot(xi, eta)
    c = np.arctan(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.arcsin(
            np.cos(c) * math.sin(delta0)
            + np.where(rho > 0, eta * np.sin(c) * math.cos(delta0) / rho, 0.0)
        )
        alpha = alpha0 + np.arctan2(
            xi * np.sin(c), rho * math.cos(delta0) * np.cos(c) - eta * math.sin(delta0) * np.sin(c)
        )
    return np.degrees(alpha) % 360.0, np.degrees(delta)


@functools.cache
def _frame_geometry(path: Path, hdu: int, mtime_ns: int) -> tuple[WCS, int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        with fits.open(path) as hdus:
            header = hdus[hdu].header
            return WCS(header), header["NAXIS1"], header["NAXIS2"]


def inside_frame(path: Path, ra: NDArray[Any], dec: NDArray[Any], hdu: int = 0) -> NDArray[Any]:
    """Which sky points fall on the frame's pixels, by its WCS (the independent oracle)."""
    wcs, nx, ny = _frame_geometry(path, hdu, path.stat().st_mtime_ns)
    x, y = wcs.world_to_pixel_values(ra, dec)
    # Points behind the frame's tangent plane project to nonsense: keep the near side only.
    alpha0, delta0 = np.radians(wcs.wcs.crval)
    alpha, delta = np.radians(ra), np.radians(dec)
    cos_c = np.sin(delta0) * np.sin(delta) + np.cos(delta0) * np.cos(delta) * np.cos(alpha - alpha0)
    return (cos_c > 0.1) & (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)


def obs_ids(frames: Iterable[Any]) -> list[str]:
    return [frame.obs_id for frame in frames]


def open_and_report(root: str, index_path: str, start: Any, out: Any) -> None:
    """Run in a child process: wait at the barrier, open the index, report what it did."""
    try:
        start.wait(60)
        index = ArchiveIndex.open(Path(root), index_path=Path(index_path))
        refresh: Refresh = index.last_refresh
        out.put(([str(p) for p in refresh.indexed], len(index)))
        index.close()
    except BaseException:
        out.put((traceback.format_exc(), -1))  # the test shows it rather than waiting
        raise
