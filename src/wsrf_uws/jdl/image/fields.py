"""Fields on the sky that a client asks images for, and the geometry to test them against images.

A :class:`Field` is the area a north-up gnomonic (TAN) image of ``width`` by ``height``
degrees centred on (``ra``, ``dec``) would show: in the tangent plane at the centre it is a
rectangle, on the sky a quadrilateral whose edges are great circles. Image footprints of TAN
frames are great-circle quadrilaterals too, and the gnomonic projection maps great circles to
straight lines, so projecting both into the field's tangent plane turns "does this image
overlap the field" into an exact test between two plane polygons. That works the same at
RA 0/360 and at the poles, where RA/Dec boxes break down.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_FIELD_SIZE",
    "Field",
    "SkyPolygon",
    "angular_distance",
    "polygon_contains",
    "tangent_plane",
]

#: The largest width or height of a field, in degrees.
MAX_FIELD_SIZE = 10.0

#: A polygon on the sky: its vertices (ra, dec) in degrees, edges along great circles.
SkyPolygon = tuple[tuple[float, float], ...]

# Vertices farther than this from a tangent point (cosine of the distance below it) are not
# projected: the projection grows without bound towards 90 degrees.
_MIN_COS = math.cos(math.radians(85.0))


@dataclass(frozen=True)
class Field:
    """A north-up field on the sky: centre and size in degrees, and an optional label.

    ``width`` is measured along RA (east-west) and ``height`` along Dec, both as angles on
    the sky through the centre (not as differences of coordinates). ``ra`` is normalised to
    [0, 360).
    """

    ra: float
    dec: float
    width: float
    height: float
    label: str | None = None

    def __post_init__(self) -> None:
        for name in ("ra", "dec", "width", "height"):
            given = getattr(self, name)
            try:
                value = float(given)
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(f"field {name} must be a finite number of degrees, not {given!r}")
            # Frozen: the normalised values replace the given ones once, here.
            if name == "ra":
                # A tiny negative RA would come out of % as exactly 360.0.
                value = value % 360.0 if value % 360.0 < 360.0 else 0.0
            object.__setattr__(self, name, value)
        if not -90.0 <= self.dec <= 90.0:
            raise ValueError(f"field dec {self.dec} is outside -90..90 degrees")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not 0.0 < value <= MAX_FIELD_SIZE:
                raise ValueError(
                    f"field {name} {value} degrees is not allowed: it must be greater than 0 "
                    f"and at most {MAX_FIELD_SIZE:g} degrees"
                )

    @classmethod
    def from_box(
        cls,
        ra_min: float,
        ra_max: float,
        dec_min: float,
        dec_max: float,
        *,
        label: str | None = None,
    ) -> Field:
        """The smallest field centred on an RA/Dec box that holds the whole box.

        ``ra_min > ra_max`` means the box wraps through RA 0 (``from_box(359, 1, ...)`` is
        two degrees of RA wide). The box's edges along parallels are not great circles, so the
        field is a little larger than the box's RA and Dec spans suggest. A box reaching a pole
        has no meaningful RA span and is refused.
        """
        for name, value in (
            ("ra_min", ra_min),
            ("ra_max", ra_max),
            ("dec_min", dec_min),
            ("dec_max", dec_max),
        ):
            if not math.isfinite(value):
                raise ValueError(f"box {name} must be a finite number of degrees, not {value!r}")
        if not -90.0 <= dec_min < dec_max <= 90.0:
            raise ValueError(
                f"box dec range {dec_min}..{dec_max} is not allowed: it must satisfy "
                "-90 <= dec_min < dec_max <= 90"
            )
        if abs(dec_min) == 90.0 or abs(dec_max) == 90.0:
            raise ValueError(
                f"box dec range {dec_min}..{dec_max} touches a pole, where an RA range means "
                "nothing; ask for a field centred on the pole instead"
            )
        span = (ra_max - ra_min) % 360.0
        if span == 0.0:
            raise ValueError(f"box RA range {ra_min}..{ra_max} is empty")
        if span > 2.0 * MAX_FIELD_SIZE / math.cos(math.radians(max(abs(dec_min), abs(dec_max)))):
            raise ValueError(
                f"box RA range {ra_min}..{ra_max} spans {span:g} degrees of RA; a field is at "
                f"most {MAX_FIELD_SIZE:g} degrees wide"
            )
        centre_ra = (ra_min + span / 2.0) % 360.0
        centre_dec = (dec_min + dec_max) / 2.0
        # The outline: parallels sampled densely (they curve in the tangent plane), meridians
        # by their ends (great circles are straight there).
        steps = np.linspace(0.0, 1.0, 65)
        outline_ra = np.concatenate([ra_min + span * steps] * 2)
        outline_dec = np.concatenate([np.full(65, dec_min), np.full(65, dec_max)])
        xi, eta, cos_c = tangent_plane(centre_ra, centre_dec, outline_ra, outline_dec)
        if np.any(cos_c <= _MIN_COS):
            raise ValueError(f"box {ra_min}..{ra_max}, {dec_min}..{dec_max} is far too large")
        # A hair of margin so the box's own corners test as inside despite rounding.
        margin = 1.0 + 1e-12
        return cls(
            ra=centre_ra,
            dec=centre_dec,
            width=2.0 * math.degrees(math.atan(float(np.max(np.abs(xi))) * margin)),
            height=2.0 * math.degrees(math.atan(float(np.max(np.abs(eta))) * margin)),
            label=label,
        )

    @property
    def half_extent(self) -> tuple[float, float]:
        """The field's half width and half height in its tangent plane (tangent units)."""
        return (
            math.tan(math.radians(self.width / 2.0)),
            math.tan(math.radians(self.height / 2.0)),
        )

    @property
    def radius(self) -> float:
        """Angular distance in degrees from the centre to a corner (the circumscribed circle)."""
        half_x, half_y = self.half_extent
        return math.degrees(math.atan(math.hypot(half_x, half_y)))

    def corners(self) -> SkyPolygon:
        """The four corners (ra, dec) in degrees: south-east, south-west, north-west, north-east."""
        half_x, half_y = self.half_extent
        xi = np.array([half_x, -half_x, -half_x, half_x])
        eta = np.array([-half_y, -half_y, half_y, half_y])
        ra, dec = _deproject(self.ra, self.dec, xi, eta)
        return tuple((float(r), float(d)) for r, d in zip(ra, dec, strict=True))

    def contains(self, ra: float, dec: float) -> bool:
        """Whether the point (ra, dec) lies inside the field (edges included)."""
        xi, eta, cos_c = tangent_plane(self.ra, self.dec, np.array([ra]), np.array([dec]))
        if cos_c[0] <= _MIN_COS:
            return False
        half_x, half_y = self.half_extent
        return bool(abs(xi[0]) <= half_x and abs(eta[0]) <= half_y)

    def overlaps(self, polygon: Sequence[tuple[float, float]]) -> bool:
        """Whether a convex sky polygon (an image footprint) shares any area with the field.

        Exact for polygons with great-circle edges (the footprints of TAN images). A polygon
        that only touches the field along an edge or at a corner does not overlap it. A
        polygon reaching more than 85 degrees from the field centre cannot be projected and
        counts as overlapping when its circumscribed circle meets the field's.
        """
        ra, dec = _vertices(polygon)
        centre_ra, centre_dec = _centroid(ra, dec)
        reach = float(np.max(angular_distance(centre_ra, centre_dec, ra, dec)))
        if angular_distance(self.ra, self.dec, centre_ra, centre_dec) >= self.radius + reach:
            return False
        xi, eta, cos_c = tangent_plane(self.ra, self.dec, ra, dec)
        if np.any(cos_c <= _MIN_COS):
            return True
        half_x, half_y = self.half_extent
        rectangle = np.array(
            [[half_x, -half_y], [-half_x, -half_y], [-half_x, half_y], [half_x, half_y]]
        )
        return _convex_overlap(rectangle, np.column_stack([xi, eta]))


def angular_distance(
    ra1: float | NDArray[np.float64],
    dec1: float | NDArray[np.float64],
    ra2: float | NDArray[np.float64],
    dec2: float | NDArray[np.float64],
) -> NDArray[np.float64] | float:
    """Great-circle distance in degrees between points given in degrees (haversine form)."""
    phi1, phi2 = np.radians(dec1), np.radians(dec2)
    half_dphi = (phi2 - phi1) / 2.0
    half_dlam = np.radians(np.asarray(ra2) - np.asarray(ra1)) / 2.0
    h = np.sin(half_dphi) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlam) ** 2
    result = np.degrees(2.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))
    return float(result) if np.ndim(result) == 0 else result


def tangent_plane(
    ra0: float, dec0: float, ra: NDArray[np.float64], dec: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Gnomonic projection of points about (ra0, dec0): (xi east, eta north, cos distance).

    Points with a cosine of distance at or below 0 are behind the tangent plane; their xi and
    eta are meaningless and callers must look at the third array.
    """
    alpha0, delta0 = math.radians(ra0), math.radians(dec0)
    alpha, delta = np.radians(ra), np.radians(dec)
    cos_c = math.sin(delta0) * np.sin(delta) + math.cos(delta0) * np.cos(delta) * np.cos(
        alpha - alpha0
    )
    safe = np.where(cos_c > 0.0, cos_c, 1.0)
    xi = np.cos(delta) * np.sin(alpha - alpha0) / safe
    eta = (
        math.cos(delta0) * np.sin(delta) - math.sin(delta0) * np.cos(delta) * np.cos(alpha - alpha0)
    ) / safe
    return xi, eta, cos_c


def polygon_contains(polygon: Sequence[tuple[float, float]], ra: float, dec: float) -> bool:
    """Whether the point (ra, dec) lies inside a convex sky polygon (edges included)."""
    vertex_ra, vertex_dec = _vertices(polygon)
    xi, eta, cos_c = tangent_plane(ra, dec, vertex_ra, vertex_dec)
    if np.any(cos_c <= _MIN_COS):
        return False
    # The point is the origin of its own tangent plane: inside when it is on the same side
    # of every edge.
    points = np.column_stack([xi, eta])
    edges = np.roll(points, -1, axis=0) - points
    sides = edges[:, 0] * (-points[:, 1]) - edges[:, 1] * (-points[:, 0])
    scale = float(np.max(np.abs(points))) ** 2 or 1.0
    tolerance = 1e-12 * scale
    return bool(np.all(sides >= -tolerance) or np.all(sides <= tolerance))


def _deproject(
    ra0: float, dec0: float, xi: NDArray[np.float64], eta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The inverse of :func:`tangent_plane`: sky coordinates of tangent-plane points."""
    alpha0, delta0 = math.radians(ra0), math.radians(dec0)
    denominator = math.cos(delta0) - eta * math.sin(delta0)
    alpha = alpha0 + np.arctan2(xi, denominator)
    delta = np.arctan2(math.sin(delta0) + eta * math.cos(delta0), np.hypot(xi, denominator))
    return np.degrees(alpha) % 360.0, np.degrees(delta)


def _vertices(
    polygon: Sequence[tuple[float, float]],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    array = np.asarray(polygon, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] < 3:
        raise ValueError(
            f"a sky polygon needs at least 3 (ra, dec) vertices; got an array of shape "
            f"{array.shape}"
        )
    return array[:, 0], array[:, 1]


def _centroid(ra: NDArray[np.float64], dec: NDArray[np.float64]) -> tuple[float, float]:
    """The direction of the mean of the vertices' unit vectors (fine for compact polygons)."""
    alpha, delta = np.radians(ra), np.radians(dec)
    x = float(np.mean(np.cos(delta) * np.cos(alpha)))
    y = float(np.mean(np.cos(delta) * np.sin(alpha)))
    z = float(np.mean(np.sin(delta)))
    return math.degrees(math.atan2(y, x)) % 360.0, math.degrees(math.atan2(z, math.hypot(x, y)))


def _convex_overlap(first: NDArray[np.float64], second: NDArray[np.float64]) -> bool:
    """Separating-axis test of two convex plane polygons; touching counts as apart."""
    scale = max(float(np.max(np.abs(first))), float(np.max(np.abs(second))), 1e-300)
    for polygon in (first, second):
        edges = np.roll(polygon, -1, axis=0) - polygon
        for edge_x, edge_y in edges:
            if edge_x == 0.0 and edge_y == 0.0:
                continue  # a repeated vertex has no edge normal
            normal = np.array([-edge_y, edge_x])
            a, b = first @ normal, second @ normal
            margin = 1e-12 * scale * math.hypot(edge_x, edge_y)
            if a.max() <= b.min() + margin or b.max() <= a.min() + margin:
                return False
    return True
