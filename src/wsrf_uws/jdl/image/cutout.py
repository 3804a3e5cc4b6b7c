"""Cutting a field out of one archive frame, and what a staged image is.

:func:`make_cutout` reads only the part of the frame it needs (:func:`open_pixels`), centres the
cutout on the field's centre (pixels beyond the frame's edge are NaN, so the requested position
stays the middle of the image even where the field runs off the frame), and makes it large
enough to hold the whole field in the frame's own pixel grid, rotated or not. The FITS file is
written atomically (:mod:`wsrf_uws.core.atomic`), so a reader never sees half an image.

:class:`StagedImage` describes a written image with everything its ObsCore row needs; mosaics
(:mod:`.mosaic`) produce one too. :func:`write_fits_atomically` is the writer both use.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.nddata.utils import NoOverlapError
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS
from numpy.typing import NDArray

from ... import __version__
from ...core.atomic import atomic_writer
from .budget import check_size
from .fields import Field, SkyPolygon, angular_distance
from .frames import Frame

__all__ = [
    "CARRIED_KEYWORDS",
    "MAX_CUTOUT_SIDE",
    "NoOverlap",
    "OutputTooLarge",
    "StagedImage",
    "make_cutout",
    "open_pixels",
    "write_fits_atomically",
]

#: The largest cutout side, in pixels.
MAX_CUTOUT_SIDE = 4096

#: Header keywords copied from a frame to the images made from it (when present).
CARRIED_KEYWORDS = (
    "OBJECT",
    "TELESCOP",
    "INSTRUME",
    "OBSERVER",
    "FILTER",
    "EXPTIME",
    "EXPOSURE",
    "TIMESYS",
    "MJD-OBS",
    "MJD-END",
    "DATE-OBS",
    "DATE-END",
    "BUNIT",
    "OBSCOLL",
    "WAVELMIN",
    "WAVELMAX",
    "GAIN",
    "SATURATE",
    "AIRMASS",
    "SEEING",
)


class NoOverlap(ValueError):
    """The field does not overlap the frame (or none of the frames) it was to be made from."""


class OutputTooLarge(ValueError):
    """The image asked for would exceed the size limit; the message names the limit."""


@dataclass(frozen=True)
class StagedImage:
    """An image written for a job, with what its ObsCore / SIAv2 row needs.

    Angles are degrees (ICRS), times MJD, ``exptime`` seconds, wavelengths metres.
    """

    path: Path
    #: File size in bytes.
    size: int
    naxis1: int
    naxis2: int
    #: The centre of the pixel grid (the field's centre).
    ra: float
    dec: float
    #: The four corners of the outer pixel edges.
    footprint: SkyPolygon
    #: Diameter of the smallest circle about the centre that holds the image (ObsCore s_fov).
    fov: float
    #: Size of a pixel in degrees.
    pixel_scale: float
    t_min: float | None
    t_max: float | None
    exptime: float | None
    em_min: float | None
    em_max: float | None
    #: The product's identifier, and those of the frames it was made from.
    obs_id: str
    source_obs_ids: tuple[str, ...]
    band: str | None
    collection: str
    #: ObsCore calibration level: 2 for cutouts, 3 for mosaics.
    calib_level: int
    facility: str | None
    instrument: str | None
    bunit: str | None
    #: The fraction of pixels holding data (the rest are NaN: beyond the frames).
    filled_fraction: float


def make_cutout(
    frame: Frame,
    field: Field,
    destination: Path,
    *,
    obs_id: str | None = None,
    max_side: int = MAX_CUTOUT_SIDE,
    max_bytes: int | None = None,
) -> StagedImage:
    """Cut ``field`` out of ``frame`` into the FITS file ``destination``.

    The cutout keeps the frame's pixel grid and orientation, is centred on the field's
    centre and holds the whole field. ``obs_id`` names the product (default: the frame's
    obs_id, "cutout", and the field's label or position). Raises :class:`NoOverlap` when the
    field misses the frame, :class:`OutputTooLarge` when a side would exceed ``max_side``
    pixels (before reading any pixel), and :class:`~.budget.OverBudget` when the file would
    be larger than ``max_bytes`` (before writing it).
    """
    if not field.overlaps(frame.footprint):
        raise NoOverlap(f"{_describe_field(field)} does not overlap frame {frame.obs_id}")
    with _quiet(), open_pixels(frame.path, frame.hdu) as (hdus, hdu, pixels):
        if tuple(hdu.shape) != (frame.naxis2, frame.naxis1):
            raise ValueError(
                f"frame {frame.obs_id} ({frame.path} HDU {frame.hdu}) is {hdu.shape[1]}x"
                f"{hdu.shape[0]} pixels but was indexed as {frame.naxis1}x{frame.naxis2}: "
                "the file changed since the archive was indexed"
            )
        wcs = WCS(hdu.header, hdus)
        x, y = (float(v) for v in wcs.world_to_pixel_values(field.ra, field.dec))
        corners = np.array(field.corners())
        corner_x, corner_y = wcs.world_to_pixel_values(corners[:, 0], corners[:, 1])
        # Cutout2D puts the position on the nearest pixel centre, up to half a pixel off the
        # middle: one pixel more than the field's extent keeps the whole field inside.
        width = math.ceil(2.0 * float(np.max(np.abs(corner_x - x))) + 1.0 - 1e-9)
        height = math.ceil(2.0 * float(np.max(np.abs(corner_y - y))) + 1.0 - 1e-9)
        if width > max_side or height > max_side:
            raise OutputTooLarge(
                f"a cutout of {_describe_field(field)} from frame {frame.obs_id} would be "
                f"{width}x{height} pixels; the limit is {max_side} pixels a side"
            )
        try:
            # Fill with 0, which any pixel type holds, and mark the padding NaN below.
            cut = Cutout2D(
                pixels,
                position=(x, y),
                size=(height, width),
                wcs=wcs,
                mode="partial",
                fill_value=0,
                copy=True,
            )
        except NoOverlapError:
            raise NoOverlap(
                f"{_describe_field(field)} does not overlap any pixel of frame {frame.obs_id}"
            ) from None
        data = _as_float(cut.data, blank=hdu.header.get("BLANK"))
        inside = np.zeros(data.shape, dtype=bool)
        inside[cut.slices_cutout] = True
        data[~inside] = np.nan
        header = cut.wcs.to_header(relax=True)
        carried = _carried(hdu.header, hdus[0].header if frame.hdu > 0 else None)
    product = obs_id or f"{frame.obs_id}-cutout-{_field_tag(field)}"
    header.update(carried)
    _provenance(header, product=product, sources=[frame], field=field, kind="Cutout")
    _put(header, "ORIGFILE", frame.path.name, "File of the source frame")
    _put(header, "SRCHDU", frame.hdu, "HDU of the source frame in ORIGFILE")
    size = write_fits_atomically(
        fits.PrimaryHDU(data=data, header=header),
        destination,
        max_bytes=max_bytes,
        what=f"the cutout of {_describe_field(field)} from frame {frame.obs_id}",
    )
    return _staged(
        destination,
        size=size,
        wcs=cut.wcs,
        data=data,
        obs_id=product,
        sources=[frame],
        calib_level=2,
        exptime=frame.exptime,
    )


def write_fits_atomically(
    hdu: fits.PrimaryHDU | fits.HDUList,
    destination: Path,
    *,
    max_bytes: int | None = None,
    what: str = "the image",
) -> int:
    """Write ``hdu`` to ``destination`` atomically and durably; return its size.

    The temporary file is a hidden file in the same folder (archive indexing skips hidden
    files); see :mod:`wsrf_uws.core.atomic`. A file that would be larger than ``max_bytes``
    is not written: :class:`~.budget.OverBudget` names ``what`` it is.
    """
    hdus = hdu if isinstance(hdu, fits.HDUList) else [hdu]
    check_size(sum(part.filebytes() for part in hdus), max_bytes=max_bytes, what=what)
    with atomic_writer(destination, suffix=".tmp") as stream:
        hdu.writeto(stream)
    return Path(destination).stat().st_size


# -- shared with mosaic.py ---------------------------------------------------------------


@contextmanager
def open_pixels(path: Path, index: int) -> Iterator[tuple[fits.HDUList, Any, Any]]:
    """Open HDU ``index`` of a frame's file: (all HDUs, the HDU, something to slice it lazily).

    Slicing the third reads only the slice. It is a memory map where the file holds plain
    pixels: that touches only the pages of the box. It is ``hdu.section`` for scaled
    (BZERO/BSCALE), BLANK-flagged, tile-compressed or gzipped data, where a memory map is
    refused or ``hdu.data`` would convert or decompress the whole image; ``section`` reads row
    by row, which is several times slower for large boxes (bench/image_bench.py measures
    both).
    """
    with path.open("rb") as stream:
        gzipped = stream.read(2) == b"\x1f\x8b"
    if not gzipped:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdus:
            hdu = hdus[index]
            if _plain(hdu):
                yield hdus, hdu, hdu.data
                return
    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdus:
        yield hdus, hdus[index], hdus[index].section


def _plain(hdu: Any) -> bool:
    """Whether the HDU's pixels are stored as they are (what a memory map can serve)."""
    header = hdu.header
    return bool(
        isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU)
        and not isinstance(hdu, fits.CompImageHDU)
        and header.get("BSCALE", 1) == 1
        and header.get("BZERO", 0) == 0
        and "BLANK" not in header
    )


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence astropy's warnings about fixable header oddities (FITSFixedWarning, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        yield


def _as_float(data: NDArray[Any], *, blank: Any) -> NDArray[Any]:
    """The pixels as float (float32 unless that would lose precision), BLANK as NaN."""
    if np.issubdtype(data.dtype, np.floating):
        return data if data.dtype.itemsize >= 4 else data.astype(np.float32)
    kind = np.float32 if data.dtype.itemsize <= 2 else np.float64
    result = data.astype(kind)
    if blank is not None:
        result[data == blank] = np.nan
    return result


def _carried(header: fits.Header, primary: fits.Header | None) -> list[tuple[str, Any, str]]:
    cards = []
    for keyword in CARRIED_KEYWORDS:
        source = header if keyword in header else primary
        if source is not None and keyword in source:
            cards.append((keyword, source[keyword], source.comments[keyword]))
    return cards


def _field_tag(field: Field) -> str:
    if field.label:
        return field.label
    return f"J{field.ra:09.5f}{field.dec:+09.5f}"


def _describe_field(field: Field) -> str:
    name = f"field {field.label!r} " if field.label else "the field "
    return (
        f"{name}at RA {field.ra:.5f} Dec {field.dec:+.5f} "
        f"({field.width:g}x{field.height:g} degrees)"
    )


def _provenance(
    header: fits.Header,
    *,
    product: str,
    sources: Iterable[Frame],
    field: Field,
    kind: str,
) -> None:
    """The product's identity, where it came from, and what was asked."""
    sources = list(sources)
    _put(header, "OBS_ID", product, "Identifier of this image")
    _put(header, "NCOMBINE", len(sources), "Number of frames this image was made from")
    for number, frame in enumerate(sources, start=1):
        _put(header, f"IMCMB{number:03d}", frame.obs_id, "Source frame (its OBS_ID)")
    _put(header, "FIELDRA", field.ra, "[deg] Centre of the requested field (ICRS)")
    _put(header, "FIELDDEC", field.dec, "[deg] Centre of the requested field (ICRS)")
    _put(header, "FIELDW", field.width, "[deg] Width of the requested field")
    _put(header, "FIELDH", field.height, "[deg] Height of the requested field")
    if field.label:
        _put(header, "FIELDID", field.label, "Label of the requested field")
    _put(header, "PROCSOFT", f"wsrf-uws {__version__}", "Software that made this image")
    _put(
        header,
        "DATE",
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "UTC date this file was written",
    )
    header.add_history(
        f"{kind} made by wsrf-uws {__version__} from {', '.join(f.obs_id for f in sources)}"
    )


def _put(header: fits.Header, keyword: str, value: Any, comment: str) -> None:
    """Set a card, shortening or dropping the comment where the value leaves no room."""
    room = 80 - len(fits.Card(keyword, value).image.rstrip()) - 3
    header[keyword] = (value, comment[:room]) if room > 0 else value


def _common(values: Iterable[str | None]) -> str | None:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def _staged(
    path: Path,
    *,
    size: int,
    wcs: WCS,
    data: NDArray[Any],
    obs_id: str,
    sources: list[Frame],
    calib_level: int,
    exptime: float | None,
) -> StagedImage:
    """Describe an image just written from ``sources``."""
    height, width = data.shape
    with _quiet():
        centre = wcs.pixel_to_world_values((width - 1) / 2.0, (height - 1) / 2.0)
        corners = wcs.calc_footprint(axes=(width, height), center=False)
        scale = math.sqrt(abs(float(np.linalg.det(wcs.celestial.pixel_scale_matrix))))
    ra, dec = float(centre[0]) % 360.0, float(centre[1])
    footprint = tuple((float(r) % 360.0, float(d)) for r, d in corners)
    fov = 2.0 * max(float(angular_distance(ra, dec, r, d)) for r, d in footprint)
    t_min = [f.t_min for f in sources if f.t_min is not None]
    t_max = [f.t_max for f in sources if f.t_max is not None]
    em_min = [f.em_min for f in sources if f.em_min is not None]
    em_max = [f.em_max for f in sources if f.em_max is not None]
    return StagedImage(
        path=path,
        size=size,
        naxis1=width,
        naxis2=height,
        ra=ra,
        dec=dec,
        footprint=footprint,
        fov=fov,
        pixel_scale=scale,
        t_min=min(t_min) if t_min else None,
        t_max=max(t_max) if t_max else None,
        exptime=exptime,
        em_min=min(em_min) if em_min else None,
        em_max=max(em_max) if em_max else None,
        obs_id=obs_id,
        source_obs_ids=tuple(f.obs_id for f in sources),
        band=_common(f.band for f in sources),
        collection=_common(f.collection for f in sources)
        or ",".join(sorted({f.collection for f in sources})),
        calib_level=calib_level,
        facility=_common(f.facility for f in sources),
        instrument=_common(f.instrument for f in sources),
        bunit=_common(f.bunit for f in sources),
        filled_fraction=float(np.count_nonzero(np.isfinite(data))) / data.size,
    )
