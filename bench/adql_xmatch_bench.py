"""Benchmark of ADQL crossmatches: every way of writing a 10 arcsecond Hipparcos self-crossmatch.

Why: users (and clients such as TOPCAT) write a positional crossmatch in several ways
that mean the same thing. The ``adql`` contract promises to plan every one of them as a
spatial join (declination zones joined on their number, then the exact test), so that
none is a nested loop over 118 000 x 118 000 pairs or a range join driven by an
unrelated column. This script runs each form on the real Hipparcos 2 catalogue, in the
same run, and checks that they find the same pairs.

Forms (``r`` = 10/3600 degree, pairs listed once where the form says ``a.hip < b.hip``):

1. ``CONTAINS in ON, <>``: ``JOIN ... ON 1=CONTAINS(POINT(b), CIRCLE(a, r)) WHERE
   a.hip <> b.hip`` (every pair twice);
2. ``CONTAINS in ON, <``: the same with ``a.hip < b.hip``;
3. ``DISTANCE in ON``: ``ON DISTANCE(a.ra, a.dec, b.ra, b.dec) < r WHERE a.hip < b.hip``
   (the form ADQL 2.1 section 4.2.3 recommends);
4. ``CONTAINS in WHERE``: ``FROM a, b WHERE 1=CONTAINS(...) AND a.hip < b.hip``;
5. ``list of N``: a list of ``--list-rows`` positions (about a third near Hipparcos
   stars, the rest anywhere) uploaded as a BINARY2 VOTable, seen as ``TAP_UPLOAD.list``,
   against Hipparcos (the time to read the VOTable is printed apart).

Each form runs ``--repeats`` times after one untimed run, the forms taking turns, on the
engine's own path (``translate`` + ``execute``, every row fetched as Arrow); a run that
takes longer than ``--timeout`` seconds is interrupted and printed as ``> N s``. Targets: every form
within 1.5x of the fastest, the self-crossmatch at most 2 s. Figures on a shared
2-core machine are noisy: compare the ratios of one run, not absolute times across runs.

Run from the project root: ``python bench/adql_xmatch_bench.py`` (about half a minute
when every form is planned as a spatial join). Figures go to stdout and to
``bench/out/adql_xmatch_bench.json``.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from wsrf_uws.jdl.adql.catalog import Catalog, build_hipparcos
from wsrf_uws.jdl.adql.query import ExecutionInterrupted, QueryInterrupt, execute, translate
from wsrf_uws.jdl.adql.uploads import Upload, read_upload, with_uploads

from report import environment, table, write_figures

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "adql_xmatch_bench.json"
RADIUS = "10/3600."
TARGET_RATIO = 1.5
TARGET_SECONDS = 2.0

_PAIR = "SELECT a.hip AS a_hip, b.hip AS b_hip FROM hipparcos.main AS a "
_CIRCLE = f"1 = CONTAINS(POINT('ICRS', b.ra, b.dec), CIRCLE('ICRS', a.ra, a.dec, {RADIUS}))"
FORMS = {
    "CONTAINS in ON, <>": f"{_PAIR}JOIN hipparcos.main AS b ON {_CIRCLE} WHERE a.hip <> b.hip",
    "CONTAINS in ON, <": f"{_PAIR}JOIN hipparcos.main AS b ON {_CIRCLE} WHERE a.hip < b.hip",
    "DISTANCE in ON": (
        f"{_PAIR}JOIN hipparcos.main AS b ON DISTANCE(a.ra, a.dec, b.ra, b.dec) < {RADIUS} "
        "WHERE a.hip < b.hip"
    ),
    "CONTAINS in WHERE": f"{_PAIR}, hipparcos.main AS b WHERE {_CIRCLE} AND a.hip < b.hip",
}


def list_positions(catalog: Catalog, rows: int) -> pa.Table:
    """``rows`` positions: a third within 5 arcseconds of Hipparcos stars, the rest anywhere."""
    rng = np.random.default_rng(19)
    stars = catalog.connection().sql("SELECT ra, dec FROM hipparcos.main").to_arrow_table()
    ra, dec = stars.column("ra").to_numpy(), stars.column("dec").to_numpy()
    near = rows // 3
    chosen = rng.choice(len(ra), size=near, replace=False)
    offset = rng.uniform(-3.0, 3.0, size=(near, 2)) / 3600.0
    return pa.table(
        {
            "id": pa.array(range(1, rows + 1), pa.int32()),
            "ra": np.concatenate(
                [(ra[chosen] + offset[:, 0]) % 360.0, rng.uniform(0, 360, rows - near)]
            ),
            "dec": np.concatenate(
                [
                    np.clip(dec[chosen] + offset[:, 1], -90.0, 90.0),
                    np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, rows - near))),
                ]
            ),
        }
    )


def run_once(
    catalog: Catalog, adql: str, timeout: float, uploads: tuple[Upload, ...] = ()
) -> tuple[float | None, int]:
    """(seconds, rows) of one run; seconds is None when the timeout interrupted it."""
    started = time.perf_counter()
    metadata = with_uploads(catalog.metadata, uploads)
    translated = translate(adql, metadata=metadata, maxrec=None)
    handle = QueryInterrupt()
    timer = threading.Timer(timeout, handle.interrupt)
    timer.start()
    try:
        reader = execute(catalog, translated, interrupt=handle, uploads=uploads)
        rows = reader.read_all().num_rows
    except ExecutionInterrupted:
        return None, 0
    finally:
        timer.cancel()
    return time.perf_counter() - started, rows


def measure(
    catalog: Catalog,
    forms: dict[str, tuple[str, tuple[Upload, ...]]],
    *,
    repeats: int,
    timeout: float,
) -> dict[str, dict[str, Any]]:
    """Figures per form. The forms take turns, one run each per round, so that the load
    of a shared machine falls on all of them alike; a form that times out once is
    dropped from the later rounds."""
    times: dict[str, list[float]] = {name: [] for name in forms}
    rows: dict[str, int] = {}
    timed_out: set[str] = set()
    for round_number in range(repeats + 1):  # round 0 warms up, untimed
        for name, (adql, uploads) in forms.items():
            if name in timed_out:
                continue
            seconds, count = run_once(catalog, adql, timeout, uploads)
            if seconds is None:
                timed_out.add(name)
                continue
            rows[name] = count
            if round_number:
                times[name].append(seconds)
    figures: dict[str, dict[str, Any]] = {}
    for name in forms:
        if name in timed_out:
            figures[name] = {"rows": None, "timed_out": True, "timeout_s": timeout}
        else:
            figures[name] = {
                "rows": rows[name],
                "timed_out": False,
                "best_s": min(times[name]),
                "median_s": statistics.median(times[name]),
            }
    return figures


def report(env: dict[str, Any], figures: dict[str, Any]) -> str:
    self_forms = {n: m for n, m in figures["forms"].items() if not n.startswith("list")}
    finished = [m["median_s"] for m in self_forms.values() if not m["timed_out"]]
    fastest = min(finished) if finished else None
    rows = []
    for name, m in figures["forms"].items():
        if m["timed_out"]:
            rows.append([name, "-", f"> {m['timeout_s']:g} s", "-", "-"])
            continue
        ratio = f"{m['median_s'] / fastest:.2f}x" if fastest and name in self_forms else "-"
        rows.append([name, f"{m['rows']:,}", f"{m['best_s']:.3f}", f"{m['median_s']:.3f}", ratio])
    medians = [float("inf") if m["timed_out"] else m["median_s"] for m in self_forms.values()]
    spread = max(medians) / fastest if fastest else float("inf")
    verdict = (
        f"targets: every self-crossmatch form within {TARGET_RATIO}x of the fastest "
        f"({spread:.2f}x): {'PASS' if spread <= TARGET_RATIO else 'MISS'}; slowest "
        f"self-crossmatch <= {TARGET_SECONDS:g} s: "
        f"{'PASS' if max(medians) <= TARGET_SECONDS else 'MISS'}"
    )
    return "\n".join(
        [
            f"ADQL crossmatch benchmark: Hipparcos 2 ({figures['stars']:,} stars), radius 10 "
            f"arcsec; list of {figures['list_rows']:,} positions ({figures['list_source']})",
            f"Python {env['python']}, DuckDB {env['duckdb']}, {env['cpus']} CPUs, "
            f"{env['platform']} (shared machine: figures are noisy, compare ratios)",
            "",
            table(["form", "rows", "best s", "median s", "vs fastest self form"], rows),
            "",
            f"same pairs in every self-crossmatch form: {figures['pairs_consistent']}",
            verdict,
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per form")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a run stops")
    parser.add_argument("--list-rows", type=int, default=10_000, help="rows of the list")
    parser.add_argument("--catalog", type=Path, help="copy this Hipparcos catalogue file")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="adql-xmatch-bench-") as scratch:
        path = Path(scratch) / "hipparcos.duckdb"
        if args.catalog is None:
            build_hipparcos(path)
        else:
            shutil.copyfile(args.catalog, path)
        with Catalog.open(path) as catalog:
            stars = catalog.connection().sql("SELECT COUNT(*) FROM hipparcos.main").fetchall()
            upload, read_seconds, xml_bytes = uploaded_list(catalog, args.list_rows)
            runs: dict[str, tuple[str, tuple[Upload, ...]]] = {
                name: (adql, ()) for name, adql in FORMS.items()
            }
            runs[f"list of {args.list_rows:,}"] = (LIST_FORM, (upload,))
            forms = measure(catalog, runs, repeats=args.repeats, timeout=args.timeout)
            figures = {
                "stars": stars[0][0],
                "list_rows": args.list_rows,
                "list_source": (
                    f"uploaded as TAP_UPLOAD.list: {xml_bytes / 2**10:,.0f} KiB of BINARY2 "
                    f"VOTable, read in {read_seconds:.3f} s"
                ),
                "forms": forms,
                "pairs_consistent": consistent(forms),
            }
    env = environment("duckdb")
    print(report(env, figures))
    write_figures(args.out, {"environment": env, **figures})


def consistent(forms: dict[str, dict[str, Any]]) -> str:
    """Whether the self-crossmatch forms agree: ``<>`` lists every pair twice."""
    counts = {n: m["rows"] for n, m in forms.items() if not n.startswith("list")}
    if any(c is None for c in counts.values()):
        return "not known (a form timed out)"
    twice = counts.pop("CONTAINS in ON, <>")
    once = set(counts.values())
    return "yes" if len(once) == 1 and twice == 2 * once.pop() else f"NO: {counts}, <> {twice}"


LIST_FORM = (
    "SELECT l.id, h.hip FROM TAP_UPLOAD.list AS l JOIN hipparcos.main AS h ON "
    f"1 = CONTAINS(POINT('ICRS', h.ra, h.dec), CIRCLE('ICRS', l.ra, l.dec, {RADIUS}))"
)


def uploaded_list(catalog: Catalog, rows: int) -> tuple[Upload, float, int]:
    """The list as a job would upload it: (the upload, seconds to read it, bytes of XML)."""
    from astropy.io.votable import from_table, writeto
    from astropy.table import Table
    from lxml import etree

    votable = from_table(Table(list_positions(catalog, rows).to_pydict()))
    votable.get_first_table().format = "binary2"
    out = io.BytesIO()
    writeto(votable, out)
    element = etree.fromstring(out.getvalue())
    started = time.perf_counter()
    upload = read_upload("list", element, max_bytes=2**30)
    return upload, time.perf_counter() - started, len(out.getvalue())


if __name__ == "__main__":
    main()
