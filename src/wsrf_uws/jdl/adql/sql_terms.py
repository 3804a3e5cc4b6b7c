"""Small builders of the SQL expressions the ADQL geometry rewrite produces, and its shapes.

Every builder returns a new sqlglot node (an argument that already has a parent is
copied: a node has one parent). ``constant_value`` evaluates a numeric expression made of
literals, so that shapes with constant parameters can be prepared in Python.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from . import sphere


@dataclass(frozen=True)
class Point:
    """A position: longitude and latitude expressions (degrees)."""

    lon: exp.Expr
    lat: exp.Expr


@dataclass(frozen=True)
class Circle:
    """A circle: its centre and radius (degrees); ``node`` is where it is written."""

    centre: Point
    radius: exp.Expr
    node: exp.Expr  # where the CIRCLE is written, for errors


@dataclass(frozen=True)
class Polygon:
    """A region with constant vertices (a POLYGON or a BOX)."""

    shape: sphere.SphericalPolygon


@dataclass(frozen=True)
class ColumnPolygon:
    """A POLYGON whose vertices are known only per row (from columns)."""

    vertices: tuple[Point, ...]


Geometry = Point | Circle | Polygon | ColumnPolygon


def own(node: exp.Expr) -> exp.Expr:
    """``node`` itself if it has no parent yet, else a copy (a node has one parent)."""
    return node.copy() if node.parent is not None else node


def call(name: str, *arguments: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=[own(a) for a in arguments])


def number(value: float) -> exp.Expr:
    literal = exp.Literal.number(repr(float(value)))
    return exp.Paren(this=literal) if value < 0 else literal


def op(kind: type[exp.Binary], left: exp.Expr, right: exp.Expr) -> exp.Expr:
    return exp.Paren(this=kind(this=own(left), expression=own(right)))


def group(node: exp.Expr) -> exp.Expr:
    """``node`` in parentheses unless it is a single term already."""
    if isinstance(node, exp.Column | exp.Literal | exp.Paren | exp.Func):
        return own(node)
    return exp.Paren(this=own(node))


def radians(node: exp.Expr) -> exp.Expr:
    return call("RADIANS", group(node))


def haversine(a: Point, b: Point, *, cos_b_lat: exp.Expr | None = None) -> exp.Expr:
    """sin²(Δlat/2) + cos(lat_a)·cos(lat_b)·sin²(Δlon/2), i.e. sin²(distance/2)."""
    half_lat = call("SIN", op(exp.Div, radians(op(exp.Sub, a.lat, b.lat)), number(2.0)))
    half_lon = call("SIN", op(exp.Div, radians(op(exp.Sub, a.lon, b.lon)), number(2.0)))
    cos_a = call("COS", radians(a.lat))
    cos_b = cos_b_lat if cos_b_lat is not None else call("COS", radians(b.lat))
    return op(
        exp.Add,
        call("POWER", half_lat, number(2.0)),
        op(exp.Mul, op(exp.Mul, cos_a, cos_b), call("POWER", half_lon, number(2.0))),
    )


def distance(a: Point, b: Point) -> exp.Expr:
    root = call("SQRT", call("GREATEST", number(0.0), haversine(a, b)))
    return call("DEGREES", op(exp.Mul, number(2.0), call("ASIN", call("LEAST", number(1.0), root))))


def and_(*conditions: exp.Expr) -> exp.Expr:
    result = own(conditions[0])
    for condition in conditions[1:]:
        result = exp.And(this=result, expression=own(condition))
    return exp.Paren(this=result)


def or_(*conditions: exp.Expr) -> exp.Expr:
    result = own(conditions[0])
    for condition in conditions[1:]:
        result = exp.Or(this=result, expression=own(condition))
    return exp.Paren(this=result)


def between(value: exp.Expr, low: exp.Expr, high: exp.Expr) -> exp.Expr:
    return exp.Paren(this=exp.Between(this=group(value), low=own(low), high=own(high)))


def ranges_condition(column: Callable[[], exp.Column], ranges: list[tuple[int, int]]) -> exp.Expr:
    if not ranges:
        return exp.Paren(this=exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0)))
    pieces = [
        between(column(), exp.Literal.number(low), exp.Literal.number(high)) for low, high in ranges
    ]
    if len(pieces) == 1:
        return pieces[0]
    # The overall bounds first: a plain range DuckDB can always push into the scan.
    overall = between(column(), exp.Literal.number(ranges[0][0]), exp.Literal.number(ranges[-1][1]))
    return and_(overall, or_(*pieces))


def let(values: list[exp.Expr], body: Callable[[list[exp.Expr]], exp.Expr]) -> exp.Expr:
    """``body`` applied to ``values`` (numbers) computed once per row.

    SQL has no local variables, and a test written out in full repeats each vertex's
    expression in every term that uses it (the SQL grows as a power of the vertex
    count). DuckDB evaluates a lambda over a one-element list instead: the values are
    packed once and ``body`` reads them back as list elements.
    """
    name = f"__shape_{next(_LETS)}"
    variable = exp.column(name)
    refs = [call("LIST_EXTRACT", variable, exp.Literal.number(i + 1)) for i in range(len(values))]
    double = exp.DataType.build("DOUBLE")
    packed = call("LIST_VALUE", *(exp.Cast(this=group(v), to=double) for v in values))
    function = exp.Lambda(this=body(refs), expressions=[exp.to_identifier(name)])
    mapped = call("LIST_TRANSFORM", call("LIST_VALUE", packed), function)
    return call("LIST_EXTRACT", mapped, exp.Literal.number(1))


_LETS = itertools.count(1)


# -- constants ---------------------------------------------------------------------------

_UNARY: dict[type[exp.Expr], Callable[[float], float]] = {
    exp.Radians: math.radians,
    exp.Degrees: math.degrees,
    exp.Sin: math.sin,
    exp.Cos: math.cos,
    exp.Tan: math.tan,
    exp.Sqrt: math.sqrt,
    exp.Abs: abs,
}
_BINARY: dict[type[exp.Expr], Callable[[float, float], float]] = {
    exp.Add: lambda a, b: a + b,
    exp.Sub: lambda a, b: a - b,
    exp.Mul: lambda a, b: a * b,
    exp.Div: lambda a, b: a / b,
    exp.Pow: lambda a, b: float(a**b),
}


def constant_value(node: exp.Expr) -> float | None:
    """The value of a numeric expression made of literals only, else None."""
    try:
        if isinstance(node, exp.Literal) and not node.is_string:
            return float(node.name)
        if isinstance(node, exp.HexString):
            return float(int(node.name, 16))
        if isinstance(node, exp.Paren):
            return constant_value(node.this)
        if isinstance(node, exp.Neg):
            inner = constant_value(node.this)
            return None if inner is None else -inner
        if isinstance(node, exp.Pi):
            return math.pi
        unary = _UNARY.get(type(node))
        if unary is not None:
            inner = constant_value(node.this)
            return None if inner is None else unary(inner)
        binary = _BINARY.get(type(node))
        if binary is not None:
            left, right = constant_value(node.this), constant_value(node.expression)
            if left is None or right is None:
                return None
            return binary(left, right)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return None
