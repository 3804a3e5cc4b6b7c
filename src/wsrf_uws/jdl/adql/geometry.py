"""ADQL geometry rewritten into plain SQL that DuckDB evaluates vectorised (no Python per row).

A region test becomes two conditions joined by AND:

- a *coarse* one that lets DuckDB skip most of the table: where the point is a table's
  indexed position, the HEALPix cell ranges covering the region (the table is stored
  sorted by that index, so DuckDB's zone maps skip every row group outside the ranges);
  otherwise a declination band, which also serves a crossmatch join (a range join);
- the *exact* test: for a circle, the haversine of the distance compared with
  ``sin²(r/2)`` (no arc sine per row); for a polygon or box, one great-circle half-space
  test per edge (``x·n ≥ 0`` with the edge normals computed here), OR-ed over convex
  pieces when the polygon is not convex.

Supported (ADQL 2.1 §2.4): POINT, CIRCLE, BOX, POLYGON (constant vertices), CONTAINS
(point in circle, box or polygon; circle in circle), INTERSECTS (with a point, or two
circles), DISTANCE (two points or four numbers), COORD1, COORD2, AREA, COORDSYS.
Geometry values in the select list become DALI arrays of doubles (xtype point, circle,
polygon). Coordinates are ICRS degrees; a leading coordinate-system string other than
ICRS (or empty) is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from . import sphere
from .errors import error_at
from .tap_schema import CatalogMetadata
from .validation import REF_KEY, ColumnRef

#: The most HEALPix ranges put into one condition (nearby ranges are merged beyond).
MAX_RANGES = 24
#: Larger circles get no coarse condition (it would select most of the sky anyway).
_COARSE_LIMIT = 90.0


@dataclass(frozen=True)
class _Point:
    lon: exp.Expr
    lat: exp.Expr


@dataclass(frozen=True)
class _Circle:
    centre: _Point
    radius: exp.Expr
    node: exp.Expr  # where the CIRCLE is written, for errors


@dataclass(frozen=True)
class _Polygon:
    shape: sphere.SphericalPolygon


_Geometry = _Point | _Circle | _Polygon


def rewrite_geometry(
    tree: exp.Expr, metadata: CatalogMetadata, *, max_ranges: int = MAX_RANGES
) -> exp.Expr:
    """``tree`` with every ADQL geometry function replaced by plain SQL."""
    return _Rewriter(metadata, max_ranges).rewrite(tree)


# -- building SQL --------------------------------------------------------------------------


def _own(node: exp.Expr) -> exp.Expr:
    """``node`` itself if it has no parent yet, else a copy (a node has one parent)."""
    return node.copy() if node.parent is not None else node


def _call(name: str, *arguments: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=[_own(a) for a in arguments])


def _number(value: float) -> exp.Expr:
    literal = exp.Literal.number(repr(float(value)))
    return exp.Paren(this=literal) if value < 0 else literal


def _op(kind: type[exp.Binary], left: exp.Expr, right: exp.Expr) -> exp.Expr:
    return exp.Paren(this=kind(this=_own(left), expression=_own(right)))


def _group(node: exp.Expr) -> exp.Expr:
    """``node`` in parentheses unless it is a single term already."""
    if isinstance(node, exp.Column | exp.Literal | exp.Paren | exp.Func):
        return _own(node)
    return exp.Paren(this=_own(node))


def _radians(node: exp.Expr) -> exp.Expr:
    return _call("RADIANS", _group(node))


def _haversine(a: _Point, b: _Point, *, cos_b_lat: exp.Expr | None = None) -> exp.Expr:
    """sin²(Δlat/2) + cos(lat_a)·cos(lat_b)·sin²(Δlon/2), i.e. sin²(distance/2)."""
    half_lat = _call("SIN", _op(exp.Div, _radians(_op(exp.Sub, a.lat, b.lat)), _number(2.0)))
    half_lon = _call("SIN", _op(exp.Div, _radians(_op(exp.Sub, a.lon, b.lon)), _number(2.0)))
    cos_a = _call("COS", _radians(a.lat))
    cos_b = cos_b_lat if cos_b_lat is not None else _call("COS", _radians(b.lat))
    return _op(
        exp.Add,
        _call("POWER", half_lat, _number(2.0)),
        _op(exp.Mul, _op(exp.Mul, cos_a, cos_b), _call("POWER", half_lon, _number(2.0))),
    )


def _distance(a: _Point, b: _Point) -> exp.Expr:
    root = _call("SQRT", _call("GREATEST", _number(0.0), _haversine(a, b)))
    return _call(
        "DEGREES", _op(exp.Mul, _number(2.0), _call("ASIN", _call("LEAST", _number(1.0), root)))
    )


def _and(*conditions: exp.Expr) -> exp.Expr:
    result = _own(conditions[0])
    for condition in conditions[1:]:
        result = exp.And(this=result, expression=_own(condition))
    return exp.Paren(this=result)


def _or(*conditions: exp.Expr) -> exp.Expr:
    result = _own(conditions[0])
    for condition in conditions[1:]:
        result = exp.Or(this=result, expression=_own(condition))
    return exp.Paren(this=result)


def _between(value: exp.Expr, low: exp.Expr, high: exp.Expr) -> exp.Expr:
    return exp.Paren(this=exp.Between(this=_group(value), low=_own(low), high=_own(high)))


def _ranges_condition(column: Callable[[], exp.Column], ranges: list[tuple[int, int]]) -> exp.Expr:
    if not ranges:
        return exp.Paren(this=exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(0)))
    pieces = [
        _between(column(), exp.Literal.number(low), exp.Literal.number(high))
        for low, high in ranges
    ]
    if len(pieces) == 1:
        return pieces[0]
    # The overall bounds first: a plain range DuckDB can always push into the scan.
    overall = _between(
        column(), exp.Literal.number(ranges[0][0]), exp.Literal.number(ranges[-1][1])
    )
    return _and(overall, _or(*pieces))


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


# -- the rewrite ---------------------------------------------------------------------------


def _name(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    if isinstance(node, exp.Contains):
        return "CONTAINS"
    return None


def _arguments(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.Contains):
        return [node.this, node.expression]
    return list(node.expressions)


class _Rewriter:
    def __init__(self, metadata: CatalogMetadata, max_ranges: int) -> None:
        self.metadata = metadata
        self.max_ranges = max_ranges

    def rewrite(self, node: exp.Expr) -> exp.Expr:
        replaced = self.replace(node)
        if replaced is not None:
            return replaced
        for key, value in list(node.args.items()):
            if isinstance(value, exp.Expr):
                node.set(key, self.rewrite(value))
            elif isinstance(value, list):
                node.set(key, [self.rewrite(v) if isinstance(v, exp.Expr) else v for v in value])
        return node

    def replace(self, node: exp.Expr) -> exp.Expr | None:
        if isinstance(node, exp.EQ | exp.NEQ):
            return self.comparison(node)
        name = _name(node)
        if name is None:
            return None
        arguments = _arguments(node)
        if name in ("CONTAINS", "INTERSECTS"):
            exact, _ = self.predicate(name, arguments, node)
            return exp.Cast(this=exact, to=exp.DataType.build("INT"))
        if name == "DISTANCE":
            return self.distance(arguments, node)
        if name in ("COORD1", "COORD2"):
            point = self.single_point(name, arguments, node)
            return point.lon if name == "COORD1" else point.lat
        if name == "AREA":
            return self.area(arguments, node)
        if name == "COORDSYS":
            if len(arguments) != 1:
                raise error_at(node, "COORDSYS takes one geometry argument")
            self.geometry(arguments[0])
            return exp.Literal.string("ICRS")
        if name in ("POINT", "CIRCLE", "BOX", "POLYGON"):
            return self.selected_value(name, node)
        return None  # pragma: no cover - validation admits no other geometry name

    # -- predicates

    def comparison(self, node: exp.EQ | exp.NEQ) -> exp.Expr | None:
        left, right = node.this, node.expression
        if _name(right) in ("CONTAINS", "INTERSECTS") and isinstance(left, exp.Literal):
            left, right = right, left
        function = _name(left)
        if function not in ("CONTAINS", "INTERSECTS") or not isinstance(right, exp.Literal):
            return None
        value = right.name
        if right.is_string or value not in ("0", "1"):
            return None
        exact, coarse = self.predicate(function, _arguments(left), left)
        wanted = (value == "1") == isinstance(node, exp.EQ)
        if not wanted:
            return exp.Paren(this=exp.Not(this=exact))
        return _and(coarse, exact) if coarse is not None else exact

    def predicate(
        self, name: str, arguments: list[exp.Expr], node: exp.Expr
    ) -> tuple[exp.Expr, exp.Expr | None]:
        if len(arguments) != 2:
            raise error_at(node, f"{name} takes two geometry arguments")
        first, second = self.geometry(arguments[0]), self.geometry(arguments[1])
        if name == "INTERSECTS":
            if isinstance(second, _Point):
                first, second = second, first
            if isinstance(first, _Point) and not isinstance(second, _Point):
                return self.point_in(first, second)
            if isinstance(first, _Circle) and isinstance(second, _Circle):
                reach = _op(exp.Add, first.radius, second.radius)
                return self.circle_condition(first.centre, second.centre, reach), None
            raise error_at(
                node, "INTERSECTS is supported between a POINT and a region and between two CIRCLEs"
            )
        if isinstance(first, _Point) and not isinstance(second, _Point):
            return self.point_in(first, second)
        if isinstance(first, _Circle) and isinstance(second, _Circle):
            # The first circle lies inside the second: d + r1 <= r2.
            room = _op(exp.Sub, second.radius, first.radius)
            inside = exp.LTE(this=_distance(first.centre, second.centre), expression=_own(room))
            return exp.Paren(this=inside), None
        raise error_at(
            node,
            "CONTAINS is supported for a POINT in a CIRCLE, BOX or POLYGON, and "
            "for a CIRCLE in a CIRCLE",
        )

    def point_in(
        self, point: _Point, region: _Circle | _Polygon
    ) -> tuple[exp.Expr, exp.Expr | None]:
        if isinstance(region, _Polygon):
            return self.point_in_polygon(point, region.shape)
        return self.point_in_circle(point, region)

    def point_in_circle(self, point: _Point, circle: _Circle) -> tuple[exp.Expr, exp.Expr | None]:
        radius = constant_value(circle.radius)
        if radius is None:
            exact = self.circle_condition(point, circle.centre, circle.radius)
            return exact, self.band(point, circle.centre, circle.radius)
        if radius < 0:
            raise error_at(circle.node, f"the CIRCLE's radius {radius:g} is negative")
        threshold = _number(math.sin(math.radians(min(radius, 180.0)) / 2) ** 2)
        lon = constant_value(circle.centre.lon)
        lat = constant_value(circle.centre.lat)
        if lon is None or lat is None:  # a crossmatch: the centre comes from a table
            exact = exp.Paren(
                this=exp.LTE(this=_haversine(point, circle.centre), expression=threshold)
            )
            coarse = self.band(point, circle.centre, _number(radius))
            return exact, coarse if radius < _COARSE_LIMIT else None
        if not -90.0 <= lat <= 90.0:
            raise error_at(circle.node, f"the CIRCLE's centre latitude {lat:g} is not in [-90, 90]")
        centre = _Point(_number(lon), _number(lat))
        cos_lat = _number(math.cos(math.radians(lat)))
        exact = exp.Paren(
            this=exp.LTE(this=_haversine(point, centre, cos_b_lat=cos_lat), expression=threshold)
        )
        if radius >= _COARSE_LIMIT:
            return exact, None
        index = self.healpix_column(point)
        if index is not None:
            column, order = index
            ranges = sphere.cone_cells(
                lon % 360.0, lat, radius, order=order, max_ranges=self.max_ranges
            )
            return exact, _ranges_condition(column, ranges)
        return exact, _between(point.lat, _number(lat - radius), _number(lat + radius))

    def band(self, point: _Point, centre: _Point, radius: exp.Expr) -> exp.Expr:
        """The declination band around a centre known only per row."""
        return _between(
            point.lat,
            _op(exp.Sub, centre.lat, radius),
            _op(exp.Add, centre.lat, radius),
        )

    def circle_condition(self, point: _Point, centre: _Point, radius: exp.Expr) -> exp.Expr:
        """distance(point, centre) <= radius for a radius known only per row."""
        limited = _call("LEAST", _call("GREATEST", _group(radius), _number(0.0)), _number(180.0))
        threshold = _call(
            "POWER", _call("SIN", _op(exp.Div, _radians(limited), _number(2.0))), _number(2.0)
        )
        within = exp.LTE(this=_haversine(point, centre), expression=threshold)
        return _and(exp.GTE(this=_group(radius), expression=_number(0.0)), within)

    def point_in_polygon(
        self, point: _Point, shape: sphere.SphericalPolygon
    ) -> tuple[exp.Expr, exp.Expr | None]:
        cos_lat = _call("COS", _radians(point.lat))
        x = _op(exp.Mul, cos_lat, _call("COS", _radians(point.lon)))
        y = _op(exp.Mul, cos_lat.copy(), _call("SIN", _radians(point.lon)))
        z = _call("SIN", _radians(point.lat))
        pieces = []
        for piece in shape.pieces:
            tests = []
            for nx, ny, nz in piece.normals:
                product = _op(
                    exp.Add,
                    _op(
                        exp.Add,
                        _op(exp.Mul, x.copy(), _number(nx)),
                        _op(exp.Mul, y.copy(), _number(ny)),
                    ),
                    _op(exp.Mul, z.copy(), _number(nz)),
                )
                tests.append(exp.GTE(this=product, expression=_number(0.0)))
            pieces.append(_and(*tests))
        exact = pieces[0] if len(pieces) == 1 else _or(*pieces)
        index = self.healpix_column(point)
        if index is not None:
            column, order = index
            ranges = sphere.polygon_cells(shape, order=order, max_ranges=self.max_ranges)
            return exact, _ranges_condition(column, ranges)
        low, high = sphere.latitude_range(shape)
        return exact, _between(point.lat, _number(low - 1e-9), _number(high + 1e-9))

    def healpix_column(self, point: _Point) -> tuple[Callable[[], exp.Column], int] | None:
        """The HEALPix column indexing ``point``, if it is a table's own indexed position."""
        if not (isinstance(point.lon, exp.Column) and isinstance(point.lat, exp.Column)):
            return None
        lon_ref = point.lon.meta.get(REF_KEY)
        lat_ref = point.lat.meta.get(REF_KEY)
        if not isinstance(lon_ref, ColumnRef) or not isinstance(lat_ref, ColumnRef):
            return None
        if lon_ref.qualifier != lat_ref.qualifier or lon_ref.table != lat_ref.table:
            return None
        table = self.metadata.table(lon_ref.table)
        if (
            table is None
            or table.healpix_column is None
            or table.healpix_order is None
            or (table.ra_column or "").lower() != lon_ref.column.lower()
            or (table.dec_column or "").lower() != lat_ref.column.lower()
        ):
            return None
        name = table.healpix_column
        return (lambda: lon_ref.column_node(name)), table.healpix_order

    # -- values

    def distance(self, arguments: list[exp.Expr], node: exp.Expr) -> exp.Expr:
        if len(arguments) == 4:
            values = [self.rewrite(a) for a in arguments]
            first, second = _Point(values[0], values[1]), _Point(values[2], values[3])
        elif len(arguments) == 2:
            first = self.point(arguments[0])
            second = self.point(arguments[1])
        else:
            raise error_at(node, "DISTANCE takes two POINTs or four numbers")
        return _distance(first, second)

    def single_point(self, name: str, arguments: list[exp.Expr], node: exp.Expr) -> _Point:
        if len(arguments) != 1:
            raise error_at(node, f"{name} takes one POINT")
        return self.point(arguments[0])

    def area(self, arguments: list[exp.Expr], node: exp.Expr) -> exp.Expr:
        if len(arguments) != 1:
            raise error_at(node, "AREA takes one region")
        region = self.geometry(arguments[0])
        if isinstance(region, _Point):
            return _number(0.0)
        if isinstance(region, _Polygon):
            return _number(sphere.polygon_area(region.shape))
        radius = constant_value(region.radius)
        if radius is not None:
            return _number(sphere.circle_area(radius))
        limited = _call(
            "LEAST", _call("GREATEST", _group(region.radius), _number(0.0)), _number(180.0)
        )
        steradians = _op(
            exp.Mul,
            _op(exp.Mul, _number(2.0), _call("PI")),
            _op(exp.Sub, _number(1.0), _call("COS", _radians(limited))),
        )
        return _op(exp.Mul, steradians, _number((180.0 / math.pi) ** 2))

    def selected_value(self, name: str, node: exp.Expr) -> exp.Expr:
        parent = node.parent
        if not (
            isinstance(parent, exp.Alias)
            and isinstance(parent.parent, exp.Select)
            and parent.arg_key == "expressions"
        ):
            raise error_at(
                node,
                f"{name} can only be selected or used inside CONTAINS, "
                "INTERSECTS, DISTANCE, COORD1, COORD2 or AREA",
            )
        geometry = self.geometry(node)
        if isinstance(geometry, _Point):
            values = [geometry.lon, geometry.lat]
        elif isinstance(geometry, _Circle):
            values = [geometry.centre.lon, geometry.centre.lat, geometry.radius]
        else:
            values = [
                _number(coordinate)
                for vertex in geometry.shape.lonlat_vertices()
                for coordinate in vertex
            ]
        doubles = [exp.Cast(this=_group(v), to=exp.DataType.build("DOUBLE")) for v in values]
        return _call("LIST_VALUE", *doubles)

    # -- geometry arguments

    def point(self, node: exp.Expr) -> _Point:
        geometry = self.geometry(node)
        if not isinstance(geometry, _Point):
            raise error_at(node, f"expected a POINT, found {node.sql()}")
        return geometry

    def geometry(self, node: exp.Expr) -> _Geometry:
        name = _name(node)
        if name not in ("POINT", "CIRCLE", "BOX", "POLYGON"):
            raise error_at(
                node, f"expected a geometry (POINT, CIRCLE, BOX or POLYGON), found {node.sql()}"
            )
        arguments = self.coordinate_system(name, _arguments(node))
        if name == "POINT":
            if len(arguments) != 2:
                raise error_at(node, "POINT takes a longitude and a latitude")
            return _Point(self.rewrite(arguments[0]), self.rewrite(arguments[1]))
        if name == "CIRCLE":
            if len(arguments) == 2:
                return _Circle(self.point(arguments[0]), self.rewrite(arguments[1]), node)
            if len(arguments) == 3:
                centre = _Point(self.rewrite(arguments[0]), self.rewrite(arguments[1]))
                return _Circle(centre, self.rewrite(arguments[2]), node)
            raise error_at(node, "CIRCLE takes a centre (POINT or two numbers) and a radius")
        if name == "BOX":
            return _Polygon(self.box(arguments, node))
        return _Polygon(self.polygon(arguments, node))

    def coordinate_system(self, name: str, arguments: list[exp.Expr]) -> list[exp.Expr]:
        if arguments and isinstance(arguments[0], exp.Literal) and arguments[0].is_string:
            system = arguments[0].name.strip().upper()
            if system and system.split()[0] != "ICRS":
                raise error_at(
                    arguments[0],
                    f"{name}: the coordinate system "
                    f"{arguments[0].name!r} is not supported; positions are ICRS",
                )
            return arguments[1:]
        return arguments

    def box(self, arguments: list[exp.Expr], node: exp.Expr) -> sphere.SphericalPolygon:
        if len(arguments) == 3:
            centre = self.point(arguments[0])
            parts = [centre.lon, centre.lat, arguments[1], arguments[2]]
        elif len(arguments) == 4:
            parts = arguments
        else:
            raise error_at(node, "BOX takes a centre (POINT or two numbers), a width and a height")
        values = self.constants("BOX", parts)
        try:
            corners = sphere.box_corners(*values)
            return sphere.spherical_polygon(corners)
        except ValueError as exc:
            raise error_at(node, str(exc)) from None

    def polygon(self, arguments: list[exp.Expr], node: exp.Expr) -> sphere.SphericalPolygon:
        if arguments and all(_name(a) == "POINT" for a in arguments):
            coordinates: list[exp.Expr] = []
            for argument in arguments:
                point = self.point(argument)
                coordinates += [point.lon, point.lat]
        else:
            coordinates = arguments
        if len(coordinates) < 6 or len(coordinates) % 2:
            raise error_at(
                node, "POLYGON takes at least three vertices (POINTs or pairs of numbers)"
            )
        values = self.constants("POLYGON", coordinates)
        try:
            return sphere.spherical_polygon(list(zip(values[::2], values[1::2], strict=True)))
        except ValueError as exc:
            raise error_at(node, str(exc)) from None

    def constants(self, name: str, parts: list[exp.Expr]) -> list[float]:
        values = []
        for part in parts:
            value = constant_value(part)
            if value is None or not math.isfinite(value):
                raise error_at(
                    part,
                    f"{name} takes constant numbers here; {part.sql()} is not "
                    "one (regions from table columns are not supported)",
                )
            values.append(value)
        return values
