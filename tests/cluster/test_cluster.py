"""A real cluster: front-ends and workers as separate processes on one PostgreSQL store.

Every node is a real ``wsrf-uws`` process (:mod:`wsrf_uws.testing.cluster`), killed with
SIGKILL where a test needs a crash; the tests talk to the front-ends with the shipped
client and read what the nodes recorded with a store object of their own. Timings are
only deadlines against hanging (:data:`SAFETY`), never measurements.
"""

from __future__ import annotations

import ctypes
import fcntl
import io
import os
import platform
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import psutil
import pytest
import requests

from wsrf_uws.client import ResourceUnknown, Service
from wsrf_uws.core import Phase
from wsrf_uws.core.cluster import ClusterStatus
from wsrf_uws.core.contract import JobContext
from wsrf_uws.core.errors import JobFailure
from wsrf_uws.core.model import Job
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.store.postgres import PostgresJobStore
from wsrf_uws.testing import contract_environment
from wsrf_uws.testing.cluster import (
    RunningCluster,
    RunningWorker,
    cluster_command,
    running_cluster,
)
from wsrf_uws.testing.polling import eventually
from wsrf_uws.testing.postgres import Cluster

from cluster_contracts import LedgerContract, ledger_environment, read_ledger, starts
from conftest import alive

SAFETY = 60.0  # seconds: only a guard against hanging, never a measurement


def job_in(store: PostgresJobStore, resource_id: str, test: Callable[[Job], bool]) -> Job | None:
    """The job if it exists and passes ``test`` (for :func:`eventually`)."""
    job = store.get(resource_id)
    return job if job is not None and test(job) else None


def recorded(store: PostgresJobStore, resource_id: str) -> Job:
    """The job as the store has it now (it must exist)."""
    job = store.get(resource_id)
    assert job is not None, f"{resource_id} is not in the store"
    return job


def destroyed(store: PostgresJobStore, resource_id: str) -> bool:
    """Whether the job is gone from the store (for :func:`eventually`)."""
    return store.get(resource_id) is None


def job_tree(worker: RunningWorker, children: list[int]) -> list[psutil.Process]:
    """The processes of a ``steps`` job with ``children``: its worker process (the
    children's parent) and everything under it; they must descend from ``worker``."""
    job_process = psutil.Process(children[0]).parent()
    assert job_process is not None
    assert worker.pid is not None
    under_worker = {p.pid for p in psutil.Process(worker.pid).children(recursive=True)}
    assert job_process.pid in under_worker, "the job does not run under its recorded node"
    return [job_process, *job_process.children(recursive=True)]


# -- one cluster for the tests that leave it as they found it ----------------------------


@pytest.fixture(scope="module")
def shared(
    postgres_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningCluster, PostgresJobStore]]:
    """Two front-ends (fe0, fe1) and two workers of one slot (w0, w1), and a store object
    on their database."""
    folder = tmp_path_factory.mktemp("cluster")
    with running_cluster(folder / "data", database_url=postgres_cluster.new_schema()) as cluster:
        store = cluster.open_store()
        try:
            yield cluster, store
        finally:
            store.close()


def test_a_job_created_through_one_frontend_is_served_by_the_other(
    shared: tuple[RunningCluster, PostgresJobStore],
) -> None:
    cluster, store = shared
    first, second = cluster.frontends
    created = Service(first.url("steps")).create(steps_jdl(2, 0))
    # The endpoint reference names the front-end that made it (pattern §2.3) ...
    assert created.address == first.url("steps")
    # ... and any front-end answers for the resource.
    other = Service(second.url("steps")).job(created.resource_id)
    assert other.phase == "PENDING"
    assert other.start() in {"QUEUED", "EXECUTING", "COMPLETED"}
    done = other.wait(timeout=SAFETY, poll=0.05)
    assert done.phase == "COMPLETED", done.error
    assert created.state.phase == "COMPLETED"
    assert recorded(store, created.resource_id).node is None

    # A result a worker wrote is served by both front-ends (the shared data directory).
    for job in (created, other):
        content = io.BytesIO()
        job.download("step-2.txt", content)
        assert content.getvalue() == b"step 2 of run 1\n"

    # Extended through one, seen through the other.
    change = other.extend(by=timedelta(days=2))
    assert change.new_termination_time is not None
    assert created.termination_time == change.new_termination_time
    assert recorded(store, created.resource_id).termination_time == change.new_termination_time

    # Destroyed through one, gone for both.
    other.destroy()
    with pytest.raises(ResourceUnknown):
        created.state  # noqa: B018 - reading it is the test
    with pytest.raises(ResourceUnknown):
        other.phase  # noqa: B018
    assert store.get(created.resource_id) is None


def test_a_rest_wait_on_one_frontend_wakes_when_the_run_ends_on_a_worker(
    shared: tuple[RunningCluster, PostgresJobStore],
) -> None:
    """The run's end on a worker reaches the other front-end's WAIT through the cluster's
    ENDED signal: without it, the WAIT would answer only at its 60-second deadline, after
    the client's 30 seconds."""
    cluster, store = shared
    first, second = cluster.frontends
    job = Service(first.url("steps")).create(steps_jdl(30, 0.1))
    job.start()
    eventually(
        lambda: job_in(store, job.resource_id, lambda j: j.phase is Phase.EXECUTING),
        what="the job runs on a worker",
    )
    answer = requests.get(
        f"{second.base_url}/rest/steps/{job.resource_id}",
        params={"WAIT": "60", "PHASE": "EXECUTING"},
        timeout=30,
    )
    answer.raise_for_status()
    assert "<uws:phase>COMPLETED</uws:phase>" in answer.text, answer.text


def test_destroying_a_running_job_through_a_frontend_kills_its_tree_on_the_worker(
    shared: tuple[RunningCluster, PostgresJobStore],
) -> None:
    cluster, store = shared
    first, second = cluster.frontends
    # Two children, one in a session of its own; the job then waits to be stopped.
    job = Service(first.url("steps")).create(steps_jdl(1, 0, children=2))
    job.start()
    running = eventually(
        lambda: job_in(
            store, job.resource_id, lambda j: j.node is not None and "children" in j.jdl_state
        ),
        what="the job runs and reports its children",
    )
    assert running.phase is Phase.EXECUTING
    assert running.node is not None
    worker = cluster.worker(running.node)
    tree = job_tree(worker, running.jdl_state["children"])
    assert len(tree) == 3  # the job's process and its two children
    assert alive([p.pid for p in tree]) == [p.pid for p in tree]

    # The abort of the pattern's binding: Destroy of a running job, through the other
    # front-end. It answers once the run has ended on its node.
    Service(second.url("steps")).job(job.resource_id).destroy()
    assert alive([p.pid for p in tree]) == []
    assert store.get(job.resource_id) is None
    assert worker.process is not None and worker.process.poll() is None  # the node lives on
    with pytest.raises(ResourceUnknown):
        job.phase  # noqa: B018


def test_cluster_status_shows_nodes_leader_queue_and_jobs_per_node(
    shared: tuple[RunningCluster, PostgresJobStore],
) -> None:
    cluster, store = shared
    service = Service(cluster.frontends[0].url("steps"))
    # Jobs that run until they are destroyed: one on each worker (one slot each), and a
    # third that waits in the queue.
    jobs = [service.create(steps_jdl(1, 0, children=1)) for _ in range(3)]
    try:
        for job in jobs:
            job.start()

        def busy() -> ClusterStatus | None:
            status = store.status()
            full = status.executing == {"w0": 1, "w1": 1} and status.queued == 1
            return status if full else None

        snapshot = eventually(busy, what="both workers busy and one job queued")
        assert {n.name for n in snapshot.nodes} == {"fe0", "fe1", "w0", "w1"}
        assert snapshot.leader in {"fe0", "fe1", "w0", "w1"}

        shown = cluster.status()  # wsrf-uws cluster status --json
        nodes = {node["name"]: node for node in shown["nodes"]}
        assert {name: node["role"] for name, node in nodes.items()} == {
            "fe0": "frontend",
            "fe1": "frontend",
            "w0": "worker",
            "w1": "worker",
        }
        assert {name: node["executing"] for name, node in nodes.items()} == {
            "fe0": 0,
            "fe1": 0,
            "w0": 1,
            "w1": 1,
        }
        assert nodes["w0"]["slots"] == nodes["w1"]["slots"] == 1
        assert all(node["pid"] == cluster.node(name).pid for name, node in nodes.items())
        assert all(node["alive"] for node in nodes.values())
        assert shown["leader"] == snapshot.leader
        assert [name for name, node in nodes.items() if node["leader"]] == [snapshot.leader]
        assert shown["queued"] == 1
        assert shown["executing"] == 2

        text = cluster_command("cluster", "status", database_url=cluster.database_url)
        assert text.returncode == 0, text.stderr
        for name in ("fe0", "fe1", "w0", "w1"):
            assert name in text.stdout
        assert f"leader: {snapshot.leader}" in text.stdout
        assert "queued jobs: 1" in text.stdout
    finally:
        for job in jobs:
            job.destroy()
    assert store.status().executing == {}


@pytest.mark.parametrize("command", [("worker",), ("serve", "--role", "frontend", "--port", "0")])
def test_a_second_process_cannot_join_under_a_live_nodes_name(
    shared: tuple[RunningCluster, PostgresJobStore], command: tuple[str, ...]
) -> None:
    cluster, store = shared
    done = cluster_command(
        *command,
        "--node",
        "w0",
        "--data",
        str(cluster.data_dir),
        database_url=cluster.database_url,
        env=cluster.env,
    )
    assert done.returncode == 2, done.stderr
    assert "a node called 'w0' is already running" in done.stderr
    w0 = next(n for n in store.status().nodes if n.name == "w0")
    assert w0.pid == cluster.worker("w0").pid  # the live node is undisturbed


# -- clusters of their own: the tests that kill nodes --------------------------------------


def test_kill_9_of_a_worker_reruns_its_isolated_job_elsewhere_and_holds_the_other(
    postgres_url: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger"
    with running_cluster(
        tmp_path / "data",
        database_url=postgres_url,
        workers=1,
        slots=2,
        env=ledger_environment(ledger),
    ) as cluster:
        first, second = cluster.frontends
        doomed = cluster.workers[0]
        store = cluster.open_store()
        try:
            # Long enough to be running still once the second worker is up.
            isolated = Service(first.url("ledger")).create(steps_jdl(40, 0.2))
            external = Service(first.url("steps")).create(steps_jdl(40, 0.2, isolated=False))
            isolated.start()
            external.start()
            ids = [isolated.resource_id, external.resource_id]
            eventually(
                lambda: all(job_in(store, i, lambda j: j.node == "w0") for i in ids),
                what="both jobs run on w0",
            )
            # EXECUTING is recorded at the claim, before the job's process starts: on a
            # busy machine the kill could otherwise come before the first run wrote its start.
            eventually(
                lambda: starts(read_ledger(ledger))[isolated.resource_id] == 1,
                what="the isolated job's first run has started",
            )
            assert doomed.pid is not None
            job_processes = psutil.Process(doomed.pid).children(recursive=True)
            cluster.add_worker("w1", slots=2)

            before = {i: store.get(i) for i in ids}
            assert all(j is not None and j.phase is Phase.EXECUTING for j in before.values()), (
                "the jobs ended before the kill; make them longer"
            )
            doomed.kill()

            # Its job processes die with it.
            eventually(
                lambda: alive([p.pid for p in job_processes]) == [],
                what="the killed worker's processes are gone",
            )

            # The isolated job runs again on the other worker, and completes there.
            eventually(
                lambda: job_in(
                    store,
                    isolated.resource_id,
                    lambda j: j.phase is Phase.EXECUTING and j.node == "w1" and j.run_count == 2,
                ),
                what="the isolated job runs again on w1",
            )
            done = (
                Service(second.url("ledger"))
                .job(isolated.resource_id)
                .wait(timeout=SAFETY, poll=0.1)
            )
            assert done.phase == "COMPLETED", done.error
            finished = store.get(isolated.resource_id)
            assert finished is not None
            assert finished.run_count == 2 and finished.node is None

            # The other waits in HELD, with a note, until resumeJob.
            held = eventually(
                lambda: job_in(store, external.resource_id, lambda j: j.phase is Phase.HELD),
                what="the non-isolated job is HELD",
            )
            assert held.node is None
            assert held.note is not None and "resumeJob" in held.note
            assert Service(second.url("steps")).job(external.resource_id).phase == "HELD"
            assert external.resume() in {"QUEUED", "EXECUTING", "COMPLETED"}
            resumed = external.wait(timeout=SAFETY, poll=0.1)
            assert resumed.phase == "COMPLETED", resumed.error
            assert recorded(store, external.resource_id).run_count == 2

            # The dead node's record is swept; the isolated job never ran twice at once.
            eventually(
                lambda: "w0" not in {n.name for n in store.status().nodes},
                what="the dead worker is forgotten",
            )
            entries = read_ledger(ledger)
            assert [e for e in entries if e.event == "overlap"] == []
            assert starts(entries)[isolated.resource_id] == 2
        except BaseException:
            print(cluster.logs())
            raise
        finally:
            store.close()


def test_no_acknowledged_job_is_lost_and_none_runs_twice_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """Clients create and start jobs through both front-ends without pause while a worker
    is killed: every job a createJob acknowledged is still there and completes, and no run
    of a job overlaps another (each run holds a lock named after its job: see
    ``cluster_contracts``)."""
    ledger = tmp_path / "ledger"
    with running_cluster(
        tmp_path / "data",
        database_url=postgres_url,
        workers=2,
        slots=2,
        env=ledger_environment(ledger),
    ) as cluster:
        store = cluster.open_store()
        acknowledged: list[str] = []
        failures: list[BaseException] = []
        stop = threading.Event()

        def churn(url: str) -> None:
            service = Service(url)
            try:
                while not stop.is_set() and len(acknowledged) < 500:  # a bound, not a goal
                    job = service.create(steps_jdl(5, 0.2))
                    acknowledged.append(job.resource_id)
                    job.start()
            except BaseException as error:  # reported by the test below
                failures.append(error)

        clients = [
            threading.Thread(target=churn, args=(frontend.url("ledger"),))
            for frontend in cluster.frontends
        ]
        for client in clients:
            client.start()
        try:
            eventually(
                lambda: len(store.running_on("w0")) >= 2 and len(acknowledged) >= 10,
                what="w0 runs jobs while clients create more",
            )
            cut_off = [job.resource_id for job in store.running_on("w0")]
            at_kill = len(acknowledged)
            cluster.worker("w0").kill()
            # Clients go on through the loss of the worker.
            eventually(lambda: len(acknowledged) >= at_kill + 10 or failures, what="more jobs")
            stop.set()
            for client in clients:
                client.join(SAFETY)
            assert failures == []
            print(f"{len(acknowledged)} job(s) acknowledged, {at_kill} before the kill")

            for resource_id in acknowledged:
                assert store.get(resource_id) is not None, f"acknowledged {resource_id} was lost"

            def all_completed() -> bool:
                jobs = [store.get(rid) for rid in acknowledged]
                assert all(j is not None and j.phase is not Phase.ERROR for j in jobs), [
                    (j.resource_id, j.error) for j in jobs if j is not None and j.error
                ]
                return all(j is not None and j.phase is Phase.COMPLETED for j in jobs)

            eventually(all_completed, what="every acknowledged job completed")
            jobs = {rid: recorded(store, rid) for rid in acknowledged}
            entries = read_ledger(ledger)
            assert [e for e in entries if e.event == "overlap"] == []
            runs = starts(entries)
            for rid, job in jobs.items():
                assert job.node is None
                # Every run the ledger saw was counted; none was counted twice.
                numbers = [
                    e.run_count for e in entries if e.resource_id == rid and e.event == "start"
                ]
                assert len(numbers) == len(set(numbers)) == runs[rid] >= 1
                assert max(numbers) <= job.run_count
            # The jobs the killed worker was running ran again on the other (one of them might
            # have ended in the moment between the look and the kill; not all of them).
            assert any(jobs[rid].run_count == 2 for rid in cut_off)
            assert all(job.run_count <= 2 for job in jobs.values())
            print(f"run again: {sorted(rid for rid, job in jobs.items() if job.run_count == 2)}")
        except BaseException:
            stop.set()
            print(cluster.logs())
            raise
        finally:
            store.close()


def test_kill_9_of_the_leader_hands_the_reaper_to_another_node(
    postgres_url: str, tmp_path: Path
) -> None:
    with running_cluster(tmp_path / "data", database_url=postgres_url) as cluster:
        store = cluster.open_store()
        try:
            leader = eventually(lambda: store.status().leader, what="a leader is elected")
            assert cluster.status()["leader"] == leader
            survivor = next(f for f in cluster.frontends if f.node != leader)
            service = Service(survivor.url("steps"))
            # One job whose termination time falls after the kill, one set after it.
            early = service.create(steps_jdl(1, 0))
            early.extend(lifetime=timedelta(seconds=3))

            cluster.node(leader).kill()
            others = {p.node for p in cluster.processes} - {leader}

            def another_leader() -> str | None:
                now = store.status().leader
                return now if now in others else None

            successor = eventually(another_leader, what="another node leads")
            assert cluster.status()["leader"] == successor
            late = service.create(steps_jdl(1, 0))
            late.extend(lifetime=timedelta(seconds=1))

            for job in (early, late):
                eventually(
                    partial(destroyed, store, job.resource_id),
                    what=f"the reaper destroyed {job.resource_id}",
                )
                with pytest.raises(ResourceUnknown):
                    job.phase  # noqa: B018
            eventually(
                lambda: leader not in {n.name for n in store.status().nodes},
                what="the dead leader is forgotten",
            )
            # The others stop cleanly on SIGTERM.
            assert [p.stop() for p in reversed(cluster.processes) if p.process is not None] == [
                0
            ] * len(others)
        except BaseException:
            print(cluster.logs())
            raise
        finally:
            store.close()


def test_a_restarting_worker_recovers_only_its_own_jobs(postgres_url: str, tmp_path: Path) -> None:
    # A ttl no step of the test reaches: the leader sweeps nothing, the node recovers.
    with running_cluster(
        tmp_path / "data", database_url=postgres_url, workers=2, heartbeat_ttl=60
    ) as cluster:
        store = cluster.open_store()
        try:
            service = Service(cluster.frontends[0].url("steps"))
            jobs = [service.create(steps_jdl(1000, 0.1)) for _ in range(2)]
            for job in jobs:
                job.start()

            def placed() -> dict[str, str] | None:
                nodes = {recorded(store, j.resource_id).node or "": j.resource_id for j in jobs}
                return nodes if set(nodes) == {"w0", "w1"} else None

            on = eventually(placed, what="one job on each worker")
            restarting = cluster.worker("w0")
            assert restarting.stop() == 0  # SIGTERM: its run is interrupted, left on the node
            left = recorded(store, on["w0"])
            assert (left.phase, left.node, left.run_count) == (Phase.EXECUTING, "w0", 1)

            restarting.start()
            assert "at start-up 1 job(s) requeued, 0 held" in "".join(restarting.log)
            again = eventually(
                lambda: job_in(
                    store, on["w0"], lambda j: j.phase is Phase.EXECUTING and j.run_count == 2
                ),
                what="its own job runs again",
            )
            assert again.node == "w0"  # w1's slot is taken
            assert again.note is not None and "run again automatically" in again.note
            other = recorded(store, on["w1"])
            assert (other.phase, other.node, other.run_count) == (Phase.EXECUTING, "w1", 1)
            assert other.note is None
        except BaseException:
            print(cluster.logs())
            raise
        finally:
            store.close()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="tgkill's syscall number")
def test_a_worker_stops_on_a_sigterm_the_kernel_hands_to_another_thread(
    postgres_url: str, tmp_path: Path
) -> None:
    """A process-wide SIGTERM may be delivered to any thread; Python runs the handler in
    the main thread only when that thread next runs Python code. Aimed here at one other
    thread (tgkill): the worker must still stop, not wait in its main thread for ever."""
    with running_cluster(
        tmp_path / "data", database_url=postgres_url, frontends=0, workers=1
    ) as cluster:
        worker = cluster.worker("w0")
        assert worker.pid is not None
        others = [int(tid) for tid in os.listdir(f"/proc/{worker.pid}/task")]
        others.remove(worker.pid)
        assert others, "the worker runs threads besides its main one"
        libc = ctypes.CDLL(None, use_errno=True)
        tgkill = 234  # x86-64 syscall number; the test is skipped elsewhere
        assert libc.syscall(tgkill, worker.pid, others[0], signal.SIGTERM) == 0
        assert worker.process is not None
        assert worker.process.wait(timeout=30) == 0


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ("serve", "--role", "frontend", "--port", "0"),
        ("worker", "--node", "w0"),
        ("cluster", "status"),
    ],
    ids=["frontend", "worker", "status"],
)
def test_cluster_commands_refuse_to_run_without_a_database_url(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WSRF_UWS_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", *command, "--data", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=SAFETY,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "database_url" in done.stderr


def test_the_ledger_notices_a_second_run_of_a_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The detector the tests above rely on: a run that finds its job's lock held fails,
    and the ledger says so."""
    monkeypatch.setenv("WSRF_UWS_TEST_LEDGER", str(tmp_path))
    contract = LedgerContract(contract_environment(LedgerContract, tmp_path / "data"))
    context = SimpleNamespace(resource_id="abc123", run_count=2)
    with (tmp_path / "abc123.lock").open("a") as first_run:
        fcntl.flock(first_run, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a run of the job, alive
        with pytest.raises(JobFailure, match="another run"):
            contract.run(contract.parse(steps_jdl(1, 0)), cast(JobContext, context))
    assert [(e.event, e.resource_id, e.run_count) for e in read_ledger(tmp_path)] == [
        ("overlap", "abc123", 2)
    ]
