"""SQL for shapes known only per row: a BOX's corners, and a polygon's area and centroid.

- BOX corners: the box's sides are the great circles through its arms' ends,
  perpendicular to the arms (:func:`.sphere.box_corners`), so its corners are the
  directions ``c ± tan(w/2)·e ± tan(h/2)·n`` (``c`` the centre, ``e`` east, ``n`` north):
  the points at gnomonic coordinates (±tan(w/2), ±tan(h/2)) about the centre.
- Area: the triangle fan from the first vertex, each triangle's signed spherical excess
  by Van Oosterom & Strackee's formula ``tan(E/2) = a·cross(b, c) / (1 + a·b + b·c + c·a)``;
  the signs cancel the parts a concave polygon's fan counts twice, whatever the
  orientation (the magnitude of the sum is the area).
- Centroid: the direction of the integral of the unit vector over the polygon, which is
  half the sum over the edges of the edge's angle times its great circle's unit normal
  (the formula :func:`.shapes.polygon_centroid` uses for constants), turned towards the
  vertices.

Coordinates are degrees; polygons lie within a hemisphere (assumed, as for every
polygon from columns).
"""

from __future__ import annotations

import itertools
import math

from sqlglot import exp

from .regions import SqlVector, cross_sql, dot_sql, unit_vector_sql
from .sql_terms import Point, call, group, let, number, op, radians

_SQUARE_DEGREES = (180.0 / math.pi) ** 2


def _degrees(node: exp.Expr) -> exp.Expr:
    return call("DEGREES", node)


def _longitude(node: exp.Expr) -> exp.Expr:
    """A longitude in degrees brought into [0, 360)."""
    once = exp.Paren(this=exp.Mod(this=group(node), expression=number(360.0)))
    shifted = op(exp.Add, once, number(360.0))
    return exp.Paren(this=exp.Mod(this=shifted, expression=number(360.0)))


def box_vertices(centre: Point, width: exp.Expr, height: exp.Expr) -> tuple[Point, ...]:
    """The four corners of ``BOX(centre, width, height)`` as SQL positions."""
    lat = radians(centre.lat)
    sin_lat, cos_lat = call("SIN", lat), call("COS", lat.copy())
    half_w = call("TAN", op(exp.Div, radians(width), number(2.0)))
    half_h = call("TAN", op(exp.Div, radians(height), number(2.0)))
    corners = []
    for east, north in ((1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)):
        xi = op(exp.Mul, number(east), half_w)
        eta = op(exp.Mul, number(north), half_h)
        across = op(exp.Sub, cos_lat, op(exp.Mul, eta, sin_lat))  # towards the centre
        up = op(exp.Add, sin_lat, op(exp.Mul, eta, cos_lat))
        lon = _longitude(op(exp.Add, centre.lon, _degrees(call("ATAN2", xi, across))))
        level = call("SQRT", op(exp.Add, op(exp.Mul, xi, xi), op(exp.Mul, across, across)))
        corners.append(Point(lon, _degrees(call("ATAN2", up, level))))
    return tuple(corners)


def _sum(terms: list[exp.Expr]) -> exp.Expr:
    total = terms[0]
    for term in terms[1:]:
        total = op(exp.Add, total, term)
    return total


def polygon_area(vertices: tuple[Point, ...]) -> exp.Expr:
    """SQL: the area (square degrees) of the polygon with these vertices."""
    return let(_corner_values(vertices), lambda values: _area(_vectors(values)))


def _corner_values(vertices: tuple[Point, ...]) -> list[exp.Expr]:
    return [c for vertex in vertices for c in unit_vector_sql(vertex)]


def _vectors(values: list[exp.Expr]) -> list[SqlVector]:
    return [(values[i], values[i + 1], values[i + 2]) for i in range(0, len(values), 3)]


def _area(corners: list[SqlVector]) -> exp.Expr:
    a = corners[0]
    excesses = []
    for b, c in itertools.pairwise(corners[1:]):
        volume = dot_sql(a, cross_sql(b, c))
        closeness = _sum([number(1.0), dot_sql(a, b), dot_sql(b, c), dot_sql(c, a)])
        excesses.append(op(exp.Mul, number(2.0), call("ATAN2", volume, closeness)))
    return op(exp.Mul, call("ABS", _sum(excesses)), number(_SQUARE_DEGREES))


def polygon_centroid(vertices: tuple[Point, ...]) -> Point:
    """SQL: the centroid of the polygon with these vertices."""
    values = _corner_values(vertices)
    lon = let(values, lambda refs: _centroid(_vectors(refs))[0])
    lat = let([v.copy() for v in values], lambda refs: _centroid(_vectors(refs))[1])
    return Point(lon, lat)


def _centroid(corners: list[SqlVector]) -> tuple[exp.Expr, exp.Expr]:
    parts: list[list[exp.Expr]] = [[], [], []]
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        normal = cross_sql(a, b)
        length = call("SQRT", dot_sql(normal, normal))
        # atan2(0, a·b) is 0 for a repeated vertex: the weight is then 0, not 0/0.
        weight = op(
            exp.Div,
            call("ATAN2", length, dot_sql(a, b)),
            call("GREATEST", length.copy(), number(1e-300)),
        )
        for axis in range(3):
            parts[axis].append(op(exp.Mul, weight, normal[axis]))
    total: SqlVector = (_sum(parts[0]), _sum(parts[1]), _sum(parts[2]))
    middle: SqlVector = (
        _sum([c[0] for c in corners]),
        _sum([c[1] for c in corners]),
        _sum([c[2] for c in corners]),
    )
    side = call("SIGN", dot_sql(total, middle))  # the normals' orientation
    x, y, z = (op(exp.Mul, side.copy(), part) for part in total)
    lon = _longitude(_degrees(call("ATAN2", y, x)))
    level = call("SQRT", op(exp.Add, op(exp.Mul, x, x), op(exp.Mul, y, y)))
    return lon, _degrees(call("ATAN2", z, level))
