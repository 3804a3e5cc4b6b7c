"""ADQL queries on the real Hipparcos catalogue, each checked against an independent answer.

Expected answers come from numpy over the rows read out of the catalogue (adql_support),
never from running the SQL under test. Refused queries are checked for their line,
column and reason.
"""

from __future__ import annotations

import math
import pickle
import threading
from collections import Counter

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot

from wsrf_uws.jdl.adql.catalog import Catalog
from wsrf_uws.jdl.adql.query import (
    AdqlError,
    ExecutionError,
    ExecutionInterrupted,
    QueryInterrupt,
    describe,
    execute,
    result_columns,
    translate,
)
from wsrf_uws.vo.columns import ColumnInfo

from adql_support import (
    SOURCES,
    column,
    in_box,
    in_polygon,
    run,
    separation,
)

# The module's fixtures, shared: imported under their own names for pytest to find.
from adql_support import catalog as catalog
from adql_support import hip as hip
from adql_support import sources as sources


def ids(result: pa.Table, name: str = "hip") -> set[int]:
    return {int(v) for v in column(result, name)}


# -- selection, ordering, paging -----------------------------------------------------------


def test_top_with_order_by(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(catalog, "SELECT TOP 7 hip, hpmag FROM hipparcos.main ORDER BY hpmag, hip")
    order = np.lexsort((hip["hip"], hip["hpmag"]))[:7]
    assert column(result, "hip") == hip["hip"][order].tolist()


def test_order_by_descending(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(catalog, "SELECT TOP 5 hip FROM hipparcos.main ORDER BY plx DESC, hip")
    order = np.lexsort((hip["hip"], -hip["plx"]))[:5]
    assert column(result, "hip") == hip["hip"][order].tolist()


def test_offset_pages_through_the_order(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(catalog, "SELECT TOP 5 hip FROM hipparcos.main ORDER BY hip OFFSET 100")
    assert column(result, "hip") == np.sort(hip["hip"])[100:105].tolist()


def test_where_with_and_or(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT hip FROM hipparcos.main WHERE (hpmag < 4 AND plx > 50) OR (nc = 2 AND hpmag < 3)",
    )
    mask = ((hip["hpmag"] < 4) & (hip["plx"] > 50)) | ((hip["nc"] == 2) & (hip["hpmag"] < 3))
    assert ids(result) == set(hip["hip"][mask].tolist())
    assert mask.sum() > 5


def test_between_and_not_between(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    inside = run(catalog, "SELECT COUNT(*) AS n FROM hipparcos.main WHERE b_v BETWEEN 0.5 AND 0.6")
    outside = run(
        catalog, "SELECT COUNT(*) AS n FROM hipparcos.main WHERE b_v NOT BETWEEN 0.5 AND 0.6"
    )
    expected = int(((hip["b_v"] >= 0.5) & (hip["b_v"] <= 0.6)).sum())
    assert column(inside, "n") == [expected]
    assert column(outside, "n") == [len(hip["hip"]) - expected]


def test_in_list_with_comments(catalog: Catalog) -> None:
    result = run(
        catalog,
        "SELECT hip -- the identifier\nFROM hipparcos.main\n"
        "WHERE hip IN (32349, 30438, 91262, 7) -- four stars",
    )
    assert ids(result) == {32349, 30438, 91262, 7}


def test_distinct(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(catalog, "SELECT DISTINCT va FROM hipparcos.main ORDER BY va")
    assert column(result, "va") == sorted(set(hip["va"].tolist()))


def test_is_null_and_coalesce(catalog: Catalog, sources: dict[str, np.ndarray]) -> None:
    result = run(catalog, "SELECT id FROM test.sources WHERE flux IS NULL ORDER BY id")
    missing = [int(i) for i, f in zip(sources["id"], sources["flux"], strict=True) if f is None]
    assert column(result, "id") == sorted(missing)
    filled = run(catalog, "SELECT SUM(COALESCE(flux, -1)) AS s FROM test.sources")
    total = sum(f if f is not None else -1.0 for f in sources["flux"])
    assert column(filled, "s")[0] == pytest.approx(total)


# -- aggregates, grouping, subqueries, set operations ----------------------------------------


def test_aggregates(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT COUNT(*) AS n, SUM(hip) AS total, AVG(hpmag) AS mean, MIN(plx) AS low, "
        "MAX(plx) AS high FROM hipparcos.main WHERE dec > 60",
    )
    mask = hip["dec"] > 60
    row = result.to_pylist()[0]
    assert row["n"] == int(mask.sum())
    assert row["total"] == int(hip["hip"][mask].astype(np.int64).sum())
    assert row["mean"] == pytest.approx(float(hip["hpmag"][mask].mean()))
    assert (row["low"], row["high"]) == (hip["plx"][mask].min(), hip["plx"][mask].max())


def test_group_by_having(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT nc, COUNT(*) AS n FROM hipparcos.main GROUP BY nc HAVING COUNT(*) > 10 ORDER BY nc",
    )
    counts = Counter(hip["nc"].tolist())
    assert result.to_pylist() == [{"nc": k, "n": v} for k, v in sorted(counts.items()) if v > 10]


def test_count_distinct(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(catalog, "SELECT COUNT(DISTINCT sn) AS kinds FROM hipparcos.main")
    assert column(result, "kinds") == [len(set(hip["sn"].tolist()))]


def test_in_subquery(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT hip FROM hipparcos.main WHERE plx > 100 AND hip IN "
        "(SELECT hip FROM hipparcos.main WHERE hpmag < 3)",
    )
    mask = (hip["plx"] > 100) & (hip["hpmag"] < 3)
    assert ids(result) == set(hip["hip"][mask].tolist())


def test_correlated_exists(catalog: Catalog, sources: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT s.id FROM test.sources AS s WHERE EXISTS "
        "(SELECT 1 FROM hipparcos.main AS h WHERE h.hip = s.hip_ref)",
    )
    expected = {
        int(i)
        for i, ref in zip(sources["id"], sources["hip_ref"], strict=True)
        if ref is not None and ref < 999_000
    }
    assert ids(result, "id") == expected
    assert len(expected) == 40


def test_derived_table(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT t.sn, t.n FROM (SELECT sn, COUNT(*) AS n FROM hipparcos.main GROUP BY sn) AS t "
        "WHERE t.n >= 1000 ORDER BY t.sn",
    )
    counts = Counter(hip["sn"].tolist())
    assert result.to_pylist() == [{"sn": k, "n": v} for k, v in sorted(counts.items()) if v >= 1000]


def test_with_query(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "WITH near AS (SELECT hip, plx FROM hipparcos.main WHERE plx > 200) "
        "SELECT * FROM near ORDER BY plx DESC, hip",
    )
    order = np.lexsort((hip["hip"], -hip["plx"]))
    expected = hip["hip"][order][hip["plx"][order] > 200].tolist()
    assert column(result, "hip") == expected
    assert result.column_names == ["hip", "plx"]
    assert len(expected) > 10


def test_union_except_intersect(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    bright = set(hip["hip"][hip["hpmag"] < 2].tolist())
    near = set(hip["hip"][hip["plx"] > 150].tolist())
    base = "SELECT hip FROM hipparcos.main WHERE "
    union = run(catalog, f"{base}hpmag < 2 UNION {base}plx > 150")
    except_ = run(catalog, f"{base}hpmag < 2 EXCEPT {base}plx > 150")
    intersect = run(catalog, f"{base}hpmag < 2 INTERSECT {base}plx > 150")
    assert ids(union) == bright | near
    assert ids(except_) == bright - near
    assert ids(intersect) == bright & near
    assert bright & near and bright - near


def test_join_on_key(
    catalog: Catalog, hip: dict[str, np.ndarray], sources: dict[str, np.ndarray]
) -> None:
    result = run(
        catalog,
        "SELECT s.id, h.hip, h.hpmag FROM test.sources AS s "
        "JOIN hipparcos.main AS h ON h.hip = s.hip_ref ORDER BY s.id",
    )
    magnitude = dict(zip(hip["hip"].tolist(), hip["hpmag"].tolist(), strict=True))
    expected = [
        {"id": int(i), "hip": int(ref), "hpmag": magnitude[int(ref)]}
        for i, ref in zip(sources["id"], sources["hip_ref"], strict=True)
        if ref is not None and int(ref) in magnitude
    ]
    assert result.to_pylist() == expected


def test_using_and_natural_joins_merge_the_common_column(catalog: Catalog) -> None:
    using = run(
        catalog,
        "SELECT * FROM test.sources AS a JOIN test.sources AS b USING (id) WHERE id = 3",
    )
    names = [c.name for c in SOURCES.columns]
    assert using.column_names == names + [f"{n}_2" for n in names if n != "id"]
    assert using.num_rows == 1
    natural = run(
        catalog,
        "SELECT id, name FROM test.sources NATURAL JOIN "
        "(SELECT id, name FROM test.sources WHERE kind = 1) AS k ORDER BY id",
    )
    assert column(natural, "id") == [i for i in range(1, 51) if (i - 1) % 3 == 1]


def test_left_join_keeps_unmatched_rows(catalog: Catalog) -> None:
    result = run(
        catalog,
        "SELECT s.id, h.hip FROM test.sources AS s LEFT OUTER JOIN hipparcos.main AS h "
        "ON h.hip = s.hip_ref WHERE h.hip IS NULL ORDER BY s.id",
    )
    assert column(result, "id") == list(range(41, 51))


def test_crossmatch_join(
    catalog: Catalog, hip: dict[str, np.ndarray], sources: dict[str, np.ndarray]
) -> None:
    radius = 5.0 / 3600
    result = run(
        catalog,
        "SELECT s.id, h.hip FROM test.sources AS s JOIN hipparcos.main AS h "
        f"ON 1 = CONTAINS(POINT('ICRS', h.ra, h.dec), CIRCLE('ICRS', s.ra, s.dec, {radius}))",
    )
    expected = set()
    for sid, ra, dec in zip(sources["id"], sources["ra"], sources["dec"], strict=True):
        near = separation(hip["ra"], hip["dec"], float(ra), float(dec)) <= radius
        expected |= {(int(sid), int(h)) for h in hip["hip"][near]}
    got = set(zip(column(result, "id"), column(result, "hip"), strict=True))
    assert got == expected
    assert len(expected) >= 40


# -- strings, CASE, functions ----------------------------------------------------------------


def test_like_and_ilike(catalog: Catalog, sources: dict[str, np.ndarray]) -> None:
    names = [str(n) for n in sources["name"]]
    like = run(catalog, "SELECT name FROM test.sources WHERE name LIKE 'src-01%'")
    ilike = run(catalog, "SELECT name FROM test.sources WHERE name ILIKE '%gamma%'")
    not_like = run(catalog, "SELECT COUNT(*) AS n FROM test.sources WHERE name NOT LIKE 'src%'")
    assert set(column(like, "name")) == {n for n in names if n.startswith("src-01")}
    assert set(column(ilike, "name")) == {n for n in names if "gamma" in n.lower()}
    assert column(not_like, "n") == [sum(not n.startswith("src") for n in names)]


def test_string_functions(catalog: Catalog, sources: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT LOWER(name) AS low, UPPER(name) || '/' || name AS both FROM test.sources "
        "WHERE id <= 5 ORDER BY id",
    )
    names = [str(n) for n in sources["name"][:5]]
    assert column(result, "low") == [n.lower() for n in names]
    assert column(result, "both") == [f"{n.upper()}/{n}" for n in names]


def test_case_expression(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT CASE WHEN hpmag < 6 THEN 'naked eye' WHEN hpmag < 9 THEN 'binocular' "
        "ELSE 'telescope' END AS class, COUNT(*) AS n FROM hipparcos.main GROUP BY 1 "
        "ORDER BY 1",
    )
    labels = np.where(
        hip["hpmag"] < 6, "naked eye", np.where(hip["hpmag"] < 9, "binocular", "telescope")
    )
    assert result.to_pylist() == [
        {"class": k, "n": v} for k, v in sorted(Counter(labels.tolist()).items())
    ]


def test_math_functions(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT ABS(pmde) AS a, CEILING(hpmag) AS c, FLOOR(hpmag) AS f, ROUND(plx, 1) AS r, "
        "TRUNCATE(plx) AS t, SQRT(plx) AS s, POWER(plx, 2) AS p, EXP(hpmag) AS e, "
        "LOG(plx) AS ln, LOG10(plx) AS lg, MOD(hip, 7) AS m, SIN(RADIANS(dec)) AS sn, "
        "ATAN2(dec, ra) AS at, DEGREES(PI()) AS half, COT(1.0) AS ct "
        "FROM hipparcos.main WHERE hip = 32349",
    )
    row = result.to_pylist()[0]
    where = hip["hip"] == 32349
    plx, mag, dec, ra = (float(hip[k][where][0]) for k in ("plx", "hpmag", "dec", "ra"))
    assert row["a"] == pytest.approx(abs(float(hip["pmde"][where][0])))
    assert (row["c"], row["f"]) == (math.ceil(mag), math.floor(mag))
    assert row["r"] == pytest.approx(round(plx, 1))
    assert row["t"] == pytest.approx(math.trunc(plx))
    assert row["s"] == pytest.approx(math.sqrt(plx))
    assert row["p"] == pytest.approx(plx**2)
    assert row["e"] == pytest.approx(math.exp(mag))
    assert row["ln"] == pytest.approx(math.log(plx))
    assert row["lg"] == pytest.approx(math.log10(plx))
    assert row["m"] == 32349 % 7
    assert row["sn"] == pytest.approx(math.sin(math.radians(dec)))
    assert row["at"] == pytest.approx(math.atan2(dec, ra))
    assert row["half"] == pytest.approx(180.0)
    assert row["ct"] == pytest.approx(1 / math.tan(1.0))


def test_integer_division_hex_and_bitwise(catalog: Catalog) -> None:
    result = run(
        catalog,
        "SELECT 7 / 2 AS i, 7.0 / 2 AS d, 0xFF AS h, 12 & 10 AS a, 12 | 3 AS o, 6 ^ 3 AS x, "
        "~5 AS n FROM hipparcos.main WHERE hip = 1",
    )
    assert result.to_pylist() == [
        {"i": 7 // 2, "d": 3.5, "h": 255, "a": 12 & 10, "o": 12 | 3, "x": 6 ^ 3, "n": ~5}
    ]


def test_quoted_identifiers(catalog: Catalog) -> None:
    result = run(catalog, 'SELECT "hip" AS "Star Id" FROM "hipparcos"."main" WHERE "hip" = 7')
    assert result.column_names == ["Star Id"]
    assert column(result, "Star Id") == [7]


def test_select_star_gives_every_column(catalog: Catalog) -> None:
    result = run(catalog, "SELECT * FROM hipparcos.main WHERE hip = 32349")
    assert result.column_names == catalog.metadata.tables["hipparcos.main"].column_names
    assert result.num_rows == 1


def test_tap_schema_is_queryable(catalog: Catalog) -> None:
    result = run(catalog, "SELECT table_name FROM tap_schema.tables ORDER BY table_name")
    assert set(column(result, "table_name")) == set(catalog.metadata.tables)


# -- geometry --------------------------------------------------------------------------------

CONES = [
    pytest.param(101.287, -16.716, 0.5, id="Sirius 0.5 deg"),
    pytest.param(101.2885, -16.7131, 0.05, id="small 0.05 deg"),
    pytest.param(83.8, -5.4, 3.0, id="Orion 3 deg"),
    pytest.param(0.0, 0.0, 2.5, id="across RA 0 at the equator"),
    pytest.param(359.7, 45.0, 1.5, id="across RA 0 at +45"),
    pytest.param(37.95, 89.26, 1.0, id="around Polaris, over the pole"),
    pytest.param(0.0, -90.0, 4.0, id="the south pole"),
    pytest.param(200.0, -30.0, 12.0, id="large 12 deg"),
]


@pytest.mark.parametrize(("ra0", "dec0", "radius"), CONES)
def test_cone_search_equals_brute_force(
    catalog: Catalog, hip: dict[str, np.ndarray], ra0: float, dec0: float, radius: float
) -> None:
    result = run(
        catalog,
        "SELECT hip FROM hipparcos.main WHERE "
        f"1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra0}, {dec0}, {radius}))",
    )
    expected = set(hip["hip"][separation(hip["ra"], hip["dec"], ra0, dec0) <= radius].tolist())
    assert ids(result) == expected
    assert expected  # every cone holds stars


@pytest.mark.parametrize(("ra0", "dec0", "radius"), CONES[4:7])
def test_cone_by_declination_band_equals_brute_force(
    catalog: Catalog, hip: dict[str, np.ndarray], ra0: float, dec0: float, radius: float
) -> None:
    # ra + 0 is not the indexed column: the rewrite falls back to a declination band.
    adql = (
        "SELECT hip FROM hipparcos.main WHERE "
        f"1 = CONTAINS(POINT(ra + 0, dec), CIRCLE({ra0}, {dec0}, {radius}))"
    )
    translated = translate(adql, metadata=catalog.metadata, maxrec=None)
    assert "hpx" not in translated.sql
    expected = set(hip["hip"][separation(hip["ra"], hip["dec"], ra0, dec0) <= radius].tolist())
    assert ids(execute(catalog, translated).read_all()) == expected


def test_polygon_by_declination_band_reaches_beyond_its_vertices(
    catalog: Catalog, hip: dict[str, np.ndarray]
) -> None:
    # The edge from (0, 10) to (100, 10) is a great circle: it bulges north to about 15
    # degrees, above every vertex, so the band must come from the edges.
    vertices = [(0.0, 10.0), (100.0, 10.0), (50.0, 0.0)]
    flat = ", ".join(f"{lon}, {lat}" for lon, lat in vertices)
    result = run(
        catalog,
        f"SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(ra + 0, dec), POLYGON({flat}))",
    )
    inside = in_polygon(hip["ra"], hip["dec"], vertices)
    assert ids(result) == set(hip["hip"][inside].tolist())
    assert (hip["dec"][inside] > 12).sum() > 10  # the bulge holds stars


def test_contains_forms_are_equivalent(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    region = "CIRCLE(120.5, 35.25, 2.0)"
    forms = [
        f"1 = CONTAINS(POINT(ra, dec), {region})",
        f"CONTAINS(POINT(ra, dec), {region}) = 1",
        "CONTAINS(POINT(ra, dec), CIRCLE(POINT(120.5, 35.25), 2.0)) = 1",
        f"INTERSECTS({region}, POINT(ra, dec)) = 1",
        f"CONTAINS(POINT(ra, dec), {region}) <> 0",
    ]
    expected = set(hip["hip"][separation(hip["ra"], hip["dec"], 120.5, 35.25) <= 2.0].tolist())
    for form in forms:
        assert ids(run(catalog, f"SELECT hip FROM hipparcos.main WHERE {form}")) == expected
    outside = run(
        catalog,
        f"SELECT COUNT(*) AS n FROM hipparcos.main WHERE 0 = CONTAINS(POINT(ra, dec), {region})",
    )
    assert column(outside, "n") == [len(hip["hip"]) - len(expected)]


def test_cone_on_a_table_without_healpix(catalog: Catalog, sources: dict[str, np.ndarray]) -> None:
    translated = translate(
        "SELECT id FROM test.sources WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(180, 0, 60))",
        metadata=catalog.metadata,
        maxrec=None,
    )
    assert "BETWEEN" in translated.sql and "hpx" not in translated.sql
    result = execute(catalog, translated).read_all()
    near = separation(sources["ra"].astype(float), sources["dec"].astype(float), 180, 0) <= 60
    assert ids(result, "id") == set(sources["id"][near].tolist())


BOXES = [
    pytest.param(45.0, 30.0, 6.0, 4.0, id="mid latitude"),
    pytest.param(0.5, -1.0, 5.0, 3.0, id="across RA 0"),
    pytest.param(150.0, 80.0, 10.0, 8.0, id="near the pole"),
]


@pytest.mark.parametrize(("ra0", "dec0", "width", "height"), BOXES)
def test_box_equals_brute_force(
    catalog: Catalog,
    hip: dict[str, np.ndarray],
    ra0: float,
    dec0: float,
    width: float,
    height: float,
) -> None:
    result = run(
        catalog,
        "SELECT hip FROM hipparcos.main WHERE "
        f"1 = CONTAINS(POINT('ICRS', ra, dec), BOX('ICRS', {ra0}, {dec0}, {width}, {height}))",
    )
    expected = set(hip["hip"][in_box(hip["ra"], hip["dec"], ra0, dec0, width, height)].tolist())
    assert ids(result) == expected
    assert len(expected) > 10


POLYGONS = [
    pytest.param([(10.0, 10.0), (20.0, 10.0), (15.0, 20.0)], id="triangle"),
    pytest.param([(350.0, -5.0), (8.0, -5.0), (8.0, 5.0), (350.0, 5.0)], id="across RA 0"),
    pytest.param(
        [(100.0, 10.0), (112.0, 10.0), (112.0, 22.0), (106.0, 14.0), (100.0, 22.0)],
        id="concave (a notch)",
    ),
    pytest.param([(200.0, -40.0), (200.0, -30.0), (215.0, -30.0), (215.0, -40.0)], id="clockwise"),
]


@pytest.mark.parametrize("vertices", POLYGONS)
def test_polygon_equals_brute_force(
    catalog: Catalog, hip: dict[str, np.ndarray], vertices: list[tuple[float, float]]
) -> None:
    flat = ", ".join(f"{lon}, {lat}" for lon, lat in vertices)
    result = run(
        catalog,
        f"SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(ra, dec), POLYGON({flat}))",
    )
    expected = set(hip["hip"][in_polygon(hip["ra"], hip["dec"], vertices)].tolist())
    assert ids(result) == expected
    assert len(expected) > 10


def test_polygon_of_points_equals_polygon_of_numbers(catalog: Catalog) -> None:
    numbers = run(
        catalog,
        "SELECT hip FROM hipparcos.main WHERE "
        "1 = CONTAINS(POINT(ra, dec), POLYGON(10, 10, 20, 10, 15, 20))",
    )
    points = run(
        catalog,
        "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(ra, dec), "
        "POLYGON('ICRS', POINT(10, 10), POINT(20, 10), POINT(15, 20)))",
    )
    assert ids(numbers) == ids(points) and numbers.num_rows > 0


def test_distance_and_order_by_distance(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT TOP 10 hip, DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', 279.23, 38.78)) AS d "
        "FROM hipparcos.main ORDER BY d",
    )
    distances = separation(hip["ra"], hip["dec"], 279.23, 38.78)
    order = np.argsort(distances)[:10]
    assert column(result, "hip") == hip["hip"][order].tolist()
    assert column(result, "d") == pytest.approx(distances[order].tolist(), abs=1e-9)
    four = run(
        catalog,
        "SELECT DISTANCE(ra, dec, 279.23, 38.78) AS d FROM hipparcos.main WHERE hip = 91262",
    )
    assert column(four, "d")[0] == pytest.approx(float(distances[hip["hip"] == 91262][0]), abs=1e-9)


def test_coord1_coord2_and_point_values(catalog: Catalog, hip: dict[str, np.ndarray]) -> None:
    result = run(
        catalog,
        "SELECT COORD1(POINT(ra, dec)) AS c1, COORD2(POINT(ra, dec)) AS c2, "
        "POINT('ICRS', ra, dec) AS pos, COORDSYS(POINT(ra, dec)) AS frame "
        "FROM hipparcos.main WHERE hip = 32349",
    )
    where = hip["hip"] == 32349
    ra, dec = float(hip["ra"][where][0]), float(hip["dec"][where][0])
    assert result.to_pylist() == [{"c1": ra, "c2": dec, "pos": [ra, dec], "frame": "ICRS"}]


def test_area(catalog: Catalog) -> None:
    result = run(
        catalog,
        "SELECT AREA(CIRCLE(0, 0, 10)) AS circle, AREA(POLYGON(0, 0, 90, 0, 0, 90)) AS octant "
        "FROM hipparcos.main WHERE hip = 1",
    )
    row = result.to_pylist()[0]
    square_degrees = (180 / math.pi) ** 2
    assert row["circle"] == pytest.approx(
        2 * math.pi * (1 - math.cos(math.radians(10))) * square_degrees
    )
    assert row["octant"] == pytest.approx(4 * math.pi / 8 * square_degrees)


def test_circles_intersect_and_contain(catalog: Catalog) -> None:
    result = run(
        catalog,
        "SELECT INTERSECTS(CIRCLE(0, 0, 1), CIRCLE(1.5, 0, 1)) AS meet, "
        "INTERSECTS(CIRCLE(0, 0, 1), CIRCLE(3, 0, 1)) AS apart, "
        "CONTAINS(CIRCLE(0.2, 0, 0.5), CIRCLE(0, 0, 1)) AS inside, "
        "CONTAINS(CIRCLE(0.8, 0, 0.5), CIRCLE(0, 0, 1)) AS across "
        "FROM hipparcos.main WHERE hip = 1",
    )
    assert result.to_pylist() == [{"meet": 1, "apart": 0, "inside": 1, "across": 0}]


# -- MAXREC ------------------------------------------------------------------------------


def test_maxrec_returns_one_row_more_to_flag_overflow(
    catalog: Catalog, hip: dict[str, np.ndarray]
) -> None:
    adql = "SELECT hip FROM hipparcos.main WHERE hpmag < 3 ORDER BY hip"
    expected = np.sort(hip["hip"][hip["hpmag"] < 3]).tolist()
    translated = translate(adql, metadata=catalog.metadata, maxrec=10)
    assert (translated.maxrec, translated.row_limit) == (10, 11)
    result = execute(catalog, translated).read_all()
    assert column(result, "hip") == expected[:11]
    assert len(expected) > 11
    fitting = execute(
        catalog, translate(adql, metadata=catalog.metadata, maxrec=len(expected))
    ).read_all()
    assert column(fitting, "hip") == expected  # no extra row: no overflow


def test_top_below_maxrec_is_kept(catalog: Catalog) -> None:
    translated = translate(
        "SELECT TOP 3 hip FROM hipparcos.main", metadata=catalog.metadata, maxrec=100
    )
    assert execute(catalog, translated).read_all().num_rows == 3
    capped = translate(
        "SELECT TOP 500 hip FROM hipparcos.main", metadata=catalog.metadata, maxrec=20
    )
    assert execute(catalog, capped).read_all().num_rows == 21


def test_maxrec_must_not_be_negative(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="MAXREC"):
        translate("SELECT hip FROM hipparcos.main", metadata=catalog.metadata, maxrec=-1)


# -- refused queries ---------------------------------------------------------------------

REFUSED = [
    # (query, line, column, reason)
    ("SELECT ra FROM hipparcos.main WHERE", 1, 31, "syntax error"),
    ("SELECT ra,\n  dec\nFROM hipparcos.main\nWHERE ra > AND dec < 3", 4, 12, "syntax error"),
    ("SELECT ra FROM hipparcos.main WHERE dec = 'abc", 1, 43, "unterminated string"),
    ("SELECT FROM hipparcos.main", 1, 8, "select list is empty"),
    ("SELECT TOP 5 FROM hipparcos.main", 1, 14, "select list is empty"),
    ("SELECT ra,, dec FROM hipparcos.main", 1, 10, "list item is missing"),
    ("FROM hipparcos.main SELECT ra", 1, 1, "starts with SELECT"),
    ("SELECT 1 + 1", 1, 8, "FROM clause is missing"),
    ("SELECT ra FROM hipparcos.main ORDER", 1, 31, "reserved word"),
    ("SELECT ra FROM hipparcos.main LIMIT 5", 1, 31, "LIMIT is not ADQL"),
    ("SELECT ra FROM hipparcos.main; DROP TABLE hipparcos.main", 1, 32, "one statement"),
    ("SELECT ra FROM hipparcos.main;\nSELECT dec FROM hipparcos.main", 2, 1, "one statement"),
    ("DROP TABLE hipparcos.main", 1, 1, "starts with SELECT"),
    ("CREATE TABLE x AS SELECT 1", 1, 1, "starts with SELECT"),
    ("INSERT INTO hipparcos.main VALUES (1)", 1, 1, "starts with SELECT"),
    ("DELETE FROM hipparcos.main", 1, 1, "starts with SELECT"),
    ("PRAGMA database_list", 1, 1, "starts with SELECT"),
    ("ATTACH '/tmp/x.db' AS x", 1, 1, "starts with SELECT"),
    ("COPY hipparcos.main TO '/tmp/x.csv'", 1, 1, "starts with SELECT"),
    ("INSTALL httpfs", 1, 1, "starts with SELECT"),
    ("SET threads = 1", 1, 1, "starts with SELECT"),
    ("SELECT hip INTO stolen FROM hipparcos.main", 1, 17, "INTO creates a table"),
    ("SELECT * FROM read_csv('/etc/passwd')", 1, 15, "only catalogue tables"),
    ("SELECT * FROM read_parquet('x.parquet')", 1, 15, "only catalogue tables"),
    ("SELECT * FROM '/etc/passwd'", 1, 15, "no table '/etc/passwd'"),
    ("SELECT read_text('/etc/passwd') FROM hipparcos.main", 1, 8, "unknown function read_text"),
    ("SELECT * FROM duckdb_tables()", 1, 15, "only catalogue tables"),
    ("SELECT * FROM information_schema.tables", 1, 15, "no schema 'information_schema'"),
    ("SELECT hip FROM hipparcos.mian", 1, 17, "did you mean 'hipparcos.main'"),
    (
        "SELECT hpmg FROM hipparcos.main",
        1,
        8,
        "no column 'hpmg' in hipparcos.main; did you mean 'hpmag'",
    ),
    ("SELECT h.hip FROM hipparcos.main AS x", 1, 8, "no table or alias 'h'"),
    ('SELECT "RA" FROM hipparcos.main', 1, 8, "no column 'RA'"),
    (
        "SELECT a.ra FROM hipparcos.main AS a JOIN test.sources AS b ON a.hip = b.hip_ref "
        "WHERE dec > 0",
        1,
        88,
        "ambiguous",
    ),
    # sqlglot records no position for these nodes; the reason still says what is wrong.
    ("SELECT ra FROM hipparcos.main WHERE ra > 0 GROUP BY ALL", None, None, "GROUP BY ALL"),
    ("SELECT TRUE FROM hipparcos.main", None, None, "TRUE and FALSE"),
    ("SELECT ROW_NUMBER() OVER (ORDER BY hip) FROM hipparcos.main", 1, 8, "window functions"),
    ("SELECT * EXCLUDE (ra) FROM hipparcos.main", 1, 8, "EXCLUDE"),
    (
        "SELECT LENGTH(CAST(hip AS VARCHAR(10))) FROM hipparcos.main",
        1,
        8,
        "LENGTH is not an ADQL function",
    ),
    ("SELECT RAND(42) FROM hipparcos.main", 1, 8, "seed"),
    ("SELECT LOG(2, hpmag) FROM hipparcos.main", 1, 8, "LOG takes one argument"),
    ("SELECT MIN(hpmag, 3) FROM hipparcos.main", 1, 8, "MIN takes 1"),
    ("SELECT CAST(hip AS BLOB) FROM hipparcos.main", 1, 13, "is not allowed; ADQL allows"),
    ("SELECT CENTROID(POINT(0, 0), 1) FROM hipparcos.main", 1, 8, "CENTROID takes one region"),
    ("SELECT IN_UNIT(hpmag, 'deg') FROM hipparcos.main", 1, 8, "cannot be converted"),
    ("SELECT IN_UNIT(hip, 'deg') FROM hipparcos.main", 1, 16, "unit of"),
    ("SELECT IN_UNIT(ra, 'furlongs') FROM hipparcos.main", 1, 8, "is not a unit"),
    (
        "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(ra, dec), "
        "REGION('Union ICRS (Circle 1 2 3)'))",
        1,
        67,
        "'Union' is not supported",
    ),
    (
        "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(ra, dec), "
        "REGION('Circle GALACTIC 1 2 3'))",
        1,
        67,
        "positions are ICRS",
    ),
    (
        "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT('GALACTIC', ra, dec), "
        "CIRCLE(0, 0, 1))",
        1,
        57,
        "coordinate system 'GALACTIC'",
    ),
    (
        "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(0, 0, -1))",
        1,
        67,
        "radius -1 is negative",
    ),
    (
        "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(ra, dec), "
        "POLYGON(0, 0, 10, 10, 10, 0, 0, 10))",
        1,
        67,
        "crosses itself",
    ),
    (
        "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(CIRCLE(ra, dec, 100), "
        "POLYGON(ra, dec, 10, 10, 10, 0))",
        1,
        42,
        "radii up to 90°",
    ),
    (
        "SELECT hip FROM hipparcos.main WHERE 1 = CONTAINS(POINT(ra, dec), BOX(ra, dec, 200, 10))",
        1,
        67,
        "between 0 and 180",
    ),
    (
        "SELECT hip FROM hipparcos.main WHERE POINT(ra, dec) = POINT(1, 2)",
        1,
        38,
        "can only be selected",
    ),
    ("SELECT (SELECT hip, ra FROM hipparcos.main) FROM hipparcos.main AS x", None, None, "column"),
]


@pytest.mark.parametrize(("adql", "line", "column_number", "reason"), REFUSED)
def test_refused_with_position_and_reason(
    catalog: Catalog, adql: str, line: int | None, column_number: int | None, reason: str
) -> None:
    def translate_and_bind() -> None:
        translated = translate(adql, metadata=catalog.metadata, maxrec=None)
        describe(catalog, translated)  # DuckDB's binder refuses what the checks let pass

    with pytest.raises(AdqlError) as refused:
        translate_and_bind()
    error = refused.value
    assert reason in error.reason
    assert (error.line, error.column) == (line, column_number)


def test_type_errors_are_refused_before_running(catalog: Catalog) -> None:
    translated = translate(
        "SELECT hip FROM hipparcos.main WHERE hpmag < 'bright' + 1",
        metadata=catalog.metadata,
        maxrec=None,
    )
    with pytest.raises(AdqlError, match="Binder Error"):
        describe(catalog, translated)


def test_engine_refuses_file_access_even_without_the_checks(catalog: Catalog) -> None:
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        catalog.connection().sql("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        catalog.connection().execute("ATTACH '/tmp/elsewhere.duckdb' AS elsewhere")
    with pytest.raises(duckdb.Error, match="locked"):
        catalog.connection().execute("SET enable_external_access = true")


# -- the generated SQL (pins the sqlglot 30.x dialect behaviour) -----------------------------


def test_sqlglot_major_version_is_pinned() -> None:
    assert sqlglot.__version__.split(".")[0] == "30"


@pytest.mark.parametrize(
    ("adql", "expected"),
    [
        ("SELECT TOP 3 hip FROM hipparcos.main", "LIMIT 3"),
        ("SELECT hip FROM hipparcos.main ORDER BY hpmag DESC", "ORDER BY hpmag DESC"),
        ("SELECT 6 ^ 3 AS x FROM hipparcos.main", "XOR(6, 3)"),
        ("SELECT 0x1F AS x FROM hipparcos.main", "31 AS"),
        ("SELECT LOG(plx) AS x FROM hipparcos.main", "LN(plx)"),
        ("SELECT 1.5 AS x FROM hipparcos.main", "1.5e0"),
    ],
)
def test_generated_sql(catalog: Catalog, adql: str, expected: str) -> None:
    sql = translate(adql, metadata=catalog.metadata, maxrec=None).sql
    assert expected in sql
    assert "NULLS FIRST" not in sql and "NULLS LAST" not in sql


def test_null_ordering_matches_adql_expectation(
    catalog: Catalog, sources: dict[str, np.ndarray]
) -> None:
    result = run(catalog, "SELECT id, flux FROM test.sources ORDER BY flux DESC")
    fluxes = column(result, "flux")
    known = sorted((f for f in sources["flux"] if f is not None), reverse=True)
    assert fluxes == known + [None] * 4


def test_cone_uses_the_healpix_index(catalog: Catalog) -> None:
    sql = translate(
        "SELECT hip FROM hipparcos.main AS h WHERE 1 = CONTAINS(POINT(h.ra, h.dec), "
        "CIRCLE(10, 20, 0.5))",
        metadata=catalog.metadata,
        maxrec=None,
    ).sql
    assert 'h."hpx" BETWEEN' in sql
    assert "ASIN" not in sql  # the exact test compares haversines, no arc sine per row


# -- metadata of results ---------------------------------------------------------------------


def test_traced_and_computed_columns(catalog: Catalog) -> None:
    translated = translate(
        "SELECT h.ra AS alpha, hpmag, hpmag + 1 AS shifted, COUNT(*) AS n, "
        "DISTANCE(POINT(ra, dec), POINT(0, 0)) AS d, POINT(ra, dec) AS pos "
        "FROM hipparcos.main AS h GROUP BY h.ra, hpmag, dec",
        metadata=catalog.metadata,
        maxrec=None,
    )
    static = {c.name: c for c in translated.columns}
    assert static["alpha"].ucd == "pos.eq.ra;meta.main" and static["alpha"].unit == "deg"
    assert static["shifted"].datatype == ""  # known only once DuckDB binds it
    described = {c.name: c for c in describe(catalog, translated)}
    assert described["alpha"] == ColumnInfo(
        "alpha",
        "double",
        unit="deg",
        ucd="pos.eq.ra;meta.main",
        description="Right ascension (ICRS, epoch J1991.25)",
    )
    assert (described["shifted"].datatype, described["n"].datatype) == ("double", "long")
    assert (described["d"].unit, described["d"].ucd) == ("deg", "pos.angDistance")
    assert (described["pos"].datatype, described["pos"].arraysize, described["pos"].xtype) == (
        "double",
        "2",
        "point",
    )
    executed = execute(catalog, translated).read_all()
    assert result_columns(executed.schema, translated) == list(described.values())


def test_result_types_have_votable_counterparts(catalog: Catalog) -> None:
    translated = translate(
        "SELECT SUM(hip) AS s, SUM(nc) AS small, 1.5 AS d, CAST(1 AS SMALLINT) AS i2, "
        "LOWER('X') AS t, CAST(hip AS BIGINT) AS i8 FROM hipparcos.main WHERE hip < 3 "
        "GROUP BY hip",
        metadata=catalog.metadata,
        maxrec=None,
    )
    reader = execute(catalog, translated)
    assert [str(t) for t in reader.schema.types] == [
        "int64",
        "int64",
        "double",
        "int16",
        "string",
        "int64",
    ]
    described = [(c.name, c.datatype, c.arraysize) for c in describe(catalog, translated)]
    assert described == [
        ("s", "long", None),
        ("small", "long", None),
        ("d", "double", None),
        ("i2", "short", None),
        ("t", "char", "*"),
        ("i8", "long", None),
    ]
    assert reader.read_all().num_rows == 2


def test_translated_query_travels_to_a_worker(catalog: Catalog) -> None:
    translated = translate("SELECT hip FROM hipparcos.main", metadata=catalog.metadata, maxrec=5)
    assert pickle.loads(pickle.dumps(translated)) == translated
    assert translated.tables == ("hipparcos.main",)


# -- running -------------------------------------------------------------------------------

# A cross join with a condition no join algorithm can use: minutes of work.
_SLOW = (
    "SELECT COUNT(*) AS n FROM hipparcos.main AS a, hipparcos.main AS b "
    "WHERE a.hpmag + b.plx < a.plx * b.hpmag"
)


def test_interrupt_handle_stops_a_running_query(catalog: Catalog) -> None:
    translated = translate(_SLOW, metadata=catalog.metadata, maxrec=None)
    handle = QueryInterrupt()
    timer = threading.Timer(0.3, handle.interrupt)
    timer.start()
    try:
        with pytest.raises(ExecutionInterrupted):
            execute(catalog, translated, interrupt=handle).read_all()
    finally:
        timer.cancel()
    # A handle already used refuses to start another query.
    with pytest.raises(ExecutionInterrupted):
        execute(catalog, translated, interrupt=handle)


def test_catalog_interrupt_stops_running_queries(catalog: Catalog) -> None:
    translated = translate(_SLOW, metadata=catalog.metadata, maxrec=None)
    timer = threading.Timer(0.3, catalog.interrupt)
    timer.start()
    try:
        with pytest.raises(ExecutionInterrupted):
            execute(catalog, translated).read_all()
    finally:
        timer.cancel()
    assert run(catalog, "SELECT COUNT(*) AS n FROM test.sources").num_rows == 1


def test_errors_while_running_are_execution_errors(catalog: Catalog) -> None:
    translated = translate(
        "SELECT CAST(LOWER('not a number') AS INTEGER) AS x FROM hipparcos.main",
        metadata=catalog.metadata,
        maxrec=None,
    )
    with pytest.raises(ExecutionError, match="Conversion Error"):
        execute(catalog, translated).read_all()


def test_batches_are_bounded(catalog: Catalog) -> None:
    translated = translate("SELECT hip FROM hipparcos.main", metadata=catalog.metadata, maxrec=None)
    batches = list(execute(catalog, translated, batch_rows=10_000))
    assert sum(b.num_rows for b in batches) == 117_955
    assert max(b.num_rows for b in batches) <= 10_000
