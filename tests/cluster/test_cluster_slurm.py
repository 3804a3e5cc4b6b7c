"""Slurm in a real cluster: ``cea`` on a one-node Slurm, ``steps`` on a worker node.

Every node is a real ``wsrf-uws`` process (two front-ends, one worker) on one PostgreSQL
store, with ``WSRF_UWS_CEA__EXECUTOR=slurm``; the leader, whichever node it is, submits
the ``cea`` jobs to the Slurm cluster the module starts, where ``wsrf-uws run-job`` runs
them. What the nodes recorded is read with a store object of the test's own, and what
Slurm did with Slurm's commands. Timings are only deadlines against hanging.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psutil
import pytest

from wsrf_uws.client import Service
from wsrf_uws.core import Phase
from wsrf_uws.core.cluster import SLURM_NODE, NodeRole
from wsrf_uws.core.model import ANONYMOUS, Job
from wsrf_uws.core.node import ClusterNode
from wsrf_uws.core.node_executor import NodeExecutor
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.settings import ClusterSettings
from wsrf_uws.store.postgres import PostgresJobStore
from wsrf_uws.testing import build_test_service
from wsrf_uws.testing.cluster import RunningCluster, RunningFrontend, running_cluster
from wsrf_uws.testing.polling import eventually as poll_until
from wsrf_uws.testing.postgres import Cluster, end_node_sessions
from wsrf_uws.testing.slurm import SlurmCluster, slurm_jobs

from factories import make_job
from slurm_support import slurm_cluster, slurm_front_end

SAFETY = 120.0  # seconds: only a guard against hanging, never a measurement
CEA = "urn:wsrf-uws:cea:v1"
#: Every node's configuration: applications on Slurm, looked at five times a second.
ON_SLURM = {"WSRF_UWS_CEA__EXECUTOR": "slurm", "WSRF_UWS_SLURM__POLL_INTERVAL": "0.2"}

FINAL = (Phase.COMPLETED, Phase.ERROR, Phase.ABORTED)
#: :func:`wsrf_uws.testing.polling.eventually` with this module's deadline.
eventually = partial(poll_until, timeout=SAFETY)


def starfield(seconds: float) -> str:
    """A ``cea`` job of the demonstration application that spreads its work over ``seconds``."""
    return (
        f'<job xmlns="{CEA}"><application>starfield</application>'
        f'<input name="size">32</input><input name="stars">10</input>'
        f'<input name="seconds">{seconds}</input></job>'
    )


def run_job_processes(resource_id: str) -> list[int]:
    """The live ``run-job`` processes of a resource (Slurm's batch step)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        command = process.info["cmdline"] or []
        alive = process.info["status"] != psutil.STATUS_ZOMBIE
        if alive and resource_id in command and "run-job" in command:
            found.append(process.pid)
    return found


def phase_is(store: PostgresJobStore, resource_id: str, *phases: Phase) -> Job | None:
    job = store.get(resource_id)
    return job if job is not None and job.phase in phases else None


def not_leading(cluster: RunningCluster, store: PostgresJobStore) -> RunningFrontend:
    """A front-end that is not the leader (the leader is elected first)."""
    leader = eventually(lambda: store.status().leader, what="a leader is elected")
    return next(f for f in cluster.frontends if f.node != leader)


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    """A one-node Slurm whose ``SLURM_CONF`` every process started here inherits."""
    yield from slurm_cluster()


@pytest.fixture(scope="module")
def shared(
    slurm: SlurmCluster, postgres_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningCluster, PostgresJobStore]]:
    """Two front-ends and one worker of two slots, ``cea`` on Slurm; a store on their database."""
    folder = tmp_path_factory.mktemp("slurm-cluster")
    with running_cluster(
        folder / "data",
        database_url=postgres_cluster.new_schema(),
        workers=1,
        slots=2,
        env=ON_SLURM,
    ) as cluster:
        store = cluster.open_store()
        try:
            yield cluster, store
        except BaseException:
            print(cluster.logs())
            raise
        finally:
            store.close()


def test_cea_runs_on_slurm_and_steps_on_the_worker_at_the_same_time(
    shared: tuple[RunningCluster, PostgresJobStore],
) -> None:
    cluster, store = shared
    frontend = not_leading(cluster, store)
    cea = Service(frontend.url("cea")).create(starfield(3))
    # Long enough to be still running when cea starts: a new leader takes up the Slurm
    # jobs only a heartbeat ttl after it took the lead (slurm_leader, "settling").
    steps = Service(frontend.url("steps")).create(steps_jdl(30, 0.5))
    cea.start()
    steps.start()

    # Both run at once: cea in Slurm (recorded on Slurm's node), steps on the worker.
    on_worker = eventually(
        lambda: phase_is(store, steps.resource_id, Phase.EXECUTING), what="steps executing"
    )
    assert on_worker.node == "w0"
    running = eventually(
        lambda: phase_is(store, cea.resource_id, Phase.EXECUTING), what="cea executing"
    )
    assert running.node == SLURM_NODE
    assert phase_is(store, steps.resource_id, Phase.EXECUTING), "steps ended before cea began"
    assert run_job_processes(cea.resource_id)

    for job in (cea, steps):
        final = job.wait(timeout=SAFETY, poll=0.1)
        assert final.phase == "COMPLETED", final.error
    (slurm_job,) = slurm_jobs(cea.resource_id)
    assert cea.state.note == f"Slurm job {slurm_job.job_id} on {slurm_job.nodes}"
    assert {"starfield.fits", "stars.vot"} <= {r.name for r in cea.state.results}
    assert slurm_jobs(steps.resource_id) == []  # never on Slurm
    # The leader releases the job once Slurm says it is over.
    eventually(
        lambda: store.get(cea.resource_id).node is None,  # type: ignore[union-attr]
        what="the cea job released from Slurm's node",
    )
    assert store.get(steps.resource_id).node is None  # type: ignore[union-attr]


def test_abort_through_a_frontend_that_does_not_lead_scancels_the_slurm_job(
    shared: tuple[RunningCluster, PostgresJobStore],
) -> None:
    cluster, store = shared
    frontend = not_leading(cluster, store)
    job = Service(frontend.url("cea")).create(starfield(120))
    job.start()
    eventually(lambda: run_job_processes(job.resource_id), what="run-job running in Slurm")
    eventually(lambda: phase_is(store, job.resource_id, Phase.EXECUTING), what="executing")

    assert job.abort() == "ABORTED"
    # The abort answered once the leader saw the Slurm job end: nothing of it runs.
    (slurm_job,) = slurm_jobs(job.resource_id)
    assert slurm_job.final, slurm_job
    assert run_job_processes(job.resource_id) == []
    assert job.phase == "ABORTED"
    assert store.get(job.resource_id).node is None  # type: ignore[union-attr]


def test_kill_9_of_the_leader_hands_the_slurm_job_to_the_next_without_a_second_submission(
    slurm: SlurmCluster, postgres_url: str, tmp_path: Path
) -> None:
    with running_cluster(
        tmp_path / "data", database_url=postgres_url, workers=1, env=ON_SLURM
    ) as cluster:
        store = cluster.open_store()
        try:
            frontend = not_leading(cluster, store)
            leader = store.status().leader
            assert leader is not None
            job = Service(frontend.url("cea")).create(starfield(8))
            job.start()
            eventually(
                lambda: phase_is(store, job.resource_id, Phase.EXECUTING),
                what="the cea job executing in Slurm",
            )

            cluster.node(leader).kill()
            others = {p.node for p in cluster.processes} - {leader}
            eventually(lambda: store.status().leader in others, what="another node leads")

            final = job.wait(timeout=SAFETY, poll=0.1)
            assert final.phase == "COMPLETED", final.error
            # Followed by the new leader: released once Slurm said it was over ...
            eventually(
                lambda: store.get(job.resource_id).node is None,  # type: ignore[union-attr]
                what="the new leader released the job",
            )
            # ... and submitted once, run once.
            (slurm_job,) = slurm_jobs(job.resource_id)
            assert slurm_job.state == "COMPLETED"
            assert store.get(job.resource_id).run_count == 1  # type: ignore[union-attr]

            # The new leader submits new jobs.
            late = Service(frontend.url("cea")).create(starfield(0))
            late.start()
            assert late.wait(timeout=SAFETY, poll=0.1).phase == "COMPLETED"
            assert len(slurm_jobs(late.resource_id)) == 1
        except BaseException:
            print(cluster.logs())
            raise
        finally:
            store.close()


def test_a_new_leader_settles_jobs_taken_up_for_slurm_without_a_slurm_job_and_keeps_the_timer(
    slurm: SlurmCluster, postgres_url: str, tmp_path: Path
) -> None:
    # A front-end in this process, alone in its cluster: it leads, with steps on Slurm.
    service = build_test_service(
        tmp_path / "data",
        database_url=postgres_url,
        role=NodeRole.FRONTEND,
        node="fe",
        steps={"executor": "slurm"},
        slurm={"poll_interval": 0.2},
    )
    store = service.store
    now = datetime.now(UTC)
    fields = {"creation_time": now, "termination_time": now + timedelta(days=1)}
    # What a leader that died between taking jobs up and sbatch (or whose Slurm jobs are
    # gone) leaves: recorded on Slurm's node, and no record of a Slurm job.
    queued = make_job(phase=Phase.QUEUED, node=SLURM_NODE, jdl=steps_jdl(1, 0), **fields)
    isolated = make_job(
        phase=Phase.EXECUTING, node=SLURM_NODE, jdl=steps_jdl(1, 0), isolated=True,
        run_count=1, start_time=now, **fields,
    )  # fmt: skip
    writer = make_job(
        phase=Phase.EXECUTING, node=SLURM_NODE, jdl=steps_jdl(1, 0, isolated=False),
        isolated=False, run_count=1, start_time=now, **fields,
    )  # fmt: skip
    store.insert_many([queued, isolated, writer])
    with service:
        for job in (queued, isolated):
            done = eventually(
                lambda job=job: phase_is(store, job.resource_id, *FINAL), what="run in Slurm"
            )
            assert done.phase is Phase.COMPLETED, done.error
            assert len(slurm_jobs(job.resource_id)) == 1
        assert store.get(isolated.resource_id).run_count == 2  # type: ignore[union-attr]
        held = store.get(writer.resource_id)
        assert held is not None and held.phase is Phase.HELD
        assert "the loss of its Slurm job" in (held.note or "")
        assert held.node is None
        assert slurm_jobs(writer.resource_id) == []

        # The execution duration is kept on the leader's timer, and recorded as Slurm's.
        late = service.create_job(contract="steps", document=steps_jdl(60, 1, execution_duration=2))
        service.start_job(late.resource_id, owner=ANONYMOUS)
        ended = eventually(
            lambda: phase_is(store, late.resource_id, *FINAL), what="stopped on the timer"
        )
        assert ended.phase is Phase.ABORTED
        assert ended.error is not None
        assert "exceeded its execution duration" in ended.error.message
        eventually(
            lambda: all(job.final for job in slurm_jobs(late.resource_id)),
            what="the Slurm job cancelled",
        )
        eventually(
            lambda: store.get(late.resource_id).node is None,  # type: ignore[union-attr]
            what="the job released",
        )


def test_a_leader_cut_off_from_the_store_leaves_its_slurm_jobs_to_the_next(
    slurm: SlurmCluster,
    postgres_cluster: Cluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = postgres_cluster.new_schema()
    started = []
    try:
        for name in ("fe1", "fe2"):  # two front-ends in this process; fe1 leads
            started.append(
                slurm_front_end(
                    tmp_path / "data",
                    url,
                    name,
                    cluster=ClusterSettings(heartbeat_interval=0.2, heartbeat_ttl=1.0),
                )
            )
        first, second = started
        assert isinstance(first.duties, ClusterNode) and isinstance(second.duties, ClusterNode)
        assert isinstance(first.executor, NodeExecutor) and first.executor.leader is not None
        assert first.duties.leading
        job = first.create_job(contract="steps", document=steps_jdl(1, 6))
        first.start_job(job.resource_id, owner=ANONYMOUS)
        eventually(lambda: phase_is(first.store, job.resource_id, Phase.EXECUTING), what="runs")
        assert first.executor.leader.holds(job.resource_id)

        # fe1 loses its session with the store (and may not lead again): fe2 leads.
        session = first.duties._session
        assert session is not None
        monkeypatch.setattr(session, "try_lead", lambda: False)
        assert end_node_sessions(url, "fe1", signals=False) == 1
        eventually(lambda: second.duties.leading, what="fe2 leads")  # type: ignore[attr-defined]
        # fe1 steps down at its next heartbeat, which finds the link gone (fe2 may take the
        # lock first): it follows nothing then; fe2 follows the job to its end.
        leader = first.executor.leader
        eventually(lambda: not leader.holds(job.resource_id), what="fe1 stepped down")
        done = eventually(lambda: phase_is(second.store, job.resource_id, *FINAL), what="ends")
        assert done.phase is Phase.COMPLETED, done.error
        eventually(
            lambda: second.store.get(job.resource_id).node is None,  # type: ignore[union-attr]
            what="fe2 released the job",
        )
        (slurm_job,) = slurm_jobs(job.resource_id)
        assert slurm_job.state == "COMPLETED"
        assert done.run_count == 1
    finally:
        for node in reversed(started):
            node.shutdown()
