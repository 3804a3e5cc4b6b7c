"""What a cluster of wsrf-uws nodes gives on one machine, against one process in the same run.

Why: issue 16 splits the service into stateless front-ends and worker nodes sharing a
PostgreSQL store. A cluster should add throughput where it adds processes, recover a
dead node's work within its heartbeat ttl, and stop a job on another node as fast as one
process stops its own. Absolute figures depend on the machine, so each is printed beside
a baseline measured in the same run. On a 2-core machine more nodes share the same two
processors: the job figures show what the cluster costs, not what more machines add.

What it measures (real processes: ``wsrf-uws serve`` on SQLite, ``serve --role
frontend`` and ``wsrf-uws worker`` on a throw-away PostgreSQL 15 started as the tests
start it):

1. *Short jobs per second*: N ``steps`` jobs of one step of no duration, created first,
   then started by 4 client threads; from the first startJob to the last job's recorded
   end. The local executor of one SQLite ``serve`` with 1, 2 and 4 slots against a
   cluster of one front-end with 1, 2 and 4 worker nodes of one slot each; in turns.
2. *GetResourceProperty of JobState per second*: raw SOAP POSTs over keep-alive
   connections from several client processes (no SOAP library), to one SQLite
   ``serve``, to one front-end, and to two front-ends (connections shared evenly), in
   rotating rounds. Goal: two front-ends >= 1.6 x one.
3. *Takeover after kill -9*: an isolated job runs on a worker; the worker is killed
   with SIGKILL; the time until the job is recorded EXECUTING on another worker (its
   recorded start of the new run). Goal: <= heartbeat ttl + 1 s.
4. *Cross-node abort*: a job with two child processes runs on a worker; a front-end
   is asked to Destroy it; the time until the reply, and until the job's whole process
   tree on the worker is gone (watched by a thread polling the pids). Goal: <= 100 ms.

Printed: a table per part and PASS or MISS per goal; figures also go to
``bench/out/cluster_bench.json``. Like the other benchmarks it exits 0 on a missed goal
and 1 only when something failed (a request, a job).

Run from the project root: ``python bench/cluster_bench.py`` (a few minutes on two
cores), or ``python bench/cluster_bench.py --quick`` for a shorter, indicative run.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from wsrf_uws.core import Phase
from wsrf_uws.core.ports import JobStore
from wsrf_uws.jdl.cea.subreaper import child_subreaper
from wsrf_uws.runtime import job_store
from wsrf_uws.settings import Settings
from wsrf_uws.testing.cluster import (
    CLUSTER_TEST_ENVIRONMENT,
    RunningCluster,
    RunningFrontend,
    running_cluster,
)
from wsrf_uws.testing.postgres import Cluster, server_binaries
from wsrf_uws.testing.server import RunningServer

from report import apply_preset, environment, percentile, table, write_figures
from soap_bench import (
    CONTRACT_PATH,
    GRP_ACTION,
    STEPS,
    Workload,
    addressing,
    connect,
    create_job,
    envelope,
    grp_body,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "cluster_bench.json"

#: The goals.
TARGET_FRONTEND_SCALING = 1.6
TARGET_ABORT_MS = 100.0
TARGET_TAKEOVER_MARGIN = 1.0  # seconds beyond the heartbeat ttl

FULL = {"jobs": 100, "grp_seconds": 4.0, "grp_rounds": 4, "kills": 3, "aborts": 10}
QUICK = {"jobs": 40, "grp_seconds": 2.0, "grp_rounds": 2, "kills": 1, "aborts": 3}

#: Part 1's sizes: slots of the local executor, worker nodes of the cluster.
SCALES = (1, 2, 4)

START_ACTION = f"{STEPS}/startJob"
DESTROY_ACTION = "http://docs.oasis-open.org/wsrf/rlw-2/ImmediateResourceTermination/DestroyRequest"
RL = "http://docs.oasis-open.org/wsrf/rl-2"
SAFETY = 300.0  # seconds: only a guard against hanging


# -- raw SOAP -----------------------------------------------------------------------------


def start_workload(base_url: str, resource_id: str) -> Workload:
    to = base_url + CONTRACT_PATH
    body = f'<tns:startJob xmlns:tns="{STEPS}"/>'
    return Workload(
        "startJob",
        CONTRACT_PATH,
        START_ACTION,
        envelope(body, addressing(to, START_ACTION, resource_id)),
        (b"startJobResponse",),
    )


def destroy_workload(base_url: str, resource_id: str) -> Workload:
    to = base_url + CONTRACT_PATH
    body = f'<wsrfrl:Destroy xmlns:wsrfrl="{RL}"/>'
    return Workload(
        "Destroy",
        CONTRACT_PATH,
        DESTROY_ACTION,
        envelope(body, addressing(to, DESTROY_ACTION, resource_id)),
        (b"DestroyResponse",),
    )


def grp_workload(base_url: str, resource_id: str) -> Workload:
    to = base_url + CONTRACT_PATH
    return Workload(
        "GRP JobState",
        CONTRACT_PATH,
        GRP_ACTION,
        envelope(grp_body("JobState"), addressing(to, GRP_ACTION, resource_id)),
        (b"GetResourcePropertyResponse", b"JobState"),
    )


def send(connection: http.client.HTTPConnection, workload: Workload) -> None:
    """One request; RuntimeError unless the reply is what the workload expects."""
    connection.request("POST", workload.path, workload.body(), workload.headers)
    response = connection.getresponse()
    data = response.read()
    if not workload.ok(response.status, data):
        raise RuntimeError(f"{workload.name}: HTTP {response.status} {data[:400]!r}")


def send_all(base_urls: list[str], workloads: list[Workload], *, clients: int = 4) -> None:
    """Send ``workloads`` (each to its own base URL) from ``clients`` threads."""
    lock = threading.Lock()
    pending = list(zip(base_urls, workloads, strict=True))
    errors: list[BaseException] = []

    def work() -> None:
        connections: dict[str, http.client.HTTPConnection] = {}
        try:
            while True:
                with lock:
                    if not pending or errors:
                        return
                    base_url, workload = pending.pop()
                if base_url not in connections:
                    connections[base_url] = connect(base_url)
                send(connections[base_url], workload)
        except BaseException as error:
            with lock:
                errors.append(error)
        finally:
            for connection in connections.values():
                connection.close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# -- 1. short jobs per second ---------------------------------------------------------------


@dataclass
class JobsFigure:
    setup: str
    jobs: int
    seconds: float
    per_s: float


def wait_all_final(store: JobStore, ids: list[str]) -> list[Any]:
    """Poll ``store`` until every job of ``ids`` has ended; the jobs."""
    deadline = time.monotonic() + SAFETY
    waiting = set(ids)
    while waiting:
        for resource_id in list(waiting):
            job = store.get(resource_id)
            if job is not None and job.is_final:
                waiting.discard(resource_id)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} job(s) never ended")
        if waiting:
            time.sleep(0.05)
    return [store.get(resource_id) for resource_id in ids]


def short_jobs(setup: str, base_urls: list[str], store: JobStore, count: int) -> JobsFigure:
    """Create ``count`` short jobs through ``base_urls``, start them all, wait for the end."""
    ids = [create_job(base_urls[i % len(base_urls)]) for i in range(count)]
    urls = [base_urls[i % len(base_urls)] for i in range(count)]
    began = datetime.now(UTC)
    send_all(urls, [start_workload(u, rid) for u, rid in zip(urls, ids, strict=True)])
    jobs = wait_all_final(store, ids)
    failed = [j.resource_id for j in jobs if j.phase is not Phase.COMPLETED]
    if failed:
        raise RuntimeError(f"{setup}: {len(failed)} job(s) did not complete: {failed[:3]}")
    ended = max(j.end_time for j in jobs)
    seconds = (ended - began).total_seconds()
    return JobsFigure(setup, count, seconds, count / seconds)


# -- 2. GetResourceProperty per second ---------------------------------------------------------


@dataclass
class GrpTally:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_us: list[int] = field(default_factory=list)
    first_error: str = ""


def grp_client(
    targets: list[tuple[str, str]], threads: int, start_at: float, stop_at: float, out: Any
) -> None:
    """A client process: ``threads`` threads POST GetResourceProperty until ``stop_at``
    (``time.time()``), each over one keep-alive connection to its ``(base_url,
    resource_id)`` of ``targets`` (taken in turn); puts a :class:`GrpTally` on ``out``."""
    tally = GrpTally()
    lock = threading.Lock()

    def work(index: int) -> None:
        base_url, resource_id = targets[index % len(targets)]
        workload = grp_workload(base_url, resource_id)
        connection = connect(base_url)
        latencies, errors, first = [], 0, ""
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            began = time.perf_counter_ns()
            if time.time() >= stop_at:
                break
            try:
                send(connection, workload)
                latencies.append((time.perf_counter_ns() - began) // 1000)
            except (OSError, http.client.HTTPException, RuntimeError) as error:
                errors += 1
                first = first or f"{type(error).__name__}: {error}"
                connection.close()
                connection = connect(base_url)
        connection.close()
        with lock:
            tally.requests += len(latencies)
            tally.errors += errors
            tally.latencies_us += latencies
            tally.first_error = tally.first_error or first

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    tally.seconds = stop_at - start_at
    out.put(tally)


def grp_round(
    targets: list[tuple[str, str]], *, processes: int, threads: int, seconds: float
) -> GrpTally:
    """Every client process and thread at once for ``seconds``; the tallies merged."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    start_at = time.time() + 1.5  # the processes' start-up is not timed
    stop_at = start_at + seconds
    # Each process takes the targets from its own place in turn, so connections are
    # shared evenly among the front-ends.
    clients = [
        context.Process(
            target=grp_client,
            args=(targets[p:] + targets[:p], threads, start_at, stop_at, out),
        )
        for p in range(processes)
    ]
    for client in clients:
        client.start()
    merged = GrpTally()
    for _ in clients:
        tally: GrpTally = out.get(timeout=seconds + 120)
        merged.requests += tally.requests
        merged.errors += tally.errors
        merged.latencies_us += tally.latencies_us
        merged.first_error = merged.first_error or tally.first_error
    for client in clients:
        client.join(30)
    merged.seconds = seconds
    return merged


# -- 3. takeover after kill -9 --------------------------------------------------------------


def takeover(cluster: RunningCluster, store: JobStore, frontend: RunningFrontend) -> float:
    """Seconds from ``kill -9`` of the worker running an isolated job to the recorded
    start of its next run on another worker; the killed worker is started again."""
    resource_id = create_job_of(frontend, steps=1000, seconds=0.1)
    send_all([frontend.base_url], [start_workload(frontend.base_url, resource_id)], clients=1)
    job = poll(store, resource_id, lambda j: j.phase is Phase.EXECUTING and j.node is not None)
    victim = cluster.worker(job.node)
    killed_at = datetime.now(UTC)
    victim.kill()
    rerun = poll(
        store,
        resource_id,
        lambda j: j.phase is Phase.EXECUTING and j.run_count == 2 and j.node is not None,
    )
    send_all([frontend.base_url], [destroy_workload(frontend.base_url, resource_id)], clients=1)
    victim.start()  # the same name, for the next sample
    seconds: float = (rerun.start_time - killed_at).total_seconds()
    return seconds


def create_job_of(
    frontend: RunningFrontend, *, steps: int, seconds: float, children: int = 0
) -> str:
    """A ``steps`` job created through ``frontend``; its resource id."""
    from wsrf_uws.client import Service
    from wsrf_uws.jdl.steps.contract import steps_jdl

    return (
        Service(frontend.url("steps"))
        .create(steps_jdl(steps, seconds, children=children))
        .resource_id
    )


def poll(store: JobStore, resource_id: str, test: Any, *, pause: float = 0.005) -> Any:
    """Read the job until ``test(job)``; the job."""
    deadline = time.monotonic() + SAFETY
    while True:
        job = store.get(resource_id)
        if job is not None and test(job):
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"{resource_id}: never so ({job})")
        time.sleep(pause)


# -- 4. cross-node abort --------------------------------------------------------------------


@dataclass
class AbortSample:
    reply_ms: float
    tree_gone_ms: float


def abort_once(cluster: RunningCluster, store: JobStore, frontend: RunningFrontend) -> AbortSample:
    """Destroy a running job with two children through ``frontend``; when its tree is gone."""
    resource_id = create_job_of(frontend, steps=1, seconds=0, children=2)
    send_all([frontend.base_url], [start_workload(frontend.base_url, resource_id)], clients=1)
    job = poll(store, resource_id, lambda j: j.node is not None and "children" in j.jdl_state)
    children = [psutil.Process(pid) for pid in job.jdl_state["children"]]
    job_process = children[0].parent()
    worker = cluster.worker(job.node)
    assert job_process is not None
    assert worker.pid is not None
    assert job_process.pid in {p.pid for p in psutil.Process(worker.pid).children(recursive=True)}
    tree = [job_process, *job_process.children(recursive=True)]

    gone = threading.Event()
    gone_at: list[int] = []

    def watch() -> None:
        living = list(tree)
        while living:
            living = [p for p in living if _running(p)]
            time.sleep(0.0005)  # a busy loop would take a processor from the worker
        gone_at.append(time.perf_counter_ns())
        gone.set()

    watcher = threading.Thread(target=watch, daemon=True)
    connection = connect(frontend.base_url)
    destroy = destroy_workload(frontend.base_url, resource_id)
    began = time.perf_counter_ns()
    watcher.start()
    send(connection, destroy)
    replied = time.perf_counter_ns()
    connection.close()
    if not gone.wait(SAFETY):
        raise RuntimeError(f"the tree of {resource_id} outlived its Destroy")
    return AbortSample((replied - began) / 1e6, (gone_at[0] - began) / 1e6)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# -- orphans --------------------------------------------------------------------------------


def init_reaping_ms() -> float:
    """How long this machine takes to reap a killed orphan (ms): an orphan's zombie is
    reaped by init (pid 1), or by the nearest child subreaper among its ancestors."""
    made = subprocess.run(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(made.stdout)  # its shell has exited: it is an orphan
    began = time.perf_counter()
    os.kill(orphan, signal.SIGKILL)
    while psutil.pid_exists(orphan) and time.perf_counter() - began < 30:
        time.sleep(0.001)
    return (time.perf_counter() - began) * 1000


class OrphanReaper:
    """This process as the child subreaper of everything the benchmark starts, reaping
    each orphan that reaches it at once, as the init of an ordinary host does (Linux).

    Why: stopping a job kills its process tree and waits until no process of it is left
    (zombies included), and a job's children that outlive it are orphans, reaped by
    init. The init of some VMs and containers reaps late (the one this benchmark was
    written on, about 1.5 s) or never (a worker run as pid 1 of a container); that delay
    would be measured as the service's. Only orphans are reaped: a child the benchmark
    started itself (a node, a server, a client process) is left to whoever waits for it.
    """

    #: Command-line marks of the processes the benchmark starts itself.
    OWN = ("wsrf_uws.cli", "multiprocessing.spawn", "multiprocessing.resource_tracker")

    def __init__(self) -> None:
        self.active = False
        self._stop = threading.Event()
        self._own: set[int] = set()
        self._subreaper = child_subreaper()
        self._thread = threading.Thread(target=self._reap, name="orphan-reaper", daemon=True)

    def __enter__(self) -> OrphanReaper:
        self.active = self._subreaper.__enter__()
        if self.active:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.active:
            self._thread.join()
        self._subreaper.__exit__(None, None, None)

    def _reap(self) -> None:
        # /proc, not psutil: psutil finds children by scanning every process, which
        # polled every few milliseconds would take a processor from what is measured.
        while not self._stop.wait(0.002):
            for pid in _children() - self._own:
                with suppress(OSError):
                    if _state(pid) == "Z":
                        os.waitpid(pid, os.WNOHANG)
                    elif any(mark in _command(pid) for mark in self.OWN):
                        self._own.add(pid)


def _children() -> set[int]:
    """The pids of this process's children (Linux: every thread's ``children`` file)."""
    pids: set[int] = set()
    for path in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        with suppress(OSError):
            pids.update(int(pid) for pid in path.read_text().split())
    return pids


def _state(pid: int) -> str:
    """The state letter of process ``pid`` (``Z``: a zombie)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


# -- the run --------------------------------------------------------------------------------


@contextmanager
def sqlite_server(folder: Path, *, slots: int, env: dict[str, str]) -> Iterator[RunningServer]:
    """One ``wsrf-uws serve`` on a fresh SQLite data directory, with ``slots`` slots."""
    server = RunningServer(folder, env={**env, "WSRF_UWS_SLOTS": str(slots)})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter, indicative run")
    parser.add_argument("--jobs", type=int, help="short jobs per setup (100; --quick 40)")
    parser.add_argument("--grp-seconds", type=float, help="seconds per GRP round (4; quick 2)")
    parser.add_argument("--grp-rounds", type=int, help="rounds of each GRP setup (4; quick 2)")
    parser.add_argument("--grp-processes", type=int, default=2, help="GRP client processes")
    parser.add_argument("--grp-threads", type=int, default=4, help="threads per client process")
    parser.add_argument("--kills", type=int, help="kill -9 samples (3; quick 1)")
    parser.add_argument("--aborts", type=int, help="cross-node abort samples (10; quick 3)")
    parser.add_argument("--heartbeat-interval", type=float, default=1.0, help="seconds (1)")
    parser.add_argument("--heartbeat-ttl", type=float, default=5.0, help="seconds (5)")
    parser.add_argument(
        "--parts",
        default="jobs,grp,kill,abort",
        help="comma-separated subset of jobs,grp,kill,abort",
    )
    parser.add_argument(
        "--no-reaper",
        dest="reaper",
        action="store_false",
        help="leave orphans to this machine's init (see OrphanReaper)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    args = parser.parse_args(argv)
    return apply_preset(args, QUICK if args.quick else FULL)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    binaries = server_binaries()
    if binaries is None:
        raise SystemExit("cluster_bench: PostgreSQL's server binaries are not installed")
    args.init_reaping_ms = statistics.median(init_reaping_ms() for _ in range(3))
    postgres = Cluster(binaries)
    postgres.start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="cluster-bench-") as folder,
            OrphanReaper() if args.reaper else nullcontext() as reaper,
        ):
            reaping = reaper is not None and reaper.active
            args.reaping = "the benchmark (a child subreaper)" if reaping else "init"
            return run(args, Path(folder), postgres)
    finally:
        postgres.stop()


def run(args: argparse.Namespace, folder: Path, postgres: Cluster) -> int:
    parts = set(args.parts.split(","))
    # The test environment: no quota or request-rate limit measures itself here.
    env = dict(CLUSTER_TEST_ENVIRONMENT)
    env["WSRF_UWS_KILL_GRACE"] = str(Settings().kill_grace)
    figures: dict[str, Any] = {"options": {k: str(v) for k, v in vars(args).items()}}
    print(
        "wsrf_uws cluster benchmark" + (" (--quick: indicative only)" if args.quick else ""),
        f"\nPython {sys.version.split()[0]}, PostgreSQL {postgres_version(postgres)}, "
        f"{psutil.cpu_count()} CPUs; heartbeat {args.heartbeat_interval:g} s, "
        f"ttl {args.heartbeat_ttl:g} s",
        f"\nthis machine's init reaps a killed orphan after {args.init_reaping_ms:.0f} ms; "
        f"orphans reaped by {args.reaping}",
        sep="",
        flush=True,
    )
    with running_cluster(
        folder / "cluster",
        database_url=postgres.new_schema(),
        frontends=2,
        workers=1,
        env=env,
        heartbeat_interval=args.heartbeat_interval,
        heartbeat_ttl=args.heartbeat_ttl,
    ) as cluster:
        store = cluster.open_store()
        try:
            if "grp" in parts:
                figures["grp"] = grp_part(args, folder, cluster, env)
            if "jobs" in parts:
                figures["jobs"] = jobs_part(args, folder, cluster, store, env)
            if "abort" in parts:
                figures["abort"] = abort_part(args, cluster, store)
            if "kill" in parts:
                figures["kill"] = kill_part(args, cluster, store)
        finally:
            store.close()
    figures["environment"] = environment("psycopg", "waitress", "spyne", "lxml")
    write_figures(args.out, figures)
    return 0


def grp_part(
    args: argparse.Namespace,
    folder: Path,
    cluster: RunningCluster,
    env: dict[str, str],
) -> dict[str, Any]:
    with sqlite_server(folder / "grp-sqlite", slots=1, env=env) as server:
        first, second = cluster.frontends
        # One job the pollers read: PENDING, so nothing changes it meanwhile.
        local_job = create_job(server.base_url)
        shared_job = create_job(first.base_url)
        setups = {
            "SQLite, one serve": [(server.base_url, local_job)],
            "PostgreSQL, one front-end": [(first.base_url, shared_job)],
            "PostgreSQL, two front-ends": [
                (first.base_url, shared_job),
                (second.base_url, shared_job),
            ],
        }
        tallies = {name: GrpTally() for name in setups}
        # Warm-up, then rounds in rotating order so drift affects every setup alike.
        for targets in setups.values():
            grp_round(targets, processes=args.grp_processes, threads=args.grp_threads, seconds=1)
        names = list(setups)
        for number in range(args.grp_rounds):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                tally = grp_round(
                    setups[name],
                    processes=args.grp_processes,
                    threads=args.grp_threads,
                    seconds=args.grp_seconds,
                )
                merged = tallies[name]
                merged.requests += tally.requests
                merged.errors += tally.errors
                merged.seconds += tally.seconds
                merged.latencies_us += tally.latencies_us
                merged.first_error = merged.first_error or tally.first_error
    rows: list[list[str]] = []
    result: dict[str, dict[str, Any]] = {}
    one = tallies["PostgreSQL, one front-end"]
    for name, tally in tallies.items():
        ordered = sorted(tally.latencies_us) or [0]
        per_s = tally.requests / tally.seconds
        result[name] = {
            "requests": tally.requests,
            "errors": tally.errors,
            "per_s": per_s,
            "p50_ms": percentile(ordered, 0.5) / 1000,
            "p99_ms": percentile(ordered, 0.99) / 1000,
            "first_error": tally.first_error,
        }
        rows.append(
            [
                name,
                f"{tally.requests:,}",
                str(tally.errors),
                f"{per_s:,.0f}",
                f"{percentile(ordered, 0.5) / 1000:.2f}",
                f"{percentile(ordered, 0.99) / 1000:.2f}",
                f"{per_s / (one.requests / one.seconds):.2f}",
            ]
        )
    scaling = (
        result["PostgreSQL, two front-ends"]["per_s"] / result["PostgreSQL, one front-end"]["per_s"]
    )
    emit(
        [
            "",
            f"GetResourceProperty of JobState: {args.grp_processes} client processes x "
            f"{args.grp_threads} threads, keep-alive, {args.grp_rounds} round(s) of "
            f"{args.grp_seconds:g} s per setup",
            table(["setup", "requests", "errors", "req/s", "p50 ms", "p99 ms", "/one FE"], rows),
            f"goal: two front-ends >= {TARGET_FRONTEND_SCALING} x one: {scaling:.2f}  "
            + ("PASS" if scaling >= TARGET_FRONTEND_SCALING else "MISS"),
            *(f"first error of {n}: {t.first_error}" for n, t in tallies.items() if t.errors),
        ]
    )
    return {"setups": result, "two_over_one": scaling}


def jobs_part(
    args: argparse.Namespace,
    folder: Path,
    cluster: RunningCluster,
    store: JobStore,
    env: dict[str, str],
) -> dict[str, Any]:
    frontend = cluster.frontends[0]
    results: list[JobsFigure] = []
    workers = len(cluster.workers)
    for scale in SCALES:
        local = folder / f"jobs-sqlite-{scale}"
        with sqlite_server(local, slots=scale, env=env) as server:
            local_store = job_store(Settings(data_dir=local))
            try:
                results.append(
                    short_jobs(
                        f"local executor, {scale} slot(s)",
                        [server.base_url],
                        local_store,
                        args.jobs,
                    )
                )
            finally:
                local_store.close()
        while workers < scale:
            cluster.add_worker(f"w{workers}")
            workers += 1
        results.append(
            short_jobs(f"cluster, {scale} worker node(s)", [frontend.base_url], store, args.jobs)
        )
    rows = [[r.setup, str(r.jobs), f"{r.seconds:.2f}", f"{r.per_s:.1f}"] for r in results]
    emit(
        [
            "",
            f"short jobs (one step of no duration), {args.jobs} per setup, started by 4 client "
            "threads; worker nodes of one slot each, one front-end",
            table(["setup", "jobs", "seconds", "jobs/s"], rows),
        ]
    )
    return {"setups": [r.__dict__ for r in results]}


def kill_part(args: argparse.Namespace, cluster: RunningCluster, store: JobStore) -> dict[str, Any]:
    while len(cluster.workers) < 2:
        cluster.add_worker(f"w{len(cluster.workers)}")
    frontend = cluster.frontends[0]
    samples = [takeover(cluster, store, frontend) for _ in range(args.kills)]
    worst = max(samples)
    goal = args.heartbeat_ttl + TARGET_TAKEOVER_MARGIN
    emit(
        [
            "",
            f"kill -9 of the worker running an isolated job -> the job EXECUTING on another "
            f"({len(cluster.workers)} workers, heartbeat ttl {args.heartbeat_ttl:g} s): "
            + ", ".join(f"{s:.2f}" for s in samples)
            + " s",
            f"goal: <= ttl + {TARGET_TAKEOVER_MARGIN:g} s = {goal:g} s: worst {worst:.2f} s  "
            + ("PASS" if worst <= goal else "MISS"),
        ]
    )
    return {"seconds": samples, "goal_seconds": goal}


def abort_part(
    args: argparse.Namespace, cluster: RunningCluster, store: JobStore
) -> dict[str, Any]:
    frontend = cluster.frontends[1]
    samples = [abort_once(cluster, store, frontend) for _ in range(args.aborts)]
    reply = sorted(s.reply_ms for s in samples)
    gone = sorted(s.tree_gone_ms for s in samples)
    emit(
        [
            "",
            f"cross-node abort: Destroy of a running job (two children) through a front-end, "
            f"{len(samples)} samples; ms from the request",
            table(
                ["", "p50 ms", "max ms"],
                [
                    ["Destroy answered", f"{statistics.median(reply):.1f}", f"{reply[-1]:.1f}"],
                    ["process tree gone", f"{statistics.median(gone):.1f}", f"{gone[-1]:.1f}"],
                ],
            ),
            f"goal: tree gone <= {TARGET_ABORT_MS:g} ms: worst {gone[-1]:.1f} ms  "
            + ("PASS" if gone[-1] <= TARGET_ABORT_MS else "MISS"),
        ]
    )
    return {"reply_ms": reply, "tree_gone_ms": gone, "orphans_reaped_by": args.reaping}


def emit(lines: list[str]) -> None:
    """Print a part's figures as soon as it is done."""
    print("\n".join(lines), flush=True)


def postgres_version(postgres: Cluster) -> str:
    import psycopg

    with suppress(psycopg.Error), psycopg.connect(postgres.url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"
    return "?"


if __name__ == "__main__":
    sys.exit(main())
