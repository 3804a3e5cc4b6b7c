"""Benchmark of the ADQL result cursor and the VOTable writer (contract ``adql``).

Why: ``exposeRows(start, end)`` promises a cost that depends on the rows asked for, not
on where they lie in the result, and whole results are downloaded as VOTables, which
astropy's writer produces at about 90 µs per row. This script checks both promises.

What it measures:

1. **exposeRows** of 1,000 rows at offsets 0, N/2 and N-1,000 of an N-row cursor
   (10 numeric columns, like the notes' synthetic catalogue): each call opens the cursor
   file, slices the rows and encodes them as a BINARY2 VOTable, as a stateless request
   handler would. The offsets take turns in blocks, so background load affects them
   alike. Printed: p50/p99/mean per offset with the open/slice/encode split, the
   slowest/fastest ratio (target <= 1.2) and the time (target <= 10 ms, server side).
   Also shown, outside the ratio: a page across a batch boundary, and a page from a
   cursor kept open. Writing the cursor (time, size) is reported too.
2. **VOTable writing** of R rows of the same columns: our BINARY2 and TABLEDATA writers
   against astropy's (``astropy.io.votable``, BINARY2 and TABLEDATA) in the same run.
   astropy is timed on a smaller sample (its cost is linear in rows) and extrapolated
   per row to R; the output says so.

Run from the project root: ``python bench/adql_bench.py`` (quick: N = 1 M, R = 100 k,
a few seconds) or ``python bench/adql_bench.py --full`` (N = 10 M, R = 1 M; about 15 s on
two cores, 0.5 GB in $TMPDIR and about 1 GB of memory). Figures go to stdout and to
``bench/out/adql_bench.json``.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import astropy
import numpy as np
import pyarrow as pa
from astropy.io.votable import from_table
from astropy.table import Table

from wsrf_uws.jdl.adql.cursor import ResultCursor, write_cursor
from wsrf_uws.vo.columns import ColumnInfo
from wsrf_uws.vo.votable import Serialization, votable_bytes, write_votable

from report import apply_preset, environment, percentile, table, write_figures

#: Targets: slowest/fastest exposeRows offset, and the time of one exposeRows.
TARGET_RATIO = 1.2
TARGET_MS = 10.0
PAGE = 1000
BLOCK = 20
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "adql_bench.json"

QUICK = {"rows": 1_000_000, "calls": 300, "write_rows": 100_000, "astropy_rows": 20_000}
FULL = {"rows": 10_000_000, "calls": 1000, "write_rows": 1_000_000, "astropy_rows": 20_000}

COLUMNS = [
    ColumnInfo("source_id", "long", ucd="meta.id;meta.main"),
    ColumnInfo("ra", "double", unit="deg", ucd="pos.eq.ra;meta.main"),
    ColumnInfo("dec", "double", unit="deg", ucd="pos.eq.dec;meta.main"),
    ColumnInfo("pmra", "float", unit="mas/yr", ucd="pos.pm;pos.eq.ra"),
    ColumnInfo("pmdec", "float", unit="mas/yr", ucd="pos.pm;pos.eq.dec"),
    ColumnInfo("parallax", "float", unit="mas", ucd="pos.parallax"),
    ColumnInfo("phot_g_mean_mag", "float", unit="mag", ucd="phot.mag"),
    ColumnInfo("bp_rp", "float", unit="mag", ucd="phot.color"),
    ColumnInfo("hpx10", "long", ucd="pos.healpix"),
    ColumnInfo("flags", "short", ucd="meta.code"),
]


# -- workload -----------------------------------------------------------------------------


def catalogue(rows: int, *, seed: int, batch: int = 100_000) -> Iterator[pa.RecordBatch]:
    """A synthetic catalogue, uniform on the sphere, in batches (generated lazily)."""
    rng = np.random.default_rng(seed)
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        yield pa.record_batch(
            {
                "source_id": np.arange(start, start + n, dtype=np.int64),
                "ra": rng.uniform(0, 360, n),
                "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
                "pmra": rng.normal(0, 5, n).astype(np.float32),
                "pmdec": rng.normal(0, 5, n).astype(np.float32),
                "parallax": np.abs(rng.normal(1, 0.5, n)).astype(np.float32),
                "phot_g_mean_mag": rng.normal(18, 2, n).astype(np.float32),
                "bp_rp": rng.normal(1, 0.4, n).astype(np.float32),
                "hpx10": rng.integers(0, 12 * 4**10, n, dtype=np.int64),
                "flags": rng.integers(0, 16, n, dtype=np.int16),
            }
        )


def in_memory(rows: int, seed: int) -> pa.Table:
    return pa.Table.from_batches(list(catalogue(rows, seed=seed)))


# -- 1. exposeRows ------------------------------------------------------------------------


@dataclass
class Calls:
    label: str
    start: int
    calls: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    open_ms: float
    slice_ms: float
    encode_ms: float
    page_bytes: int


def expose_rows(path: Path, start: int, samples: dict[str, list[int]]) -> int:
    """One stateless exposeRows(start, start + PAGE): open, slice, encode; the page size."""
    clock = time.perf_counter_ns
    t0 = clock()
    cursor = ResultCursor.open(path)
    t1 = clock()
    page = cursor.rows(start, start + PAGE)
    t2 = clock()
    document = votable_bytes(page, columns=cursor.columns, overflow=cursor.overflow)
    t3 = clock()
    cursor.close()
    samples["open"].append(t1 - t0)
    samples["slice"].append(t2 - t1)
    samples["encode"].append(t3 - t2)
    samples["total"].append(t3 - t0)
    return len(document)


def summarise(label: str, start: int, samples: dict[str, list[int]], size: int) -> Calls:
    total = sorted(samples["total"])

    def mean_ms(values: list[int]) -> float:
        return sum(values) / len(values) / 1e6

    return Calls(
        label=label,
        start=start,
        calls=len(total),
        p50_ms=percentile(total, 0.5) / 1e6,
        p99_ms=percentile(total, 0.99) / 1e6,
        mean_ms=mean_ms(total),
        open_ms=mean_ms(samples["open"]),
        slice_ms=mean_ms(samples["slice"]),
        encode_ms=mean_ms(samples["encode"]),
        page_bytes=size,
    )


def cursor_pages(args: argparse.Namespace) -> dict[str, Any]:
    """Write an N-row cursor, then time exposeRows at the start, middle and end."""
    rows = args.rows
    with tempfile.TemporaryDirectory(prefix="adql_bench_") as tmp:
        path = Path(tmp) / "result.arrow"
        source = in_memory(rows, args.seed)
        start_ns = time.perf_counter_ns()
        summary = write_cursor(source.to_reader(max_chunksize=100_000), path, columns=COLUMNS)
        write_s = (time.perf_counter_ns() - start_ns) / 1e9
        del source
        offsets = {"start": 0, "middle": rows // 2, "end": rows - PAGE}
        boundary = {
            "across a batch boundary": summary.batch_rows * (rows // 2 // summary.batch_rows)
            - PAGE // 2
        }
        every = {**offsets, **boundary}
        samples: dict[str, dict[str, list[int]]] = {
            name: {k: [] for k in ("open", "slice", "encode", "total")} for name in every
        }
        sizes = {name: expose_rows(path, start, samples[name]) for name, start in every.items()}
        for values in samples.values():  # the warm-up calls above are not counted
            for series in values.values():
                series.clear()
        for done in range(0, args.calls, BLOCK):
            for name, start in every.items():
                for _ in range(min(BLOCK, args.calls - done)):
                    expose_rows(path, start, samples[name])
        results = [summarise(n, s, samples[n], sizes[n]) for n, s in every.items()]
        kept_open = kept_open_pages(path, offsets["middle"], args.calls)
    by_offset = [r for r in results if r.label in offsets]
    slowest_p50 = max(r.p50_ms for r in by_offset)
    fastest_p50 = min(r.p50_ms for r in by_offset)
    slowest_mean = max(r.mean_ms for r in by_offset)
    fastest_mean = min(r.mean_ms for r in by_offset)
    return {
        "rows": rows,
        "columns": len(COLUMNS),
        "batch_rows": summary.batch_rows,
        "cursor_bytes": summary.bytes,
        "write_seconds": write_s,
        "write_rows_per_s": rows / write_s,
        "calls": [asdict(r) for r in results],
        "kept_open": kept_open,
        "ratio_p50": slowest_p50 / fastest_p50,
        "ratio_mean": slowest_mean / fastest_mean,
        "slowest_p50_ms": slowest_p50,
        "target_ratio": TARGET_RATIO,
        "target_ms": TARGET_MS,
    }


def kept_open_pages(path: Path, start: int, calls: int) -> dict[str, float]:
    """exposeRows from a cursor opened once (slice + encode only)."""
    samples: list[int] = []
    with ResultCursor.open(path) as cursor:
        for _ in range(calls):
            t0 = time.perf_counter_ns()
            votable_bytes(cursor.rows(start, start + PAGE), columns=cursor.columns)
            samples.append(time.perf_counter_ns() - t0)
    ordered = sorted(samples)
    return {"p50_ms": percentile(ordered, 0.5) / 1e6, "mean_ms": sum(samples) / len(samples) / 1e6}


# -- 2. VOTable writing ---------------------------------------------------------------------


class Counter(io.RawIOBase):
    """A sink that only counts, so that the writers' own time is measured."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        self.size += size
        return size


@dataclass
class Writer:
    writer: str
    serialization: str
    rows_timed: int
    seconds_timed: float
    us_per_row: float
    seconds_for_all: float
    bytes_for_all: float
    extrapolated: bool


def best_of(repeats: int, fn: Callable[[], int]) -> tuple[float, int]:
    """Fastest of ``repeats`` runs of ``fn`` (seconds) and what it returned."""
    best, result = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter_ns()
        result = fn()
        best = min(best, (time.perf_counter_ns() - start) / 1e9)
    return best, result


def ours(rows: pa.Table, serialization: Serialization, total: int) -> Writer:
    def run() -> int:
        sink = Counter()
        write_votable(sink, rows, columns=COLUMNS, serialization=serialization)
        return sink.size

    seconds, size = best_of(3, run)
    return Writer(
        "wsrf_uws",
        serialization,
        rows.num_rows,
        seconds,
        seconds / rows.num_rows * 1e6,
        seconds,
        size,
        extrapolated=False,
    )


def astropy_writer(rows: pa.Table, serialization: str, total: int) -> Writer:
    """astropy's VOTable writer on ``rows``, extrapolated per row to ``total`` rows."""
    columns = {name: rows.column(name).to_numpy() for name in rows.column_names}
    votable = from_table(Table(columns))
    votable.get_first_table().format = serialization.lower()

    def run() -> int:
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            votable.to_xml(buffer)
        return len(buffer.getvalue())

    seconds, size = best_of(1, run)
    per_row = seconds / rows.num_rows
    return Writer(
        "astropy " + astropy.__version__,
        serialization,
        rows.num_rows,
        seconds,
        per_row * 1e6,
        per_row * total,
        size / rows.num_rows * total,
        extrapolated=rows.num_rows != total,
    )


def votable_writing(args: argparse.Namespace) -> dict[str, Any]:
    data = in_memory(args.write_rows, args.seed + 1)
    sample = data.slice(0, min(args.astropy_rows, args.write_rows))
    results = []
    serializations: tuple[Serialization, ...] = ("BINARY2", "TABLEDATA")
    for serialization in serializations:
        mine = ours(data, serialization, args.write_rows)
        theirs = astropy_writer(sample, serialization, args.write_rows)
        results.append(
            {
                "ours": asdict(mine),
                "astropy": asdict(theirs),
                "speedup": theirs.seconds_for_all / mine.seconds_for_all,
            }
        )
    return {"rows": args.write_rows, "astropy_rows": sample.num_rows, "results": results}


# -- output ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(env: dict[str, Any], pages: dict[str, Any], writing: dict[str, Any], full: bool) -> str:
    call_rows = [
        [
            c["label"],
            f"{c['start']:,}",
            f"{c['p50_ms']:.3f}",
            f"{c['p99_ms']:.3f}",
            f"{c['mean_ms']:.3f}",
            f"{c['open_ms']:.3f}",
            f"{c['slice_ms']:.3f}",
            f"{c['encode_ms']:.3f}",
            f"{c['page_bytes']:,}",
        ]
        for c in pages["calls"]
    ]
    write_rows = []
    for r in writing["results"]:
        for who in ("ours", "astropy"):
            w = r[who]
            note = f" (timed {w['rows_timed']:,}, extrapolated)" if w["extrapolated"] else ""
            write_rows.append(
                [
                    f"{w['writer']}{note}",
                    w["serialization"],
                    f"{w['us_per_row']:.2f}",
                    f"{w['seconds_for_all']:.2f}",
                    f"{w['bytes_for_all'] / 2**20:,.1f}",
                ]
            )
    ratio_ok = pages["ratio_p50"] <= TARGET_RATIO
    ms_ok = pages["slowest_p50_ms"] <= TARGET_MS
    preset = "--full" if full else "quick preset (--full: N = 10 M, R = 1 M)"
    return "\n".join(
        [
            f"wsrf_uws ADQL cursor and VOTable benchmark, {preset}",
            f"Python {env['python']}, pyarrow {env['pyarrow']}, numpy {env['numpy']}, "
            f"astropy {env['astropy']}, {env['cpus']} CPUs, {env['platform']}",
            "",
            f"1. exposeRows({PAGE:,} rows) from a {pages['rows']:,}-row cursor of "
            f"{pages['columns']} numeric columns, BINARY2 VOTable; each call opens the file",
            f"   (cursor written in {pages['write_seconds']:.2f} s, "
            f"{pages['write_rows_per_s']:,.0f} rows/s, {pages['cursor_bytes'] / 2**20:,.0f} MiB, "
            f"batches of {pages['batch_rows']:,} rows); times in ms",
            "",
            table(
                ["page", "start", "p50", "p99", "mean", "open", "slice", "encode", "bytes"],
                call_rows,
            ),
            "",
            f"ratio slowest/fastest offset, p50:  {pages['ratio_p50']:.2f}  target <= "
            f"{TARGET_RATIO}  {verdict(ratio_ok)}",
            f"ratio slowest/fastest offset, mean: {pages['ratio_mean']:.2f}",
            f"slowest p50 {pages['slowest_p50_ms']:.3f} ms  target <= {TARGET_MS} ms  "
            f"{verdict(ms_ok)}",
            f"cursor kept open (slice + encode only), middle page: p50 "
            f"{pages['kept_open']['p50_ms']:.3f} ms, mean {pages['kept_open']['mean_ms']:.3f} ms",
            "",
            f"2. Writing a VOTable of {writing['rows']:,} rows x {len(COLUMNS)} columns "
            f"(astropy timed on {writing['astropy_rows']:,} rows and extrapolated per row)",
            "",
            table(
                ["writer", "serialization", "us/row", f"s for {writing['rows']:,}", "MiB"],
                write_rows,
            ),
            "",
            *(
                f"astropy / ours, {r['ours']['serialization']}: {r['speedup']:,.0f}x"
                for r in writing["results"]
            ),
        ]
    )


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="N = 10 M, R = 1 M (minutes)")
    parser.add_argument("--rows", type=int, help="rows N in the cursor (1 M; --full 10 M)")
    parser.add_argument("--calls", type=int, help="timed exposeRows per offset (300; --full 1000)")
    parser.add_argument("--write-rows", type=int, help="rows R per VOTable (100 k; --full 1 M)")
    parser.add_argument("--astropy-rows", type=int, help="rows astropy writes (20 k)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the catalogue")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    args = parser.parse_args(argv)
    return apply_preset(args, FULL if args.full else QUICK)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.rows < 2 * PAGE:
        raise SystemExit(f"--rows must be at least {2 * PAGE}")
    env = environment("pyarrow", "numpy", "astropy")
    pages = cursor_pages(args)
    writing = votable_writing(args)
    print(report(env, pages, writing, args.full))
    figures = {
        "environment": env,
        "full": args.full,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "expose_rows": pages,
        "votable_writing": writing,
    }
    write_figures(args.out, figures)


if __name__ == "__main__":
    main()
