"""Benchmark of the durable job stores (:class:`wsrf_uws.store.SQLiteJobStore`, and
:class:`wsrf_uws.store.postgres.PostgresJobStore` when PostgreSQL is installed).

Why: every request the service handles reads or writes the store, and each write is a
durable commit, so the store sets the ceiling on how many jobs a node can create, start
and report on. The design promises that reading a job costs about the same whether
the store holds a hundred resources or a million; this script checks that promise.

What it measures:

1. Throughput (operations per second) on a fresh store, for SQLite with
   ``synchronous="full"`` (the default) and ``synchronous="normal"``, and for PostgreSQL
   (a throw-away server from :mod:`wsrf_uws.testing.postgres`, as the tests start; it
   does not wait for the disk): creating a job (one ``insert``, i.e. one committed
   transaction, per call), reading one by a random id (``get``; then the same reads
   again, with and without the decoded-job cache), and a phase change (``transition``
   PENDING→QUEUED, a compare-and-set, one commit per call).
2. Read latency (p50, p99, mean of ``get`` by a random existing id) in a SQLite store of
   10^2 resources against one of 10^6 (10^5 with ``--quick``), and their ratio. The
   target is a ratio of at most 1.2; a miss is reported, not treated as a failure.
3. PostgreSQL only: claims per second (``ClusterStore.claim``, SKIP LOCKED) by threads
   and by processes emptying a queue, with and without a per-owner limit; a job claimed
   twice or never makes the run fail. ``--no-postgres`` skips 1's PostgreSQL rows and 3.

Results are printed as a plain-text table and written to ``bench/out/store_bench.json``.

Run from the project root: ``python bench/store_bench.py`` (one to two minutes on two cores), or
``python bench/store_bench.py --quick`` for a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import platform
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from wsrf_uws.core.cluster import ClusterStore
from wsrf_uws.core.model import Job, new_resource_id
from wsrf_uws.core.phases import Phase
from wsrf_uws.core.ports import JobStore
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.testing.postgres import Cluster, server_binaries

from report import apply_preset, environment, percentile, table, write_figures

Sync = Literal["full", "normal"]

#: The synchronous modes compared; "full" is the store's default.
SYNC_MODES: tuple[Sync, ...] = ("full", "normal")

#: The read-latency target: large-store latency / small-store latency.
TARGET_RATIO = 1.2

OWNERS = 1000
CONTRACT = "ogc-wps-execute"
BASE_URL = "https://uws.example.org/jobs/"
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "store_bench.json"

FULL = {
    "ops": 5000,
    "small": 100,
    "large": 1_000_000,
    "reads": 20_000,
    "warmup": 5000,
    "claims": 3000,
}
QUICK = {
    "ops": 300,
    "small": 100,
    "large": 100_000,
    "reads": 2000,
    "warmup": 500,
    "claims": 300,
}

_JDL = (
    '<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" '
    'xmlns:ows="http://www.opengis.net/ows/2.0" service="WPS" version="2.0.0">'
    "<ows:Identifier>resample</ows:Identifier>"
    '<wps:Input id="scene"><wps:Reference href="https://data.example.org/s/{scene:08d}"/>'
    '</wps:Input><wps:Input id="res"><wps:Data>{res}</wps:Data></wps:Input></wps:Execute>'
)


# -- workload -------------------------------------------------------------------------


def make_job(rng: random.Random, now: datetime) -> Job:
    """A realistic small PENDING job: ~300 bytes of JDL, one of OWNERS owners."""
    resource_id = new_resource_id()
    lifetime = None if rng.random() < 0.05 else timedelta(hours=rng.randint(1, 24 * 30))
    jdl = _JDL.format(scene=rng.randrange(10**8), res=rng.choice((10, 20, 30, 60)))
    return Job(
        resource_id=resource_id,
        contract=CONTRACT,
        owner=f"user{rng.randrange(OWNERS):04d}",
        phase=Phase.PENDING,
        creation_time=now - timedelta(seconds=rng.randrange(86_400)),
        termination_time=None if lifetime is None else now + lifetime,
        execution_duration=rng.choice((0, 600, 3600, 86_400)),
        jdl=jdl.encode(),
        address=BASE_URL + resource_id,
    )


def make_jobs(rng: random.Random, count: int, ids: list[str]) -> Iterator[Job]:
    """``count`` fresh jobs; their resource ids are appended to ``ids``."""
    now = datetime.now(UTC)
    for _ in range(count):
        job = make_job(rng, now)
        ids.append(job.resource_id)
        yield job


def timed(fn: Callable[[], Any]) -> float:
    """Seconds taken by ``fn()``."""
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e9


def store_bytes(path: Path) -> int:
    """Size of the store's files (database, WAL and shared memory, where present)."""
    return sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


# -- 1. throughput --------------------------------------------------------------------


@dataclass
class Throughput:
    #: ``sqlite full``, ``sqlite normal`` (the synchronous mode) or ``postgres``.
    store: str
    operation: str
    count: int
    seconds: float
    ops_per_s: float


def throughput(
    label: str, store: JobStore, uncached: JobStore, ops: int, rng: random.Random
) -> list[Throughput]:
    """Create, read and phase-change rates on a fresh ``store``; reads of unchanged rows
    also through ``uncached``, a store object on the same database without the
    decoded-job cache."""
    now = datetime.now(UTC)
    jobs = [make_job(rng, now) for _ in range(ops)]
    ids = [job.resource_id for job in jobs]
    read_ids = [rng.choice(ids) for _ in range(ops)]
    move_ids = rng.sample(ids, len(ids))

    def create() -> None:
        for job in jobs:
            store.insert(job)

    def reader(source: JobStore) -> Callable[[], None]:
        def read() -> None:
            for rid in read_ids:
                source.get(rid)

        return read

    def change() -> None:
        expected = {Phase.PENDING}
        for rid in move_ids:
            if store.transition(rid, Phase.QUEUED, expected=expected) is None:
                raise RuntimeError(f"transition of {rid} failed")

    results = []
    for name, fn in (
        ("create", create),
        ("read", reader(store)),
        # What polling clients cause: the rows have not changed since the last read.
        ("read again", reader(store)),
        ("read again, no decoded-job cache", reader(uncached)),
        ("phase change", change),
    ):
        seconds = timed(fn)
        results.append(Throughput(label, name, ops, seconds, ops / seconds))
    return results


def sqlite_throughput(synchronous: Sync, ops: int, rng: random.Random) -> list[Throughput]:
    with tempfile.TemporaryDirectory(prefix="store_bench_") as tmp:
        path = Path(tmp) / "jobs.sqlite"
        store = SQLiteJobStore(path, synchronous=synchronous)
        uncached = SQLiteJobStore(path, synchronous=synchronous, decoded_jobs=0)
        try:
            return throughput(f"sqlite {synchronous}", store, uncached, ops, rng)
        finally:
            store.close()
            uncached.close()


# -- 2. read latency against store size -----------------------------------------------


@dataclass
class Latency:
    resources: int
    reads: int
    p50_us: float
    p99_us: float
    mean_us: float


def load(path: Path, count: int, batch: int, rng: random.Random) -> list[str]:
    """Fill a new store at ``path`` with ``count`` jobs, ``batch`` per transaction."""
    ids: list[str] = []
    store = SQLiteJobStore(path)
    try:
        while len(ids) < count:
            store.insert_many(make_jobs(rng, min(batch, count - len(ids)), ids))
        assert store.count() == count
    finally:
        store.close()
    return ids


#: Reads per block when the small and the large store take turns (see read_latencies).
BLOCK = 500


def prime_os_cache(path: Path) -> None:
    """Read the store's files once, so that they start out in the operating system's cache.

    Otherwise how much of a large store is still cached after the bulk load depends on the
    machine (some VMs reclaim idle page cache within a minute) and reads would measure the
    disk. SQLite's own page cache still starts cold.
    """
    for part in (path, Path(f"{path}-wal")):
        if part.exists():
            with part.open("rb") as f:
                while f.read(1 << 20):
                    pass


def timed_gets(store: SQLiteJobStore, ids: list[str], samples: list[int]) -> None:
    """``get`` each id, appending each call's latency in nanoseconds to ``samples``."""
    clock = time.perf_counter_ns
    for rid in ids:
        start = clock()
        store.get(rid)
        samples.append(clock() - start)


def summary(ids: list[str], samples: list[int]) -> Latency:
    ordered = sorted(samples)
    return Latency(
        resources=len(ids),
        reads=len(ordered),
        p50_us=percentile(ordered, 0.50) / 1000,
        p99_us=percentile(ordered, 0.99) / 1000,
        mean_us=sum(ordered) / len(ordered) / 1000,
    )


def read_latencies(
    stores: list[tuple[Path, list[str]]],
    reads: int,
    warmup: int,
    rng: random.Random,
    prime: bool = True,
) -> list[Latency]:
    """Latency of ``get`` by random existing ids in each store, freshly opened.

    The store files are first read once (see prime_os_cache) unless ``prime`` is false.
    After ``warmup`` untimed reads in each, the stores take turns in blocks of BLOCK
    timed reads, so background load on the machine affects them alike.
    """
    if prime:
        for path, _ in stores:
            prime_os_cache(path)
    # Without the decoded-job cache: with it, the small store's reads would be cache hits
    # and the figure would compare a cache with the B-tree instead of two B-trees.
    opened = [SQLiteJobStore(path, decoded_jobs=0) for path, _ in stores]
    samples: list[list[int]] = [[] for _ in stores]
    try:
        for store, (_, ids) in zip(opened, stores, strict=True):
            for rid in rng.choices(ids, k=warmup):
                store.get(rid)
        for done in range(0, reads, BLOCK):
            for store, (_, ids), out in zip(opened, stores, samples, strict=True):
                timed_gets(store, rng.choices(ids, k=min(BLOCK, reads - done)), out)
    finally:
        for store in opened:
            store.close()
    return [summary(ids, out) for (_, ids), out in zip(stores, samples, strict=True)]


def scaling(args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """Read latency in a small and a large store, the large store's load time and size."""
    with tempfile.TemporaryDirectory(prefix="store_bench_") as tmp:
        small_path, large_path = Path(tmp) / "small.sqlite", Path(tmp) / "large.sqlite"
        small_ids = load(small_path, args.small, args.batch, rng)
        start = time.perf_counter_ns()
        large_ids = load(large_path, args.large, args.batch, rng)
        load_seconds = (time.perf_counter_ns() - start) / 1e9
        large_bytes = store_bytes(large_path)
        small, large = read_latencies(
            [(small_path, small_ids), (large_path, large_ids)],
            args.reads,
            args.warmup,
            rng,
            prime=args.prime,
        )
    ratio_p50 = large.p50_us / small.p50_us
    ratio_mean = large.mean_us / small.mean_us
    return {
        "small": asdict(small),
        "large": asdict(large),
        "batch": args.batch,
        "primed_os_cache": args.prime,
        "load_seconds": load_seconds,
        "load_rows_per_s": args.large / load_seconds,
        "large_file_bytes": large_bytes,
        "ratio_p50": ratio_p50,
        "ratio_mean": ratio_mean,
        "delta_p50_us": large.p50_us - small.p50_us,
        "delta_mean_us": large.mean_us - small.mean_us,
        "target_ratio": TARGET_RATIO,
        "pass_p50": ratio_p50 <= TARGET_RATIO,
        "pass_mean": ratio_mean <= TARGET_RATIO,
    }


# -- 3. PostgreSQL: throughput and claims ------------------------------------------


@dataclass
class ClaimRate:
    #: Who claimed: ``N threads`` (sharing two store objects, as two nodes) or
    #: ``N processes`` (a store object each).
    claimers: str
    #: Whether each claim ran under a per-owner limit (an advisory lock per owner).
    limited: bool
    jobs: int
    owners: int
    seconds: float
    jobs_per_s: float


def queued_jobs(rng: random.Random, count: int, owners: int) -> list[Job]:
    now = datetime.now(UTC)
    jobs = []
    for i in range(count):
        job = make_job(rng, now)
        jobs.append(
            replace(job, phase=Phase.QUEUED, owner=f"user{i % owners:04d}", creation_time=now)
        )
    return jobs


def claim_until_empty(store: ClusterStore, node: str, limit: int | None) -> list[str]:
    """Claim jobs for ``node`` until none is left; their ids."""
    now = datetime.now(UTC)
    max_running = None if limit is None else (lambda owner: limit)
    claimed = []
    while (job := store.claim(node, now=now, max_running=max_running)) is not None:
        claimed.append(job.resource_id)
    return claimed


def claiming_process(url: str, node: str, limit: int | None, barrier: Any, out: Any) -> None:
    """One node in a process of its own: waits for the others, then claims."""
    from wsrf_uws.store.postgres import PostgresJobStore

    store = PostgresJobStore(url, max_connections=2)
    try:
        barrier.wait()
        out.put(claim_until_empty(store, node, limit))
    finally:
        store.close()


def claim_rate(
    url: str,
    rng: random.Random,
    *,
    jobs: int,
    owners: int,
    claimers: int,
    processes: bool,
    limited: bool,
) -> ClaimRate:
    """Claims per second of ``claimers`` threads or processes emptying a queue of ``jobs``;
    raises if a job was claimed twice or not at all."""
    from wsrf_uws.store.postgres import PostgresJobStore

    store = PostgresJobStore(url)
    store.insert_many(queued_jobs(rng, jobs, owners))
    limit = jobs if limited else None  # never reached: measures the locking, not waiting
    claimed: list[str] = []
    try:
        if processes:
            ctx = multiprocessing.get_context("spawn")
            barrier, out = ctx.Barrier(claimers + 1), ctx.Queue()
            procs = [
                ctx.Process(target=claiming_process, args=(url, f"n{i}", limit, barrier, out))
                for i in range(claimers)
            ]
            for proc in procs:
                proc.start()
            barrier.wait()
            start = time.perf_counter()
            for _ in procs:
                claimed += out.get(timeout=600)
            seconds = time.perf_counter() - start
            for proc in procs:
                proc.join()
        else:
            stores = [store, PostgresJobStore(url)]
            results: list[list[str]] = [[] for _ in range(claimers)]
            threads = [
                threading.Thread(
                    target=lambda i=i: results[i].extend(
                        claim_until_empty(stores[i % 2], f"n{i % 2}", limit)
                    )
                )
                for i in range(claimers)
            ]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - start
            stores[1].close()
            claimed = [rid for result in results for rid in result]
        if len(claimed) != jobs or len(set(claimed)) != jobs:
            raise RuntimeError(f"{len(claimed)} claims, {len(set(claimed))} jobs, of {jobs}")
    finally:
        store.close()
    kind = "processes" if processes else "threads"
    return ClaimRate(f"{claimers} {kind}", limited, jobs, owners, seconds, jobs / seconds)


#: (claimers, processes, limited) of each claim measurement.
CLAIMERS = [
    (1, False, False),
    (2, False, False),
    (4, False, False),
    (8, False, False),
    (4, False, True),
    (2, True, False),
    (4, True, False),
    (4, True, True),
]


def postgres_figures(
    args: argparse.Namespace, rng: random.Random
) -> tuple[list[Throughput], list[ClaimRate]] | None:
    """PostgreSQL's rates and claims, on a throw-away server (None: none installed)."""
    binaries = server_binaries()
    if binaries is None or importlib.util.find_spec("psycopg") is None:
        print("PostgreSQL (postgresql-15 and psycopg) is not installed: its figures are skipped")
        return None
    from wsrf_uws.store.postgres import PostgresJobStore

    cluster = Cluster(binaries)
    cluster.start()
    try:
        url = cluster.new_schema()
        store, uncached = PostgresJobStore(url), PostgresJobStore(url, decoded_jobs=0)
        try:
            rates = throughput("postgres", store, uncached, args.ops, rng)
        finally:
            store.close()
            uncached.close()
        claims = [
            claim_rate(
                cluster.new_schema(),
                rng,
                jobs=args.claims,
                owners=args.owners,
                claimers=claimers,
                processes=processes,
                limited=limited,
            )
            for claimers, processes, limited in CLAIMERS
        ]
    finally:
        cluster.stop()
    return rates, claims


def claim_row(r: ClaimRate) -> list[str]:
    return [
        r.claimers,
        "yes" if r.limited else "no",
        f"{r.jobs:,}",
        str(r.owners),
        f"{r.seconds:.2f}",
        f"{r.jobs_per_s:,.0f}",
    ]


# -- output ---------------------------------------------------------------------------


def throughput_row(r: Throughput) -> list[str]:
    return [r.store, r.operation, str(r.count), f"{r.seconds:.3f}", f"{r.ops_per_s:,.0f}"]


def latency_row(x: dict[str, Any]) -> list[str]:
    figures = (x["p50_us"], x["p99_us"], x["mean_us"])
    return [f"{x['resources']:,}", f"{x['reads']:,}", *(f"{v:.1f}" for v in figures)]


def ratio_line(label: str, small: float, large: float) -> str:
    ratio = large / small
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    return (
        f"ratio large/small {label} {ratio:5.2f}  ({large - small:+.1f} us per read)  "
        f"target <= {TARGET_RATIO}  {verdict}"
    )


def power_of_ten(n: int) -> str:
    """``10^k`` when ``n`` is a power of ten, else ``n`` with thousands separators."""
    text = str(n)
    return f"10^{len(text) - 1}" if text.strip("0") == "1" else f"{n:,}"


def quick_note(small: dict[str, Any], large: dict[str, Any]) -> str:
    sizes = f"{power_of_ten(small['resources'])} vs {power_of_ten(large['resources'])}"
    return f" (--quick: fewer operations; {sizes} resources instead of 10^2 vs 10^6)"


def report(
    env: dict[str, Any],
    rates: list[Throughput],
    scale: dict[str, Any],
    claims: list[ClaimRate],
    quick: bool,
) -> str:
    small, large = scale["small"], scale["large"]
    size_mib = scale["large_file_bytes"] / 2**20
    lines = "\n".join(
        [
            "wsrf_uws store benchmark" + (quick_note(small, large) if quick else ""),
            f"Python {env['python']} ({env['implementation']}), SQLite {env['sqlite']}, "
            f"{env['cpus']} CPUs, {env['platform']}",
            "",
            "1. Throughput on a fresh store (one committed transaction per create/phase change)",
            "",
            table(
                ["store", "operation", "ops", "seconds", "ops/s"],
                [throughput_row(r) for r in rates],
            ),
            "",
            "2. Read latency (get by random existing id) against store size",
            "   (store files "
            + ("read once into the OS cache first" if scale["primed_os_cache"] else "not primed")
            + "; SQLite's cache cold, then a warm-up of untimed reads)",
            "",
            table(
                ["resources", "reads", "p50 us", "p99 us", "mean us"],
                [latency_row(small), latency_row(large)],
            ),
            "",
            f"bulk load of {large['resources']:,} jobs (insert_many, batches of "
            f"{scale['batch']:,}): {scale['load_seconds']:.1f} s "
            f"({scale['load_rows_per_s']:,.0f} jobs/s)",
            f"size of the {large['resources']:,}-resource store: {size_mib:,.1f} MiB",
            ratio_line("p50: ", small["p50_us"], large["p50_us"]),
            ratio_line("mean:", small["mean_us"], large["mean_us"]),
        ]
    )
    if not claims:
        return lines
    return "\n".join(
        [
            lines,
            "",
            f"3. Claims on PostgreSQL (ClusterStore.claim until the queue of "
            f"{claims[0].jobs:,} jobs of {claims[0].owners} owners is empty; each job "
            "claimed exactly once)",
            "",
            table(
                ["claimers", "per-owner limit", "jobs", "seconds", "jobs/s"],
                [[r[0], r[1], r[2], r[4], r[5]] for r in map(claim_row, claims)],
            ),
        ]
    )


# -- main -----------------------------------------------------------------------------


def defaults(name: str) -> str:
    return f"(default {FULL[name]:,}; --quick {QUICK[name]:,})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument(
        "--ops", type=int, help=f"operations per throughput measurement {defaults('ops')}"
    )
    parser.add_argument(
        "--small", type=int, help=f"resources in the small store {defaults('small')}"
    )
    parser.add_argument(
        "--large", type=int, help=f"resources in the large store {defaults('large')}"
    )
    parser.add_argument(
        "--reads", type=int, help=f"timed reads per latency measurement {defaults('reads')}"
    )
    parser.add_argument(
        "--warmup", type=int, help=f"untimed reads before each measurement {defaults('warmup')}"
    )
    parser.add_argument("--batch", type=int, default=50_000, help="jobs per bulk-load batch")
    parser.add_argument(
        "--no-prime",
        dest="prime",
        action="store_false",
        help="do not read the store files into the OS cache before timing reads",
    )
    parser.add_argument(
        "--claims", type=int, help=f"queued jobs per claim measurement {defaults('claims')}"
    )
    parser.add_argument("--owners", type=int, default=20, help="owners of the queued jobs")
    parser.add_argument(
        "--no-postgres",
        dest="postgres",
        action="store_false",
        help="skip PostgreSQL (measured on a throw-away server when it is installed)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the workload")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    args = parser.parse_args(argv)
    return apply_preset(args, QUICK if args.quick else FULL)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    env = environment(
        implementation=platform.python_implementation(), sqlite=sqlite3.sqlite_version
    )
    rates = [r for sync in SYNC_MODES for r in sqlite_throughput(sync, args.ops, rng)]
    claims: list[ClaimRate] = []
    if args.postgres and (postgres := postgres_figures(args, rng)) is not None:
        rates += postgres[0]
        claims = postgres[1]
    scale = scaling(args, rng)
    print(report(env, rates, scale, claims, args.quick))
    figures = {
        "environment": env,
        "quick": args.quick,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "throughput": [asdict(r) for r in rates],
        "read_latency": scale,
        "claims": [asdict(r) for r in claims],
    }
    write_figures(args.out, figures)


if __name__ == "__main__":
    main()
