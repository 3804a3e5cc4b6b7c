"""Spherical geometry on constants, computed once per query in Python.

The geometry rewrite turns ADQL regions into plain SQL on each row's position. What can
be worked out before the query runs is worked out here: unit vectors, the corners of an
ADQL ``BOX``, a ``POLYGON`` checked and cut into convex pieces (each piece is a set of
great-circle half-spaces, one SQL comparison each), a region's latitude extent (the
coarse filter where no HEALPix index applies), areas, and the HEALPix cell ranges that
cover a cone or a polygon (cdshealpix), so that a catalogue sorted by its HEALPix index
reads only the row groups near the region.

All angles are in degrees. Polygons must fit within a hemisphere; their interior is the
smaller of the two regions the edges bound, whatever the order of the vertices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Vector = tuple[float, float, float]

#: Vectors closer than this (radians, about 0.2 milliarcseconds) are the same vertex.
_SAME_POINT = 1e-9


def unit_vector(lon: float, lat: float) -> Vector:
    """The unit vector of the sky position (``lon``, ``lat``)."""
    lon_r, lat_r = math.radians(lon), math.radians(lat)
    return (math.cos(lat_r) * math.cos(lon_r), math.cos(lat_r) * math.sin(lon_r), math.sin(lat_r))


def lonlat(vector: Vector) -> tuple[float, float]:
    """The sky position (longitude in [0, 360), latitude) of a non-zero vector."""
    x, y, z = vector
    lon = math.degrees(math.atan2(y, x)) % 360.0
    return lon, math.degrees(math.atan2(z, math.hypot(x, y)))


def dot(a: Vector, b: Vector) -> float:
    """The scalar product."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Vector, b: Vector) -> Vector:
    """The vector product."""
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def normalized(vector: Vector) -> Vector:
    """``vector`` scaled to length 1; raises ValueError for the zero vector."""
    length = math.sqrt(dot(vector, vector))
    if length == 0.0:
        raise ValueError("a zero vector has no direction")
    return (vector[0] / length, vector[1] / length, vector[2] / length)


def _scaled(vector: Vector, factor: float) -> Vector:
    return (vector[0] * factor, vector[1] * factor, vector[2] * factor)


def _plus(a: Vector, b: Vector) -> Vector:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def box_corners(lon: float, lat: float, width: float, height: float) -> list[tuple[float, float]]:
    """The four corners of the ADQL ``BOX(lon, lat, width, height)``.

    ADQL 2.0 §2.4.3: a cross centred on the position, its arms along the coordinate axes
    there (so along great circles), ``width`` and ``height`` long; each side of the box is
    the great circle through an arm's end, perpendicular to that arm.
    """
    if not (0.0 < width < 180.0 and 0.0 < height < 180.0):
        raise ValueError(f"BOX sides must be between 0 and 180 degrees, got {width}, {height}")
    centre = unit_vector(lon, lat)
    lon_r, lat_r = math.radians(lon), math.radians(lat)
    east = (-math.sin(lon_r), math.cos(lon_r), 0.0)
    north = (
        -math.sin(lat_r) * math.cos(lon_r),
        -math.sin(lat_r) * math.sin(lon_r),
        math.cos(lat_r),
    )
    half_w, half_h = math.radians(width) / 2, math.radians(height) / 2
    # Inward normals of the four sides: each plane holds the arm's end and the other axis.
    sides = [
        _plus(_scaled(centre, math.sin(half_w)), _scaled(east, -math.cos(half_w))),  # east
        _plus(_scaled(centre, math.sin(half_h)), _scaled(north, -math.cos(half_h))),  # north
        _plus(_scaled(centre, math.sin(half_w)), _scaled(east, math.cos(half_w))),  # west
        _plus(_scaled(centre, math.sin(half_h)), _scaled(north, math.cos(half_h))),  # south
    ]
    corners = []
    for first, second in zip(sides, sides[1:] + sides[:1], strict=True):
        corner = normalized(cross(first, second))
        if dot(corner, centre) < 0:
            corner = _scaled(corner, -1.0)
        corners.append(lonlat(corner))
    return corners


@dataclass(frozen=True)
class ConvexPiece:
    """A convex spherical polygon as the inward normals of its edges' great circles.

    A position ``p`` is inside when ``dot(p, normal) >= 0`` for every normal.
    """

    normals: tuple[Vector, ...]

    def contains(self, point: Vector) -> bool:
        """Whether ``point`` (a unit vector) is inside or on the boundary."""
        return all(dot(point, normal) >= 0.0 for normal in self.normals)


@dataclass(frozen=True)
class SphericalPolygon:
    """A simple spherical polygon smaller than a hemisphere, cut into convex pieces.

    ``vertices`` are unit vectors and ``positions`` the same vertices as given (longitude
    in [0, 360)), both counter-clockwise as seen from inside the sphere.
    """

    vertices: tuple[Vector, ...]
    positions: tuple[tuple[float, float], ...]
    pieces: tuple[ConvexPiece, ...]
    triangles: tuple[tuple[Vector, Vector, Vector], ...]

    @property
    def convex(self) -> bool:
        """Whether the polygon is one convex piece."""
        return len(self.pieces) == 1

    def contains(self, point: Vector) -> bool:
        """Whether ``point`` (a unit vector) is inside or on the boundary."""
        return any(piece.contains(point) for piece in self.pieces)

    def lonlat_vertices(self) -> list[tuple[float, float]]:
        """The vertices as (longitude, latitude) pairs."""
        return list(self.positions)


def spherical_polygon(points: Sequence[tuple[float, float]]) -> SphericalPolygon:
    """The polygon with these (lon, lat) vertices, checked; raises ValueError saying why not.

    Repeated consecutive vertices (and a last vertex equal to the first) are dropped.
    The polygon must have at least three distinct vertices, fit within a hemisphere and
    not cross itself.
    """
    vectors: list[Vector] = []
    positions: list[tuple[float, float]] = []
    for lon, lat in points:
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90.0:
            raise ValueError(f"({lon}, {lat}) is not a sky position")
        vector = unit_vector(lon, lat)
        if not vectors or _distinct(vectors[-1], vector):
            vectors.append(vector)
            positions.append((lon % 360.0, lat))
    if len(vectors) > 1 and not _distinct(vectors[0], vectors[-1]):
        vectors.pop()
        positions.pop()
    if len(vectors) < 3:
        raise ValueError("a POLYGON needs at least three distinct vertices")
    try:
        centre = normalized(
            (sum(v[0] for v in vectors), sum(v[1] for v in vectors), sum(v[2] for v in vectors))
        )
    except ValueError:
        raise ValueError("the POLYGON does not fit within a hemisphere") from None
    if any(dot(v, centre) <= 1e-6 for v in vectors):
        raise ValueError("the POLYGON does not fit within a hemisphere")
    # In the gnomonic projection about the centre, great circles are straight lines.
    axis1 = normalized(
        cross((0.0, 0.0, 1.0), centre) if abs(centre[2]) < 0.9 else cross((1.0, 0.0, 0.0), centre)
    )
    axis2 = cross(centre, axis1)
    flat = [(dot(v, axis1) / dot(v, centre), dot(v, axis2) / dot(v, centre)) for v in vectors]
    _check_simple(flat)
    area = _signed_area(flat)
    if abs(area) < 1e-14:
        raise ValueError("the POLYGON has no area (its vertices lie on one great circle)")
    if area < 0:
        vectors.reverse()
        positions.reverse()
        flat.reverse()
    if _is_convex(flat):
        triangles = [(vectors[0], vectors[i], vectors[i + 1]) for i in range(1, len(vectors) - 1)]
        pieces: tuple[ConvexPiece, ...] = (_convex_piece(vectors),)
    else:
        triangles = [(vectors[a], vectors[b], vectors[c]) for a, b, c in _ear_clipping(flat)]
        pieces = tuple(_convex_piece(list(triangle)) for triangle in triangles)
    return SphericalPolygon(
        vertices=tuple(vectors),
        positions=tuple(positions),
        pieces=pieces,
        triangles=tuple(triangles),
    )


def _distinct(a: Vector, b: Vector) -> bool:
    return math.sqrt(dot(cross(a, b), cross(a, b))) > _SAME_POINT or dot(a, b) < 0


def _convex_piece(vertices: list[Vector]) -> ConvexPiece:
    normals = [
        normalized(cross(a, b))
        for a, b in zip(vertices, vertices[1:] + vertices[:1], strict=True)
        if _distinct(a, b)
    ]
    inside = normalized(_plus(_plus(vertices[0], vertices[1]), vertices[2]))
    if sum(dot(inside, n) for n in normals) < 0:
        normals = [_scaled(n, -1.0) for n in normals]
    return ConvexPiece(normals=tuple(normals))


def _signed_area(flat: list[tuple[float, float]]) -> float:
    total = 0.0
    for (x1, y1), (x2, y2) in zip(flat, flat[1:] + flat[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return total / 2


def _turn(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _is_convex(flat: list[tuple[float, float]]) -> bool:
    count = len(flat)
    return all(_turn(flat[i - 1], flat[i], flat[(i + 1) % count]) >= 0 for i in range(count))


def _check_simple(flat: list[tuple[float, float]]) -> None:
    count = len(flat)
    edges = [(flat[i], flat[(i + 1) % count]) for i in range(count)]
    for i in range(count):
        for j in range(i + 1, count):
            if j == i + 1 or (i == 0 and j == count - 1):
                continue  # neighbours share a vertex
            if _segments_cross(*edges[i], *edges[j]):
                raise ValueError(
                    f"the POLYGON crosses itself (edges {i + 1} and {j + 1} intersect)"
                )


def _segments_cross(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    d1, d2 = _turn(c, d, a), _turn(c, d, b)
    d3, d4 = _turn(a, b, c), _turn(a, b, d)
    return ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4)


def _ear_clipping(flat: list[tuple[float, float]]) -> list[tuple[int, int, int]]:
    """Triangles (vertex indices) of a simple counter-clockwise polygon."""
    remaining = list(range(len(flat)))
    triangles: list[tuple[int, int, int]] = []
    while len(remaining) > 3:
        for position in range(len(remaining)):
            a = remaining[position - 1]
            b = remaining[position]
            c = remaining[(position + 1) % len(remaining)]
            if _turn(flat[a], flat[b], flat[c]) <= 0:
                continue
            if any(
                _inside_triangle(flat[other], flat[a], flat[b], flat[c])
                for other in remaining
                if other not in (a, b, c)
            ):
                continue
            triangles.append((a, b, c))
            remaining.pop(position)
            break
        else:  # pragma: no cover - every simple polygon has an ear
            raise ValueError("the POLYGON cannot be cut into triangles")
    triangles.append((remaining[0], remaining[1], remaining[2]))
    return triangles


def _inside_triangle(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> bool:
    return _turn(a, b, p) >= 0 and _turn(b, c, p) >= 0 and _turn(c, a, p) >= 0


def latitude_range(polygon: SphericalPolygon) -> tuple[float, float]:
    """The lowest and highest latitude (degrees) the polygon reaches, edges included."""
    lows: list[float] = []
    highs: list[float] = []
    vertices = polygon.vertices
    pole = (0.0, 0.0, 1.0)
    for a, b in zip(vertices, vertices[1:] + vertices[:1], strict=True):
        for end in (a, b):
            lows.append(end[2])
            highs.append(end[2])
        normal = cross(a, b)
        if math.sqrt(dot(normal, normal)) < 1e-15:
            continue
        normal = normalized(normal)
        towards_pole = _plus(pole, _scaled(normal, -dot(pole, normal)))
        if math.sqrt(dot(towards_pole, towards_pole)) < 1e-15:
            continue  # the edge lies on the equator
        top = normalized(towards_pole)
        for extreme in (top, _scaled(top, -1.0)):
            if dot(cross(a, extreme), normal) >= 0 and dot(cross(extreme, b), normal) >= 0:
                lows.append(extreme[2])
                highs.append(extreme[2])
    low = math.degrees(math.asin(max(-1.0, min(lows))))
    high = math.degrees(math.asin(min(1.0, max(highs))))
    if polygon.contains(pole):
        high = 90.0
    if polygon.contains((0.0, 0.0, -1.0)):
        low = -90.0
    return low, high


def polygon_area(polygon: SphericalPolygon) -> float:
    """The area in square degrees."""
    steradians = 0.0
    for a, b, c in polygon.triangles:
        # Van Oosterom & Strackee (1983): tan(E/2) = |a.(b x c)| / (1 + a.b + b.c + c.a)
        numerator = abs(dot(a, cross(b, c)))
        denominator = 1.0 + dot(a, b) + dot(b, c) + dot(c, a)
        steradians += 2.0 * math.atan2(numerator, denominator)
    return steradians * (180.0 / math.pi) ** 2


def circle_area(radius: float) -> float:
    """The area in square degrees of a circle of ``radius`` degrees."""
    radius = min(max(radius, 0.0), 180.0)
    return 2.0 * math.pi * (1.0 - math.cos(math.radians(radius))) * (180.0 / math.pi) ** 2


def cone_cells(
    lon: float, lat: float, radius: float, *, order: int, max_ranges: int
) -> list[tuple[int, int]]:
    """Ranges of nested HEALPix indices at ``order`` covering the cone (a superset).

    At most ``max_ranges`` ranges: the smallest gaps between ranges are closed first, so
    a few more cells are read instead of making the SQL condition long.
    """
    import astropy.units as u
    from cdshealpix.nested import cone_search

    cells, depths, _ = cone_search(
        lon * u.deg, lat * u.deg, radius * u.deg, depth=order, depth_delta=2
    )
    return _ranges(cells, depths, order=order, max_ranges=max_ranges)


def polygon_cells(
    polygon: SphericalPolygon, *, order: int, max_ranges: int
) -> list[tuple[int, int]]:
    """Ranges of nested HEALPix indices at ``order`` covering the polygon (a superset)."""
    import astropy.units as u
    import numpy as np
    from cdshealpix.nested import polygon_search

    points = polygon.lonlat_vertices()
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    cells, depths, _ = polygon_search(lons * u.deg, lats * u.deg, depth=order)
    return _ranges(cells, depths, order=order, max_ranges=max_ranges)


def _ranges(cells: object, depths: object, *, order: int, max_ranges: int) -> list[tuple[int, int]]:
    import numpy as np

    cell_array = np.asarray(cells, dtype=np.int64)
    shift = 2 * (order - np.asarray(depths, dtype=np.int64))
    low = np.sort(cell_array << shift)
    high = np.sort(((cell_array + 1) << shift) - 1)
    if low.size == 0:
        return []
    # Merge touching ranges (the MOC cells are disjoint, so sorted lows pair with highs).
    gaps = low[1:] - high[:-1] - 1
    keep = gaps > 0
    if int(keep.sum()) + 1 > max_ranges:
        # Close the smallest gaps until at most max_ranges ranges remain.
        threshold = np.sort(gaps)[-(max_ranges - 1)] if max_ranges > 1 else np.inf
        keep = gaps >= threshold
        if int(keep.sum()) + 1 > max_ranges:  # ties at the threshold
            order_of_gaps = np.argsort(gaps, kind="stable")[::-1][: max_ranges - 1]
            keep = np.zeros_like(keep)
            keep[order_of_gaps] = True
    starts = np.concatenate(([0], np.nonzero(keep)[0] + 1))
    ends = np.concatenate((np.nonzero(keep)[0], [low.size - 1]))
    return [(int(low[s]), int(high[e])) for s, e in zip(starts, ends, strict=True)]


def healpix_index(ra: Any, dec: Any, *, order: int) -> Any:
    """Nested HEALPix indices (int64 array) at ``order`` of positions in degrees."""
    import astropy.units as u
    import numpy as np
    from cdshealpix.nested import lonlat_to_healpix

    lon = np.mod(np.asarray(ra, dtype=np.float64), 360.0)
    lat = np.asarray(dec, dtype=np.float64)
    return np.asarray(lonlat_to_healpix(lon * u.deg, lat * u.deg, order)).astype(np.int64)
