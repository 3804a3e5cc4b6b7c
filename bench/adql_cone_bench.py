"""Benchmark of ADQL cone searches: the geometry rewrite against a full scan, same run.

Why: the adql contract promises that a cone search reads only the part of the
catalogue near the cone. The translation rewrites ``1=CONTAINS(POINT, CIRCLE)`` into
HEALPix index ranges (the table is stored sorted by its HEALPix column, so DuckDB's
zone maps skip the row groups outside) AND the exact haversine test. This script
measures what that buys on a synthetic catalogue (uniform on the sky) and checks that
all methods return the same rows.

What it measures, per cone (radius 0.05, 0.5 and 5 degrees by default):

1. ``rewrite (HEALPix)``: ADQL translated and executed by the engine (``translate`` +
   ``execute``, every row fetched as Arrow), the production path;
2. ``rewrite (dec band)``: the same query on ``POINT(ra + 0, dec)``, which the rewrite
   cannot match to the index, so it falls back to a declination band;
3. ``full scan``: the baseline, the exact haversine test alone in SQL on every row.

Also: the build time of the catalogue and the translation time of the query. Each
query runs ``--repeats`` times after one untimed run; best and median are reported,
and the ratio baseline / method of the medians.

Run from the project root: ``python bench/adql_cone_bench.py`` (1 M rows, about half a
minute with the build), ``python bench/adql_cone_bench.py --full`` (10 M rows: a few
minutes and about 1 GB in $TMPDIR; run it rarely). ``--catalog FILE`` reuses a built
catalogue (``--keep`` keeps the one this run builds).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from wsrf_uws.jdl.adql.catalog import Catalog, build_synthetic
from wsrf_uws.jdl.adql.query import execute, translate

from report import apply_preset, environment, table, write_figures

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "adql_cone_bench.json"
FULL = {"rows": 10_000_000, "repeats": 7}
QUICK = {"rows": 1_000_000, "repeats": 5}
#: (ra, dec, radius) in degrees; the middle one is the headline 0.5 degree cone.
CONES = [(10.0, 20.0, 0.05), (150.0, -35.0, 0.5), (275.0, 60.0, 5.0)]


def adql(ra: float, dec: float, radius: float, *, indexed: bool) -> str:
    point = "POINT('ICRS', ra, dec)" if indexed else "POINT('ICRS', ra + 0, dec)"
    return (
        "SELECT id, ra, dec, gmag FROM synthetic.main WHERE "
        f"1 = CONTAINS({point}, CIRCLE('ICRS', {ra}, {dec}, {radius}))"
    )


def full_scan_sql(ra: float, dec: float, radius: float) -> str:
    """The baseline: the same exact test on every row, no coarse condition."""
    return (
        "SELECT id, ra, dec, gmag FROM synthetic.main WHERE "
        f"POWER(SIN(RADIANS(dec - {dec}) / 2), 2) + COS(RADIANS(dec)) * COS(RADIANS({dec})) "
        f"* POWER(SIN(RADIANS(ra - {ra}) / 2), 2) <= POWER(SIN(RADIANS({radius}) / 2), 2)"
    )


def timed(run: Any, repeats: int) -> tuple[list[float], Any]:
    result = run()  # warm-up, untimed
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def measure_cone(
    catalog: Catalog, ra: float, dec: float, radius: float, repeats: int
) -> dict[str, Any]:
    metadata = catalog.metadata
    text = adql(ra, dec, radius, indexed=True)
    translate_seconds, translated = timed(
        lambda: translate(text, metadata=metadata, maxrec=None), repeats
    )
    banded = translate(adql(ra, dec, radius, indexed=False), metadata=metadata, maxrec=None)
    connection = catalog.connection()
    methods = {
        "rewrite (HEALPix)": lambda: execute(catalog, translated).read_all(),
        "rewrite (dec band)": lambda: execute(catalog, banded).read_all(),
        "full scan": lambda: connection.sql(full_scan_sql(ra, dec, radius)).to_arrow_table(),
    }
    figures: dict[str, Any] = {
        "cone": {"ra": ra, "dec": dec, "radius": radius},
        "translate_ms": {
            "best": min(translate_seconds) * 1e3,
            "median": statistics.median(translate_seconds) * 1e3,
        },
        "methods": {},
    }
    ids = {}
    for name, run in methods.items():
        seconds, result = timed(run, repeats)
        ids[name] = sorted(result.column("id").to_pylist())
        figures["methods"][name] = {
            "rows": result.num_rows,
            "best_ms": min(seconds) * 1e3,
            "median_ms": statistics.median(seconds) * 1e3,
        }
    baseline = figures["methods"]["full scan"]["median_ms"]
    for values in figures["methods"].values():
        values["speedup"] = baseline / values["median_ms"]
    figures["same_rows"] = len({tuple(v) for v in ids.values()}) == 1
    return figures


def report(env: dict[str, Any], build: dict[str, Any], cones: list[dict[str, Any]]) -> str:
    rows = []
    for cone in cones:
        c = cone["cone"]
        label = f"r={c['radius']:g} at ({c['ra']:g}, {c['dec']:+g})"
        for name, m in cone["methods"].items():
            rows.append(
                [
                    label,
                    name,
                    f"{m['rows']:,}",
                    f"{m['best_ms']:.1f}",
                    f"{m['median_ms']:.1f}",
                    f"{m['speedup']:.1f}x",
                ]
            )
        label_ok = "yes" if cone["same_rows"] else "NO: RESULTS DIFFER"
        rows.append(
            [
                "",
                f"translate {cone['translate_ms']['median']:.2f} ms; same rows: {label_ok}",
                "",
                "",
                "",
                "",
            ]
        )
    built = f"{build['seconds']:.1f} s" if build["seconds"] is not None else "reused, not built"
    return "\n".join(
        [
            f"ADQL cone search benchmark: {build['rows']:,} rows (synthetic.main, sorted by "
            f"HEALPix order 10); catalogue {built}, {build['bytes'] / 2**20:,.0f} MiB",
            f"Python {env['python']}, DuckDB {env['duckdb']}, {env['cpus']} CPUs, "
            f"{env['platform']}",
            "",
            table(["cone", "method", "rows", "best ms", "median ms", "vs full scan"], rows),
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="10 million rows (default 1 million)")
    parser.add_argument("--rows", type=int, help="rows of the synthetic catalogue")
    parser.add_argument("--repeats", type=int, help="timed runs per query")
    parser.add_argument("--catalog", type=Path, help="reuse this synthetic catalogue file")
    parser.add_argument("--keep", type=Path, help="keep the catalogue built here")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    args = parser.parse_args(argv)
    return apply_preset(args, FULL if args.full else QUICK)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="adql-cone-bench-") as scratch:
        path = args.catalog or args.keep or Path(scratch) / "synthetic.duckdb"
        build_seconds = None
        if args.catalog is None:
            started = time.perf_counter()
            build_synthetic(path, rows=args.rows)
            build_seconds = time.perf_counter() - started
        with Catalog.open(path) as catalog:
            counted = catalog.connection().sql("SELECT COUNT(*) FROM synthetic.main").fetchall()
            build = {
                "rows": counted[0][0],
                "seconds": build_seconds,
                "bytes": path.stat().st_size,
            }
            cones = [measure_cone(catalog, *cone, args.repeats) for cone in CONES]
    env = environment("duckdb")
    print(report(env, build, cones))
    write_figures(args.out, {"environment": env, "full": args.full, "build": build, "cones": cones})


if __name__ == "__main__":
    main()
