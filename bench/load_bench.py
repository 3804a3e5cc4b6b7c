"""A well-behaved client's latency while the service is under hostile load, and memory after.

Why: a service open to the internet meets clients that try to exhaust it. What matters to
everyone else is that a well-behaved client still gets its answers, and that the service
gives its memory back afterwards. Absolute latencies depend on the machine, so the figure
that matters is a ratio against the same client on the same server, idle, in the same run.
Goals (issue 14): p99 under attack <= 3 x p99 idle, and the service's resident memory back
within 100 MB of its baseline a minute after the attack stops.

What it does: starts one real ``wsrf-uws serve`` (default settings, quotas included, with a
users file) on a temporary data directory, prepares a large result and a job to poll, then
measures a *probe*: one client polling ``GetResourceProperty`` of ``uwscore:JobState`` over a
keep-alive connection, as a UWS client does, every ``--interval`` seconds. First on the idle
server; then while these attacks run together:

- *slow readers*: connections that ask for a large result file and never read it;
- *slowloris*: connections that send their request headers a byte at a time;
- *createJob flood*: anonymous clients creating jobs as fast as they can (the anonymous
  quota refuses all but a few);
- *namespace flood*: createJob requests with thousands of namespace declarations;
- *memory-hungry query*: an ADQL self cross join with a high-cardinality GROUP BY, again
  and again (DuckDB's memory limit ends each one);
- *progress flood*: ``steps`` jobs of 1000 steps of no duration with 4 children each.

Then the attacks stop, and the resident memory of the service process (and of the service
with its worker processes) is read for a minute. Printed: the probe's p50, p99 and maximum,
idle and under attack, their ratios, the service's processor time in each phase (with
the machine's load, which on a shared machine moves the latencies more than the
service does), the attackers' own counts, memory at each stage, and PASS or FAIL per
goal. ``--attacks`` runs a subset, to see which attack moves the probe. Figures also go
to ``bench/out/load_bench.json``.

Run from the project root: ``python bench/load_bench.py`` (about three minutes on two
cores), or ``python bench/load_bench.py --quick`` for a shorter run whose ratios are only
indicative.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import Service
from wsrf_uws.execution.scheduling_group import lead_own_session
from wsrf_uws.settings import Settings
from wsrf_uws.testing.server import RunningServer

from report import apply_preset, environment, percentile, table, write_figures

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "load_bench.json"

#: The attacks, by the name ``--attacks`` takes.
ATTACKS = [
    "slow-readers",
    "slowloris",
    "create-flood",
    "namespace-flood",
    "hungry-query",
    "progress-flood",
]

#: The goals: probe p99 under attack / idle, and memory after the attack - before it.
TARGET_P99_RATIO = 3.0
TARGET_RSS_GROWTH = 100 * 1024 * 1024

FULL = {"probes": 400, "interval": 0.05, "settle": 60.0, "ramp": 5.0}
QUICK = {"probes": 120, "interval": 0.05, "settle": 20.0, "ramp": 3.0}

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
CORE = "urn:wsrf-uws:core:v1"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
STEPS = "urn:wsrf-uws:steps:v1"
ADQL = "urn:wsrf-uws:adql:v1"
GRP_ACTION = "http://docs.oasis-open.org/wsrf/rpw-2/GetResourceProperty/GetResourcePropertyRequest"

#: Where each party connects from: the service limits requests and connections per
#: address, and on the internet the probe and the attackers are different hosts.
Address = tuple[str, int]
PROBE: Address = ("127.0.0.9", 0)
CREATE_FLOOD: Address = ("127.0.0.6", 0)
NAMESPACE_FLOOD: Address = ("127.0.0.7", 0)
SLOW_READERS: Address = ("127.0.0.8", 0)

#: Users of the run: the probe, and one per attack that needs its own owner (so that the
#: per-owner quotas do not hide one attack behind another).
USERS = {"probe": "probe-secret", "reader": "reader-secret", "hungry": "hungry-secret"}
USERS |= {"flooder": "flooder-secret"}

#: The whole of Hipparcos as TABLEDATA: a result of some tens of MB for the slow readers.
LARGE_RESULT_QUERY = "SELECT * FROM hipparcos.main"
MEMORY_HUNGRY_QUERY = (
    "SELECT a.hip, b.hip, COUNT(*) AS n FROM hipparcos.main AS a, "
    "hipparcos.main AS b GROUP BY a.hip, b.hip"
)


def adql_jdl(query: str, *, serialization: str = "BINARY2", maxrec: int = 200_000) -> str:
    return (
        f'<job xmlns="{ADQL}"><query>{query}</query><maxrec>{maxrec}</maxrec>'
        f"<format>{serialization}</format><executionDuration>120</executionDuration></job>"
    )


def steps_jdl(steps: int, seconds: float, *, children: int = 0) -> str:
    extra = f"<children>{children}</children>" if children else ""
    return (
        f'<job xmlns="{STEPS}"><steps>{steps}</steps><stepSeconds>{seconds}</stepSeconds>'
        f"{extra}</job>"
    )


def basic(user: str) -> str:
    token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
    return f"Basic {token}"


def soap_request(*, path: str, action: str, body: str, resource_id: str | None = None) -> bytes:
    """A complete SOAP 1.1 envelope with WS-Addressing headers and a fresh MessageID."""
    reference = (
        f'<c:ResourceId xmlns:c="{CORE}" wsa:IsReferenceParameter="true">{resource_id}'
        "</c:ResourceId>"
        if resource_id
        else ""
    )
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:wsa="{WSA}"><soap:Header>'
        f"<wsa:To>{path}</wsa:To><wsa:Action>{action}</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>{reference}"
        f"</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


# -- the probe -----------------------------------------------------------------------


@dataclass
class ProbeFigures:
    """The probe's latencies (ms) over one phase, and the answers that were not 200."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        micro = [round(value * 1000) for value in ordered]
        return {
            "requests": len(ordered),
            "failures": self.failures,
            "p50_ms": percentile(micro, 0.50) / 1000 if micro else float("nan"),
            "p99_ms": percentile(micro, 0.99) / 1000 if micro else float("nan"),
            "max_ms": ordered[-1] if ordered else float("nan"),
            "mean_ms": statistics.fmean(ordered) if ordered else float("nan"),
        }


def probe(server: RunningServer, resource_id: str, *, count: int, interval: float) -> ProbeFigures:
    """Poll JobState ``count`` times, one request every ``interval`` seconds at most."""
    url = urlsplit(server.url("steps"))
    figures = ProbeFigures()
    connection = http.client.HTTPConnection(
        url.hostname, url.port, timeout=60, source_address=PROBE
    )
    body = (
        f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:c="{CORE}">c:JobState</r:GetResourceProperty>'
    )
    for _ in range(count):
        envelope = soap_request(
            path=server.url("steps"), action=GRP_ACTION, body=body, resource_id=resource_id
        )
        started = time.perf_counter()
        try:
            connection.request(
                "POST",
                url.path,
                envelope,
                {"Content-Type": "text/xml; charset=utf-8", "Authorization": basic("probe")},
            )
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            connection.close()
            connection = http.client.HTTPConnection(
                url.hostname, url.port, timeout=60, source_address=PROBE
            )
        elapsed = (time.perf_counter() - started) * 1000
        if ok:
            figures.latencies.append(elapsed)
        else:
            figures.failures += 1
        time.sleep(max(0.0, interval - elapsed / 1000))
    connection.close()
    return figures


# -- the attacks ----------------------------------------------------------------------


@dataclass
class Attack:
    """One kind of attacker: its threads, a stop flag and what it managed."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


class AttackMix:
    """Every attack of the module docstring, started together and stopped together."""

    def __init__(self, base_url: str, *, large_result: str) -> None:
        self.base_url = base_url
        self.large_result = large_result
        url = urlsplit(self.url("steps"))
        self.host, self.port = str(url.hostname), int(url.port or 80)
        self.stop = threading.Event()
        self.attacks: list[Attack] = []
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def url(self, contract: str) -> str:
        """The endpoint of ``contract``."""
        return f"{self.base_url}/uws/{contract}"

    def start(self, names: list[str]) -> None:
        """Start the attacks named (all of :data:`ATTACKS` by default)."""
        kinds = {
            "slow-readers": ("slow readers", self._slow_readers, 1),
            "slowloris": ("slowloris", self._slowloris, 1),
            "create-flood": ("createJob flood", self._create_flood, 4),
            "namespace-flood": ("namespace flood", self._namespace_flood, 2),
            "hungry-query": ("memory-hungry query", self._hungry_query, 1),
            "progress-flood": ("progress flood", self._progress_flood, 1),
        }
        for name in names:
            self._spawn(*kinds[name])

    def finish(self) -> dict[str, dict[str, int]]:
        self.stop.set()
        with self.lock:
            for held in self.sockets:
                held.close()
        for attack in self.attacks:
            for thread in attack.threads:
                thread.join(120)
        return {attack.name: attack.counts for attack in self.attacks}

    def _spawn(self, name: str, target: Any, threads: int) -> None:
        attack = Attack(name)
        self.attacks.append(attack)
        for _ in range(threads):
            thread = threading.Thread(target=target, args=(attack,), daemon=True)
            attack.threads.append(thread)
            thread.start()

    def _hold(self, held: socket.socket) -> None:
        with self.lock:
            self.sockets.append(held)

    def _slow_readers(self, attack: Attack) -> None:
        """Eight connections ask for the large result and never read a byte."""
        path = urlsplit(self.large_result).path
        for _ in range(8):
            held = socket.create_connection((self.host, self.port), 10, SLOW_READERS)
            held.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            held.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Authorization: {basic('reader')}\r\n\r\n".encode()
            )
            self._hold(held)
            attack.count("connections")
        self.stop.wait()

    def _slowloris(self, attack: Attack) -> None:
        """Connections from several loopback addresses, each sending a header byte a second."""
        held_sockets = []
        for index in range(100):
            source = f"127.0.0.{2 + index % 4}"  # more than one address: the cap is per address
            try:
                held = socket.create_connection((self.host, self.port), 10, (source, 0))
                held.sendall(b"POST /uws/steps HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                attack.count("refused at connect")
                continue
            self._hold(held)
            held_sockets.append(held)
            attack.count("connections")
        while not self.stop.wait(1.0):
            for held in list(held_sockets):
                try:
                    held.sendall(b"X")
                except OSError:
                    held_sockets.remove(held)
                    attack.count("closed by the service")

    def _post(self, connection: http.client.HTTPConnection, body: bytes) -> int:
        connection.request("POST", "/uws/steps", body, {"Content-Type": "text/xml; charset=utf-8"})
        response = connection.getresponse()
        response.read()
        return response.status

    def _flood(self, attack: Attack, envelope: Callable[[], bytes], source: Address) -> None:
        """POST ``envelope()`` over one keep-alive connection from ``source``, without pause."""

        def connect() -> http.client.HTTPConnection:
            return http.client.HTTPConnection(
                self.host, self.port, timeout=60, source_address=source
            )

        connection = connect()
        while not self.stop.is_set():
            try:
                status = self._post(connection, envelope())
            except (OSError, http.client.HTTPException):
                attack.count("connection errors")
                connection.close()
                connection = connect()
                continue
            attack.count({200: "accepted", 429: "refused: too many (429)"}.get(status, "refused"))
        connection.close()

    def _create_flood(self, attack: Attack) -> None:
        """Anonymous createJob as fast as one connection allows."""
        body = f'<t:createJob xmlns:t="{STEPS}">{steps_jdl(1, 0)}</t:createJob>'
        action = f"{STEPS}/createJob"
        path = self.url("steps")
        self._flood(attack, lambda: soap_request(path=path, action=action, body=body), CREATE_FLOOD)

    def _namespace_flood(self, attack: Attack) -> None:
        """createJob with 40 000 namespace declarations (about 1 MB)."""
        declarations = "".join(f' xmlns:n{i}="urn:n{i}"' for i in range(40_000))
        body = f'<t:createJob xmlns:t="{STEPS}"{declarations}>{steps_jdl(1, 0)}</t:createJob>'
        envelope = soap_request(path=self.url("steps"), action=f"{STEPS}/createJob", body=body)
        self._flood(attack, lambda: envelope, NAMESPACE_FLOOD)

    def _hungry_query(self, attack: Attack) -> None:
        """The memory-hungry query, again each time DuckDB's limit ends the last one."""
        self._run_jobs(attack, "adql", "hungry", adql_jdl(MEMORY_HUNGRY_QUERY, maxrec=10))

    def _progress_flood(self, attack: Attack) -> None:
        """steps jobs of 1000 steps of no duration, with 4 children each."""
        self._run_jobs(attack, "steps", "flooder", steps_jdl(1000, 0, children=4))

    def _run_jobs(self, attack: Attack, contract: str, user: str, jdl: str) -> None:
        service = Service(self.url(contract), username=user, password=USERS[user])
        while not self.stop.is_set():
            job = service.create(jdl)
            job.start()
            while not self.stop.wait(0.5):
                if job.phase in {"COMPLETED", "ERROR", "ABORTED"}:
                    break
            attack.count(f"ended {job.phase}")
            job.destroy()


def attack_process(
    base_url: str,
    large_result: str,
    names: list[str],
    stop: Any,
    reports: Any,
) -> None:
    """Run the attacks ``names`` until ``stop`` is set; put what they did on ``reports``.

    A process of its own at the lowest priority: the attackers of a real service are
    other hosts, and here they share the service's processors; at niceness 19 they take
    only what the service leaves, so the figures measure the service, not a contest
    between the benchmark and the service for two cores. In a session of its own, whose
    scheduling group is at niceness 19 too: on a kernel that groups processes by session
    (``sched_autogroup``), niceness ranks a process only within its group, and in the
    benchmark's session the attackers' processor time would be charged to the group the
    service shares with the benchmark (as it was for the jobs: see
    :mod:`wsrf_uws.execution.scheduling_group`).
    """
    os.nice(19)
    lead_own_session(nice=19)
    mix = AttackMix(base_url, large_result=large_result)
    mix.start(names)
    stop.wait()
    reports.put(mix.finish())


# -- processor ------------------------------------------------------------------------


@dataclass
class ProcessorUse:
    """The service's processor time over one phase, and the machine's load meanwhile.

    Why: the probe's latencies depend on everything else the machine runs (on a shared
    machine, much more than on the service), but the processor time the service itself
    spends answering its attackers does not: it says whether a change made the service
    cheaper to attack even when the latencies are too noisy to tell.
    """

    pid: int
    started: float = 0.0
    cpu_started: float = 0.0
    share: float = float("nan")
    load: float = float("nan")

    def __enter__(self) -> ProcessorUse:
        self.started, self.cpu_started = time.monotonic(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.monotonic() - self.started
        self.share = (self._cpu() - self.cpu_started) / elapsed if elapsed > 0 else float("nan")
        self.load = os.getloadavg()[0] / (os.cpu_count() or 1)

    def _cpu(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)


# -- memory ---------------------------------------------------------------------------


def resident(pid: int) -> tuple[int, int]:
    """The resident bytes of the service process, and of it with all its descendants."""
    process = psutil.Process(pid)
    own = process.memory_info().rss
    tree = own
    for child in process.children(recursive=True):
        try:
            tree += child.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return own, tree


class PeakMemory:
    """Samples :func:`resident` every half second in a process of its own; keeps the peaks.

    Not a thread of the benchmark: listing a process tree takes milliseconds of Python,
    and in the probe's process that pause showed in the probe's p99 as if the service
    had been slow.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = (0, 0)
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._peaks = context.Queue()
        self._process = context.Process(
            target=sample_peak_memory, args=(pid, self._stop, self._peaks), daemon=True
        )

    def __enter__(self) -> PeakMemory:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.peak = self._peaks.get(timeout=30)
        self._process.join(10)


def sample_peak_memory(pid: int, stop: Any, peaks: Any) -> None:
    """The body of :class:`PeakMemory`'s process: sample until ``stop``, then report."""
    os.nice(10)
    peak = (0, 0)
    while not stop.wait(0.5):
        with suppress(psutil.NoSuchProcess):
            own, tree = resident(pid)
            peak = (max(peak[0], own), max(peak[1], tree))
    peaks.put(peak)


# -- the run --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true", help="a shorter, indicative run")
    parser.add_argument("--probes", type=int, help="probe requests per phase (400)")
    parser.add_argument("--interval", type=float, help="seconds between probes (0.05)")
    parser.add_argument("--ramp", type=float, help="seconds for the attacks to build up (5)")
    parser.add_argument("--settle", type=float, help="seconds after the attack (60)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    parser.add_argument(
        "--attacks",
        default=",".join(ATTACKS),
        help=f"comma-separated subset of {','.join(ATTACKS)} (default: all)",
    )
    args = parser.parse_args(argv)
    return apply_preset(args, QUICK if args.quick else FULL)


def prepare(server: RunningServer) -> tuple[str, str]:
    """The job the probe polls, and the URL of a large result for the slow readers."""
    polled = Service(server.url("steps"), username="probe", password=USERS["probe"])
    job = polled.create(steps_jdl(3, 0))
    job.start()
    job.wait(timeout=60, poll=0.1)
    reader = Service(server.url("adql"), username="reader", password=USERS["reader"])
    large = reader.create(adql_jdl(LARGE_RESULT_QUERY, serialization="TABLEDATA"))
    large.start()
    state = large.wait(timeout=300, poll=0.5)
    if state.phase != "COMPLETED" or not state.results:
        raise SystemExit(f"the large result could not be made: {state.phase} {state.error}")
    result = max(state.results, key=lambda r: r.size or 0)
    print(f"large result: {result.name}, {(result.size or 0) / 1e6:.1f} MB")
    return job.resource_id, result.href


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="load-bench-") as folder:
        users = Path(folder) / "users"
        for name, password in USERS.items():
            UsersFile.add(users, name, password)
        # The service's own defaults: RunningServer, made for tests, would lift the
        # quotas and the request rate limit.
        defaults = Settings()
        env = {
            "WSRF_UWS_USERS_FILE": str(users),
            "WSRF_UWS_QUOTAS__MAX_LIVE_JOBS": str(defaults.quotas.max_live_jobs),
            "WSRF_UWS_QUOTAS__MAX_ANONYMOUS_LIVE_JOBS": str(
                defaults.quotas.max_anonymous_live_jobs
            ),
            "WSRF_UWS_HTTP__CLIENT_REQUESTS_PER_SECOND": str(
                defaults.http.client_requests_per_second
            ),
            "WSRF_UWS_HTTP__MAX_REQUESTS_IN_FLIGHT_PER_CLIENT": str(
                defaults.http.max_requests_in_flight_per_client
            ),
            "WSRF_UWS_KILL_GRACE": str(defaults.kill_grace),
        }
        server = RunningServer(Path(folder) / "data", env=env)
        server.start()
        try:
            return run(server, args)
        finally:
            server.stop()


def run(server: RunningServer, args: argparse.Namespace) -> int:
    assert server.process is not None
    pid = server.process.pid
    resource_id, large_result = prepare(server)
    time.sleep(2)
    baseline = resident(pid)
    print(f"probing the idle service ({args.probes} requests)...")
    with ProcessorUse(pid) as idle_cpu:
        idle = probe(server, resource_id, count=args.probes, interval=args.interval)

    context = multiprocessing.get_context("spawn")
    stop, reports = context.Event(), context.Queue()
    attack = context.Process(
        target=attack_process,
        args=(server.base_url, large_result, args.attacks.split(","), stop, reports),
    )
    with PeakMemory(pid) as peak:
        attack.start()
        time.sleep(args.ramp)
        print(f"probing under attack ({args.probes} requests)...")
        with ProcessorUse(pid) as attack_cpu:
            attacked = probe(server, resource_id, count=args.probes, interval=args.interval)
        stop.set()
        attackers = reports.get(timeout=180)
        attack.join(30)
    print(f"attack stopped; reading memory for {args.settle:.0f} s...")
    time.sleep(args.settle)
    after = resident(pid)

    idle_figures, attack_figures = idle.summary(), attacked.summary()
    p99_ratio = attack_figures["p99_ms"] / idle_figures["p99_ms"]
    p50_ratio = attack_figures["p50_ms"] / idle_figures["p50_ms"]
    growth = after[0] - baseline[0]

    rows = [
        [
            phase,
            str(int(figures["requests"])),
            str(int(figures["failures"])),
            f"{figures['p50_ms']:.2f}",
            f"{figures['p99_ms']:.2f}",
            f"{figures['max_ms']:.1f}",
        ]
        for phase, figures in (("idle", idle_figures), ("under attack", attack_figures))
    ]
    print()
    print(table(["probe", "requests", "failures", "p50 ms", "p99 ms", "max ms"], rows))
    print(f"\nunder attack / idle: p50 {p50_ratio:.2f}x, p99 {p99_ratio:.2f}x")
    print(
        "service processor time, share of one core: "
        f"idle {idle_cpu.share:.0%}, under attack {attack_cpu.share:.0%}; machine load per "
        f"core meanwhile {idle_cpu.load:.1f} and {attack_cpu.load:.1f} (above 1, the "
        "latencies measure the machine's other work as much as the service)"
    )
    print("\nattackers:")
    for name, counts in attackers.items():
        shown = ", ".join(f"{what} {n}" for what, n in sorted(counts.items())) or "-"
        print(f"  {name}: {shown}")
    mb = 1024 * 1024
    print(
        "\nresident memory (service / with workers), MB: "
        f"before {baseline[0] / mb:.0f} / {baseline[1] / mb:.0f}, "
        f"peak {peak.peak[0] / mb:.0f} / {peak.peak[1] / mb:.0f}, "
        f"{args.settle:.0f} s after {after[0] / mb:.0f} / {after[1] / mb:.0f}"
    )
    latency_ok = p99_ratio <= TARGET_P99_RATIO and attacked.failures == 0
    memory_ok = growth <= TARGET_RSS_GROWTH
    print(
        f"\ntarget: probe p99 under attack <= {TARGET_P99_RATIO:g}x idle, no failed probe: "
        f"{p99_ratio:.2f}x, {attacked.failures} failed  {'PASS' if latency_ok else 'FAIL'}"
    )
    print(
        f"target: service memory {args.settle:.0f} s after the attack within 100 MB of before: "
        f"{growth / mb:+.0f} MB  {'PASS' if memory_ok else 'FAIL'}"
    )
    write_figures(
        args.out,
        {
            "environment": environment("waitress", "lxml", "spyne", "duckdb"),
            "options": {k: str(v) for k, v in vars(args).items()},
            "probe": {"idle": idle_figures, "under_attack": attack_figures},
            "ratios": {"p50": p50_ratio, "p99": p99_ratio},
            "service_cpu_share": {"idle": idle_cpu.share, "under_attack": attack_cpu.share},
            "load_per_core": {"idle": idle_cpu.load, "under_attack": attack_cpu.load},
            "attackers": attackers,
            "memory_bytes": {
                "before": baseline,
                "peak": peak.peak,
                "after": after,
                "settle_seconds": args.settle,
            },
            "pass": {"latency": latency_ok, "memory": memory_ok},
        },
    )
    return 0 if latency_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
