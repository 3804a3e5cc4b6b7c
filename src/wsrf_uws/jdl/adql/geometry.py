"""ADQL geometry rewritten into plain SQL that DuckDB evaluates vectorised (no Python per row).

A region test becomes two conditions joined by AND:

- a *coarse* one that lets DuckDB skip most of the table: where the point is a table's
  indexed position, the HEALPix cell ranges covering the region (the table is stored
  sorted by that index, so DuckDB's zone maps skip every row group outside the ranges);
  otherwise a declination band (a crossmatch gets a zone join first, :mod:`.crossmatch`);
- the *exact* test: for a circle, the haversine of the distance compared with
  ``sin²(r/2)`` (no arc sine per row); for a polygon or box, one great-circle half-space
  test per edge (``x·n ≥ 0`` with the edge normals computed here), OR-ed over convex
  pieces when the polygon is not convex.

Supported (ADQL 2.1 §4.2): POINT, CIRCLE, BOX, POLYGON (constant vertices, or vertices
from columns), REGION (an STC-S subset), CENTROID, CONTAINS and INTERSECTS between any
two of them (region pairs in :mod:`.regions`, pairs with a polygon from columns in
:mod:`.column_polygons`), DISTANCE (two points or four numbers), COORD1, COORD2, AREA
(:mod:`.column_measures` for a polygon from columns), COORDSYS, and IN_UNIT
(:mod:`.in_unit`). Geometry arguments are read by :mod:`.shapes`, which also takes any
geometry selected in a subquery or WITH query. Geometry values in the select list become
DALI arrays of doubles (xtype point, circle, polygon). Coordinates are ICRS degrees; a
leading coordinate-system string other than ICRS (or empty) is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sqlglot import exp

from . import column_measures, regions, sphere
from .column_polygons import column_pair
from .errors import error_at
from .in_unit import in_unit
from .shapes import ShapeReader, function_arguments, function_name
from .sql_terms import Circle as _Circle
from .sql_terms import ColumnPolygon as _ColumnPolygon
from .sql_terms import Point as _Point
from .sql_terms import Polygon as _Polygon
from .sql_terms import and_ as _and
from .sql_terms import between as _between
from .sql_terms import call as _call
from .sql_terms import constant_value
from .sql_terms import distance as _distance
from .sql_terms import group as _group
from .sql_terms import haversine as _haversine
from .sql_terms import number as _number
from .sql_terms import op as _op
from .sql_terms import or_ as _or
from .sql_terms import own as _own
from .sql_terms import radians as _radians
from .sql_terms import ranges_condition as _ranges_condition
from .tap_schema import CatalogMetadata
from .validation import REF_KEY, ColumnRef

#: The most HEALPix ranges put into one condition (nearby ranges are merged beyond).
MAX_RANGES = 24
#: Larger circles get no coarse condition (it would select most of the sky anyway).
_COARSE_LIMIT = 90.0


def rewrite_geometry(
    tree: exp.Expr, metadata: CatalogMetadata, *, max_ranges: int = MAX_RANGES
) -> exp.Expr:
    """``tree`` with every ADQL geometry function replaced by plain SQL."""
    return _Rewriter(metadata, max_ranges).rewrite(tree)


# -- the rewrite ---------------------------------------------------------------------------


_name = function_name
_arguments = function_arguments


class _Rewriter(ShapeReader):
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
        if isinstance(node, exp.LT | exp.LTE | exp.GT | exp.GTE):
            return self.distance_bound(node)
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
        if name in ("POINT", "CIRCLE", "BOX", "POLYGON", "REGION", "CENTROID"):
            return self.selected_value(name, node)
        if name == "IN_UNIT":
            return in_unit(arguments, node, self.rewrite)
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
        """The test CONTAINS(first, second) or INTERSECTS(first, second), and a coarse one."""
        if len(arguments) != 2:
            raise error_at(node, f"{name} takes two geometry arguments")
        first, second = self.geometry(arguments[0]), self.geometry(arguments[1])
        if name == "INTERSECTS" and not isinstance(first, _Point) and isinstance(second, _Point):
            first, second = second, first  # symmetric: the point first
        if isinstance(first, _Point) and isinstance(second, _Point):
            return _and(
                *(
                    exp.EQ(this=_group(a), expression=_group(b))
                    for a, b in ((first.lon, second.lon), (first.lat, second.lat))
                )
            ), None
        if isinstance(first, _Point) and not isinstance(second, _Point):
            return self.point_in(first, second)
        if isinstance(second, _Point):  # CONTAINS(region, POINT): only a circle of radius 0
            if isinstance(first, _Circle):
                same = self.circle_condition(second, first.centre, _number(0.0))
                return _and(exp.LTE(this=_group(first.radius), expression=_number(0.0)), same), None
            return _truth(False), None
        assert not isinstance(first, _Point)  # a point is handled above
        try:
            if isinstance(first, _ColumnPolygon) or isinstance(second, _ColumnPolygon):
                return column_pair(name, first, second)
            return self.regions(name, first, second)
        except ValueError as exc:
            raise error_at(node, str(exc)) from None

    def regions(
        self, name: str, first: _Circle | _Polygon, second: _Circle | _Polygon
    ) -> tuple[exp.Expr, exp.Expr | None]:
        if isinstance(first, _Circle) and isinstance(second, _Circle):
            if name == "INTERSECTS":
                reach = _op(exp.Add, first.radius, second.radius)
                return self.circle_condition(first.centre, second.centre, reach), None
            # The first circle lies inside the second: d + r1 <= r2.
            room = _op(exp.Sub, second.radius, first.radius)
            inside = exp.LTE(this=_distance(first.centre, second.centre), expression=_own(room))
            return exp.Paren(this=inside), None
        if isinstance(first, _Polygon) and isinstance(second, _Polygon):
            if name == "INTERSECTS":
                return _truth(regions.polygons_meet(first.shape, second.shape)), None
            return _truth(regions.polygon_inside(first.shape, second.shape)), None
        if name == "INTERSECTS" and isinstance(first, _Polygon):
            first, second = second, first
        circle = first if isinstance(first, _Circle) else second
        polygon = second if isinstance(second, _Polygon) else first
        assert isinstance(circle, _Circle)
        assert isinstance(polygon, _Polygon)
        test = (
            "meet"
            if name == "INTERSECTS"
            else "circle in polygon"
            if circle is first
            else "polygon in circle"
        )
        values = [constant_value(v) for v in (circle.centre.lon, circle.centre.lat, circle.radius)]
        if all(v is not None for v in values):
            lon, lat, radius = (float(v) for v in values if v is not None)
            return _truth(
                regions.circle_polygon_constant((lon, lat), radius, polygon.shape, test=test)
            ), None
        if test == "meet":
            return regions.circle_meets_polygon(circle, polygon.shape)
        if test == "circle in polygon":
            return regions.circle_inside_polygon(circle, polygon.shape)
        return regions.polygon_inside_circle(polygon.shape, circle), None

    def point_in(
        self, point: _Point, region: _Circle | _Polygon | _ColumnPolygon
    ) -> tuple[exp.Expr, exp.Expr | None]:
        if isinstance(region, _Polygon):
            return self.point_in_polygon(point, region.shape)
        if isinstance(region, _ColumnPolygon):
            return regions.point_in_column_polygon(point, list(region.vertices)), None
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

    def distance_bound(self, node: exp.LT | exp.LTE | exp.GT | exp.GTE) -> exp.Expr | None:
        """``DISTANCE(p, q) < r`` (or ``<=``, or ``r > DISTANCE``) for a constant ``r``: the
        circle test, so a cone gets its coarse condition and no row an arc sine."""
        if isinstance(node, exp.LT | exp.LTE):
            distance, bound = node.this, node.expression
        else:
            distance, bound = node.expression, node.this
        radius = constant_value(bound)
        if _name(distance) != "DISTANCE" or radius is None or not 0.0 <= radius < 180.0:
            return None
        arguments = _arguments(distance)
        if len(arguments) == 4:
            values = [self.rewrite(a) for a in arguments]
            first, second = _Point(values[0], values[1]), _Point(values[2], values[3])
        elif len(arguments) == 2:
            first, second = self.point(arguments[0]), self.point(arguments[1])
        else:
            return None  # distance() says what is wrong
        if constant_value(first.lon) is not None and constant_value(first.lat) is not None:
            first, second = second, first  # a constant position is the centre
        latitude = constant_value(second.lat)
        if latitude is not None and not -90.0 <= latitude <= 90.0:
            return None
        exact, coarse = self.point_in_circle(first, _Circle(second, _number(radius), distance))
        if isinstance(node, exp.LT | exp.GT):  # strictly closer than r
            test = exact.this
            exact = exp.Paren(this=exp.LT(this=test.this, expression=test.expression))
        return _and(coarse, exact) if coarse is not None else exact

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
        if isinstance(region, _ColumnPolygon):
            return column_measures.polygon_area(region.vertices)
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
                "INTERSECTS, DISTANCE, COORD1, COORD2, AREA or CENTROID",
            )
        geometry = self.geometry(node)
        if isinstance(geometry, _Point):
            values = [geometry.lon, geometry.lat]
        elif isinstance(geometry, _Circle):
            values = [geometry.centre.lon, geometry.centre.lat, geometry.radius]
        elif isinstance(geometry, _ColumnPolygon):
            values = [c for vertex in geometry.vertices for c in (vertex.lon, vertex.lat)]
        else:
            values = [
                _number(coordinate)
                for vertex in geometry.shape.lonlat_vertices()
                for coordinate in vertex
            ]
        doubles = [exp.Cast(this=_group(v), to=exp.DataType.build("DOUBLE")) for v in values]
        return _call("LIST_VALUE", *doubles)


def _truth(value: bool) -> exp.Expr:
    """A constant condition: (1 = 1) or (1 = 0)."""
    return exp.Paren(
        this=exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(1 if value else 0))
    )
