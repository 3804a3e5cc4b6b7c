"""ADQL 2.1 geometry beyond a point in a region: region pairs, REGION, CENTROID, IN_UNIT,
polygons from columns and geometry passed through subqueries, on the real Hipparcos rows.

Expected answers come from numpy (adql_support's ray casting and arm coordinates, and
here the distance from a circle's centre to a polygon's boundary measured on densely
sampled edges), never from the SQL under test. Stars within a hair of a boundary, where
sampling and exact arithmetic may differ, are left out of the comparison.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsrf_uws.jdl.adql.catalog import Catalog
from wsrf_uws.jdl.adql.query import describe, translate

# The module's fixtures, shared: imported under their own names for pytest to find.
from adql_support import catalog as catalog
from adql_support import column, in_box, in_polygon, run, separation, vectors
from adql_support import hip as hip

#: A concave polygon (an arrow head) near (40, 10) and a convex one, both in degrees.
CONCAVE = [(36.0, 6.0), (44.0, 6.0), (40.0, 9.0), (44.0, 14.0), (36.0, 14.0)]
CONVEX = [(100.0, -30.0), (110.0, -30.0), (112.0, -22.0), (98.0, -20.0)]
RADIUS = 0.5
HAIR = 2e-3  # degrees: closer than this to a decision boundary is not compared


def polygon_sql(vertices: list[tuple[float, float]]) -> str:
    return "POLYGON(" + ", ".join(f"{lon}, {lat}" for lon, lat in vertices) + ")"


def boundary_distance(
    ra: np.ndarray, dec: np.ndarray, vertices: list[tuple[float, float]]
) -> np.ndarray:
    """Distance (degrees) from each position to the polygon's edges, sampled densely."""
    corners = vectors(np.array([v[0] for v in vertices]), np.array([v[1] for v in vertices]))
    samples = []
    for i in range(len(vertices)):
        a, b = corners[i], corners[(i + 1) % len(vertices)]
        angle = math.acos(float(np.clip(a @ b, -1, 1)))
        t = np.linspace(0.0, 1.0, 4000)[:, None]
        # Spherical interpolation along the great circle from a to b.
        points = (np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / math.sin(angle)
        samples.append(points)
    boundary = np.concatenate(samples)
    stars = vectors(ra, dec)
    nearest = np.full(len(ra), 180.0)
    for start in range(0, len(boundary), 2000):
        chunk = boundary[start : start + 2000]
        nearest = np.minimum(nearest, np.degrees(np.arccos(np.clip(stars @ chunk.T, -1, 1))).min(1))
    return nearest


def near_region(hip: dict[str, np.ndarray], vertices: list[tuple[float, float]]) -> np.ndarray:
    lon = np.array([v[0] for v in vertices])
    lat = np.array([v[1] for v in vertices])
    return (
        (hip["dec"] > lat.min() - 2)
        & (hip["dec"] < lat.max() + 2)
        & (hip["ra"] > lon.min() - 3)
        & (hip["ra"] < lon.max() + 3)
    )


def selected_hips(catalog: Catalog, condition: str) -> set[int]:
    result = run(catalog, f"SELECT hip FROM hipparcos.main WHERE {condition}")
    return {int(h) for h in column(result, "hip")}


@pytest.mark.parametrize("vertices", [CONCAVE, CONVEX], ids=["concave", "convex"])
def test_circles_from_columns_against_a_polygon(
    catalog: Catalog, hip: dict[str, np.ndarray], vertices: list[tuple[float, float]]
) -> None:
    polygon = polygon_sql(vertices)
    circle = f"CIRCLE(ra, dec, {RADIUS})"
    inside = selected_hips(catalog, f"1 = CONTAINS({circle}, {polygon})")
    meets = selected_hips(catalog, f"1 = INTERSECTS({polygon}, {circle})")
    holds = selected_hips(catalog, f"1 = CONTAINS({polygon}, CIRCLE(ra, dec, 8))")

    near = near_region(hip, vertices)
    ra, dec, ids = hip["ra"][near], hip["dec"][near], hip["hip"][near]
    centre_in = in_polygon(ra, dec, vertices)
    edge = boundary_distance(ra, dec, vertices)
    clear = np.abs(edge - RADIUS) > HAIR
    expected_inside = centre_in & (edge >= RADIUS)
    expected_meets = centre_in | (edge <= RADIUS)
    to_vertices = np.stack([separation(ra, dec, lon, lat) for lon, lat in vertices])
    expected_holds = (to_vertices <= 8).all(axis=0)
    assert {int(h) for h in ids[expected_inside & clear]} <= inside
    assert not (inside & {int(h) for h in ids[~expected_inside & clear]})
    assert {int(h) for h in ids[expected_meets & clear]} <= meets
    assert not (meets & {int(h) for h in ids[~expected_meets & clear]})
    assert holds == {int(h) for h in ids[expected_holds]}
    assert len(inside) > 3 and len(meets) > len(inside) and holds


def test_constant_regions_are_decided_when_translated(catalog: Catalog) -> None:
    result = run(
        catalog,
        "SELECT TOP 1 "
        "CONTAINS(BOX(10, 10, 2, 2), BOX(10, 10, 4, 4)) AS box_in_box, "
        "CONTAINS(BOX(10, 10, 4, 4), BOX(10, 10, 2, 2)) AS big_in_small, "
        "INTERSECTS(BOX(10, 10, 2, 2), POLYGON(10.5, 10.5, 13, 10.5, 13, 13)) AS overlap, "
        "INTERSECTS(BOX(10, 10, 2, 2), POLYGON(20, 20, 22, 20, 22, 22)) AS apart, "
        f"CONTAINS(CIRCLE(40, 12, 1), {polygon_sql(CONCAVE)}) AS circle_in_arrow, "
        f"CONTAINS(CIRCLE(40, 8.5, 1), {polygon_sql(CONCAVE)}) AS circle_over_notch, "
        f"INTERSECTS(CIRCLE(40, 4.5, 1), {polygon_sql(CONCAVE)}) AS circle_below, "
        f"CONTAINS({polygon_sql(CONCAVE)}, CIRCLE(40, 10, 6)) AS arrow_in_circle, "
        "CONTAINS(POLYGON(43, 6.5, 43, 13.5, 37, 10), "
        f"{polygon_sql(CONCAVE)}) AS across_the_notch, "
        "CONTAINS(POINT(1, 2), POINT(1, 2)) AS same_point, "
        "INTERSECTS(POINT(1, 2), POINT(1, 3)) AS other_point, "
        "CONTAINS(CIRCLE(1, 2, 1), POINT(1, 2)) AS circle_in_point "
        "FROM hipparcos.main",
    )
    assert result.to_pylist() == [
        {
            "box_in_box": 1,
            "big_in_small": 0,
            "overlap": 1,
            "apart": 0,
            "circle_in_arrow": 1,
            "circle_over_notch": 0,
            "circle_below": 0,
            "arrow_in_circle": 1,
            "across_the_notch": 0,
            "same_point": 1,
            "other_point": 0,
            "circle_in_point": 0,
        }
    ]


def test_region_strings(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    assert selected_hips(
        catalog, "1 = CONTAINS(POINT(ra, dec), REGION('Circle ICRS 10 20 3'))"
    ) == {int(h) for h in hip["hip"][separation(hip["ra"], hip["dec"], 10, 20) <= 3]}
    assert selected_hips(
        catalog, "1 = CONTAINS(POINT(ra, dec), REGION('box icrs BARYCENTER 150 -35 4 3'))"
    ) == {int(h) for h in hip["hip"][in_box(hip["ra"], hip["dec"], 150, -35, 4, 3)]}
    text = " ".join(f"{lon} {lat}" for lon, lat in CONCAVE)
    assert selected_hips(catalog, f"1 = CONTAINS(POINT(ra, dec), REGION('Polygon {text}'))") == {
        int(h) for h in hip["hip"][in_polygon(hip["ra"], hip["dec"], CONCAVE)]
    }
    translated = translate(
        "SELECT TOP 1 REGION('Position ICRS 1.5 -2') AS p, REGION('Circle 1 2 3') AS c "
        "FROM hipparcos.main",
        metadata=catalog.metadata,
        maxrec=None,
    )
    columns = describe(catalog, translated)
    assert [(c.xtype, c.arraysize) for c in columns] == [("point", "2"), ("circle", "3")]
    result = run(catalog, translated.adql)
    assert result.to_pylist() == [{"p": [1.5, -2.0], "c": [1.0, 2.0, 3.0]}]


def test_centroid(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT TOP 1 COORD1(CENTROID(BOX(30, 0, 4, 2))) AS box_lon, "
        "COORD2(CENTROID(BOX(30, 0, 4, 2))) AS box_lat, "
        "CENTROID(POLYGON(0, 0, 20, 0, 10, 30)) AS triangle, "
        "CENTROID(CIRCLE(ra, dec, 1)) AS centre, ra, dec "
        "FROM hipparcos.main ORDER BY hip",
    )
    row = result.to_pylist()[0]
    assert row["box_lon"] == pytest.approx(30.0, abs=1e-9)
    assert row["box_lat"] == pytest.approx(0.0, abs=1e-9)
    assert row["centre"] == [row["ra"], row["dec"]]
    # The centroid of the spherical triangle: its centre of mass, by Monte Carlo here.
    rng = np.random.default_rng(3)
    lon = rng.uniform(0, 20, 400_000)
    lat = np.degrees(np.arcsin(rng.uniform(0, math.sin(math.radians(30)), 400_000)))
    inside = in_polygon(lon, lat, [(0, 0), (20, 0), (10, 30)])
    mean = vectors(lon[inside], lat[inside]).mean(axis=0)
    expected = (
        math.degrees(math.atan2(mean[1], mean[0])),
        math.degrees(math.asin(mean[2] / np.linalg.norm(mean))),
    )
    assert row["triangle"] == pytest.approx(list(expected), abs=0.05)


def test_in_unit(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    translated = translate(
        "SELECT TOP 5 hip, IN_UNIT(ra, 'arcsec') AS ra_as, IN_UNIT(pmra, 'deg/yr') AS pm, "
        "IN_UNIT(IN_UNIT(plx, 'arcsec'), 'mas') AS back FROM hipparcos.main ORDER BY hip",
        metadata=catalog.metadata,
        maxrec=None,
    )
    columns = describe(catalog, translated)
    assert [(c.unit, c.ucd) for c in columns[1:]] == [
        ("arcsec", "pos.eq.ra;meta.main"),
        ("deg/yr", "pos.pm;pos.eq.ra"),
        ("mas", None),
    ]
    result = run(catalog, translated.adql)
    order = np.argsort(hip["hip"])[:5]
    assert column(result, "ra_as") == pytest.approx(hip["ra"][order] * 3600.0, rel=1e-12)
    assert column(result, "pm") == pytest.approx(hip["pmra"][order] / 3.6e6, rel=1e-12)
    assert column(result, "back") == pytest.approx(hip["plx"][order], rel=1e-12)


def test_polygons_from_columns(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    # Each star's own arrow-head polygon; which of them hold the point (10, 20)?
    corners = "ra - 1, dec - 1, ra + 1, dec - 1, ra, dec, ra + 1, dec + 1, ra - 1, dec + 1"
    result = run(
        catalog,
        f"SELECT hip, POLYGON({corners}) AS shape FROM hipparcos.main "
        f"WHERE 1 = CONTAINS(POINT(10, 20), POLYGON({corners}))",
    )
    got = {int(h) for h in column(result, "hip")}
    near = (np.abs(hip["dec"] - 20) < 1.5) & (np.abs(hip["ra"] - 10) < 2)
    expected = set()
    for ra, dec, number in zip(hip["ra"][near], hip["dec"][near], hip["hip"][near], strict=True):
        vertices = [
            (ra - 1, dec - 1),
            (ra + 1, dec - 1),
            (ra, dec),
            (ra + 1, dec + 1),
            (ra - 1, dec + 1),
        ]
        if in_polygon(np.array([10.0]), np.array([20.0]), vertices)[0]:
            expected.add(int(number))
    assert got == expected
    assert len(expected) > 3
    shape = result.column("shape").to_pylist()[0]
    assert len(shape) == 10


def test_geometry_through_subqueries_and_with_queries(
    catalog: Catalog, hip: dict[str, np.ndarray]
) -> None:
    result = run(
        catalog,
        "WITH bright AS (SELECT hip, POINT(ra, dec) AS p, CIRCLE(ra, dec, 3) AS zone "
        "FROM hipparcos.main WHERE hpmag < 6) "
        "SELECT b.hip, COORD1(b.p) AS lon, DISTANCE(b.p, POINT(10, 20)) AS d FROM bright AS b "
        "WHERE 1 = CONTAINS(b.p, CIRCLE(10, 20, 15)) AND 1 = CONTAINS(POINT(10, 20), b.zone)",
    )
    bright = hip["hpmag"] < 6
    distance = separation(hip["ra"], hip["dec"], 10, 20)
    expected = bright & (distance <= 3)
    assert {int(h) for h in column(result, "hip")} == {int(h) for h in hip["hip"][expected]}
    by_hip = dict(zip(hip["hip"].tolist(), zip(hip["ra"], distance, strict=True), strict=True))
    for number, lon, d in zip(
        column(result, "hip"), column(result, "lon"), column(result, "d"), strict=True
    ):
        assert lon == pytest.approx(by_hip[number][0])
        assert d == pytest.approx(by_hip[number][1], abs=1e-9)
    nested = run(
        catalog,
        "SELECT COUNT(*) AS n FROM (SELECT POINT(ra, dec) AS p FROM hipparcos.main) AS s "
        "WHERE 1 = INTERSECTS(s.p, BOX(150, -35, 4, 3))",
    )
    assert column(nested, "n") == [int(in_box(hip["ra"], hip["dec"], 150, -35, 4, 3).sum())]


@pytest.mark.parametrize(
    "condition",
    [
        "DISTANCE(POINT(ra, dec), POINT(101.287155, -16.716116)) < 3",
        "3 >= DISTANCE(101.287155, -16.716116, ra, dec)",
    ],
)
def test_a_distance_bound_is_a_cone_on_the_index(
    catalog: Catalog, hip: dict[str, np.ndarray], condition: str
) -> None:
    adql = f"SELECT hip FROM hipparcos.main WHERE {condition}"
    sql = translate(adql, metadata=catalog.metadata, maxrec=None).sql
    assert '"hpx" BETWEEN' in sql
    assert "ASIN" not in sql
    expected = separation(hip["ra"], hip["dec"], 101.287155, -16.716116) < 3
    assert selected_hips(catalog, condition) == {int(h) for h in hip["hip"][expected]}
