"""What a TAP query costs: sync (tiny, a 0.5-degree cone) and async, against a REST GET.

Why: issue 21 asks a tiny sync query for at most 5x, and a 0.5-degree cone on Hipparcos
for at most 8x, the cost of a REST GET of a job document on the same server; and the
design of ``/tap/sync`` (a pool of long-lived query workers, each holding the catalogue
open, every query bounded in time, memory and size) was chosen over running each sync
query as a job: the async round trip (POST with PHASE=RUN, WAIT until done, GET the
result) is measured beside it, which is what a job per sync query would cost at best.

Against a real ``wsrf-uws serve`` (default settings; the Hipparcos catalogue built and
the workers started before timing), one keep-alive HTTP client (``requests.Session``):

1. *job GET*: ``GET /rest/adql/{id}`` of a PENDING job: the baseline (p50).
2. *sync tiny*: ``SELECT TOP 5 hip, ra, dec FROM hipparcos.main WHERE hip < 100``.
3. *sync cone*: the stars within 0.5 degree of Sirius (hip, ra, dec, hpmag).
4. *async tiny*: the round trip the issue names: POST /tap/async with PHASE=RUN, GET the
   job with WAIT until it has ended (event-driven), GET ``{job}/results/result``
   (following a redirect, were there one). The WAIT carries no PHASE, as pyvo sends it:
   it blocks until the phase changes (from EXECUTING, to the end; one more WAIT when the
   job was still QUEUED). A WAIT with PHASE=QUEUED sent at once, as the bench sent it
   before, came back at once (the job was EXECUTING already) and cost one request more.
5. *async DELETE*: then DELETE of that job, as pyvo's ``run_async`` ends; timed on its
   own, and *async + DELETE* is the two together (what this bench timed as *async tiny*
   before).

They take turns in rounds, so drift on the machine affects them alike. Printed: p50 and p90
of each, the ratios to the job GET's p50 and PASS/MISS per goal (tiny <= 5x, cone <= 8x,
async <= 20x). Figures also go to ``bench/out/tap_bench.json``. Exits 0 on a missed
goal, 1 when a request failed. The machine is shared: figures are noisy, ratios less so.

Run from the project root: ``python bench/tap_bench.py`` (``--rounds N``, default 200).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests
from lxml import etree

from wsrf_uws.testing.server import running_server

TINY = "SELECT TOP 5 hip, ra, dec FROM hipparcos.main WHERE hip < 100"
CONE = (
    "SELECT hip, ra, dec, hpmag FROM hipparcos.main WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
    "CIRCLE('ICRS', 101.287155, -16.716116, 0.5))"
)
JOB = '<job xmlns="urn:wsrf-uws:adql:v1"><query>SELECT TOP 1 hip FROM hipparcos.main</query></job>'
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
GOALS = {"sync tiny": 5.0, "sync cone": 8.0, "async tiny": 20.0}
#: Timed after each async round trip: its DELETE, and the two together.
AFTER_ASYNC = ("async DELETE", "async + DELETE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, running_server(Path(folder) / "data") as server:
        session = requests.Session()
        base = server.base_url
        created = session.post(
            f"{base}/rest/adql",
            data=JOB,
            headers={"Content-Type": "text/xml"},
            allow_redirects=False,
            timeout=60,
        )
        if created.status_code != 303:
            print("could not create the job:", created.status_code, created.text, file=sys.stderr)
            return 1
        job_url = created.headers["Location"]

        def job_get() -> None:
            _ok(session.get(job_url, timeout=60))

        def sync(query: str) -> Callable[[], None]:
            def run() -> None:
                _ok(
                    session.post(
                        f"{base}/tap/sync", data={"LANG": "ADQL", "QUERY": query}, timeout=60
                    )
                )

            return run

        def async_tiny() -> str:
            posted = session.post(
                f"{base}/tap/async",
                data={"LANG": "ADQL", "QUERY": TINY, "PHASE": "RUN"},
                allow_redirects=False,
                timeout=60,
            )
            if posted.status_code != 303:
                raise RuntimeError(f"POST /tap/async: {posted.status_code} {posted.text[:200]}")
            url = posted.headers["Location"]
            phase = "QUEUED"
            while phase in ("PENDING", "QUEUED", "EXECUTING"):
                waited = session.get(url, params={"WAIT": "30"}, timeout=60)
                _ok(waited)
                phase = _phase(waited.content)
            if phase != "COMPLETED":
                raise RuntimeError(f"async job ended {phase}")
            _ok(session.get(f"{url}/results/result", timeout=60))
            return url

        def async_delete(url: str) -> None:
            deleted = session.delete(url, allow_redirects=False, timeout=60)
            if deleted.status_code != 303:
                raise RuntimeError(f"DELETE {url}: {deleted.status_code}")

        cases: dict[str, Callable[[], object]] = {
            "job GET": job_get,
            "sync tiny": sync(TINY),
            "sync cone": sync(CONE),
            "async tiny": async_tiny,
        }
        for _ in range(3):  # catalogue built, workers started, connections open
            for case in cases.values():
                made = case()
                if isinstance(made, str):
                    async_delete(made)
        times: dict[str, list[float]] = {name: [] for name in (*cases, *AFTER_ASYNC)}
        for _ in range(args.rounds):
            for name, case in cases.items():
                started = time.perf_counter()
                made = case()
                times[name].append(time.perf_counter() - started)
                if isinstance(made, str):
                    started = time.perf_counter()
                    async_delete(made)
                    times["async DELETE"].append(time.perf_counter() - started)
                    times["async + DELETE"].append(times[name][-1] + times["async DELETE"][-1])
    return report(times)


def _phase(document: bytes) -> str:
    """The ``uws:phase`` of a ``uws:job`` document."""
    return (etree.fromstring(document).findtext(f"{{{UWS}}}phase") or "").strip()


def _ok(response: requests.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.method} {response.url}: {response.status_code}")


def report(times: dict[str, list[float]]) -> int:
    base = statistics.median(times["job GET"])
    figures = {}
    print(f"{'case':<14} {'p50 ms':>9} {'p90 ms':>9} {'ratio':>7}  goal")
    for name, values in times.items():
        p50 = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        ratio = p50 / base
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"<= {goal:g}x {'PASS' if ratio <= goal else 'MISS'}"
        print(f"{name:<14} {p50 * 1000:>9.2f} {p90 * 1000:>9.2f} {ratio:>6.1f}x  {verdict}")
        figures[name] = {"p50_ms": p50 * 1000, "p90_ms": p90 * 1000, "ratio": ratio}
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "tap_bench.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
