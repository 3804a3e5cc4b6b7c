"""SOAP throughput and latency of the service against a bare Spyne operation on the same server.

Why: the binding puts work of its own around Spyne on every request (schema validation
of the body, WS-Addressing in and out, identifying the caller, a store read, building
the property), and clients poll ``GetResourceProperty`` far more often than they call
anything else. Absolute figures depend on the machine and vary by ±30% between runs,
so the figure that matters is a ratio against a baseline measured in the same run, on
the same server: a stock Spyne ``echo(text) -> text`` operation. The target is that
``GetResourceProperty`` of ``uwscore:JobState`` (the property clients poll) reaches at
least 0.8 of the echo throughput.

What it does: starts ONE server process (``bench/soap_server.py``: the service as
``wsrf-uws serve`` builds it, plus the echo route) on a temporary data directory, creates
one job, and then sends raw SOAP 1.1 POSTs (pre-built envelopes, a fresh WS-Addressing
MessageID each) over keep-alive connections from C concurrent client threads, so the
client library costs next to nothing and the server is what is measured. Workloads:

1. *echo*: the Spyne baseline, ``/bench/echo``;
2. *GRP JobState*: ``GetResourceProperty`` of ``uwscore:JobState`` (the richest property)
   on the job, with full WS-Addressing headers and the ``uwscore:ResourceId`` reference
   parameter;
3. *GRP Phase*: the same for ``uwscore:Phase`` (the cheapest property);
4. *createJob*: a ``steps`` job (never started): a durable insert with fsync and a job
   folder per request.

After a warm-up, the workloads take turns in rounds (their order rotating), so drift on
the machine affects them alike. Every response must be HTTP 200 and contain the expected
elements; any error makes the run FAIL. Printed per workload: requests/s, p50 and p99
latency (ms); then each workload's throughput relative to echo, and PASS or FAIL for
GRP JobState >= 0.8 x echo. Figures also go to ``bench/out/soap_bench.json``.

Run from the project root: ``python bench/soap_bench.py`` (about a minute on two cores),
or ``python bench/soap_bench.py --quick`` for a smoke run of a few seconds. ``--profile``
also profiles the server with cProfile and prints where its time goes.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import pstats
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from report import apply_preset, environment, percentile, table, write_figures

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "soap_server.py"
DEFAULT_OUT = HERE / "out" / "soap_bench.json"
DEFAULT_PROFILE = HERE / "out" / "soap_server.pstats"

#: The target: GRP JobState throughput / echo throughput.
TARGET_RATIO = 0.8
TARGET_WORKLOAD = "GRP JobState"
BASELINE = "echo"

FULL = {"requests": 150, "rounds": 10, "warmup": 50}
QUICK = {"requests": 25, "rounds": 3, "warmup": 10}

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
CORE = "urn:wsrf-uws:core:v1"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
STEPS = "urn:wsrf-uws:steps:v1"
ECHO_PATH = "/bench/echo"
ECHO_NAMESPACE = "urn:wsrf-uws:bench:echo"
CONTRACT_PATH = "/uws/steps"

GRP_ACTION = "http://docs.oasis-open.org/wsrf/rpw-2/GetResourceProperty/GetResourcePropertyRequest"
CREATE_ACTION = f"{STEPS}/createJob"


# -- the requests ---------------------------------------------------------------------


def envelope(body: str, headers: str = "") -> str:
    header = f"<soap:Header>{headers}</soap:Header>" if headers else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:wsa="{WSA}">'
        f"{header}<soap:Body>{body}</soap:Body></soap:Envelope>"
    )


def addressing(to: str, action: str, resource_id: str | None = None) -> str:
    """WS-Addressing 1.0 headers; ``{message_id}`` is left for each request to fill in."""
    headers = (
        f"<wsa:To>{to}</wsa:To><wsa:Action>{action}</wsa:Action>"
        "<wsa:MessageID>urn:uuid:{message_id}</wsa:MessageID>"
    )
    if resource_id is not None:
        headers += (
            f'<uwscore:ResourceId xmlns:uwscore="{CORE}" wsa:IsReferenceParameter="true">'
            f"{resource_id}</uwscore:ResourceId>"
        )
    return headers


ECHO_BODY = f'<tns:echo xmlns:tns="{ECHO_NAMESPACE}"><tns:text>hello</tns:text></tns:echo>'
CREATE_BODY = (
    f'<tns:createJob xmlns:tns="{STEPS}"><tns:job><tns:steps>1</tns:steps>'
    "<tns:stepSeconds>0</tns:stepSeconds></tns:job></tns:createJob>"
)


def grp_body(prop: str) -> str:
    return (
        f'<wsrfrp:GetResourceProperty xmlns:wsrfrp="{RP}" xmlns:uwscore="{CORE}">'
        f"uwscore:{prop}</wsrfrp:GetResourceProperty>"
    )


@dataclass
class Workload:
    """One kind of request: where it goes, its envelope and what its reply must contain."""

    name: str
    path: str
    soap_action: str
    #: The envelope; ``{message_id}`` (if present) is replaced per request.
    template: str
    expect: tuple[bytes, ...]
    headers: dict[str, str] = field(init=False)
    fresh_ids: bool = field(init=False)
    fixed: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{self.soap_action}"',
        }
        self.fresh_ids = "{message_id}" in self.template
        self.fixed = self.template.encode()

    def body(self) -> bytes:
        if not self.fresh_ids:
            return self.fixed
        return self.template.replace("{message_id}", str(uuid.uuid4())).encode()

    def ok(self, status: int, data: bytes) -> bool:
        return status == 200 and all(part in data for part in self.expect)


def workloads(base_url: str, resource_id: str) -> list[Workload]:
    to = base_url + CONTRACT_PATH
    grp = addressing(to, GRP_ACTION, resource_id)
    grp_reply = b"GetResourcePropertyResponse"
    return [
        Workload(BASELINE, ECHO_PATH, "echo", envelope(ECHO_BODY), (b"echoResult>hello</",)),
        Workload(
            "GRP JobState",
            CONTRACT_PATH,
            GRP_ACTION,
            envelope(grp_body("JobState"), grp),
            (grp_reply, b"JobState", b"Phase>PENDING</"),
        ),
        Workload(
            "GRP Phase",
            CONTRACT_PATH,
            GRP_ACTION,
            envelope(grp_body("Phase"), grp),
            (grp_reply, b"Phase", b">PENDING</"),
        ),
        Workload(
            "createJob",
            CONTRACT_PATH,
            CREATE_ACTION,
            envelope(CREATE_BODY, addressing(to, CREATE_ACTION)),
            (b"createJobResponse", b"ResourceId"),
        ),
    ]


# -- the server -----------------------------------------------------------------------


class Server:
    """``bench/soap_server.py`` as a subprocess."""

    def __init__(self, data_dir: Path, args: argparse.Namespace) -> None:
        command = [sys.executable, str(SERVER_SCRIPT), str(data_dir)]
        command += ["--threads", str(args.threads), "--synchronous", args.synchronous]
        if args.profile:
            command += ["--profile", str(args.profile_out)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.base_url = ""
        self.pid = 0
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(60) or not self.base_url:
            self.process.kill()
            raise SystemExit("soap_bench: the server did not start (see its messages above)")

    def _read(self, ready: threading.Event) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("soap_server ready at "):
                words = line.split()
                self.base_url, self.pid = words[3], int(words[5])
                ready.set()
        ready.set()  # the process ended

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def create_job(base_url: str) -> str:
    """Create the job the GetResourceProperty workloads read; returns its ResourceId."""
    to = base_url + CONTRACT_PATH
    workload = Workload(
        "setup",
        CONTRACT_PATH,
        CREATE_ACTION,
        envelope(CREATE_BODY, addressing(to, CREATE_ACTION)),
        (b"ResourceId",),
    )
    connection = connect(base_url)
    try:
        connection.request("POST", workload.path, workload.body(), workload.headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if not workload.ok(response.status, data):
        raise SystemExit(f"soap_bench: createJob failed: HTTP {response.status}\n{data!r}")
    found = etree.fromstring(data).find(f".//{{{CORE}}}ResourceId")
    if found is None or not found.text:
        raise SystemExit(f"soap_bench: no ResourceId in the createJob reply\n{data!r}")
    return found.text.strip()


def connect(base_url: str) -> http.client.HTTPConnection:
    url = urlsplit(base_url)
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)


# -- measuring ------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients recorded for one workload, over every round."""

    latencies_ns: list[int] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    first_error: str = ""
    round_rates: list[float] = field(default_factory=list)
    #: The server's CPU time (user + system) during the timed requests, where known.
    cpu_seconds: float | None = 0.0


class Client:
    """One client thread's keep-alive connection."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.connection = connect(base_url)

    def run(self, workload: Workload, count: int, tally: Tally, lock: threading.Lock) -> None:
        clock = time.perf_counter_ns
        samples: list[int] = []
        errors: list[str] = []
        for _ in range(count):
            body = workload.body()
            start = clock()
            try:
                self.connection.request("POST", workload.path, body, workload.headers)
                response = self.connection.getresponse()
                data = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                errors.append(f"{type(error).__name__}: {error}")
                self.connection.close()
                self.connection = connect(self.base_url)
                continue
            samples.append(clock() - start)
            if not workload.ok(status, data):
                errors.append(f"HTTP {status}: {data[:600]!r}")
        with lock:
            tally.latencies_ns += samples
            tally.errors += len(errors)
            if errors and not tally.first_error:
                tally.first_error = errors[0]

    def close(self) -> None:
        self.connection.close()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of process ``pid`` so far (Linux ``/proc``), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU time every process on the machine has used so far (Linux ``/proc/stat``), or None."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal ...: the time processes used, and the
    # time the hypervisor gave to other machines (interrupts, mostly our own traffic, are not
    # counted)
    busy = sum(int(fields[i]) for i in (0, 1, 2, 7))
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time of this process (the clients) so far."""
    times = os.times()
    return times.user + times.system


def phase(clients: list[Client], workload: Workload, count: int, tally: Tally, pid: int) -> None:
    """Every client sends ``count`` requests of ``workload`` at once; adds to ``tally``."""
    lock = threading.Lock()
    go = threading.Barrier(len(clients) + 1)

    def work(client: Client) -> None:
        go.wait()
        client.run(workload, count, tally, lock)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    done = len(tally.latencies_ns)
    cpu_before = cpu_seconds(pid)
    go.wait()
    start = time.perf_counter_ns()
    for thread in threads:
        thread.join()
    seconds = (time.perf_counter_ns() - start) / 1e9
    cpu_after = cpu_seconds(pid)
    tally.seconds += seconds
    tally.round_rates.append((len(tally.latencies_ns) - done) / seconds)
    if cpu_before is None or cpu_after is None or tally.cpu_seconds is None:
        tally.cpu_seconds = None
    else:
        tally.cpu_seconds += cpu_after - cpu_before


def measure(
    base_url: str, pid: int, loads: list[Workload], args: argparse.Namespace
) -> dict[str, Tally]:
    """Warm up, then ``args.rounds`` rounds of every workload, their order rotating."""
    clients = [Client(base_url) for _ in range(args.clients)]
    tallies = {w.name: Tally() for w in loads}
    try:
        for workload in loads:
            phase(clients, workload, args.warmup, Tally(), pid)
        before = snapshot(pid)
        for number in range(args.rounds):
            shift = number % len(loads)
            for workload in loads[shift:] + loads[:shift]:
                phase(clients, workload, args.requests, tallies[workload.name], pid)
        after = snapshot(pid)
    finally:
        for client in clients:
            client.close()
    args.other_load = other_load(before, after)
    return tallies


Snapshot = tuple[float, float | None, float | None, float]


def snapshot(pid: int) -> Snapshot:
    """Wall clock, the machine's busy CPU time, the server's and the clients' CPU time."""
    return (time.perf_counter(), machine_busy_seconds(), cpu_seconds(pid), own_cpu_seconds())


def other_load(before: Snapshot, after: Snapshot) -> float | None:
    """Share of the machine's CPUs that processes other than the server and the clients used.

    Other work on the machine (a test run, say) slows the workloads unevenly and makes the
    figures noisy; this says how much there was.
    """
    wall, own = after[0] - before[0], after[3] - before[3]
    busy_before, busy_after = before[1], after[1]
    server_before, server_after = before[2], after[2]
    if busy_before is None or busy_after is None or server_before is None or server_after is None:
        return None
    others = busy_after - busy_before - (server_after - server_before) - own
    return max(0.0, others) / (wall * (os.cpu_count() or 1))


# -- figures --------------------------------------------------------------------------


@dataclass
class Figures:
    workload: str
    requests: int
    errors: int
    seconds: float
    per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    round_per_s: list[float]
    #: The server's CPU time per request (ms), where known (Linux).
    cpu_ms: float | None
    first_error: str


def figures(name: str, tally: Tally) -> Figures:
    ordered = sorted(tally.latencies_ns) or [0]
    done = len(tally.latencies_ns)
    return Figures(
        workload=name,
        requests=done,
        errors=tally.errors,
        seconds=tally.seconds,
        per_s=done / tally.seconds if tally.seconds else 0.0,
        p50_ms=percentile(ordered, 0.50) / 1e6,
        p99_ms=percentile(ordered, 0.99) / 1e6,
        mean_ms=sum(ordered) / len(ordered) / 1e6,
        round_per_s=tally.round_rates,
        cpu_ms=tally.cpu_seconds / done * 1000 if tally.cpu_seconds is not None and done else None,
        first_error=tally.first_error,
    )


def ratios(results: dict[str, Figures]) -> dict[str, float]:
    """Each workload's throughput relative to the echo baseline (echo itself: 1)."""
    base = results.get(BASELINE)
    if base is None or not base.per_s:
        return {}
    return {name: f.per_s / base.per_s for name, f in results.items()}


def cpu_ratios(results: dict[str, Figures]) -> dict[str, float]:
    """Echo's server CPU time per request over each workload's: the CPU-bound throughput ratio."""
    base = results.get(BASELINE)
    if base is None or base.cpu_ms is None:
        return {}
    return {name: base.cpu_ms / f.cpu_ms for name, f in results.items() if f.cpu_ms}


def round_ratios(results: dict[str, Figures], name: str) -> list[float]:
    base, other = results.get(BASELINE), results.get(name)
    if base is None or other is None:
        return []
    return [o / b for o, b in zip(other.round_per_s, base.round_per_s, strict=True) if b]


def verdict(results: dict[str, Figures], relative: dict[str, float]) -> str:
    errors = sum(f.errors for f in results.values())
    ratio = relative.get(TARGET_WORKLOAD)
    if errors:
        return f"FAIL ({errors} request(s) failed)"
    if ratio is None:
        return "n/a (needs the echo and GRP JobState workloads)"
    return "PASS" if ratio >= TARGET_RATIO else "FAIL"


def report(env: dict[str, Any], args: argparse.Namespace, results: dict[str, Figures]) -> str:
    relative, by_cpu = ratios(results), cpu_ratios(results)
    rows = [
        [
            f.workload,
            f"{f.requests:,}",
            str(f.errors),
            f"{f.per_s:,.0f}",
            f"{f.p50_ms:.2f}",
            f"{f.p99_ms:.2f}",
            f"{f.mean_ms:.2f}",
            f"{relative[f.workload]:.2f}" if f.workload in relative else "-",
            f"{f.cpu_ms:.3f}" if f.cpu_ms is not None else "n/a",
            f"{by_cpu[f.workload]:.2f}" if f.workload in by_cpu else "-",
        ]
        for f in results.values()
    ]
    lines = [
        "wsrf_uws SOAP benchmark"
        + (" (--quick: a smoke run; its ratios are only indicative)" if args.quick else ""),
        f"Python {env['python']} ({env['implementation']}), Spyne {env['spyne']}, "
        f"waitress {env['waitress']}, lxml {env['lxml']}, SQLite {env['sqlite']}, "
        f"{env['cpus']} CPUs, {env['platform']}",
        f"one server process: {args.threads} waitress threads, synchronous={args.synchronous}"
        + (", cProfile on (figures distorted)" if args.profile else ""),
        f"{args.clients} client threads x {args.requests} requests per workload per round, "
        f"{args.rounds} round(s), after {args.warmup} warm-up requests per client; "
        "keep-alive HTTP/1.1",
        "other processes used "
        + (f"{args.other_load:.0%}" if args.other_load is not None else "n/a")
        + " of the machine's CPUs during the timed rounds (noise; figures are best below ~5%)",
        "",
        table(
            [
                "workload",
                "requests",
                "errors",
                "req/s",
                "p50 ms",
                "p99 ms",
                "mean ms",
                "/echo",
                "server CPU ms/req",
                "/echo by CPU",
            ],
            rows,
        ),
        "",
    ]
    for name in (n for n in relative if n != BASELINE):
        rounds = round_ratios(results, name)
        lines.append(
            f"throughput {name}/echo: {relative[name]:.2f}  (rounds: median "
            f"{statistics.median(rounds):.2f}, {min(rounds):.2f}..{max(rounds):.2f})"
        )
    for f in results.values():
        if f.errors:
            lines.append(f"first error of {f.workload}: {f.first_error}")
    target = relative.get(TARGET_WORKLOAD)
    shown = f"{target:.2f}" if target is not None else "n/a"
    lines += [
        "",
        f"target: {TARGET_WORKLOAD} (the property clients poll) >= {TARGET_RATIO} x echo "
        f"throughput: {shown}  {verdict(results, relative)}",
    ]
    return "\n".join(lines)


# -- profile --------------------------------------------------------------------------


def area(filename: str) -> str:
    """A short name for where a function lives: the package and module, or the builtin."""
    if filename == "~":
        return "(builtins and C extensions)"
    parts = Path(filename).parts
    for anchor in ("site-packages", "src", "lib"):
        if anchor in parts:
            rest = parts[len(parts) - parts[::-1].index(anchor) :]
            return "/".join(rest)
    return "/".join(parts[-2:])


def profile_summary(path: Path, top: int = 25) -> str:
    """Own time of the server's functions (cProfile), by module and by function."""
    stats: Any = pstats.Stats(str(path))
    rows = stats.stats  # (file, line, function) -> (calls, ncalls, own, cumulative, callers)
    total = sum(v[2] for v in rows.values()) or 1.0
    by_area: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in rows.items():
        by_area[area(filename)] = by_area.get(area(filename), 0.0) + own
    areas = sorted(by_area.items(), key=lambda kv: -kv[1])[:top]
    functions = sorted(rows.items(), key=lambda kv: -kv[1][2])[:top]
    cumulative = sorted(rows.items(), key=lambda kv: -kv[1][3])[:top]

    def where(key: tuple[str, int, str]) -> str:
        filename, line, function = key
        return f"{area(filename)}:{line}:{function}" if filename != "~" else function

    return "\n".join(
        [
            f"Profile of the server's WSGI application (cProfile, every workload run; {path})",
            "Own time is wall time on the calling thread: calls that release the GIL (SQLite,",
            "lxml parsing, os.urandom) include the wait to get it back. --threads 1 --clients 1",
            "gives figures closer to CPU time; --workloads profiles one workload alone.",
            "",
            table(["module (own time)", "%"], [[a, f"{100 * t / total:.1f}"] for a, t in areas]),
            "",
            table(
                ["function (own time)", "calls", "%"],
                [[where(k), f"{v[1]:,}", f"{100 * v[2] / total:.1f}"] for k, v in functions],
            ),
            "",
            table(
                ["function (cumulative)", "calls", "%"],
                [[where(k), f"{v[1]:,}", f"{100 * v[3] / total:.1f}"] for k, v in cumulative],
            ),
        ]
    )


# -- main -----------------------------------------------------------------------------


def defaults(name: str) -> str:
    return f"(default {FULL[name]:,}; --quick {QUICK[name]:,})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument(
        "--requests",
        type=int,
        help=f"requests per client per workload per round {defaults('requests')}",
    )
    parser.add_argument("--rounds", type=int, help=f"rounds of every workload {defaults('rounds')}")
    parser.add_argument(
        "--warmup", type=int, help=f"untimed requests per client per workload {defaults('warmup')}"
    )
    parser.add_argument("--threads", type=int, default=8, help="the server's waitress threads")
    parser.add_argument(
        "--synchronous", choices=["full", "normal"], default="full", help="the store's mode"
    )
    parser.add_argument(
        "--workloads",
        help="comma-separated subset, e.g. 'echo,GRP JobState' (default all four)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the server with cProfile and print where its time goes",
    )
    parser.add_argument(
        "--profile-out", type=Path, default=DEFAULT_PROFILE, help="the server's pstats file"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output file")
    args = parser.parse_args(argv)
    return apply_preset(args, QUICK if args.quick else FULL)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment(
        "spyne",
        "waitress",
        "lxml",
        implementation=platform.python_implementation(),
        sqlite=sqlite3.sqlite_version,
    )
    with tempfile.TemporaryDirectory(prefix="soap_bench_") as tmp:
        server = Server(Path(tmp) / "data", args)
        try:
            loads = workloads(server.base_url, create_job(server.base_url))
            if args.workloads:
                wanted = [w.strip() for w in args.workloads.split(",")]
                known = {w.name: w for w in loads}
                unknown = [w for w in wanted if w not in known]
                if unknown:
                    raise SystemExit(
                        f"soap_bench: unknown workload(s) {unknown}; use {list(known)}"
                    )
                loads = [known[w] for w in wanted]
            tallies = measure(server.base_url, server.pid, loads, args)
        finally:
            status = server.stop()
    results = {name: figures(name, tally) for name, tally in tallies.items()}
    print(report(env, args, results))
    if status != 0:
        print(f"\nthe server exited with status {status}")
    relative = ratios(results)
    document = {
        "environment": env,
        "quick": args.quick,
        "settings": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
            if k != "other_load"
        },
        "workloads": [asdict(f) for f in results.values()],
        "throughput_ratio_to_echo": relative,
        "throughput_ratio_to_echo_round_median": {
            name: statistics.median(round_ratios(results, name))
            for name in relative
            if name != BASELINE
        },
        "server_cpu_ratio_to_echo": cpu_ratios(results),
        "target": {"workload": TARGET_WORKLOAD, "ratio": TARGET_RATIO},
        "other_load": args.other_load,
        "verdict": verdict(results, relative),
    }
    write_figures(args.out, document)
    if args.profile and args.profile_out.exists():
        print("\n" + profile_summary(args.profile_out))
    failed = sum(f.errors for f in results.values()) or status
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
