"""Short jobs on a one-node Slurm, against the local executor and worker nodes, in one run.

Why: issue 17 runs a contract's jobs as Slurm batch jobs (``wsrf-uws run-job`` on a
compute node). A batch system adds a scheduler's cycle, a job launch and a new Python
process per job; this measures what that costs a short job, beside the service's own
executors measured in the same run on the same machine.

What it measures, with ``steps`` jobs of one step of no duration on a service built in
this process:

- *a lone job's latency*: K jobs one after the other, each started when the one before
  has ended: from ``start_job`` to the start time the run recorded when it claimed the
  job (QUEUED -> EXECUTING), p50 and max, and to the end it recorded (p50). What one
  job waits on an idle system. (The local executor and a worker node record EXECUTING as
  they claim the job, before its process starts; ``run-job`` claims it once it runs on
  the node: the time to the end is the like-for-like figure.)
- *a burst*: N jobs started at once (``start_job`` in a loop): the same latency, p50,
  p90 and max (the queueing included), and the throughput, N divided by the time from
  the first ``start_job`` to the last recorded end.

The executors: the local executor (SQLite, 4 slots); Slurm with the test cluster's
scheduling (``batch_sched_delay=0``) and with Slurm's defaults (which gather batch
submissions for up to 3 s), both on SQLite with at most 16 jobs at once on the node;
and, if PostgreSQL's server is installed, two worker nodes (``wsrf-uws worker``, 2 slots
each) claiming from PostgreSQL behind an in-process front-end, and Slurm in a cluster: an
in-process front-end on PostgreSQL that leads the cluster, so it submits and follows the
Slurm jobs (woken by the store's notification of each queued job, as workers are), with
a worker node beside it that claims none of them. The Slurm cluster is the tests'
(:mod:`wsrf_uws.testing.slurm`: munge, slurmctld and slurmd as root on this host).

Printed: one table; figures also go to ``bench/out/slurm_bench.json``. Exits 0 (1 only if
a job did not complete). Run as root from the project root: ``python bench/slurm_bench.py``
(about a minute on two cores), ``--quick`` for fewer jobs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wsrf_uws.core import JobService, Phase
from wsrf_uws.core.cluster import NodeRole
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import build_test_service
from wsrf_uws.testing.cluster import CLUSTER_TEST_ENVIRONMENT, RunningWorker
from wsrf_uws.testing.postgres import Cluster, server_binaries
from wsrf_uws.testing.slurm import FAST_SCHEDULING, slurm_in_environment

from report import environment, percentile, table, write_figures

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "slurm_bench.json"
SAFETY = 600.0  # seconds: only a guard against hanging


def lone(service: JobService, jobs: int) -> dict[str, Any]:
    """Run ``jobs`` one-step jobs one after the other; their latencies."""
    latencies = []
    to_end = []
    for _ in range(jobs):
        figures = burst(service, 1)
        if figures["completed"]:
            latencies.append(figures["latency_ms_p50"])
            to_end.append(figures["to_end_ms_max"])
    latencies.sort()
    to_end.sort()
    return {
        "lone_jobs": jobs,
        "lone_latency_ms_p50": percentile(latencies, 0.5) if latencies else None,
        "lone_latency_ms_max": latencies[-1] if latencies else None,
        "lone_to_end_ms_p50": percentile(to_end, 0.5) if to_end else None,
    }


def measure(service: JobService, *, jobs: int, lone_jobs: int) -> dict[str, Any]:
    """A lone job's latency, then a burst's figures."""
    return {**lone(service, lone_jobs), **burst(service, jobs)}


def burst(service: JobService, jobs: int) -> dict[str, Any]:
    """Create ``jobs`` one-step jobs, start them all, wait for their ends; the figures."""
    created = [
        service.create_job(contract="steps", document=steps_jdl(1, 0)).resource_id
        for _ in range(jobs)
    ]
    started: dict[str, datetime] = {}
    for resource_id in created:
        started[resource_id] = datetime.now(UTC)
        service.start_job(resource_id, owner=ANONYMOUS)
    deadline = time.monotonic() + SAFETY
    pending = set(created)
    ends = []
    latencies = []
    to_end: list[float] = []
    failed = 0
    while pending and time.monotonic() < deadline:
        for resource_id in list(pending):
            job = service.store.get(resource_id)
            if job is None or not job.is_final:
                continue
            pending.discard(resource_id)
            if job.phase is not Phase.COMPLETED or job.start_time is None:
                failed += 1
                continue
            latencies.append((job.start_time - started[resource_id]).total_seconds() * 1000)
            ends.append(job.end_time or job.start_time)
            to_end.append((ends[-1] - started[resource_id]).total_seconds() * 1000)
        time.sleep(0.05)
    latencies.sort()
    total = (max(ends) - min(started.values())).total_seconds() if ends else 0.0
    ordered = [round(x) for x in latencies]
    return {
        "jobs": jobs,
        "completed": len(latencies),
        "failed": failed + len(pending),
        "latency_ms_p50": percentile(ordered, 0.5) if ordered else None,
        "latency_ms_p90": percentile(ordered, 0.9) if ordered else None,
        "latency_ms_max": ordered[-1] if ordered else None,
        "latency_ms_mean": round(statistics.fmean(latencies)) if latencies else None,
        "to_end_ms_max": round(max(to_end)) if to_end else None,
        "jobs_per_second": round(len(latencies) / total, 2) if total else None,
    }


@contextmanager
def started(service: JobService) -> Iterator[JobService]:
    service.startup()
    try:
        yield service
    finally:
        service.shutdown()


def local_run(root: Path, jobs: int, lone_jobs: int) -> dict[str, Any]:
    with started(build_test_service(root / "local", slots=4)) as service:
        return measure(service, jobs=jobs, lone_jobs=lone_jobs)


def slurm_run(
    root: Path, jobs: int, lone_jobs: int, *, scheduling: str, name: str
) -> dict[str, Any]:
    with (
        slurm_in_environment(scheduler_parameters=scheduling),
        started(build_test_service(root / name, steps={"executor": "slurm"})) as service,
    ):
        return measure(service, jobs=jobs, lone_jobs=lone_jobs)


def cluster_slurm_run(root: Path, jobs: int, lone_jobs: int) -> dict[str, Any] | None:
    """Slurm in a cluster: the leading front-end submits, a worker node claims nothing."""
    binaries = server_binaries()
    if binaries is None:
        return None
    postgres = Cluster(binaries)
    postgres.start()
    worker: RunningWorker | None = None
    try:
        url = postgres.new_schema()
        data = root / "cluster-slurm"
        frontend = build_test_service(
            data,
            database_url=url,
            role=NodeRole.FRONTEND,
            node="fe",
            steps={"executor": "slurm"},
        )
        with slurm_in_environment(), started(frontend) as service:
            # Started first, the front-end leads: the Slurm jobs are its.
            worker = RunningWorker(
                data,
                node="w0",
                slots=2,
                database_url=url,
                env={**CLUSTER_TEST_ENVIRONMENT, "WSRF_UWS_STEPS__EXECUTOR": "slurm"},
            )
            worker.start()
            return measure(service, jobs=jobs, lone_jobs=lone_jobs)
    finally:
        if worker is not None:
            worker.stop()
        postgres.stop()


def workers_run(root: Path, jobs: int, lone_jobs: int) -> dict[str, Any] | None:
    binaries = server_binaries()
    if binaries is None:
        return None
    postgres = Cluster(binaries)
    postgres.start()
    workers: list[RunningWorker] = []
    try:
        url = postgres.new_schema()
        data = root / "workers"
        frontend = build_test_service(data, database_url=url, role=NodeRole.FRONTEND, node="fe")
        with started(frontend) as service:
            for index in range(2):
                worker = RunningWorker(
                    data, node=f"w{index}", slots=2, database_url=url, env=CLUSTER_TEST_ENVIRONMENT
                )
                worker.start()
                workers.append(worker)
            return measure(service, jobs=jobs, lone_jobs=lone_jobs)
    finally:
        for worker in workers:
            worker.stop()
        postgres.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, help="jobs per executor (default 40; --quick 12)")
    parser.add_argument("--lone", type=int, help="lone jobs per executor (default 5; --quick 3)")
    parser.add_argument("--quick", action="store_true", help="fewer jobs: an indicative run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    args = parser.parse_args()
    jobs = args.jobs or (12 if args.quick else 40)
    lone_jobs = args.lone or (3 if args.quick else 5)
    if os.geteuid() != 0:
        print("slurm_bench: runs as root (the one-node Slurm starts jobs as their users)")
        return 0
    figures: dict[str, Any] = {"environment": environment("wsrf-uws"), "runs": {}}
    with tempfile.TemporaryDirectory(prefix="wsrf-uws-slurm-bench-") as folder:
        root = Path(folder)
        runs = figures["runs"]
        runs["local executor, 4 slots (SQLite)"] = local_run(root, jobs, lone_jobs)
        runs["Slurm, batch_sched_delay=0 (SQLite)"] = slurm_run(
            root, jobs, lone_jobs, scheduling=FAST_SCHEDULING, name="slurm-fast"
        )
        runs["Slurm, Slurm's default scheduling (SQLite)"] = slurm_run(
            root, jobs, lone_jobs, scheduling="", name="slurm-default"
        )
        nodes = workers_run(root, jobs, lone_jobs)
        if nodes is not None:
            runs["2 worker nodes x 2 slots (PostgreSQL)"] = nodes
        on_cluster = cluster_slurm_run(root, jobs, lone_jobs)
        if on_cluster is not None:
            runs["Slurm from a cluster's leader, batch_sched_delay=0 (PostgreSQL)"] = on_cluster
    headers = ["executor", "lone", "lone max", "lone end", "burst", "p50", "p90", "max", "jobs/s"]
    rows = [
        [
            name,
            str(run["lone_latency_ms_p50"]),
            str(run["lone_latency_ms_max"]),
            str(run["lone_to_end_ms_p50"]),
            f"{run['completed']}/{run['jobs']}",
            str(run["latency_ms_p50"]),
            str(run["latency_ms_p90"]),
            str(run["latency_ms_max"]),
            str(run["jobs_per_second"]),
        ]
        for name, run in figures["runs"].items()
    ]
    print(
        f"ms from startJob to EXECUTING (lone end: to the job's end); lone: {lone_jobs} "
        f"jobs one at a time (p50, max); burst: {jobs} jobs started at once\n"
    )
    print(table(headers, rows))
    write_figures(args.out, figures)
    return 1 if any(run["failed"] for run in figures["runs"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
