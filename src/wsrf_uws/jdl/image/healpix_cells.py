"""HEALPix cells (nested scheme) of sky polygons: what the archive index stores per frame."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import astropy.units as u
import numpy as np
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested

from .fields import SkyPolygon, angular_distance

# The deepest HEALPix order used (cells of about 0.2 arcsec).
_MAX_ORDER = 20
# The HEALPix cell size at order 0, in degrees: sqrt(4 pi / 12) rad.
_ORDER0_CELL = math.degrees(math.sqrt(math.pi / 3.0))


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


def cell_runs(cells: Sequence[int]) -> Iterator[tuple[int, int]]:
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
