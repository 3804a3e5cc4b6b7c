"""Cluster nodes in one process: front-ends and workers as services on one PostgreSQL store.

Each service here is a whole node (its own session, heartbeat, executor and worker
processes) sharing a real PostgreSQL schema and a data directory with the others; only
the processes of the nodes are one. The tests of real node processes, ``kill -9``
included, are in ``tests/cluster/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.core import JobService, Phase
from wsrf_uws.core.cluster import NodeRole
from wsrf_uws.core.node import ClusterNode
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.settings import ClusterSettings, QuotaSettings
from wsrf_uws.testing import UNLIMITED_QUOTAS, build_test_service, wait_for_job

from conftest import alive, wait_for_children

#: Short beats so that deaths are noticed in a second.
TIMINGS = ClusterSettings(heartbeat_interval=0.2, heartbeat_ttl=1.0)

NodeFactory = Callable[..., JobService]


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str) -> Iterator[NodeFactory]:
    """Start nodes of one cluster: ``nodes(NodeRole.WORKER, "w1", slots=2)``."""
    started: list[JobService] = []

    def start(role: NodeRole, name: str, **settings: Any) -> JobService:
        settings.setdefault("cluster", TIMINGS)
        service = build_test_service(
            tmp_path / "data", role=role, node=name, database_url=postgres_url, **settings
        )
        service.startup()
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        service.shutdown()


def node_of(service: JobService) -> ClusterNode:
    assert isinstance(service.duties, ClusterNode)
    return service.duties


def wait_until(condition: Callable[[], Any], *, timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"not within {timeout} s: {what}")


def test_a_job_created_on_a_frontend_runs_on_a_worker(nodes: NodeFactory) -> None:
    frontend = nodes(NodeRole.FRONTEND, "fe1")
    worker = nodes(NodeRole.WORKER, "w1", slots=2)
    job = frontend.create_job(contract="steps", document=steps_jdl(steps=2))
    assert frontend.start_job(job.resource_id, owner=job.owner) is Phase.QUEUED
    done = wait_for_job(frontend, job.resource_id)
    assert done.phase is Phase.COMPLETED
    assert done.run_count == 1
    # The outcome is recorded first, then the run's end clears the node (and signals it).
    wait_until(
        lambda: frontend.store.get(job.resource_id).node is None,  # type: ignore[union-attr]
        what="the run's end clears the node",
    )
    assert frontend.executor.active() == {}  # a front-end runs nothing
    assert worker.get_job(job.resource_id, owner=job.owner).phase is Phase.COMPLETED


def test_an_abort_on_a_frontend_stops_the_tree_on_the_worker(nodes: NodeFactory) -> None:
    frontend = nodes(NodeRole.FRONTEND, "fe1")
    worker = nodes(NodeRole.WORKER, "w1", slots=1)
    job = frontend.create_job(
        contract="steps", document=steps_jdl(steps=1, step_seconds=60, children=2)
    )
    frontend.start_job(job.resource_id, owner=job.owner)
    children = wait_for_children(frontend, job.resource_id)
    assert worker.store.get(job.resource_id).node == "w1"  # type: ignore[union-attr]
    assert frontend.abort_job(job.resource_id, owner=job.owner) is Phase.ABORTED
    # abort returns once the worker has said the run ended: nothing of it is left.
    assert alive(children) == []
    assert worker.executor.active() == {}
    aborted = frontend.get_job(job.resource_id, owner=job.owner)
    assert aborted.phase is Phase.ABORTED
    assert aborted.node is None


def test_a_destroy_on_a_frontend_stops_the_run_and_forgets_the_job(nodes: NodeFactory) -> None:
    frontend = nodes(NodeRole.FRONTEND, "fe1")
    worker = nodes(NodeRole.WORKER, "w1", slots=1)
    job = frontend.create_job(
        contract="steps", document=steps_jdl(steps=1, step_seconds=60, children=1)
    )
    frontend.start_job(job.resource_id, owner=job.owner)
    children = wait_for_children(frontend, job.resource_id)
    frontend.destroy_job(job.resource_id, owner=job.owner)
    assert alive(children) == []
    assert worker.executor.active() == {}
    assert not frontend.store.exists(job.resource_id)
    assert not frontend.files.folder(job.resource_id).exists()


def test_an_owner_never_runs_more_than_its_quota_across_workers(nodes: NodeFactory) -> None:
    quotas = UNLIMITED_QUOTAS.model_copy(update={"max_anonymous_executing_jobs": 1})
    assert isinstance(quotas, QuotaSettings)
    frontend = nodes(NodeRole.FRONTEND, "fe1", quotas=quotas)
    nodes(NodeRole.WORKER, "w1", slots=2, quotas=quotas)
    nodes(NodeRole.WORKER, "w2", slots=2, quotas=quotas)
    jobs = [
        frontend.create_job(contract="steps", document=steps_jdl(steps=2, step_seconds=0.1))
        for _ in range(4)
    ]
    for job in jobs:
        frontend.start_job(job.resource_id, owner=job.owner)
    most = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        phases = [frontend.store.get(j.resource_id).phase for j in jobs]  # type: ignore[union-attr]
        most = max(most, phases.count(Phase.EXECUTING))
        if all(p is Phase.COMPLETED for p in phases):
            break
        time.sleep(0.01)
    assert all(frontend.store.get(j.resource_id).phase is Phase.COMPLETED for j in jobs)  # type: ignore[union-attr]
    assert most == 1


def test_one_node_leads_and_another_takes_over_the_reaper(nodes: NodeFactory) -> None:
    first = nodes(NodeRole.FRONTEND, "fe1")
    second = nodes(NodeRole.FRONTEND, "fe2")
    assert node_of(first).leading
    assert not node_of(second).leading
    assert first.reaper.running and not second.reaper.running
    first.shutdown()
    wait_until(lambda: node_of(second).leading, what="fe2 leads")
    assert second.reaper.running
    # A job created on the new leader with a lifetime of a second is reaped by it.
    job = second.create_job(contract="steps", document=steps_jdl(lifetime_seconds=1))
    wait_until(lambda: not second.store.exists(job.resource_id), what="the job is reaped")


def test_a_termination_time_set_on_another_node_wakes_the_leaders_reaper(
    nodes: NodeFactory,
) -> None:
    leader = nodes(NodeRole.FRONTEND, "fe1")
    other = nodes(NodeRole.FRONTEND, "fe2")
    assert node_of(leader).leading
    # The leader's reaper sleeps towards a termination time days away (the default
    # lifetime); a job created on the other node that ends in a second wakes it.
    leader.create_job(contract="steps", document=steps_jdl())
    job = other.create_job(contract="steps", document=steps_jdl(lifetime_seconds=1))
    wait_until(lambda: not other.store.exists(job.resource_id), timeout=10, what="reaped")


def test_a_cut_off_worker_fences_and_the_leader_runs_its_job_elsewhere(
    nodes: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    frontend = nodes(NodeRole.FRONTEND, "fe1")
    cut_off = nodes(NodeRole.WORKER, "w1", slots=1)
    isolated = frontend.create_job(
        contract="steps", document=steps_jdl(steps=1, step_seconds=60, children=1)
    )
    frontend.start_job(isolated.resource_id, owner=isolated.owner)
    children = wait_for_children(frontend, isolated.resource_id)
    assert frontend.store.get(isolated.resource_id).node == "w1"  # type: ignore[union-attr]
    # A network partition cannot be made here: the cut-off node's heartbeats fail instead
    # (its session raises as a lost link would), everything else is real.
    session = node_of(cut_off)._session
    assert session is not None
    real_heartbeat = session.heartbeat

    def lost() -> None:
        raise ConnectionError("simulated partition")

    monkeypatch.setattr(session, "heartbeat", lost)
    # It kills its own run before the leader may consider it dead...
    wait_until(lambda: node_of(cut_off).fenced_count == 1, what="w1 fences")
    assert alive(children) == []
    # ...and the leader sends the job back to the queue, where another worker takes it.
    nodes(NodeRole.WORKER, "w2", slots=1)
    rerun = wait_until(
        lambda: (j := frontend.store.get(isolated.resource_id)) and j.node == "w2" and j,
        what="the job runs on w2",
    )
    assert rerun.run_count == 2
    assert "loss of node w1" in (rerun.note or "")
    # Back in the cluster, the fenced node finds nothing of its own left to recover.
    monkeypatch.setattr(session, "heartbeat", real_heartbeat)
    wait_until(lambda: not node_of(cut_off)._fenced, what="w1 rejoins")
    assert frontend.store.get(isolated.resource_id).node == "w2"  # type: ignore[union-attr]
    frontend.abort_job(isolated.resource_id, owner=isolated.owner)


def test_a_silent_nodes_non_isolated_job_waits_in_held(
    nodes: NodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    frontend = nodes(NodeRole.FRONTEND, "fe1")
    cut_off = nodes(NodeRole.WORKER, "w1", slots=1)
    job = frontend.create_job(
        contract="steps", document=steps_jdl(steps=1, step_seconds=60, isolated=False)
    )
    frontend.start_job(job.resource_id, owner=job.owner)
    wait_for_job(frontend, job.resource_id, phases={Phase.EXECUTING})
    session = node_of(cut_off)._session
    assert session is not None

    def lost() -> None:
        raise ConnectionError("simulated partition")

    monkeypatch.setattr(session, "heartbeat", lost)
    held = wait_for_job(frontend, job.resource_id, phases={Phase.HELD})
    assert held.node is None
    assert "waits for resumeJob" in (held.note or "")
    assert held.run_count == 1
