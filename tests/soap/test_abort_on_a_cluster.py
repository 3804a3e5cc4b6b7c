"""``abortJob`` and ``listJobs`` through a front-end of a real cluster (PostgreSQL store).

One front-end and one worker, each a real ``wsrf-uws`` process: the abort sent to the
front-end must stop the run on the worker that claimed it (the cluster's STOP signal, as
Destroy does), keep the job and its results, and leave the worker serving.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from wsrf_uws.client import Service
from wsrf_uws.core import Phase
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.store.postgres import PostgresJobStore
from wsrf_uws.testing.cluster import RunningCluster, running_cluster
from wsrf_uws.testing.postgres import Cluster

from conftest import alive

SAFETY = 60.0  # seconds: only a guard against hanging, never a measurement


@pytest.fixture(scope="module")
def cluster(
    postgres_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningCluster, PostgresJobStore]]:
    folder = tmp_path_factory.mktemp("abort-cluster")
    with running_cluster(
        folder / "data", database_url=postgres_cluster.new_schema(), frontends=1, workers=1
    ) as running:
        store = running.open_store()
        try:
            yield running, store
        finally:
            store.close()


def test_an_abort_through_the_frontend_stops_the_run_on_the_worker(
    cluster: tuple[RunningCluster, PostgresJobStore],
) -> None:
    running, store = cluster
    (frontend,) = running.frontends
    service = Service(frontend.url("steps"))
    # Two child processes, then a long wait: the run only ends when it is stopped.
    job = service.create(steps_jdl(1, 0, children=2))
    job.start()
    deadline = time.monotonic() + SAFETY
    while True:
        recorded = store.get(job.resource_id)
        assert recorded is not None
        if recorded.node is not None and "children" in recorded.jdl_state:
            break
        assert time.monotonic() < deadline, "the job never ran on the worker"
        time.sleep(0.05)
    children = list(recorded.jdl_state["children"])
    assert alive(children) == children
    worker = running.worker(recorded.node)

    assert job.abort() == "ABORTED"
    # abortJob answers once the worker has said the run ended: nothing of it is left.
    assert alive(children) == []
    assert job.phase == "ABORTED"
    after = store.get(job.resource_id)
    assert after is not None and after.phase is Phase.ABORTED and after.node is None
    assert worker.process is not None and worker.process.poll() is None  # the node lives on
    listed = {entry.resource_id: entry.phase for entry in service.list_jobs(phases=["ABORTED"])}
    assert listed == {job.resource_id: "ABORTED"}
