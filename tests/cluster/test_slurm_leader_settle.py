"""A new Slurm leader never follows a job while a leader cut off from the store still does.

Two front-ends in this process on a real PostgreSQL store and a real one-node Slurm. The
leader's session ends (its backend terminated) while its heartbeats hang, as in a
connection stuck in a timeout: the leadership lock is free at once, but the cut-off
leader learns nothing until its watchdog fences it, ``ttl - interval`` after its last
heartbeat. The new leader takes up the Slurm job only ``ttl`` after it took the lead
(``SlurmLeader``'s ``settle``), so the two never follow the job at once. Timings are
only deadlines against hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from wsrf_uws.core import Phase
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.core.node import ClusterNode
from wsrf_uws.core.node_executor import NodeExecutor
from wsrf_uws.core.service import JobService
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.settings import ClusterSettings
from wsrf_uws.testing.polling import eventually as poll_until
from wsrf_uws.testing.postgres import Cluster, end_node_sessions
from wsrf_uws.testing.slurm import SlurmCluster

from slurm_support import slurm_cluster, slurm_front_end

SAFETY = 120.0  # seconds: only a guard against hanging, never a measurement
eventually = partial(poll_until, timeout=SAFETY)
FINAL = (Phase.COMPLETED, Phase.ERROR, Phase.ABORTED)


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    yield from slurm_cluster()


def front_end(folder: Path, url: str, name: str) -> JobService:
    return slurm_front_end(
        folder, url, name, cluster=ClusterSettings(heartbeat_interval=1.0, heartbeat_ttl=4.0)
    )


def test_a_new_leader_takes_up_the_slurm_jobs_once_the_cut_off_leader_let_go(
    slurm: SlurmCluster,
    postgres_cluster: Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = postgres_cluster.new_schema()
    released = threading.Event()
    started: list[JobService] = []
    try:
        started.append(front_end(tmp_path / "data", url, "fe1"))
        first = started[0]
        assert isinstance(first.duties, ClusterNode) and first.duties.leading
        started.append(front_end(tmp_path / "data", url, "fe2"))
        second = started[1]
        assert isinstance(first.executor, NodeExecutor) and first.executor.leader is not None
        assert isinstance(second.executor, NodeExecutor) and second.executor.leader is not None
        old, new = first.executor.leader, second.executor.leader
        job = first.create_job(contract="steps", document=steps_jdl(1, 12))
        first.start_job(job.resource_id, owner=ANONYMOUS)
        eventually(lambda: old.holds(job.resource_id), what="fe1 follows the job")

        # fe1's heartbeats hang from now on, and its session with the store ends.
        session = first.duties._session
        assert session is not None

        def hanging_heartbeat() -> None:
            released.wait()
            raise ConnectionError("the test let the heartbeat go")

        monkeypatch.setattr(session, "heartbeat", hanging_heartbeat)
        monkeypatch.setattr(session, "try_lead", lambda: False)
        assert end_node_sessions(url, "fe1", signals=False) == 1
        eventually(lambda: second.duties.leading, what="fe2 leads")  # type: ignore[attr-defined]
        both: list[bool] = []

        def new_follows() -> bool:
            follows = new.holds(job.resource_id)
            if follows and old.holds(job.resource_id):
                both.append(True)
            return follows

        eventually(new_follows, what="fe2 follows the job", pause=0.01)
        assert not both, "two leaders followed the job at once"
        assert first.duties.fenced_count == 1  # fe1 let go when it fenced itself
        done = eventually(
            lambda: (j := second.store.get(job.resource_id)) and j.phase in FINAL and j,
            what="the job ends",
        )
        assert done.phase is Phase.COMPLETED, done.error
        assert done.run_count == 1
    finally:
        released.set()
        for node in reversed(started):
            node.shutdown()
