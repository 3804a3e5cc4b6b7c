"""CONTAINS and INTERSECTS where a POLYGON (or BOX) has vertices known only per row.

The other side is a CIRCLE (constant or per row) or another polygon (constant or per
row). Everything is written with the vertices' unit vectors, and every test holds for
either orientation of the vertices and for concave polygons (within a hemisphere):

- a position is inside a polygon from columns by the winding number
  (:func:`.regions.winds_around`), inside a constant one by its convex pieces;
- a circle *meets* a polygon when its centre is inside or the boundary comes within the
  radius: a vertex ``v`` with ``x·v ≥ cos r``, or an edge ``ab`` with
  ``|x·cross(a, b)| ≤ sin r·|cross(a, b)|`` where ``x`` projects between its ends
  (``x·b - (a·b)(x·a) ≥ 0`` and ``x·a - (a·b)(x·b) ≥ 0``); it lies *inside* when its centre
  is inside and no part of the boundary is closer than the radius;
- a polygon lies inside a circle of radius up to 90° when every vertex does;
- two polygons *meet* when a vertex of one is inside the other or two edges cross
  (each arc's ends on opposite sides of, or on, the other's great circle, on the same
  side of the sky); the first lies *inside* the second when all its vertices are inside
  the second and no edge crosses an edge of the second properly (ends strictly apart):
  a proper crossing takes the edge outside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from .regions import Sql, SqlVector, cross_sql, dot_sql, inside_sql, unit_vector_sql, winds_around
from .sql_terms import (
    Circle,
    ColumnPolygon,
    Polygon,
    and_,
    call,
    group,
    let,
    number,
    op,
    or_,
    radians,
)
from .sql_terms import constant_value as _constant

Region = Circle | Polygon | ColumnPolygon


@dataclass(frozen=True)
class _Sides:
    """A polygon as tested per row: its corners' unit vectors and its inside test."""

    corners: list[SqlVector]
    contains: Callable[[SqlVector], exp.Expr]

    def edges(self) -> list[tuple[SqlVector, SqlVector]]:
        return list(zip(self.corners, self.corners[1:] + self.corners[:1], strict=True))


@dataclass(frozen=True)
class _Disc:
    """A circle as tested per row: its centre's unit vector and its radius (degrees)."""

    x: SqlVector
    radius: exp.Expr


_Shape = _Sides | _Disc


def _vectors(values: list[exp.Expr]) -> list[SqlVector]:
    return [(values[i], values[i + 1], values[i + 2]) for i in range(0, len(values), 3)]


def _per_row(region: Region) -> list[exp.Expr]:
    """The values of a region known only per row, computed once (:func:`.sql_terms.let`)."""
    if isinstance(region, ColumnPolygon):
        return [c for vertex in region.vertices for c in unit_vector_sql(vertex)]
    if isinstance(region, Circle):
        return [*unit_vector_sql(region.centre), region.radius]
    return []


def _shape(region: Region, values: list[exp.Expr]) -> _Shape:
    """The region for the tests, its per-row values read from ``values``."""
    if isinstance(region, Polygon):
        shape = region.shape
        corners = [(number(v[0]), number(v[1]), number(v[2])) for v in shape.vertices]
        return _Sides(corners, lambda x: inside_sql(x, shape))
    if isinstance(region, Circle):
        return _Disc((values[0], values[1], values[2]), values[3])
    column_corners = _vectors(values)
    return _Sides(column_corners, lambda x: winds_around(x, column_corners))


def column_pair(name: str, first: Region, second: Region) -> Sql:
    """CONTAINS(first, second) or INTERSECTS(first, second), one side a ColumnPolygon.

    Raises ValueError for a polygon inside a circle of constant radius beyond 90°.
    """
    if name == "CONTAINS" and isinstance(first, Circle):
        radius = _constant(first.radius)
        if radius is not None and radius > 90.0:
            raise ValueError("CONTAINS of a POLYGON in a CIRCLE is supported for radii up to 90°")
    values_first, values_second = _per_row(first), _per_row(second)

    def test(values: list[exp.Expr]) -> exp.Expr:
        one = _shape(first, values[: len(values_first)])
        other = _shape(second, values[len(values_first) :])
        return _test(name, one, other)

    return let(values_first + values_second, test), None


def _test(name: str, first: _Shape, second: _Shape) -> exp.Expr:
    if name == "INTERSECTS":
        if isinstance(second, _Disc):
            first, second = second, first
        assert isinstance(second, _Sides)
        if isinstance(first, _Disc):
            return _circle_meets(first, second)
        return _polygons_meet(first, second)
    if isinstance(first, _Disc):
        assert isinstance(second, _Sides)
        return _polygon_in_circle(second, first)
    if isinstance(second, _Disc):
        return _circle_inside(second, first)
    return _polygon_inside(second, first)


def _limited(circle: _Disc, most: float) -> exp.Expr:
    return call("LEAST", call("GREATEST", group(circle.radius), number(0.0)), number(most))


def _positive(circle: _Disc) -> exp.Expr:
    return exp.GTE(this=group(circle.radius), expression=number(0.0))


def _plus(a: SqlVector, b: SqlVector) -> SqlVector:
    return (op(exp.Add, a[0], b[0]), op(exp.Add, a[1], b[1]), op(exp.Add, a[2], b[2]))


def _boundary_near(x: SqlVector, sides: _Sides, circle: _Disc, *, strictly: bool) -> exp.Expr:
    """The boundary comes within the radius of ``x`` (closer than it, when ``strictly``)."""
    sin_r = call("SIN", radians(_limited(circle, 90.0)))
    cos_r = call("COS", radians(_limited(circle, 180.0)))
    closer: type[exp.Binary] = exp.GT if strictly else exp.GTE
    nearer: type[exp.Binary] = exp.LT if strictly else exp.LTE
    near: list[exp.Expr] = []
    for a, b in sides.edges():
        near.append(closer(this=dot_sql(x, a), expression=cos_r.copy()))
        ab = dot_sql(a, b)
        xa, xb = dot_sql(x, a), dot_sql(x, b)
        length = call(
            "SQRT",
            call("GREATEST", number(0.0), op(exp.Sub, number(1.0), op(exp.Mul, ab, ab.copy()))),
        )
        near.append(
            and_(
                exp.GTE(this=op(exp.Sub, xb, op(exp.Mul, ab, xa)), expression=number(0.0)),
                exp.GTE(this=op(exp.Sub, xa, op(exp.Mul, ab, xb)), expression=number(0.0)),
                nearer(
                    this=call("ABS", dot_sql(x, cross_sql(a, b))),
                    expression=op(exp.Mul, sin_r, length),
                ),
            )
        )
    return or_(*near)


def _circle_meets(circle: _Disc, sides: _Sides) -> exp.Expr:
    near = or_(sides.contains(circle.x), _boundary_near(circle.x, sides, circle, strictly=False))
    return and_(_positive(circle), near)


def _circle_inside(circle: _Disc, sides: _Sides) -> exp.Expr:
    clear = exp.Paren(this=exp.Not(this=_boundary_near(circle.x, sides, circle, strictly=True)))
    return and_(_positive(circle), sides.contains(circle.x), clear)


def _polygon_in_circle(sides: _Sides, circle: _Disc) -> exp.Expr:
    x = circle.x
    cos_r = call("COS", radians(_limited(circle, 90.0)))
    tests = [exp.GTE(this=dot_sql(x, v), expression=cos_r.copy()) for v in sides.corners]
    return and_(_positive(circle), *tests)


def _crossing(a: SqlVector, b: SqlVector, c: SqlVector, d: SqlVector, *, proper: bool) -> exp.Expr:
    """The arcs ab and cd cross (``proper``: each strictly between the other's ends)."""
    apart: type[exp.Binary] = exp.LT if proper else exp.LTE
    ab, cd = cross_sql(a, b), cross_sql(c, d)
    return and_(
        apart(this=op(exp.Mul, dot_sql(ab, c), dot_sql(ab, d)), expression=number(0.0)),
        apart(this=op(exp.Mul, dot_sql(cd, a), dot_sql(cd, b)), expression=number(0.0)),
        exp.GT(this=dot_sql(_plus(a, b), _plus(c, d)), expression=number(0.0)),
    )


def _polygons_meet(first: _Sides, second: _Sides) -> exp.Expr:
    tests = [second.contains(v) for v in first.corners]
    tests += [first.contains(v) for v in second.corners]
    tests += [
        _crossing(a, b, c, d, proper=False) for a, b in first.edges() for c, d in second.edges()
    ]
    return or_(*tests)


def _polygon_inside(inner: _Sides, outer: _Sides) -> exp.Expr:
    crossings = [
        _crossing(a, b, c, d, proper=True) for a, b in inner.edges() for c, d in outer.edges()
    ]
    leaves = exp.Paren(this=exp.Not(this=or_(*crossings)))
    return and_(*(outer.contains(v) for v in inner.corners), leaves)
