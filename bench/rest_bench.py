"""What a job document costs over REST, against SOAP's GetResourceProperty in the same run.

Why: issue 21 asks that the REST binding serve the same jobs as SOAP, and a polling UWS
client (pyvo, TOPCAT) reads ``GET /{jobs}/{id}`` again and again; DaCHS answers it in
9.9 ms and slows with uptime. Absolute times vary between machines, so each figure is
printed beside GetResourceProperty of the same job's ``uws:job`` on the same server in
the same run, the two taking turns in rounds so that drift affects them alike.

What it measures, against a real ``wsrf-uws serve`` (the ``steps`` contract only, no
request-rate limit) on a temporary data directory, one client on a keep-alive HTTP/1.1
connection sending pre-built requests (no client library, so the client costs next to
nothing):

1. *REST GET*: ``GET /rest/steps/{id}`` of a PENDING job, its ``uws:job`` document.
2. *SOAP GRP*: GetResourceProperty of ``uws:job`` of the same job (the same element).
3. *with N jobs*: with ``--jobs N`` (default 10^4; 10^5 takes a minute more to fill)
   live jobs added to the stopped service's store (``insert_many``) before it starts,
   the same REST GET again, on one of them: whether the cost stays flat as the store
   grows (ratio to the empty store's REST GET of the same run).

Printed: p50, p90 and requests per second per workload, and the ratios; figures also go
to ``bench/out/rest_bench.json``. Exits 1 only when something failed (a request, the
server).

Run from the project root: ``python bench/rest_bench.py`` (about a minute on two cores),
``--quick`` for a shorter, indicative run. On a machine shared with other work the
figures are noisy: compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wsrf_uws.core.model import Job, new_resource_id
from wsrf_uws.core.phases import Phase
from wsrf_uws.settings import Settings
from wsrf_uws.store.sqlite import SQLiteJobStore
from wsrf_uws.testing.server import RunningServer

from report import environment, table, write_figures
from soap_bench import addressing, connect, envelope

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "rest_bench.json"
JDL = b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>1</steps><stepSeconds>0</stepSeconds></job>'
GRP_ACTION = "http://docs.oasis-open.org/wsrf/rpw-2/GetResourceProperty/GetResourcePropertyRequest"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
ENV = {"WSRF_UWS_CONTRACTS": '["steps"]'}


def create(base_url: str) -> str:
    """A PENDING steps job, created over REST; its id."""
    connection = connect(base_url)
    connection.request("POST", "/rest/steps", body=JDL, headers={"Content-Type": "text/xml"})
    answer = connection.getresponse()
    answer.read()
    if answer.status != 303:
        raise RuntimeError(f"creating a job answered {answer.status}")
    return (answer.getheader("Location") or "").rsplit("/", 1)[1]


def grp_request(base_url: str, resource_id: str) -> tuple[str, bytes, dict[str, str]]:
    body = (
        f'<wsrfrp:GetResourceProperty xmlns:wsrfrp="{RP}" xmlns:uws="{UWS}">'
        "uws:job</wsrfrp:GetResourceProperty>"
    )
    headers = addressing(f"{base_url}/uws/steps", GRP_ACTION, resource_id)
    text = envelope(body, headers).replace("{message_id}", str(uuid.uuid4()))
    return (
        "/uws/steps",
        text.encode(),
        {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{GRP_ACTION}"'},
    )


def timed(connection: http.client.HTTPConnection, method: str, path: str, **kw: Any) -> int:
    """Nanoseconds one request took, its answer read whole; raises unless 200."""
    started = time.perf_counter_ns()
    connection.request(method, path, **kw)
    answer = connection.getresponse()
    answer.read()
    took = time.perf_counter_ns() - started
    if answer.status != 200:
        raise RuntimeError(f"{method} {path} answered {answer.status}")
    return took


def measure(
    base_url: str, resource_id: str, *, rounds: int, per_round: int
) -> dict[str, list[int]]:
    """REST GET and SOAP GRP of the same job, taking turns, ``rounds`` x ``per_round`` each."""
    connection = connect(base_url)
    path, body, headers = grp_request(base_url, resource_id)
    latencies: dict[str, list[int]] = {"REST GET": [], "SOAP GRP": []}
    for _ in range(5):  # warm up both paths
        timed(connection, "GET", f"/rest/steps/{resource_id}")
        timed(connection, "POST", path, body=body, headers=headers)
    for _ in range(rounds):
        for _ in range(per_round):
            latencies["REST GET"].append(timed(connection, "GET", f"/rest/steps/{resource_id}"))
        for _ in range(per_round):
            latencies["SOAP GRP"].append(
                timed(connection, "POST", path, body=body, headers=headers)
            )
    return latencies


def rest_only(base_url: str, resource_id: str, *, count: int) -> list[int]:
    connection = connect(base_url)
    for _ in range(5):
        timed(connection, "GET", f"/rest/steps/{resource_id}")
    return [timed(connection, "GET", f"/rest/steps/{resource_id}") for _ in range(count)]


def fill_store(data_dir: Path, count: int) -> str:
    """``count`` live PENDING jobs in the stopped service's store; the id of one of them."""
    settings = Settings.load(data_dir=data_dir)
    now = datetime.now(UTC)
    jobs = [
        Job(
            resource_id=new_resource_id(),
            contract="steps",
            owner="anonymous",
            phase=Phase.PENDING,
            creation_time=now - timedelta(seconds=count - i),
            termination_time=now + timedelta(days=7),
            execution_duration=60,
            jdl=JDL,
            address="",
        )
        for i in range(count)
    ]
    store = SQLiteJobStore(settings.store_path, synchronous="normal")
    try:
        for start in range(0, count, 20_000):
            store.insert_many(jobs[start : start + 20_000])
    finally:
        store.close()
    return jobs[count // 2].resource_id


def summary(name: str, latencies: list[int]) -> dict[str, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) / 1e6
    p90 = ordered[int(len(ordered) * 0.9)] / 1e6
    per_second = len(ordered) / (sum(ordered) / 1e9)
    return {"p50_ms": round(p50, 3), "p90_ms": round(p90, 3), "per_second": round(per_second)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the full store")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    rounds, per_round = (5, 40) if args.quick else (20, 100)
    figures: dict[str, Any] = {"environment": environment("waitress", "lxml")}
    with tempfile.TemporaryDirectory() as folder:
        server = RunningServer(Path(folder) / "empty", env=ENV)
        server.start()
        try:
            resource_id = create(server.base_url)
            pair = measure(server.base_url, resource_id, rounds=rounds, per_round=per_round)
        finally:
            server.stop()
        full_dir = Path(folder) / "full"
        probe = RunningServer(full_dir, env=ENV)
        probe.start()  # creates the store's schema
        probe.stop()
        started = time.perf_counter()
        some_id = fill_store(full_dir, args.jobs)
        filled = time.perf_counter() - started
        server = RunningServer(full_dir, env=ENV)
        server.start()
        try:
            full = rest_only(server.base_url, some_id, count=rounds * per_round)
        finally:
            server.stop()
    results = {name: summary(name, values) for name, values in pair.items()}
    results[f"REST GET, {args.jobs} jobs"] = summary("full", full)
    rest = results["REST GET"]["p50_ms"]
    ratios = {
        "REST GET / SOAP GRP (p50)": round(rest / results["SOAP GRP"]["p50_ms"], 2),
        f"REST GET with {args.jobs} jobs / empty store (p50)": round(
            results[f"REST GET, {args.jobs} jobs"]["p50_ms"] / rest, 2
        ),
    }
    rows = [
        [name, f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}", str(r["per_second"])]
        for name, r in results.items()
    ]
    print(table(["workload", "p50 ms", "p90 ms", "req/s (one client)"], rows))
    print()
    for name, value in ratios.items():
        print(f"{name}: {value}")
    print(f"(filling the store with {args.jobs} jobs took {filled:.1f} s)")
    figures.update(results=results, ratios=ratios, jobs=args.jobs)
    write_figures(args.out, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
