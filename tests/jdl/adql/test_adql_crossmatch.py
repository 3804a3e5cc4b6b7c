"""Crossmatches in every ADQL form, on the real Hipparcos catalogue, against numpy pairs.

The expected pairs come from numpy over the rows read out of the catalogue: stars sorted
by declination, each compared with its neighbours in that order while the declinations
are within the radius, the angle taken as atan2(|a x b|, a.b). Each form must also be
planned as a hash join on declination zones (never a nested loop or a range join), which
is what lets a self-crossmatch of 118 000 stars finish in well under a second.
"""

from __future__ import annotations

import numpy as np
import pytest

from wsrf_uws.jdl.adql.catalog import Catalog
from wsrf_uws.jdl.adql.query import translate

# The module's fixtures, shared: imported under their own names for pytest to find.
from adql_support import catalog as catalog
from adql_support import column, run, table_arrays, vectors
from adql_support import hip as hip
from adql_support import sources as sources

RADIUS = 60.0 / 3600  # large enough for a few hundred Hipparcos pairs
R = "60/3600."


def angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in degrees between rows of unit vectors."""
    cross = np.linalg.norm(np.cross(a, b), axis=1)
    return np.degrees(np.arctan2(cross, np.einsum("ij,ij->i", a, b)))


def self_pairs(hip: dict[str, np.ndarray], radius: float) -> dict[tuple[int, int], float]:
    """{(smaller hip, larger hip): separation} of every pair closer than ``radius``."""
    order = np.argsort(hip["dec"], kind="stable")
    ids, dec = hip["hip"][order], hip["dec"][order]
    points = vectors(hip["ra"][order], dec)
    found: dict[tuple[int, int], float] = {}
    step = 1
    while True:
        near_in_dec = dec[step:] - dec[:-step] <= radius
        if not near_in_dec.any():
            return found
        first = np.nonzero(near_in_dec)[0]
        second = first + step
        separations = angle(points[first], points[second])
        for i, j, s in zip(first, second, separations, strict=True):
            if s <= radius:
                pair = (int(min(ids[i], ids[j])), int(max(ids[i], ids[j])))
                found[pair] = float(s)
        step += 1


@pytest.fixture(scope="module")
def pairs(hip: dict[str, np.ndarray]) -> dict[tuple[int, int], float]:
    found = self_pairs(hip, RADIUS)
    assert len(found) > 100  # the forms below are compared on a few hundred pairs
    return found


def plan(catalog: Catalog, adql: str) -> str:
    sql = translate(adql, metadata=catalog.metadata, maxrec=None).sql
    text = catalog.connection().sql("EXPLAIN " + sql).fetchall()[0][1]
    return str(text)


_SELECT = "SELECT a.hip AS a_hip, b.hip AS b_hip FROM hipparcos.main AS a "
_CONTAINS = f"1 = CONTAINS(POINT('ICRS', b.ra, b.dec), CIRCLE('ICRS', a.ra, a.dec, {R}))"
ONCE_FORMS = {
    "contains in on": f"{_SELECT}JOIN hipparcos.main AS b ON {_CONTAINS} WHERE a.hip < b.hip",
    "contains = 1 in on, circle of a point": (
        f"{_SELECT}JOIN hipparcos.main AS b ON CONTAINS(POINT(b.ra, b.dec), "
        f"CIRCLE(POINT(a.ra, a.dec), {R})) = 1 AND a.hip < b.hip"
    ),
    "distance of numbers in on": (
        f"{_SELECT}JOIN hipparcos.main AS b ON DISTANCE(a.ra, a.dec, b.ra, b.dec) < {R} "
        "WHERE a.hip < b.hip"
    ),
    "distance of points <= in on": (
        f"{_SELECT}INNER JOIN hipparcos.main AS b ON DISTANCE(POINT(a.ra, a.dec), "
        f"POINT(b.ra, b.dec)) <= {R} AND a.hip < b.hip"
    ),
    "contains in where, comma join": f"{_SELECT}, hipparcos.main AS b WHERE {_CONTAINS} "
    "AND a.hip < b.hip",
    "distance reversed in where, cross join": (
        f"{_SELECT}CROSS JOIN hipparcos.main AS b WHERE a.hip < b.hip AND "
        f"{R} > DISTANCE(POINT(b.ra, b.dec), POINT(a.ra, a.dec))"
    ),
    "intersects circle first": (
        f"{_SELECT}JOIN hipparcos.main AS b ON 1 = INTERSECTS(CIRCLE(a.ra, a.dec, {R}), "
        "POINT(b.ra, b.dec)) WHERE a.hip < b.hip"
    ),
}


@pytest.mark.parametrize("form", sorted(ONCE_FORMS))
def test_self_crossmatch_each_pair_once(
    catalog: Catalog, pairs: dict[tuple[int, int], float], form: str
) -> None:
    result = run(catalog, ONCE_FORMS[form])
    got = list(zip(column(result, "a_hip"), column(result, "b_hip"), strict=True))
    assert len(got) == len(set(got))  # the zone steps repeat no pair
    assert set(got) == set(pairs)


@pytest.mark.parametrize("form", sorted(ONCE_FORMS))
def test_every_form_is_a_hash_join_on_zones(catalog: Catalog, form: str) -> None:
    text = plan(catalog, ONCE_FORMS[form])
    assert "HASH_JOIN" in text.replace(" ", "_").upper()
    for slow in ("NESTED_LOOP", "IE_JOIN", "PIECEWISE_MERGE", "BLOCKWISE_NL"):
        assert slow not in text.replace(" ", "_").upper(), text


def test_not_equal_lists_every_pair_both_ways(
    catalog: Catalog, pairs: dict[tuple[int, int], float]
) -> None:
    result = run(catalog, f"{_SELECT}JOIN hipparcos.main AS b ON {_CONTAINS} WHERE a.hip <> b.hip")
    got = set(zip(column(result, "a_hip"), column(result, "b_hip"), strict=True))
    assert got == set(pairs) | {(b, a) for a, b in pairs}
    assert result.num_rows == 2 * len(pairs)


def test_top_and_order_by_distance(catalog: Catalog, pairs: dict[tuple[int, int], float]) -> None:
    result = run(
        catalog,
        "SELECT TOP 10 a.hip AS a_hip, b.hip AS b_hip, "
        "DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) AS d "
        f"FROM hipparcos.main AS a JOIN hipparcos.main AS b ON {_CONTAINS} "
        "WHERE a.hip < b.hip ORDER BY d DESC, a_hip",
    )
    expected = sorted(pairs.items(), key=lambda item: (-item[1], item[0][0]))[:10]
    assert list(zip(column(result, "a_hip"), column(result, "b_hip"), strict=True)) == [
        pair for pair, _ in expected
    ]
    assert column(result, "d") == pytest.approx([s for _, s in expected], abs=1e-9)


def test_count_of_pairs(catalog: Catalog, pairs: dict[tuple[int, int], float]) -> None:
    result = run(
        catalog,
        "SELECT COUNT(*) AS n FROM hipparcos.main AS a, hipparcos.main AS b "
        f"WHERE DISTANCE(a.ra, a.dec, b.ra, b.dec) < {R} AND a.hip < b.hip",
    )
    assert column(result, "n") == [len(pairs)]


def test_two_tables_with_extra_conditions(
    catalog: Catalog, hip: dict[str, np.ndarray], sources: dict[str, np.ndarray]
) -> None:
    radius = 0.2
    result = run(
        catalog,
        "SELECT s.id, h.hip FROM test.sources AS s JOIN hipparcos.main AS h ON "
        f"DISTANCE(POINT(s.ra, s.dec), POINT(h.ra, h.dec)) < {radius} "
        "WHERE h.hpmag < 9 AND s.kind <> 1",
    )
    expected = set()
    stars = vectors(hip["ra"], hip["dec"])
    for sid, ra, dec, kind in zip(
        sources["id"], sources["ra"], sources["dec"], sources["kind"], strict=True
    ):
        if kind == 1:
            continue
        centre = np.broadcast_to(vectors(np.array([ra]), np.array([dec])), stars.shape)
        near = (angle(stars, centre) < radius) & (hip["hpmag"] < 9)
        expected |= {(int(sid), int(h)) for h in hip["hip"][near]}
    got = set(zip(column(result, "id"), column(result, "hip"), strict=True))
    assert got == expected
    assert len(expected) > 20


def test_crossmatch_inside_a_subquery_and_a_with_query(
    catalog: Catalog, pairs: dict[tuple[int, int], float]
) -> None:
    result = run(
        catalog,
        "WITH bright AS (SELECT hip, ra, dec FROM hipparcos.main WHERE hpmag < 10) "
        "SELECT m.a_hip, m.b_hip FROM (SELECT x.hip AS a_hip, y.hip AS b_hip FROM bright AS x "
        f"JOIN bright AS y ON DISTANCE(x.ra, x.dec, y.ra, y.dec) < {R} AND x.hip < y.hip) AS m",
    )
    bright = set(column(run(catalog, "SELECT hip FROM hipparcos.main WHERE hpmag < 10"), "hip"))
    expected = {p for p in pairs if p[0] in bright and p[1] in bright}
    got = set(zip(column(result, "a_hip"), column(result, "b_hip"), strict=True))
    assert got == expected
    assert expected


def test_outer_join_keeps_the_plain_plan_and_its_rows(
    catalog: Catalog, hip: dict[str, np.ndarray], sources: dict[str, np.ndarray]
) -> None:
    radius = 5.0 / 3600
    adql = (
        "SELECT s.id, h.hip FROM test.sources AS s LEFT JOIN hipparcos.main AS h ON "
        f"1 = CONTAINS(POINT(h.ra, h.dec), CIRCLE(s.ra, s.dec, {radius}))"
    )
    assert "adql_zones" not in translate(adql, metadata=catalog.metadata, maxrec=None).sql
    result = run(catalog, adql)
    stars = vectors(hip["ra"], hip["dec"])
    expected = set()
    for sid, ra, dec in zip(sources["id"], sources["ra"], sources["dec"], strict=True):
        centre = np.broadcast_to(vectors(np.array([ra]), np.array([dec])), stars.shape)
        near = hip["hip"][angle(stars, centre) <= radius]
        expected |= {(int(sid), int(h)) for h in near} or {(int(sid), None)}
    got = set(zip(column(result, "id"), column(result, "hip"), strict=True))
    assert got == expected


def test_pairs_across_the_zero_meridian_and_near_a_pole(catalog: Catalog) -> None:
    # Stars are where they are; the planner must not lose pairs the zones cut: the list
    # of positions here straddles ra = 0 and reaches dec = 89.99.
    result = run(
        catalog,
        "SELECT a.hip AS a_hip, b.hip AS b_hip FROM hipparcos.main AS a JOIN hipparcos.main AS b "
        "ON DISTANCE(a.ra, a.dec, b.ra, b.dec) < 3 WHERE a.hip < b.hip AND a.hip IN "
        "(SELECT hip FROM hipparcos.main WHERE dec > 88 OR ra < 0.01 OR ra > 359.99)",
    )
    data = table_arrays(catalog, "hipparcos.main")
    chosen = (data["dec"] > 88) | (data["ra"] < 0.01) | (data["ra"] > 359.99)
    stars = vectors(data["ra"], data["dec"])
    expected = set()
    for index in np.nonzero(chosen)[0]:
        centre = np.broadcast_to(stars[index], stars.shape)
        near = (angle(stars, centre) < 3) & (data["hip"] > data["hip"][index])
        expected |= {(int(data["hip"][index]), int(h)) for h in data["hip"][near]}
    got = set(zip(column(result, "a_hip"), column(result, "b_hip"), strict=True))
    assert got == expected
    assert len(expected) > 100
