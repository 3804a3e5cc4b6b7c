"""The catalogue: the real Hipparcos 2 build, its description, read-only use, the synthetic
catalogue, and builders that crash or race."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import astropy.units as u
import duckdb
import numpy as np
import pyarrow as pa
import pytest
from astropy_healpix import HEALPix

from wsrf_uws.jdl.adql import hipparcos
from wsrf_uws.jdl.adql.catalog import (
    Catalog,
    add_table,
    build_synthetic,
    ensure_catalog,
)
from wsrf_uws.jdl.adql.tap_schema import TableInfo
from wsrf_uws.vo.columns import ColumnInfo

from adql_support import SOURCES, build_seconds, catalog_path


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    opened = Catalog.open(catalog_path(tmp_path_factory))
    yield opened
    opened.close()


def _rows(catalog: Catalog, sql: str) -> list[tuple[object, ...]]:
    return list(catalog.connection().sql(sql).fetchall())


# -- the Hipparcos build -------------------------------------------------------------------


def test_hipparcos_has_every_star(catalog: Catalog) -> None:
    assert _rows(catalog, "SELECT COUNT(*), COUNT(DISTINCT hip) FROM hipparcos.main") == [
        (117_955, 117_955)
    ]
    seconds = build_seconds()
    if seconds is not None:
        print(f"Hipparcos catalogue built in {seconds:.2f} s")


@pytest.mark.parametrize(
    ("hip", "ra", "dec", "name"),
    [
        (32349, 101.287, -16.716, "Sirius"),
        (30438, 95.988, -52.696, "Canopus"),
        (91262, 279.235, 38.784, "Vega"),
        (11767, 37.955, 89.264, "Polaris"),
        (27989, 88.793, 7.407, "Betelgeuse"),
    ],
)
def test_known_stars_are_where_they_should_be(
    catalog: Catalog, hip: int, ra: float, dec: float, name: str
) -> None:
    # Published J2000 positions; the catalogue's epoch is J1991.25, a few arcseconds off.
    found = _rows(catalog, f"SELECT ra, dec FROM hipparcos.main WHERE hip = {hip}")
    assert len(found) == 1, name
    got_ra, got_dec = found[0]
    assert abs(float(got_ra) - ra) * math.cos(math.radians(dec)) < 0.01, name  # type: ignore[arg-type]
    assert abs(float(got_dec) - dec) < 0.01, name  # type: ignore[arg-type]


def test_rows_match_the_source_file(catalog: Catalog) -> None:
    lines = hipparcos.default_source().read_text().splitlines()
    for index in (0, 1, 4242, 77_777, len(lines) - 1):
        fields = lines[index].split()  # an independent reading of the same line
        assert len(fields) == 26 + 15
        star = int(fields[0])
        row = _rows(
            catalog,
            "SELECT ra, dec, plx, pmra, hpmag, b_v, v_i, ntr FROM hipparcos.main "
            f"WHERE hip = {star}",
        )[0]
        assert row[0] == pytest.approx(math.degrees(float(fields[4])), abs=1e-12)
        assert row[1] == pytest.approx(math.degrees(float(fields[5])), abs=1e-12)
        assert row[2:7] == tuple(float(fields[i]) for i in (6, 7, 19, 23, 25))
        assert row[7] == int(fields[14])


def test_healpix_index_is_right_and_the_table_is_sorted_by_it(catalog: Catalog) -> None:
    data = catalog.connection().sql("SELECT ra, dec, hpx FROM hipparcos.main").fetchnumpy()
    reference = HEALPix(nside=2**10, order="nested")  # another library's HEALPix
    expected = reference.lonlat_to_healpix(data["ra"] * u.deg, data["dec"] * u.deg)
    assert np.array_equal(data["hpx"], expected)
    assert bool(np.all(np.diff(data["hpx"]) >= 0))


def test_metadata_describes_the_table(catalog: Catalog) -> None:
    table = catalog.metadata.table("HIPPARCOS.Main")
    assert table is not None
    assert (table.ra_column, table.dec_column, table.healpix_column, table.healpix_order) == (
        "ra",
        "dec",
        "hpx",
        10,
    )
    described = {c.name: (c.datatype, c.unit, c.ucd) for c in table.columns}
    assert described["hip"] == ("int", None, "meta.id;meta.main")
    assert described["ra"] == ("double", "deg", "pos.eq.ra;meta.main")
    assert described["dec"] == ("double", "deg", "pos.eq.dec;meta.main")
    assert described["plx"] == ("double", "mas", "pos.parallax.trig")
    assert described["pmra"] == ("double", "mas/yr", "pos.pm;pos.eq.ra")
    assert described["hpmag"] == ("double", "mag", "phot.mag;em.opt")
    assert described["b_v"][2] == "phot.color;em.opt.B;em.opt.V"
    assert described["hpx"] == ("long", None, "pos.healpix")
    columns_in_database = [
        name
        for (name,) in _rows(
            catalog,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'hipparcos' "
            "AND table_name = 'main' ORDER BY ordinal_position",
        )
    ]
    assert table.column_names == columns_in_database
    assert "hipparcos" in catalog.metadata.schemas


def test_tap_schema_describes_everything_including_itself(catalog: Catalog) -> None:
    tables = {name for (name,) in _rows(catalog, "SELECT table_name FROM tap_schema.tables")}
    assert tables == set(catalog.metadata.tables)
    assert {"tap_schema.tables", "tap_schema.columns", SOURCES.name, "hipparcos.main"} <= tables
    counted = _rows(
        catalog, "SELECT COUNT(*) FROM tap_schema.columns WHERE table_name = 'hipparcos.main'"
    )
    assert counted == [(len(hipparcos.TABLE.columns),)]
    principal = _rows(
        catalog,
        "SELECT column_name FROM tap_schema.columns WHERE table_name = 'hipparcos.main' "
        "AND principal = 1 ORDER BY column_index",
    )
    assert [name for (name,) in principal] == ["hip", "ra", "dec"]


# -- read-only use -------------------------------------------------------------------------


def test_the_catalogue_is_read_only(catalog: Catalog) -> None:
    with pytest.raises(duckdb.Error, match="read-only"):
        catalog.connection().execute("CREATE TABLE hipparcos.stolen (a INTEGER)")
    with pytest.raises(duckdb.Error, match="read-only"):
        catalog.connection().execute("DELETE FROM hipparcos.main")
    assert _rows(catalog, "SELECT COUNT(*) FROM hipparcos.main") == [(117_955,)]


def test_each_thread_has_its_own_connection(catalog: Catalog) -> None:
    here = catalog.connection()
    assert catalog.connection() is here
    elsewhere: list[duckdb.DuckDBPyConnection] = []
    worker = threading.Thread(target=lambda: elsewhere.append(catalog.connection()))
    worker.start()
    worker.join()
    assert elsewhere and elsewhere[0] is not here
    assert elsewhere[0].sql("SELECT COUNT(*) FROM test.sources").fetchall() == [(50,)]


def test_open_refuses_what_is_not_a_catalogue(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Catalog.open(tmp_path / "missing.duckdb")
    plain = tmp_path / "plain.duckdb"
    connection = duckdb.connect(str(plain))
    connection.execute("CREATE TABLE t AS SELECT 1 AS a")
    connection.close()
    with pytest.raises(ValueError, match="not a catalogue"):
        Catalog.open(plain)


def test_a_closed_catalogue_gives_no_connections(tmp_path: Path) -> None:
    path = tmp_path / "small.duckdb"
    build_synthetic(path, rows=100)
    opened = Catalog.open(path)
    opened.close()
    errors: list[BaseException] = []

    def use() -> None:
        try:
            opened.connection()
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join()
    assert len(errors) == 1 and "closed" in str(errors[0])


# -- the synthetic catalogue -----------------------------------------------------------------


def test_synthetic_catalogue(tmp_path: Path) -> None:
    # Named like its schema on purpose: DuckDB would name the database "synthetic" and
    # make synthetic.main ambiguous, were the file not attached under a fixed name.
    path = tmp_path / "synthetic.duckdb"
    calls: list[tuple[str, int, int]] = []
    build_synthetic(
        path,
        rows=2500,
        seed=11,
        chunk_rows=1000,
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    assert calls == [
        ("generating", 1000, 2500),
        ("generating", 2000, 2500),
        ("generating", 2500, 2500),
        ("sorting", 2500, 2500),
        ("done", 2500, 2500),
    ]
    with Catalog.open(path) as opened:
        data = opened.connection().sql("SELECT * FROM synthetic.main").fetchnumpy()
        table = opened.metadata.table("synthetic.main")
    assert table is not None and table.healpix_column == "hpx"
    assert sorted(data["id"].tolist()) == list(range(1, 2501))
    assert bool(np.all(np.diff(data["hpx"]) >= 0))
    reference = HEALPix(nside=2**10, order="nested")
    assert np.array_equal(
        data["hpx"], reference.lonlat_to_healpix(data["ra"] * u.deg, data["dec"] * u.deg)
    )
    # Uniform on the sphere: half the sky lies within 30 degrees of the equator.
    assert abs(float(np.mean(np.abs(data["dec"]) < 30)) - 0.5) < 0.05
    assert data["ra"].min() >= 0 and data["ra"].max() < 360
    assert abs(float(np.mean(data["ra"] < 180)) - 0.5) < 0.05


def test_synthetic_catalogue_is_reproducible(tmp_path: Path) -> None:
    positions = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        path = tmp_path / f"{name}.duckdb"
        build_synthetic(path, rows=300, seed=seed)
        with Catalog.open(path) as opened:
            positions.append(
                opened.connection().sql("SELECT ra FROM synthetic.main ORDER BY id").fetchall()
            )
    assert positions[0] == positions[1]
    assert positions[0] != positions[2]


def test_synthetic_catalogue_needs_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one row"):
        build_synthetic(tmp_path / "empty.duckdb", rows=0)
    assert list(tmp_path.iterdir()) == []


# -- building safely -------------------------------------------------------------------------


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"

    def crash(stage: str, done: int, total: int) -> None:
        if stage == "sorting":
            raise RuntimeError("the machine went down")

    with pytest.raises(RuntimeError, match="went down"):
        build_synthetic(path, rows=500, progress=crash)
    assert list(tmp_path.iterdir()) == []
    ensure_catalog(path, build=lambda target: build_synthetic(target, rows=500))
    with Catalog.open(path) as opened:
        assert opened.connection().sql("SELECT COUNT(*) FROM synthetic.main").fetchall() == [(500,)]


def test_ensure_catalog_removes_leftovers_of_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    leftover = tmp_path / ".catalog.duckdb.4242.dead.building"
    leftover.write_bytes(b"half a database")
    (tmp_path / ".catalog.duckdb.4242.dead.building.tmp").mkdir()
    ensure_catalog(path, build=lambda target: build_synthetic(target, rows=50))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.duckdb", "catalog.duckdb.lock"]


_RACER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from wsrf_uws.jdl.adql.catalog import build_synthetic, ensure_catalog

    target, log = Path(sys.argv[1]), Path(sys.argv[2])

    def build(path):
        with open(log, "a") as out:
            out.write(f"{os.getpid()}\\n")
        time.sleep(0.5)  # widen the window in which the others arrive
        build_synthetic(path, rows=1000)

    ensure_catalog(target, build=build)
    print("ready")
    """
)


def test_racing_builders_build_once(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "catalog.duckdb"
    log = tmp_path / "builds.log"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(path), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [racer.communicate(timeout=60) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0], outputs
    assert all(out.strip() == "ready" for out, _ in outputs)
    assert len(log.read_text().split()) == 1
    with Catalog.open(path) as opened:
        assert opened.connection().sql("SELECT COUNT(*) FROM synthetic.main").fetchall() == [
            (1000,)
        ]


def test_add_table_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    build_synthetic(path, rows=10)
    extra = TableInfo(
        "extra", "things", columns=(ColumnInfo("a", "int"), ColumnInfo("b", "double"))
    )
    with pytest.raises(ValueError, match="lacks the columns b"):
        add_table(path, extra, pa.table({"a": pa.array([1, 2], pa.int32())}))
    with Catalog.open(path) as opened:
        assert opened.metadata.table("extra.things") is None
    add_table(
        path,
        extra,
        pa.table({"a": pa.array([1, 2], pa.int32()), "b": [0.5, 1.5]}),
        schema_description="Extra things.",
    )
    with Catalog.open(path) as opened:
        assert opened.metadata.table("extra.things") == extra
        assert opened.metadata.schemas["extra"] == "Extra things."
        assert opened.connection().sql("SELECT SUM(b) FROM extra.things").fetchall() == [(2.0,)]


def test_reserved_schema_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.duckdb"
    build_synthetic(path, rows=10)
    clash = TableInfo("memory", "things", columns=(ColumnInfo("a", "int"),))
    with pytest.raises(ValueError, match="reserved"):
        add_table(path, clash, pa.table({"a": pa.array([1], pa.int32())}))
