"""The frames of a FITS file: each 2-D image HDU with a celestial WCS, read from its headers.

A :class:`Frame` holds what an ObsCore row needs (position, footprint, times, band,
wavelengths...); a file that is not FITS, or holds no such image, is :class:`NotAnImage`
with the reason.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from .fields import SkyPolygon, angular_distance

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

_FITS_SIGNATURE = b"SIMPLE  ="
_GZIP_SIGNATURE = b"\x1f\x8b"


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
            frame = dataclasses.replace(frame, obs_id=f"{frame.obs_id}.{suffix}")
        result.append(frame)
    return result


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
