"""Regions known only per row: POLYGONs with vertices from columns and BOXes centred on
columns, against circles and polygons, and their AREA and CENTROID, on Hipparcos rows.

Each star near (40, 10) gets polygons of its own (offsets from its position). Expected
answers come from numpy with methods of their own: region boundaries sampled densely
along their great-circle arcs and tested by ray casting in the gnomonic projection
(adql_support.in_polygon), BOX membership by arm coordinates, areas by Girard's theorem
or Monte Carlo, centroids by Monte Carlo. Rows whose boundaries come within a hair of a
decision without crossing are left out of the comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from wsrf_uws.jdl.adql.catalog import Catalog
from wsrf_uws.jdl.adql.errors import AdqlError

from adql_support import catalog as catalog
from adql_support import column, in_box, in_polygon, run, vectors
from adql_support import hip as hip

#: A concave polygon (an arrow head) near (40, 10), in degrees.
CONCAVE = [(36.0, 6.0), (44.0, 6.0), (40.0, 9.0), (44.0, 14.0), (36.0, 14.0)]
#: A triangle around each star: offsets (degrees) from its position, times a scale.
TRIANGLE = [(-0.3, -0.2), (0.4, -0.25), (0.05, 0.35)]
#: An arrow head around each star (concave), offsets as above.
ARROW = [(-0.4, -0.4), (0.4, -0.4), (0.0, -0.1), (0.4, 0.4), (-0.4, 0.4)]
STEP = 1e-3  # degrees between boundary samples (times the scale of large polygons)
FIELD = "ra BETWEEN 33 AND 47 AND dec BETWEEN 3 AND 17"


@pytest.fixture(scope="module")
def field(hip: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    chosen = (hip["ra"] > 33) & (hip["ra"] < 47) & (hip["dec"] > 3) & (hip["dec"] < 17)
    return {key: hip[key][chosen] for key in ("hip", "ra", "dec", "hpmag")}


def corners_sql(offsets: list[tuple[float, float]], scale: float) -> str:
    return ", ".join(f"ra + {dx * scale!r}, dec + {dy * scale!r}" for dx, dy in offsets)


def corners(
    ra: float, dec: float, offsets: list[tuple[float, float]], scale: float
) -> list[tuple[float, float]]:
    return [(ra + dx * scale, dec + dy * scale) for dx, dy in offsets]


def sampled(vertices: list[tuple[float, float]], step: float = STEP) -> np.ndarray:
    """Points (n, 3) along the polygon's edges, at most ``step`` degrees apart."""
    ends = vectors(np.array([v[0] for v in vertices]), np.array([v[1] for v in vertices]))
    pieces = []
    for i in range(len(vertices)):
        a, b = ends[i], ends[(i + 1) % len(vertices)]
        angle = math.acos(float(np.clip(a @ b, -1, 1)))
        t = np.linspace(0.0, 1.0, int(math.degrees(angle) / step) + 2)[:, None]
        pieces.append((np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / math.sin(angle))
    return np.concatenate(pieces)


def lonlat(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.degrees(np.arctan2(points[:, 1], points[:, 0])) % 360.0
    return lon, np.degrees(np.arcsin(np.clip(points[:, 2], -1, 1)))


def gap(points: np.ndarray, other: np.ndarray, *, within: float = 180.0) -> float:
    """The smallest angle (degrees) between two sets of unit vectors, or ``within`` if
    they come no closer than that."""
    middle = points.mean(axis=0)
    middle /= np.linalg.norm(middle)
    reach = math.acos(min(1.0, float((points @ middle).min())))
    # Only the other points near the first set's cap can be closer than ``within``.
    other = other[other @ middle >= math.cos(min(math.pi, reach + math.radians(within)))]
    closest = -1.0
    for start in range(0, len(other), 4000):
        closest = max(closest, float((points @ other[start : start + 4000].T).max()))
    return min(within, math.degrees(math.acos(min(1.0, closest))))


def relation(
    first: list[tuple[float, float]], second: list[tuple[float, float]], step: float = STEP
) -> tuple[bool, bool, bool] | None:
    """(first meets second, first inside second, second inside first) from sampled
    boundaries; None when the boundaries nearly touch without crossing."""
    edge_a, edge_b = sampled(first, step), sampled(second, step)
    a_in_b = in_polygon(*lonlat(edge_a), second)
    # Only the points of the second boundary within the first's cap can be inside it.
    middle = edge_a.mean(axis=0) / np.linalg.norm(edge_a.mean(axis=0))
    reach = math.acos(min(1.0, float((edge_a @ middle).min())))
    near_b = edge_b[edge_b @ middle >= math.cos(reach + math.radians(step))]
    b_in_a = np.concatenate(
        [in_polygon(*lonlat(near_b), first), np.zeros(len(edge_b) - len(near_b), dtype=bool)]
    )
    if a_in_b.all() != a_in_b.any() or b_in_a.all() != b_in_a.any():
        return True, False, False  # the boundaries cross
    if gap(edge_a, edge_b, within=3 * step) < 3 * step:
        return None
    return bool(a_in_b.any() or b_in_a.any()), bool(a_in_b.all()), bool(b_in_a.all())


def hips(catalog: Catalog, condition: str) -> set[int]:
    result = run(catalog, f"SELECT hip FROM hipparcos.main WHERE {FIELD} AND {condition}")
    return {int(h) for h in column(result, "hip")}


def check(got: set[int], expected: dict[int, bool | None]) -> None:
    assert {h for h, yes in expected.items() if yes} <= got
    assert not got & {h for h, yes in expected.items() if yes is False}


def polygon_sql(vertices: list[tuple[float, float]]) -> str:
    return "POLYGON(" + ", ".join(f"{lon}, {lat}" for lon, lat in vertices) + ")"


@pytest.mark.parametrize("scale", [1.0, 40.0], ids=["small", "large"])
def test_column_polygons_against_a_constant_polygon(
    catalog: Catalog, field: dict[str, np.ndarray], scale: float
) -> None:
    own = f"POLYGON({corners_sql(TRIANGLE, scale)})"
    arrow = polygon_sql(CONCAVE)
    meets = hips(catalog, f"1 = INTERSECTS({own}, {arrow})")
    holds_arrow = hips(catalog, f"1 = CONTAINS({own}, {arrow})")
    inside = hips(catalog, f"CONTAINS({arrow}, {own}) = 1")
    expected = {
        int(h): relation(corners(ra, dec, TRIANGLE, scale), CONCAVE, STEP * max(1.0, scale / 4))
        for h, ra, dec in zip(field["hip"], field["ra"], field["dec"], strict=True)
    }
    check(meets, {h: r and r[0] for h, r in expected.items()})
    check(inside, {h: r and r[1] for h, r in expected.items()})
    check(holds_arrow, {h: r and r[2] for h, r in expected.items()})
    if scale == 1.0:
        assert len(meets) > len(inside) > 10 and not holds_arrow
    else:
        assert len(meets) > len(holds_arrow) > 3 and not inside


def test_column_polygons_against_column_boxes(
    catalog: Catalog, field: dict[str, np.ndarray]
) -> None:
    # Each star's arrow head against a box shifted along it, by the star's number.
    own = f"POLYGON({corners_sql(ARROW, 1.0)})"
    box = "BOX(ra - 0.6 + MOD(hip, 9) * 0.15, dec + 0.05, 0.3, 0.1)"
    meets = hips(catalog, f"1 = INTERSECTS({box}, {own})")
    inside = hips(catalog, f"1 = CONTAINS({own}, {box})")
    expected: dict[int, tuple[bool, bool, bool] | None] = {}
    for h, ra, dec in zip(field["hip"], field["ra"], field["dec"], strict=True):
        lon, lat = ra - 0.6 + (h % 9) * 0.15, dec + 0.05
        box_corners = _box_corners(lon, lat, 0.3, 0.1)
        expected[int(h)] = relation(box_corners, corners(ra, dec, ARROW, 1.0))
    check(meets, {h: r and r[0] for h, r in expected.items()})
    check(inside, {h: r and r[1] for h, r in expected.items()})
    assert len(meets) > len(inside) > 3
    assert len(meets) < len(expected) - 3


def _box_corners(lon: float, lat: float, width: float, height: float) -> list[tuple[float, float]]:
    """A BOX's corners from adql_support.in_box's arm coordinates: the directions p
    with atan2(p.e, p.c) = ±width/2 and atan2(p.n, p.c) = ±height/2."""
    centre = vectors(np.array([lon]), np.array([lat]))[0]
    east = np.array([-math.sin(math.radians(lon)), math.cos(math.radians(lon)), 0.0])
    north = np.cross(centre, east)
    tan_w, tan_h = math.tan(math.radians(width / 2)), math.tan(math.radians(height / 2))
    found = []
    for sign_e, sign_n in ((1, 1), (-1, 1), (-1, -1), (1, -1)):
        corner = centre + sign_e * tan_w * east + sign_n * tan_h * north
        lon_c, lat_c = lonlat((corner / np.linalg.norm(corner))[None])
        found.append((float(lon_c[0]), float(lat_c[0])))
    ends = vectors(np.array([f[0] for f in found]), np.array([f[1] for f in found]))
    for towards, expected in ((1e-3, True), (-1e-3, False)):
        nudged = ends * (1 - towards) + centre * towards
        nudged /= np.linalg.norm(nudged, axis=1)[:, None]
        assert (in_box(*lonlat(nudged), lon, lat, width, height) == expected).all()
    return found


def test_circles_against_column_polygons(catalog: Catalog, field: dict[str, np.ndarray]) -> None:
    own = f"POLYGON({corners_sql(TRIANGLE, 1.0)})"
    meets = hips(catalog, f"1 = INTERSECTS(CIRCLE(40, 10, 1.5), {own})")
    holds = hips(catalog, f"1 = CONTAINS({own}, CIRCLE(40, 10, 1.5))")
    within = hips(catalog, f"1 = CONTAINS(CIRCLE(40, 10, 2), {own})")
    # A circle from columns (radius from the magnitude) inside the star's own triangle.
    centre_in = hips(catalog, f"1 = CONTAINS({own}, CIRCLE(ra, dec, hpmag / 60))")
    centre = vectors(np.array([40.0]), np.array([10.0]))
    expected_meets: dict[int, bool | None] = {}
    expected_within: dict[int, bool | None] = {}
    expected_own: dict[int, bool | None] = {}
    for h, ra, dec, mag in zip(
        field["hip"], field["ra"], field["dec"], field["hpmag"], strict=True
    ):
        vertices = corners(ra, dec, TRIANGLE, 1.0)
        edge = sampled(vertices)
        far = math.degrees(math.acos(float(np.clip(edge @ centre[0], -1, 1).min())))
        near = gap(edge, centre)
        inside = bool(in_polygon(np.array([40.0]), np.array([10.0]), vertices)[0])
        expected_meets[int(h)] = None if abs(near - 1.5) < (3 * STEP) else inside or near <= 1.5
        expected_within[int(h)] = None if abs(far - 2) < (3 * STEP) else far <= 2
        star = vectors(np.array([ra]), np.array([dec]))
        margin = gap(edge, star)
        expected_own[int(h)] = None if abs(margin - mag / 60) < (3 * STEP) else margin >= mag / 60
    check(meets, expected_meets)
    assert not holds  # a triangle under a degree across holds no circle of 1.5°
    check(within, expected_within)
    check(centre_in, expected_own)
    assert len(meets) > 3 and len(within) > 3
    assert 3 < len(centre_in) < len(field["hip"]) - 3


def test_points_in_boxes_from_columns(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    near = (np.abs(hip["dec"] - 20) < 1.5) & (np.abs(hip["ra"] - 10) < 2)
    result = run(
        catalog,
        "SELECT hip, ra, dec, BOX(ra, dec, 2, 1.5) AS shape FROM hipparcos.main "
        "WHERE 1 = CONTAINS(POINT(10, 20), BOX(ra, dec, 2, 1.5))",
    )
    expected = {
        int(h)
        for h, ra, dec in zip(hip["hip"][near], hip["ra"][near], hip["dec"][near], strict=True)
        if in_box(np.array([10.0]), np.array([20.0]), ra, dec, 2, 1.5)[0]
    }
    assert {int(h) for h in column(result, "hip")} == expected
    assert len(expected) > 3
    row = result.to_pylist()[0]
    got = vectors(np.array(row["shape"][0::2]), np.array(row["shape"][1::2]))
    truth = _box_corners(row["ra"], row["dec"], 2, 1.5)
    want = vectors(np.array([c[0] for c in truth]), np.array([c[1] for c in truth]))
    # The same four corners, in either order around the box.
    assert np.degrees(np.arccos(np.clip(got @ want.T, -1, 1))).min(axis=1) == pytest.approx(
        [0.0] * 4, abs=1e-5
    )
    assert all(0.0 <= lon < 360.0 for lon in row["shape"][0::2])


def _girard(vertices: list[tuple[float, float]]) -> float:
    """A convex polygon's area (square degrees): its angle sum minus (n - 2) pi."""
    corner = vectors(np.array([v[0] for v in vertices]), np.array([v[1] for v in vertices]))
    total = 0.0
    for i in range(len(corner)):
        here, before, after = corner[i], corner[i - 1], corner[(i + 1) % len(corner)]
        to_before = before - (here @ before) * here
        to_after = after - (here @ after) * here
        cosine = to_before @ to_after / np.linalg.norm(to_before) / np.linalg.norm(to_after)
        total += math.acos(float(np.clip(cosine, -1, 1)))
    return (total - (len(corner) - 2) * math.pi) * (180.0 / math.pi) ** 2


def _monte_carlo(
    inside: Callable[[np.ndarray, np.ndarray], np.ndarray], lon: float, lat: float, size: float
) -> tuple[float, np.ndarray]:
    """Area (square degrees) and mean direction of a region within ``size`` degrees of
    (lon, lat), from points drawn uniformly on the sphere."""
    rng = np.random.default_rng(11)
    count = 400_000
    low, high = math.radians(lat - size), math.radians(lat + size)
    lons = rng.uniform(lon - size * 2, lon + size * 2, count)
    lats = np.degrees(np.arcsin(rng.uniform(math.sin(low), math.sin(high), count)))
    hits = inside(lons, lats)
    box = math.radians(size * 4) * (math.sin(high) - math.sin(low)) * (180.0 / math.pi) ** 2
    mean = vectors(lons[hits], lats[hits]).mean(axis=0)
    return float(hits.mean() * box), mean / np.linalg.norm(mean)


def test_area_and_centroid_of_polygons_from_columns(catalog: Catalog) -> None:
    result = run(
        catalog,
        f"SELECT TOP 3 hip, ra, dec, AREA(POLYGON({corners_sql(TRIANGLE, 4.0)})) AS triangle, "
        f"AREA(POLYGON({corners_sql(ARROW, 2.0)})) AS arrow, "
        f"CENTROID(POLYGON({corners_sql(ARROW, 2.0)})) AS arrow_middle, "
        "AREA(BOX(ra, dec, 3, 1.5)) AS box, CENTROID(BOX(ra, dec, 3, 1.5)) AS box_middle "
        "FROM hipparcos.main WHERE dec BETWEEN 50 AND 60 OR hip < 3 ORDER BY hip",
    )
    rows = result.to_pylist()
    assert len(rows) == 3
    for row in rows:
        ra, dec = row["ra"], row["dec"]
        assert row["triangle"] == pytest.approx(_girard(corners(ra, dec, TRIANGLE, 4.0)), rel=1e-9)
        arrow = corners(ra, dec, ARROW, 2.0)
        area, middle = _monte_carlo(lambda x, y, arrow=arrow: in_polygon(x, y, arrow), ra, dec, 1.0)
        got = vectors(np.array(row["arrow_middle"][:1]), np.array(row["arrow_middle"][1:]))[0]
        assert row["arrow"] == pytest.approx(area, rel=0.01)
        assert math.degrees(math.acos(min(1.0, float(got @ middle)))) < 0.01
        area, middle = _monte_carlo(
            lambda x, y, ra=ra, dec=dec: in_box(x, y, ra, dec, 3, 1.5), ra, dec, 1.6
        )
        assert row["box"] == pytest.approx(area, rel=0.01)
        got = vectors(np.array(row["box_middle"][:1]), np.array(row["box_middle"][1:]))[0]
        assert (
            math.degrees(
                math.acos(min(1.0, float(got @ vectors(*map(np.array, ([ra], [dec])))[0])))
            )
            < 1e-5
        )


def test_polygons_and_boxes_through_subqueries_and_with_queries(
    catalog: Catalog, field: dict[str, np.ndarray]
) -> None:
    result = run(
        catalog,
        f"WITH shapes AS (SELECT hip, POLYGON({corners_sql(ARROW, 1.0)}) AS arrow, "
        "BOX(ra, dec, 0.6, 0.4) AS frame, "
        "POLYGON(POINT(39, 9), POINT(41, 9), POINT(40, 11)) AS fixed "
        f"FROM hipparcos.main WHERE {FIELD}) "
        "SELECT s.hip, AREA(s.arrow) AS area, CENTROID(s.frame) AS middle, "
        "CONTAINS(POINT(40, 10), s.frame) AS holds, "
        "INTERSECTS(s.arrow, CIRCLE(40, 10, 1)) AS meets, "
        "CONTAINS(s.fixed, CIRCLE(40, 10, 0.2)) AS fixed_holds "
        "FROM (SELECT * FROM shapes) AS s ORDER BY s.hip",
    )
    rows = {row["hip"]: row for row in result.to_pylist()}
    assert set(rows) == {int(h) for h in field["hip"]}
    centre = vectors(np.array([40.0]), np.array([10.0]))
    meets = 0
    for h, ra, dec in zip(field["hip"], field["ra"], field["dec"], strict=True):
        row = rows[int(h)]
        arrow = corners(ra, dec, ARROW, 1.0)
        assert row["area"] == pytest.approx(
            _girard([arrow[0], arrow[1], arrow[2]])
            + _girard([arrow[0], arrow[2], arrow[3], arrow[4]]),
            rel=1e-9,
        )
        assert row["middle"][0] == pytest.approx(ra, abs=1e-9)
        assert row["middle"][1] == pytest.approx(dec, abs=1e-9)
        assert row["holds"] == int(in_box(np.array([40.0]), np.array([10.0]), ra, dec, 0.6, 0.4)[0])
        edge = sampled(arrow)
        near = gap(edge, centre)
        inside = bool(in_polygon(np.array([40.0]), np.array([10.0]), arrow)[0])
        if abs(near - 1.0) > 3 * STEP:
            assert row["meets"] == int(inside or near <= 1.0)
        meets += row["meets"]
        assert row["fixed_holds"] == 1
    assert 3 < meets < len(rows) - 3


@pytest.mark.parametrize(
    ("adql", "reason"),
    [
        (
            "SELECT COUNT(*) AS n FROM (SELECT POLYGON(ra, dec, ra + 1, dec, ra, dec + 1) AS p "
            "FROM hipparcos.main UNION ALL SELECT POLYGON(ra, dec, ra + 1, dec, ra, dec + 1) "
            "AS p FROM hipparcos.main) AS u WHERE 1 = CONTAINS(POINT(1, 2), u.p)",
            "vertices are not known here",
        ),
        (
            "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(1, 2), BOX(ra, dec, 0, 1))",
            "BOX sides must be between 0 and 180",
        ),
        (
            "SELECT hip FROM hipparcos.main WHERE "
            "1 = CONTAINS(CIRCLE(1, 2, 120), POLYGON(ra, dec, ra + 1, dec, ra, dec + 1))",
            "radii up to 90",
        ),
    ],
    ids=["unknown-vertex-count", "box-side", "wide-circle"],
)
def test_what_is_still_refused(catalog: Catalog, adql: str, reason: str) -> None:
    with pytest.raises(AdqlError, match=reason):
        run(catalog, adql)


#: A triangle with every vertex inside ARROW whose right edge crosses the notch, and one
#: inside it entirely (offsets as for ARROW).
ACROSS_NOTCH = [(0.3, -0.37), (0.3, 0.35), (-0.2, 0.0)]
WITHIN_ARROW = [(-0.3, -0.35), (-0.1, -0.35), (-0.2, 0.3)]


def test_a_polygon_from_columns_whose_edge_leaves_a_concave_one(
    catalog: Catalog, field: dict[str, np.ndarray]
) -> None:
    arrow = f"POLYGON({corners_sql(ARROW, 1.0)})"
    result = run(
        catalog,
        f"SELECT hip, CONTAINS({arrow}, POLYGON({corners_sql(ACROSS_NOTCH, 1.0)})) AS across, "
        f"CONTAINS({arrow}, POLYGON({corners_sql(WITHIN_ARROW, 1.0)})) AS within, "
        f"INTERSECTS(POLYGON({corners_sql(ACROSS_NOTCH, 1.0)}), {arrow}) AS meets "
        f"FROM hipparcos.main WHERE {FIELD}",
    )
    rows = {row["hip"]: row for row in result.to_pylist()}
    for h, ra, dec in zip(field["hip"][:40], field["ra"][:40], field["dec"][:40], strict=True):
        outer = corners(ra, dec, ARROW, 1.0)
        across = relation(corners(ra, dec, ACROSS_NOTCH, 1.0), outer)
        within = relation(corners(ra, dec, WITHIN_ARROW, 1.0), outer)
        assert across == (True, False, False)
        assert within == (True, True, False)
        assert (rows[int(h)]["across"], rows[int(h)]["within"], rows[int(h)]["meets"]) == (0, 1, 1)
