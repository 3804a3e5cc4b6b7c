"""Reading the geometry arguments of ADQL functions into shapes the rewrite works with.

A geometry argument may be written as ``POINT``, ``CIRCLE``, ``BOX`` or ``POLYGON``, as
``REGION('<STC-S>')`` (:mod:`.stcs`), as ``CENTROID(region)``, or be a column of a
subquery or WITH query that selected a POINT or CIRCLE (its value is then a DALI array
of doubles, read back element by element; a POLYGON or BOX too, its vertex count
found by :mod:`.selected_shapes`). REGION takes constants; a POLYGON or BOX takes
constants (a :class:`Polygon`, checked and prepared here) or expressions of columns (a
:class:`ColumnPolygon`, tested per row). Coordinates are ICRS degrees.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from sqlglot import exp

from . import column_measures, sphere
from .errors import error_at
from .selected_shapes import selected_vertex_count
from .sql_terms import Circle, ColumnPolygon, Geometry, Point, Polygon, call, constant_value, number
from .stcs import parse_stcs

#: The names of the functions that write a geometry value.
SHAPE_FUNCTIONS = ("POINT", "CIRCLE", "BOX", "POLYGON", "REGION", "CENTROID")


def function_name(node: exp.Expr) -> str | None:
    """The upper-case name of an ADQL function sqlglot keeps as a plain call, or CONTAINS."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    if isinstance(node, exp.Contains):
        return "CONTAINS"
    return None


def function_arguments(node: exp.Expr) -> list[exp.Expr]:
    """The arguments of such a call."""
    if isinstance(node, exp.Contains):
        return [node.this, node.expression]
    return list(node.expressions)


def _element(column: exp.Expr, index: int) -> exp.Expr:
    return call("LIST_EXTRACT", column, exp.Literal.number(index))


class ShapeReader(ABC):
    """The part of the rewrite that turns geometry arguments into shapes."""

    @abstractmethod
    def rewrite(self, node: exp.Expr) -> exp.Expr:
        """The node with the geometry functions inside it rewritten."""

    def point(self, node: exp.Expr) -> Point:
        """The argument, which must be a POINT (or evaluate to one)."""
        geometry = self.geometry(node)
        if not isinstance(geometry, Point):
            raise error_at(node, f"expected a POINT, found {node.sql()}")
        return geometry

    def geometry(self, node: exp.Expr) -> Geometry:
        """The shape an argument describes; AdqlError if it is none."""
        column = self.column_geometry(node)
        if column is not None:
            return column
        name = function_name(node)
        if name not in SHAPE_FUNCTIONS:
            raise error_at(
                node,
                "expected a geometry (POINT, CIRCLE, BOX, POLYGON, REGION or CENTROID), "
                f"found {node.sql()}",
            )
        if name == "REGION":
            return self.region(node)
        if name == "CENTROID":
            return self.centroid(node)
        arguments = self.coordinate_system(name, function_arguments(node))
        if name == "POINT":
            if len(arguments) != 2:
                raise error_at(node, "POINT takes a longitude and a latitude")
            return Point(self.rewrite(arguments[0]), self.rewrite(arguments[1]))
        if name == "CIRCLE":
            if len(arguments) == 2:
                return Circle(self.point(arguments[0]), self.rewrite(arguments[1]), node)
            if len(arguments) == 3:
                centre = Point(self.rewrite(arguments[0]), self.rewrite(arguments[1]))
                return Circle(centre, self.rewrite(arguments[2]), node)
            raise error_at(node, "CIRCLE takes a centre (POINT or two numbers) and a radius")
        if name == "BOX":
            return self.box(arguments, node)
        return self.polygon(arguments, node)

    def column_geometry(self, node: exp.Expr) -> Geometry | None:
        """A column holding a POINT or CIRCLE selected in a subquery or WITH query."""
        if not isinstance(node, exp.Column):
            return None
        info = node.meta.get("adql_info")
        xtype = getattr(info, "xtype", None)
        if xtype == "point":
            return Point(_element(node, 1), _element(node, 2))
        if xtype == "circle":
            centre = Point(_element(node, 1), _element(node, 2))
            return Circle(centre, _element(node, 3), node)
        if xtype == "polygon":
            count = selected_vertex_count(node)
            if count is None or count < 3:
                raise error_at(
                    node,
                    f"{node.sql()} holds a polygon whose vertices are not known here; "
                    "select it as a POLYGON, BOX or REGION in the subquery",
                )
            return ColumnPolygon(
                tuple(
                    Point(_element(node, 2 * i + 1), _element(node, 2 * i + 2))
                    for i in range(count)
                )
            )
        return None

    def region(self, node: exp.Expr) -> Geometry:
        arguments = function_arguments(node)
        if len(arguments) != 1 or not (
            isinstance(arguments[0], exp.Literal) and arguments[0].is_string
        ):
            raise error_at(node, "REGION takes one constant STC-S string")
        try:
            parsed = parse_stcs(arguments[0].name)
            values = parsed.numbers
            if parsed.shape == "POSITION":
                return Point(number(values[0]), number(values[1]))
            if parsed.shape == "CIRCLE":
                return Circle(Point(number(values[0]), number(values[1])), number(values[2]), node)
            if parsed.shape == "BOX":
                corners = sphere.box_corners(*values)
            else:
                corners = list(zip(values[::2], values[1::2], strict=True))
            return Polygon(sphere.spherical_polygon(corners))
        except ValueError as exc:
            raise error_at(node, str(exc)) from None

    def centroid(self, node: exp.Expr) -> Point:
        arguments = function_arguments(node)
        if len(arguments) != 1:
            raise error_at(node, "CENTROID takes one region")
        region = self.geometry(arguments[0])
        if isinstance(region, Point):
            return region
        if isinstance(region, Circle):
            return region.centre
        if isinstance(region, ColumnPolygon):
            return column_measures.polygon_centroid(region.vertices)
        lon, lat = polygon_centroid(region.shape)
        return Point(number(lon), number(lat))

    def coordinate_system(self, name: str, arguments: list[exp.Expr]) -> list[exp.Expr]:
        """The arguments without a leading coordinate system, which must be ICRS or empty."""
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

    def box(self, arguments: list[exp.Expr], node: exp.Expr) -> Polygon | ColumnPolygon:
        if len(arguments) == 3:
            centre = self.point(arguments[0])
            parts = [centre.lon, centre.lat, self.rewrite(arguments[1]), self.rewrite(arguments[2])]
        elif len(arguments) == 4:
            parts = [self.rewrite(a) for a in arguments]
        else:
            raise error_at(node, "BOX takes a centre (POINT or two numbers), a width and a height")
        if any(constant_value(part) is None for part in parts):
            for side in parts[2:]:
                length = constant_value(side)
                if length is not None and not 0.0 < length < 180.0:
                    raise error_at(
                        node, f"BOX sides must be between 0 and 180 degrees, got {length:g}"
                    )
            centre = Point(parts[0], parts[1])
            return ColumnPolygon(column_measures.box_vertices(centre, parts[2], parts[3]))
        values = self.constants("BOX", parts)
        try:
            corners = sphere.box_corners(*values)
            return Polygon(sphere.spherical_polygon(corners))
        except ValueError as exc:
            raise error_at(node, str(exc)) from None

    def polygon(self, arguments: list[exp.Expr], node: exp.Expr) -> Polygon | ColumnPolygon:
        if arguments and all(function_name(a) == "POINT" for a in arguments):
            coordinates: list[exp.Expr] = []
            for argument in arguments:
                point = self.point(argument)
                coordinates += [point.lon, point.lat]
        else:
            coordinates = [self.rewrite(a) for a in arguments]
        if len(coordinates) < 6 or len(coordinates) % 2:
            raise error_at(
                node, "POLYGON takes at least three vertices (POINTs or pairs of numbers)"
            )
        if any(constant_value(c) is None for c in coordinates):
            vertices = tuple(
                Point(lon, lat)
                for lon, lat in zip(coordinates[::2], coordinates[1::2], strict=True)
            )
            return ColumnPolygon(vertices)
        values = self.constants("POLYGON", coordinates)
        try:
            return Polygon(
                sphere.spherical_polygon(list(zip(values[::2], values[1::2], strict=True)))
            )
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


def polygon_centroid(shape: sphere.SphericalPolygon) -> tuple[float, float]:
    """The centroid (lon, lat): the direction of the polygon's centre of mass.

    The integral of the unit vector over a spherical polygon is half the sum, over its
    edges, of the edge's angle times the unit normal of its great circle.
    """
    x = y = z = 0.0
    vertices = shape.vertices
    for a, b in zip(vertices, vertices[1:] + vertices[:1], strict=True):
        normal = sphere.cross(a, b)
        length = math.sqrt(sphere.dot(normal, normal))
        if length == 0.0:
            continue
        weight = math.atan2(length, sphere.dot(a, b)) / length
        x, y, z = x + weight * normal[0], y + weight * normal[1], z + weight * normal[2]
    middle = sphere.normalized((x, y, z))
    if sum(sphere.dot(middle, v) for v in vertices) < 0:  # the normals' orientation
        middle = (-middle[0], -middle[1], -middle[2])
    return sphere.lonlat(middle)
