"""How soon a client sees its job done, how many short jobs run a second, how soon a restart serves.

Why: issue 18 asks that an asynchronous job cost nearly what a synchronous call costs, so that
clients never choose a synchronous path for speed: a job's process must start in
milliseconds, and nothing on the job's path may wait for a timer. Absolute times vary
between machines, so each latency is printed as a ratio to the p50 of GetResourceProperty
measured on the same server in the same run.

What it measures, against a real ``wsrf-uws serve`` (the console script, as deployed;
default settings, 2 slots, no request-rate limit) on a temporary data directory, with two
clients: *raw* SOAP (pre-built POSTs over a keep-alive HTTP/1.1 connection, no SOAP
library, so the client costs next to nothing) and the project's client library
(``wsrf_uws.client``, on zeep: ``Service.create``, ``Job.start``, ``Job.wait``), each
measured against its own GetResourceProperty:

1. *GetResourceProperty* of ``uwscore:JobState`` on a PENDING job, one request at a time:
   the p50 the latencies of the same client are divided by.
2. *steps job*: createJob of a ``steps`` job of one step of no duration, startJob, then
   GetResourceProperty of JobState every ``--poll`` seconds (5 ms; ``Job.wait(poll=...)``
   for the client library) until it says COMPLETED: the time from sending createJob to
   reading COMPLETED, as a client waiting on the job sees it. Goal: p50 <= 15 x GRP p50.
3. *tiny ADQL query*: the same for ``SELECT TOP 5 hip, ra, dec FROM hipparcos.main WHERE
   hip < 100`` on the ``adql`` contract's default catalogue (built before the timing).
   Each job after the first runs in a prepared spare (``wsrf_uws.execution.spares``:
   DuckDB started and catalogue attached before the job came); the jobs of a part
   follow each other at once, so the spare that replaced the last one may still be
   preparing when its job comes. Goal: p50 <= 30 x GRP p50.
   All of them take turns in rounds, so drift on the machine affects them alike.
4. *jobs per second*: N ``steps`` jobs of one step of no duration created first, then
   started back to back from one client; from the first startJob to the last job's end
   recorded in the store (read from the store file, not polled over SOAP). Goal: >= 40/s
   with the default 2 slots.
5. *restart*: a data directory whose store holds 10^5 live resources (made with
   ``insert_many``: mostly PENDING and COMPLETED, 200 QUEUED and EXECUTING, which recovery
   re-queues and runs, and 20 already expired; folders for a tenth of them and a thousand
   orphaned folders besides); the time from starting the server process to its first
   answered GetResourceProperty (polled every 5 ms on its port). Each restart starts from
   a fresh copy of that directory, so each finds the same work left. Beside it, the same
   for a data directory holding one job: what starting the interpreter and the service
   costs. Goal: <= 2 s with 10^5.

Printed: a table per part, the ratios and PASS or MISS per goal; figures also go to
``bench/out/latency_bench.json``. Like the other benchmarks it exits 0 on a missed goal,
and 1 only when something failed (a request, a job, a server).

Run from the project root: ``python bench/latency_bench.py`` (about three minutes on two
cores), or ``python bench/latency_bench.py --quick`` for a shorter, indicative run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from wsrf_uws.client import Service
from wsrf_uws.core.model import Job, Progress, Result, new_resource_id
from wsrf_uws.core.phases import Phase
from wsrf_uws.settings import Settings
from wsrf_uws.store.sqlite import SQLiteJobStore

from report import apply_preset, environment, table, write_figures
from soap_bench import CORE, GRP_ACTION, addressing, connect, envelope, grp_body

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "latency_bench.json"

#: The goals.
TARGET_STEPS = 15.0
TARGET_ADQL = 30.0
TARGET_JOBS_PER_S = 40.0
TARGET_RESTART_S = 2.0

FULL = {"rounds": 6, "grp": 200, "jobs": 8, "batch": 200, "batches": 3, "live": 100_000}
QUICK = {"rounds": 2, "grp": 100, "jobs": 5, "batch": 80, "batches": 1, "live": 100_000}

STEPS = "urn:wsrf-uws:steps:v1"
ADQL = "urn:wsrf-uws:adql:v1"
TINY_QUERY = "SELECT TOP 5 hip, ra, dec FROM hipparcos.main WHERE hip &lt; 100"

#: What the server runs with: no request-rate limit (the client polls from 127.0.0.1 as
#: fast as it likes), quotas no part reaches, 2 slots (the default, said explicitly).
SERVER_ENVIRONMENT = {
    "WSRF_UWS_SLOTS": "2",
    "WSRF_UWS_QUOTAS__MAX_LIVE_JOBS": "10000000",
    "WSRF_UWS_QUOTAS__MAX_ANONYMOUS_LIVE_JOBS": "10000000",
    "WSRF_UWS_QUOTAS__MAX_ANONYMOUS_EXECUTING_JOBS": "100",
    "WSRF_UWS_HTTP__CLIENT_REQUESTS_PER_SECOND": "0",
    "WSRF_UWS_HTTP__MAX_REQUESTS_IN_FLIGHT_PER_CLIENT": "0",
}
SAFETY = 300.0  # seconds: only a guard against hanging


# -- raw SOAP ---------------------------------------------------------------------------


class Soap:
    """One keep-alive connection to a contract's endpoint, sending pre-built envelopes."""

    def __init__(self, base_url: str, contract: str, namespace: str) -> None:
        self.base_url = base_url
        self.path = f"/uws/{contract}"
        self.to = base_url + self.path
        self.namespace = namespace
        self.connection = connect(base_url)

    def call(self, action: str, body: str, resource_id: str | None = None) -> bytes:
        document = envelope(body, addressing(self.to, action, resource_id))
        data = document.replace("{message_id}", str(uuid.uuid4())).encode()
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        self.connection.request("POST", self.path, data, headers)
        response = self.connection.getresponse()
        reply = response.read()
        if response.status != 200:
            raise RuntimeError(f"{action}: HTTP {response.status} {reply[:600]!r}")
        return reply

    def create(self, jdl: str) -> str:
        action = f"{self.namespace}/createJob"
        reply = self.call(
            action, f'<tns:createJob xmlns:tns="{self.namespace}">{jdl}</tns:createJob>'
        )
        found = etree.fromstring(reply).find(f".//{{{CORE}}}ResourceId")
        if found is None or not found.text:
            raise RuntimeError(f"no ResourceId in the createJob reply {reply[:600]!r}")
        return found.text.strip()

    def start(self, resource_id: str) -> None:
        action = f"{self.namespace}/startJob"
        self.call(action, f'<tns:startJob xmlns:tns="{self.namespace}"/>', resource_id)

    def job_state(self, resource_id: str) -> bytes:
        return self.call(GRP_ACTION, grp_body("JobState"), resource_id)

    def close(self) -> None:
        self.connection.close()


def phase_of(reply: bytes) -> str:
    """The phase in a JobState reply (found without parsing the whole reply)."""
    at = reply.find(b"Phase>")
    return reply[at + 6 : reply.find(b"<", at)].decode() if at >= 0 else "?"


def steps_jdl() -> str:
    """A ``steps`` job of one step of no duration."""
    return f'<job xmlns="{STEPS}"><steps>1</steps><stepSeconds>0</stepSeconds></job>'


def adql_jdl() -> str:
    """The tiny ADQL query."""
    return f'<job xmlns="{ADQL}"><query>{TINY_QUERY}</query></job>'


# -- the server -------------------------------------------------------------------------


def serve_command(data_dir: Path, port: int) -> list[str]:
    """``wsrf-uws serve`` as deployed: the console script beside this interpreter."""
    script = Path(sys.executable).with_name("wsrf-uws")
    start = [str(script)] if script.exists() else [sys.executable, "-m", "wsrf_uws.cli"]
    return [*start, "serve", "--data", str(data_dir), "--port", str(port)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A ``wsrf-uws serve`` process on ``data_dir`` and a free port."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log: list[str] = []
        env = {**os.environ, **SERVER_ENVIRONMENT}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            serve_command(data_dir, self.port),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ready = threading.Event()
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if "wsrf-uws serving" in line:
                self.ready.set()
        self.ready.set()

    def wait_ready(self) -> None:
        if not self.ready.wait(120) or self.process.poll() is not None:
            raise RuntimeError("the server did not start:\n" + "".join(self.log[-30:]))

    def first_answer(self, resource_id: str, *, interval: float = 0.005) -> float:
        """Seconds from the process's start to its first answered GetResourceProperty."""
        deadline = time.monotonic() + SAFETY
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server ended:\n" + "".join(self.log[-30:]))
            try:
                soap = Soap(self.base_url, "steps", STEPS)
                try:
                    soap.connection.timeout = 30
                    reply = soap.job_state(resource_id)
                finally:
                    soap.close()
            except (OSError, http.client.HTTPException):
                time.sleep(interval)
                continue
            if b"JobState" not in reply:
                raise RuntimeError(f"unexpected reply {reply[:400]!r}")
            return time.perf_counter() - self.started
        raise RuntimeError("the server never answered")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -9


class Library:
    """The project's client library on one contract: what a Python client of the service
    does (``Job.wait`` polls JobState every ``poll`` seconds)."""

    def __init__(self, base_url: str, contract: str, namespace: str) -> None:
        self.service = Service(f"{base_url}/uws/{contract}")
        self.namespace = namespace

    def job_state(self, resource_id: str) -> str:
        return self.service.job(resource_id).state.phase

    def round_trip(self, jdl: str, *, poll: float) -> float:
        began = time.perf_counter()
        job = self.service.create(jdl)
        job.start()
        state = job.wait(poll=poll, timeout=SAFETY)
        if state.phase != "COMPLETED":
            raise RuntimeError(f"the job ended {state.phase}: {state.error}")
        return (time.perf_counter() - began) * 1000


# -- 1-3. latencies ---------------------------------------------------------------------


@dataclass
class Latencies:
    name: str
    samples_ms: list[float] = field(default_factory=list)

    def p(self, fraction: float) -> float:
        """The nearest-rank percentile ``fraction`` of the samples."""
        ordered = sorted(self.samples_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def grp_block(client: Soap | Library, resource_id: str, count: int, into: Latencies) -> None:
    for _ in range(count):
        began = time.perf_counter()
        reply = client.job_state(resource_id)
        into.samples_ms.append((time.perf_counter() - began) * 1000)
        phase = reply if isinstance(reply, str) else phase_of(reply)
        if phase != "PENDING":
            raise RuntimeError(f"the GRP job is not PENDING: {reply[:400]!r}")


#: Where the time of a raw round trip goes: (createJob, startJob, then until COMPLETED
#: is read) in ms, by part.
Breakdown = dict[str, list[tuple[float, float, float]]]


def job_round_trip(
    soap: Soap, jdl: str, *, poll: float, parts: list[tuple[float, float, float]] | None = None
) -> float:
    """ms from sending createJob to reading COMPLETED, polling JobState every ``poll`` s;
    the three parts of it are added to ``parts``."""
    began = time.perf_counter()
    resource_id = soap.create(jdl)
    created = time.perf_counter()
    soap.start(resource_id)
    started = time.perf_counter()
    deadline = time.monotonic() + SAFETY
    while True:
        reply = soap.job_state(resource_id)
        phase = phase_of(reply)
        if phase == "COMPLETED":
            seen = time.perf_counter()
            if parts is not None:
                parts.append(
                    ((created - began) * 1000, (started - created) * 1000, (seen - started) * 1000)
                )
            return (seen - began) * 1000
        if phase in ("ERROR", "ABORTED") or time.monotonic() > deadline:
            raise RuntimeError(f"the job ended {phase}: {reply[:1500]!r}")
        time.sleep(poll)


# -- 4. jobs per second -----------------------------------------------------------------


def jobs_per_second(base_url: str, store_path: Path, count: int) -> float:
    soap = Soap(base_url, "steps", STEPS)
    try:
        ids = [soap.create(steps_jdl()) for _ in range(count)]
        began = datetime.now(UTC)
        for resource_id in ids:
            soap.start(resource_id)
    finally:
        soap.close()
    store = SQLiteJobStore(store_path)
    try:
        deadline = time.monotonic() + SAFETY
        waiting = list(ids)
        while waiting:
            job = store.get(waiting[-1])
            if job is not None and job.is_final:
                waiting = [rid for rid in waiting if not _final(store.get(rid))]
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} job(s) never ended")
            time.sleep(0.05)
        jobs = [store.get(rid) for rid in ids]
    finally:
        store.close()
    failed = [j for j in jobs if j is None or j.phase is not Phase.COMPLETED]
    if failed:
        raise RuntimeError(f"{len(failed)} job(s) did not complete: {failed[:1]}")
    ended = max(j.end_time for j in jobs if j is not None and j.end_time is not None)
    return count / (ended - began).total_seconds()


def _final(job: Job | None) -> bool:
    return job is not None and job.is_final


# -- 5. restart -------------------------------------------------------------------------


def live_jobs(count: int, *, seed: int = 18) -> list[Job]:
    """``count`` live ``steps`` jobs, as a busy service would hold them."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    jdl = (
        f'<job xmlns="{STEPS}" isolated="true"><steps>1</steps><stepSeconds>0</stepSeconds></job>'
    ).encode()
    jobs = []
    for i in range(count):
        roll = rng.random()
        if i < 200:
            phase = Phase.EXECUTING if i % 2 else Phase.QUEUED
        elif roll < 0.5:
            phase = Phase.COMPLETED
        else:
            phase = Phase.PENDING
        created = now - timedelta(seconds=rng.uniform(60, 86400))
        ends = now + timedelta(seconds=rng.uniform(3600, 7 * 86400))
        if i >= count - 20:
            ends = now - timedelta(seconds=1)  # expired while the service was down
        finished = phase is Phase.COMPLETED
        jobs.append(
            Job(
                resource_id=new_resource_id(),
                contract="steps",
                owner=f"owner{rng.randrange(1000)}",
                phase=phase,
                creation_time=created,
                termination_time=ends,
                execution_duration=60,
                jdl=jdl,
                address="",
                start_time=created if phase in (Phase.EXECUTING, Phase.COMPLETED) else None,
                end_time=created + timedelta(seconds=1) if finished else None,
                progress=Progress(fraction=1.0) if finished else Progress(),
                results=(Result("step-1.txt", "step-1.txt", "text/plain", 17),) if finished else (),
                run_count=1 if phase in (Phase.EXECUTING, Phase.COMPLETED) else 0,
                isolated=True,
            )
        )
    return jobs


def fill_store(data_dir: Path, count: int) -> None:
    """Add ``count`` live jobs to the stopped service's store, folders for a tenth of them
    and a thousand orphaned folders."""
    settings = Settings.load(data_dir=data_dir)
    jobs = live_jobs(count)
    store = SQLiteJobStore(settings.store_path, synchronous="normal")
    try:
        for start in range(0, len(jobs), 20_000):
            store.insert_many(jobs[start : start + 20_000])
    finally:
        store.close()
    with_folders = [j.resource_id for j in jobs[::10]] + [new_resource_id() for _ in range(1000)]
    for resource_id in with_folders:
        folder = settings.jobs_dir / resource_id[:2] / resource_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "step-1.txt").write_text("step 1 of run 1\n")


@dataclass
class RestartFigures:
    live: int
    seconds: list[float] = field(default_factory=list)


def restart_once(pristine: Path, probe: str) -> float:
    """Seconds from starting a server on a copy of ``pristine`` to its first answer: every
    restart finds the same interrupted jobs, orphaned folders and expired resources."""
    data_dir = pristine.with_name(pristine.name + "-copy")
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(pristine, data_dir, symlinks=True)
    server = Server(data_dir)
    try:
        return server.first_answer(probe)
    finally:
        status = server.stop()
        if status != 0:
            raise RuntimeError(f"the server exited with {status}:\n" + "".join(server.log[-30:]))


def prepare_restart(root: Path, live: int) -> tuple[Path, str]:
    """A data directory holding ``live`` jobs besides one PENDING job to read; its id."""
    data_dir = root / f"restart-{live}"
    server = Server(data_dir)
    try:
        server.wait_ready()
        soap = Soap(server.base_url, "steps", STEPS)
        probe = soap.create(steps_jdl())
        soap.close()
    finally:
        server.stop()
    if live:
        fill_store(data_dir, live)
    return data_dir, probe


# -- main -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter, indicative run")
    parser.add_argument("--rounds", type=int, help="rounds of parts 1-3 (default 6; quick 2)")
    parser.add_argument("--grp", type=int, help="GetResourceProperty requests per round")
    parser.add_argument("--jobs", type=int, help="jobs of each kind per round")
    parser.add_argument("--batch", type=int, help="jobs of a part 4 batch (default 200)")
    parser.add_argument("--batches", type=int, help="part 4 batches (default 3)")
    parser.add_argument("--live", type=int, help="live resources of part 5 (default 10^5)")
    parser.add_argument("--restarts", type=int, default=3, help="restarts of each store")
    parser.add_argument("--poll", type=float, default=0.005, help="seconds between polls")
    parser.add_argument("--parts", default="latency,throughput,restart", help="parts to run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    args = parser.parse_args(argv)
    return apply_preset(args, QUICK if args.quick else FULL)


def run_latencies(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Parts 1-4 on one server; the samples of each part."""
    server = Server(root / "latency")
    try:
        server.wait_ready()
        raw = {
            "steps": Soap(server.base_url, "steps", STEPS),
            "adql": Soap(server.base_url, "adql", ADQL),
        }
        library = {
            "steps": Library(server.base_url, "steps", STEPS),
            "adql": Library(server.base_url, "adql", ADQL),
        }
        jdl = {"steps": steps_jdl(), "adql": adql_jdl()}
        pending = raw["steps"].create(steps_jdl())
        # Untimed: the first ADQL job builds the default catalogue, the first job of each
        # contract starts its warm parent (where there are some); the clients warm up.
        for name in ("adql", "steps"):
            job_round_trip(raw[name], jdl[name], poll=0.05)
            library[name].round_trip(jdl[name], poll=0.05)
        grp_block(raw["steps"], pending, 50, Latencies("warm-up"))
        grp_block(library["steps"], pending, 50, Latencies("warm-up"))
        measured = {
            (client, part): Latencies(part)
            for client in ("raw", "library")
            for part in ("GRP JobState", "steps", "adql")
        }
        breakdown: Breakdown = {"steps": [], "adql": []}

        def grp(client: str) -> Callable[[], None]:
            source = raw["steps"] if client == "raw" else library["steps"]
            return lambda: grp_block(source, pending, args.grp, measured[client, "GRP JobState"])

        def jobs(client: str, name: str) -> Callable[[], None]:
            into = measured[client, name].samples_ms

            def run() -> None:
                for _ in range(args.jobs):
                    if client == "raw":
                        into.append(
                            job_round_trip(
                                raw[name], jdl[name], poll=args.poll, parts=breakdown[name]
                            )
                        )
                    else:
                        into.append(library[name].round_trip(jdl[name], poll=args.poll))

            return run

        parts = [grp("raw"), jobs("raw", "steps"), jobs("raw", "adql")]
        parts += [grp("library"), jobs("library", "steps"), jobs("library", "adql")]
        for number in range(args.rounds):
            shift = number % len(parts)
            for part in parts[shift:] + parts[:shift]:
                part()
        for soap in raw.values():
            soap.close()
        per_s: list[float] = []
        if "throughput" in args.parts:
            settings = Settings.load(data_dir=server.data_dir)
            for _ in range(args.batches):
                per_s.append(jobs_per_second(server.base_url, settings.store_path, args.batch))
    finally:
        status = server.stop()
    if status != 0:
        raise RuntimeError(f"the server exited with {status}:\n" + "".join(server.log[-30:]))
    return {"latencies": measured, "per_s": per_s, "breakdown": breakdown}


GOALS = {"steps": TARGET_STEPS, "adql": TARGET_ADQL}
CLIENTS = {"raw": "raw SOAP", "library": "wsrf_uws.client"}
MEASURES = {
    "GRP JobState": "GetResourceProperty JobState",
    "steps": "steps job: createJob -> COMPLETED seen",
    "adql": "tiny ADQL: createJob -> COMPLETED seen",
}


def latency_report(measured: dict[tuple[str, str], Latencies]) -> tuple[list[str], dict[str, Any]]:
    rows, figures = [], {}
    for client, label in CLIENTS.items():
        base = measured[client, "GRP JobState"].p(0.5)
        for part in ("GRP JobState", "steps", "adql"):
            item = measured[client, part]
            ratio = item.p(0.5) / base
            goal = GOALS.get(part)
            verdict = "" if goal is None else ("PASS" if ratio <= goal else "MISS")
            rows.append(
                [
                    MEASURES[part],
                    label,
                    str(len(item.samples_ms)),
                    f"{item.p(0.5):.1f}",
                    f"{min(item.samples_ms):.1f}",
                    f"{item.p(0.9):.1f}",
                    f"{ratio:.1f}",
                    "" if goal is None else f"<= {goal:g}",
                    verdict,
                ]
            )
            figures[f"{client} {part}"] = {
                "samples_ms": item.samples_ms,
                "p50_ms": item.p(0.5),
                "ratio_to_grp_p50": ratio,
            }
    headers = ["measure", "client", "n", "p50 ms", "min ms", "p90 ms"]
    headers += ["x GRP p50", "goal", ""]
    return [table(headers, rows), ""], figures


def breakdown_report(breakdown: Breakdown) -> list[str]:
    """The p50 of each part of a raw round trip."""
    rows = []
    for name, samples in breakdown.items():
        if samples:
            rows.append(
                [name] + [f"{statistics.median(s[i] for s in samples):.1f}" for i in range(3)]
            )
    headers = ["raw SOAP, p50 ms of", "createJob", "startJob", "startJob -> COMPLETED seen"]
    return [table(headers, rows), ""]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment("duckdb", "lxml", "waitress", "zeep")
    figures: dict[str, Any] = {"environment": env, "quick": args.quick}
    lines = [
        "wsrf_uws latency benchmark" + (" (--quick: indicative)" if args.quick else ""),
        f"Python {env['python']}, {env['cpus']} CPUs, {env['platform']}",
        f"one wsrf-uws serve, 2 slots; clients poll JobState every {args.poll * 1000:g} ms; "
        f"{args.rounds} rounds of {args.jobs} jobs of each kind per client",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="latency_bench_") as tmp:
        root = Path(tmp)
        if "latency" in args.parts or "throughput" in args.parts:
            measured = run_latencies(root, args)
            report, found = latency_report(measured["latencies"])
            lines += report + breakdown_report(measured["breakdown"])
            figures["latencies"] = found
            if measured["per_s"]:
                best = statistics.median(measured["per_s"])
                lines += [
                    f"jobs per second (steps, one step of 0 s, {args.batch} per batch, 2 slots): "
                    + ", ".join(f"{r:.1f}" for r in measured["per_s"])
                    + f"; median {best:.1f}/s (goal >= {TARGET_JOBS_PER_S:g}/s) "
                    + ("PASS" if best >= TARGET_JOBS_PER_S else "MISS"),
                    "",
                ]
                figures["jobs_per_second"] = measured["per_s"]
        if "restart" in args.parts:
            small_dir, small_probe = prepare_restart(root, 0)
            large_dir, large_probe = prepare_restart(root, args.live)
            small, large = RestartFigures(1), RestartFigures(args.live + 1)
            for _ in range(args.restarts):
                small.seconds.append(restart_once(small_dir, small_probe))
                large.seconds.append(restart_once(large_dir, large_probe))
            rows = [
                [
                    f"{f.live:,}",
                    ", ".join(f"{s:.2f}" for s in f.seconds),
                    f"{statistics.median(f.seconds):.2f}",
                ]
                for f in (small, large)
            ]
            lines += [
                table(["live resources", "start -> first GRP answered, s", "median s"], rows),
                f"goal: <= {TARGET_RESTART_S:g} s with {args.live:,}: "
                + ("PASS" if statistics.median(large.seconds) <= TARGET_RESTART_S else "MISS"),
            ]
            figures["restart"] = [asdict(small), asdict(large)]
    print("\n".join(lines))
    write_figures(args.out, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
