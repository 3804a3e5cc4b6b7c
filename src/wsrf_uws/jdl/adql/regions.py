"""CONTAINS and INTERSECTS between two regions (CIRCLE, BOX, POLYGON), and a point in a
polygon whose vertices come from columns.

A point in a region and two circles are handled by :mod:`.geometry` itself; this module
gives the other pairs (ADQL 2.1 allows any two):

- both regions constant: answered in Python, the query gets the literal 1 or 0;
- a circle known per row (centre or radius from columns) and a constant polygon, from
  the circle centre's unit vector ``x`` and, per polygon edge, its inward normal ``n``:
  the circle *meets* the polygon when its centre is inside or some part of the boundary
  is within the radius (a vertex ``v`` with ``x·v >= cos r``, or an edge with
  ``|x·n| <= sin r`` where ``x`` projects inside the edge); it lies *inside* when its
  centre is inside and no part of the boundary is closer than the radius (exact for
  concave polygons too); a polygon lies inside a circle of radius up to 90° when every
  vertex does (such a cap is convex);
- a point in a polygon with vertices from columns: the winding number, from the signed
  angles the edges subtend at the point (they add up to about ±360° inside, 0 outside),
  which holds for convex and concave polygons alike; the point must also lie on the
  polygon's side of the sky (the edges wind around its antipode too).

Coordinates are degrees; every polygon lies within a hemisphere (checked for constant
ones, assumed for column ones).
"""

from __future__ import annotations

import math

from sqlglot import exp

from . import sphere
from .sql_terms import (
    Circle,
    Point,
    and_,
    between,
    call,
    constant_value,
    group,
    haversine,
    let,
    number,
    op,
    or_,
    radians,
)

Vector = sphere.Vector
SqlVector = tuple[exp.Expr, exp.Expr, exp.Expr]
#: The exact test, and a coarse one DuckDB can use to skip rows (or None).
Sql = tuple[exp.Expr, exp.Expr | None]


def unit_vector_sql(point: Point) -> SqlVector:
    """The SQL of a position's unit vector (x, y, z)."""
    cos_lat = call("COS", radians(point.lat))
    return (
        op(exp.Mul, cos_lat, call("COS", radians(point.lon))),
        op(exp.Mul, cos_lat.copy(), call("SIN", radians(point.lon))),
        call("SIN", radians(point.lat)),
    )


def _dot(vector: SqlVector, constant: Vector) -> exp.Expr:
    terms = [op(exp.Mul, p.copy(), number(v)) for p, v in zip(vector, constant, strict=True)]
    return op(exp.Add, op(exp.Add, terms[0], terms[1]), terms[2])


def _limited(circle: Circle, most: float) -> exp.Expr:
    return call("LEAST", call("GREATEST", group(circle.radius), number(0.0)), number(most))


def _edges(shape: sphere.SphericalPolygon) -> list[tuple[Vector, Vector]]:
    vertices = shape.vertices
    return list(zip(vertices, vertices[1:] + vertices[:1], strict=True))


def inside_sql(x: SqlVector, shape: sphere.SphericalPolygon) -> exp.Expr:
    return or_(
        *(
            and_(*(exp.GTE(this=_dot(x, n), expression=number(0.0)) for n in piece.normals))
            for piece in shape.pieces
        )
    )


def _boundary_near_sql(
    x: SqlVector, shape: sphere.SphericalPolygon, circle: Circle, *, strictly: bool
) -> exp.Expr:
    """The polygon's boundary comes within the circle's radius of ``x`` (closer than
    it, when ``strictly``): one condition per vertex and per edge, OR-ed."""
    sin_r = call("SIN", radians(_limited(circle, 90.0)))
    cos_r = call("COS", radians(_limited(circle, 180.0)))
    closer: type[exp.Binary] = exp.GT if strictly else exp.GTE
    nearer: type[exp.Binary] = exp.LT if strictly else exp.LTE
    near: list[exp.Expr] = []
    for a, b in _edges(shape):
        near.append(closer(this=_dot(x, a), expression=cos_r.copy()))
        normal = sphere.normalized(sphere.cross(a, b))
        near.append(
            and_(
                exp.GTE(this=_dot(x, sphere.cross(normal, a)), expression=number(0.0)),
                exp.GTE(this=_dot(x, sphere.cross(b, normal)), expression=number(0.0)),
                nearer(this=call("ABS", _dot(x, normal)), expression=sin_r.copy()),
            )
        )
    return or_(*near)


def _positive(circle: Circle) -> exp.Expr:
    return exp.GTE(this=group(circle.radius), expression=number(0.0))


def circle_inside_polygon(circle: Circle, shape: sphere.SphericalPolygon) -> Sql:
    """SQL: the circle (known per row) lies inside the constant polygon."""
    x = unit_vector_sql(circle.centre)
    clear = exp.Paren(this=exp.Not(this=_boundary_near_sql(x, shape, circle, strictly=True)))
    exact = and_(_positive(circle), inside_sql(x, shape), clear)
    low, high = sphere.latitude_range(shape)
    return exact, between(circle.centre.lat, number(low - 1e-9), number(high + 1e-9))


def circle_meets_polygon(circle: Circle, shape: sphere.SphericalPolygon) -> Sql:
    """SQL: the circle (known per row) and the constant polygon share a point."""
    x = unit_vector_sql(circle.centre)
    near = or_(inside_sql(x, shape), _boundary_near_sql(x, shape, circle, strictly=False))
    exact = and_(_positive(circle), near)
    radius = constant_value(circle.radius)
    if radius is None or radius >= 90.0:
        return exact, None
    low, high = sphere.latitude_range(shape)
    return exact, between(
        circle.centre.lat, number(low - radius - 1e-9), number(high + radius + 1e-9)
    )


def polygon_inside_circle(shape: sphere.SphericalPolygon, circle: Circle) -> exp.Expr:
    """SQL: the constant polygon lies inside the circle (known per row, radius up to 90°).

    Raises ValueError for a constant radius beyond 90°.
    """
    radius = constant_value(circle.radius)
    if radius is not None and radius > 90.0:
        raise ValueError("CONTAINS of a POLYGON in a CIRCLE is supported for radii up to 90°")
    threshold = call(
        "POWER", call("SIN", op(exp.Div, radians(_limited(circle, 90.0)), number(2.0))), number(2.0)
    )
    tests = [
        exp.LTE(
            this=haversine(Point(number(lon), number(lat)), circle.centre),
            expression=threshold.copy(),
        )
        for lon, lat in shape.lonlat_vertices()
    ]
    return and_(_positive(circle), *tests)


# -- constant regions ------------------------------------------------------------------


def _angle(a: Vector, b: Vector) -> float:
    cross = sphere.cross(a, b)
    return math.degrees(math.atan2(math.sqrt(sphere.dot(cross, cross)), sphere.dot(a, b)))


def _boundary_distance(x: Vector, shape: sphere.SphericalPolygon) -> float:
    """The angular distance (degrees) from ``x`` to the nearest point of the boundary."""
    nearest = min(_angle(x, v) for v in shape.vertices)
    for a, b in _edges(shape):
        normal = sphere.normalized(sphere.cross(a, b))
        if (
            sphere.dot(x, sphere.cross(normal, a)) >= 0
            and sphere.dot(x, sphere.cross(b, normal)) >= 0
        ):
            offset = math.degrees(math.asin(min(1.0, abs(sphere.dot(x, normal)))))
            nearest = min(nearest, offset)
    return nearest


def circle_polygon_constant(
    centre: tuple[float, float], radius: float, shape: sphere.SphericalPolygon, *, test: str
) -> bool:
    """A constant circle against a constant polygon; ``test`` is ``"circle in polygon"``,
    ``"polygon in circle"`` or ``"meet"``."""
    x = sphere.unit_vector(*centre)
    radius = min(max(radius, 0.0), 180.0)
    if test == "polygon in circle":
        return all(_angle(x, v) <= radius for v in shape.vertices) and radius <= 90.0
    inside = shape.contains(x)
    if test == "circle in polygon":
        return inside and _boundary_distance(x, shape) >= radius
    return inside or _boundary_distance(x, shape) <= radius


def _arcs_cross(a: Vector, b: Vector, c: Vector, d: Vector) -> bool:
    """Whether the minor arcs ab and cd cross or touch."""
    ab, cd = sphere.cross(a, b), sphere.cross(c, d)
    if sphere.dot(ab, c) * sphere.dot(ab, d) > 0 or sphere.dot(cd, a) * sphere.dot(cd, b) > 0:
        return False
    # Both great circles are crossed: at the point where the arcs are, not its antipode.
    middle_ab = _plus(a, b)
    middle_cd = _plus(c, d)
    return sphere.dot(middle_ab, middle_cd) > 0


def _plus(a: Vector, b: Vector) -> Vector:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def polygons_meet(first: sphere.SphericalPolygon, second: sphere.SphericalPolygon) -> bool:
    """Whether two constant polygons share a point."""
    if any(second.contains(v) for v in first.vertices):
        return True
    if any(first.contains(v) for v in second.vertices):
        return True
    return any(_arcs_cross(*e, *f) for e in _edges(first) for f in _edges(second))


def polygon_inside(first: sphere.SphericalPolygon, second: sphere.SphericalPolygon) -> bool:
    """Whether the constant polygon ``first`` lies inside ``second`` (boundaries may touch).

    Every vertex inside, and no edge of ``first`` leaving through an edge of ``second``:
    where two edges cross, the middle of the inner edge's part must still be inside.
    """
    if not all(second.contains(v) for v in first.vertices):
        return False
    if second.convex:
        return True
    for a, b in _edges(first):
        for c, d in _edges(second):
            if _arcs_cross(a, b, c, d) and not second.contains(sphere.normalized(_plus(a, b))):
                return False
    return True


# -- polygons from columns ---------------------------------------------------------------


def point_in_column_polygon(point: Point, vertices: list[Point]) -> exp.Expr:
    """SQL: the point lies inside the polygon whose vertices are known per row."""
    values = [c for position in [point, *vertices] for c in unit_vector_sql(position)]

    def test(refs: list[exp.Expr]) -> exp.Expr:
        vectors = [(refs[i], refs[i + 1], refs[i + 2]) for i in range(0, len(refs), 3)]
        return winds_around(vectors[0], vectors[1:])

    return let(values, test)


def winds_around(x: SqlVector, corners: list[SqlVector]) -> exp.Expr:
    """SQL: the unit vector ``x`` lies inside the polygon of unit vectors ``corners``
    (either orientation, convex or not, within a hemisphere)."""
    angles = []
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        sine = dot_sql(x, cross_sql(a, b))
        cosine = op(exp.Sub, dot_sql(a, b), op(exp.Mul, dot_sql(a, x), dot_sql(b, x)))
        angles.append(call("ATAN2", sine, cosine))
    total = angles[0]
    for angle in angles[1:]:
        total = op(exp.Add, total, angle)
    winds = exp.GT(this=call("ABS", total), expression=number(math.pi))
    # The edges wind around the antipode of an inside point too: keep the near side.
    middle = corners[0]
    for corner in corners[1:]:
        middle = (
            op(exp.Add, middle[0], corner[0]),
            op(exp.Add, middle[1], corner[1]),
            op(exp.Add, middle[2], corner[2]),
        )
    return and_(exp.GT(this=dot_sql(x, middle), expression=number(0.0)), winds)


def dot_sql(a: SqlVector, b: SqlVector) -> exp.Expr:
    terms = [op(exp.Mul, p.copy(), q.copy()) for p, q in zip(a, b, strict=True)]
    return op(exp.Add, op(exp.Add, terms[0], terms[1]), terms[2])


def cross_sql(a: SqlVector, b: SqlVector) -> SqlVector:
    def minus(i: int, j: int) -> exp.Expr:
        return op(
            exp.Sub, op(exp.Mul, a[i].copy(), b[j].copy()), op(exp.Mul, a[j].copy(), b[i].copy())
        )

    return minus(1, 2), minus(2, 0), minus(0, 1)
