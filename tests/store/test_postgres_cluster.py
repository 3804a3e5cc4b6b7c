"""The cluster half of the PostgreSQL store (wsrf_uws.store.postgres_cluster), on a real
server: claims under real concurrency (threads on separate connections and pools, as on
several nodes), node names and leadership held by sessions that are killed for real
(wsrf_uws.testing.postgres.end_node_sessions ends them as kill -9 of the node would), signals
through LISTEN/NOTIFY, and the bookkeeping of nodes and their runs.

Elapsed times are never asserted: where something happens asynchronously (a signal
arriving, a terminated backend releasing its locks), the test waits for it with a
generous deadline and fails only if it never happens.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest

from wsrf_uws.core.cluster import (
    SLURM_NODE,
    ClusterLinkLostError,
    ClusterSession,
    NodeNameTakenError,
    NodeRole,
    Signal,
)
from wsrf_uws.core.model import Job
from wsrf_uws.core.phases import Phase
from wsrf_uws.store.postgres import PostgresJobStore
from wsrf_uws.store.postgres_names import SchemaNames
from wsrf_uws.testing.postgres import Cluster, end_node_sessions

from conftest import at_once
from factories import T0, make_job

NOW = T0 + timedelta(hours=1)


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture
def nodes(postgres_url: str) -> Iterator[list[PostgresJobStore]]:
    """Two stores on one schema, each with its own pool: two nodes."""
    stores = [PostgresJobStore(postgres_url) for _ in range(2)]
    yield stores
    for store in stores:
        store.close()


@pytest.fixture
def store(nodes: list[PostgresJobStore]) -> PostgresJobStore:
    return nodes[0]


@pytest.fixture
def sessions() -> Iterator[list[ClusterSession]]:
    """Sessions a test opens (append them), closed at its end."""
    opened: list[ClusterSession] = []
    yield opened
    for session in opened:
        session.close()


class Heard:
    """What a session's ``on_signal`` and ``on_link`` received, in order."""

    def __init__(self) -> None:
        self.signals: list[tuple[Signal, str]] = []
        self.links: list[bool] = []
        self._changed = threading.Condition()

    def on_signal(self, signal: Signal, payload: str) -> None:
        with self._changed:
            self.signals.append((signal, payload))
            self._changed.notify_all()

    def on_link(self, up: bool) -> None:
        self.links.append(up)

    def wait_for(self, signal: Signal, payload: str, timeout: float = 20) -> None:
        """Wait until ``(signal, payload)`` has arrived; fail if it never does."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: (signal, payload) in self.signals, timeout)
        assert arrived, f"{signal}:{payload} never arrived; heard {self.signals}"


def join(
    store: PostgresJobStore,
    node: str,
    sessions: list[ClusterSession],
    *,
    role: NodeRole = NodeRole.WORKER,
    slots: int = 2,
) -> tuple[ClusterSession, Heard]:
    heard = Heard()
    session = store.join(
        node, role=role, slots=slots, on_signal=heard.on_signal, on_link=heard.on_link
    )
    sessions.append(session)
    return session, heard


def eventually(check: Callable[[], bool], timeout: float = 20) -> bool:
    """Whether ``check()`` becomes true within ``timeout`` seconds (asked every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def queued(owner: str, minutes: float, **fields: object) -> Job:
    return make_job(
        owner=owner, phase=Phase.QUEUED, creation_time=T0 + timedelta(minutes=minutes), **fields
    )


def executing(store: PostgresJobStore) -> list[Job]:
    return list(store.in_phases([Phase.EXECUTING]))


# -- claims ----------------------------------------------------------------------------


def test_a_claim_starts_the_job_on_the_node(store: PostgresJobStore) -> None:
    job = queued("alice", 0, end_time=T0, run_count=1)
    store.insert(job)
    claimed = store.claim("worker-1", now=NOW)
    assert claimed is not None
    assert claimed.resource_id == job.resource_id
    assert (claimed.phase, claimed.node, claimed.start_time) == (Phase.EXECUTING, "worker-1", NOW)
    assert (claimed.end_time, claimed.run_count) == (None, 2)
    assert store.get(job.resource_id) == claimed
    assert store.claim("worker-1", now=NOW) is None  # nothing else is queued


def test_the_owner_running_fewest_goes_first_then_the_oldest_job(
    store: PostgresJobStore,
) -> None:
    # alice runs two jobs already; bob and carol none: carol's job is older than bob's,
    # so carol, then bob, then (each running one) carol's older second job before
    # alice's, which is the oldest of all but whose owner runs the most.
    store.insert_many(
        [
            make_job(owner="alice", phase=Phase.EXECUTING, node="w0"),
            make_job(owner="alice", phase=Phase.EXECUTING, node="w0"),
            a1 := queued("alice", 0),
            b1 := queued("bob", 5),
            c1 := queued("carol", 3),
            c2 := queued("carol", 4),
            b2 := queued("bob", 6),
        ]
    )
    order = []
    while (job := store.claim("w1", now=NOW)) is not None:
        order.append(job.resource_id)
    assert order == [r.resource_id for r in (c1, b1, c2, b2, a1)]


def test_claims_leave_the_excluded_contracts_to_the_leader(store: PostgresJobStore) -> None:
    # bob's only queued job is on Slurm: he is no candidate, and alice's job goes first
    # although bob's is older.
    on_slurm = queued("bob", 0, contract="cea")
    local = queued("alice", 1)
    store.insert_many([on_slurm, local])
    claimed = store.claim("w0", now=NOW, exclude={"cea"})
    assert claimed is not None and claimed.resource_id == local.resource_id
    assert store.claim("w0", now=NOW, exclude={"cea"}) is None
    assert store.claim("w0", now=NOW, exclude={"cea"}, max_running=lambda owner: 5) is None
    assert recorded_phase(store, on_slurm) is Phase.QUEUED
    # Without the exclusion (no contract on Slurm) it is claimed like any other.
    again = store.claim("w0", now=NOW)
    assert again is not None and again.resource_id == on_slurm.resource_id


def test_queued_jobs_are_taken_up_for_slurm_once_and_released(
    nodes: list[PostgresJobStore],
) -> None:
    store, other = nodes
    first = queued("alice", 1, contract="cea")
    second = queued("bob", 0, contract="cea")
    store.insert_many([first, second, queued("alice", 2), make_job(contract="cea")])
    assert [j.resource_id for j in store.queued_jobs({"cea"})] == [
        second.resource_id,
        first.resource_id,
    ]
    # Two leaders at once: one takes the job up.
    taken = [store.take_queued(first.resource_id, node=SLURM_NODE)]
    taken.append(other.take_queued(first.resource_id, node=SLURM_NODE))
    assert taken == [True, False]
    assert [j.resource_id for j in store.queued_jobs({"cea"})] == [second.resource_id]
    assert [j.resource_id for j in store.queued_jobs({"cea"}, node=SLURM_NODE)] == [
        first.resource_id
    ]
    # Released (its Slurm job is over): untaken again, and the cluster is told.
    assert store.run_ended(first.resource_id, node=SLURM_NODE)
    assert len(store.queued_jobs({"cea"})) == 2
    # Only a QUEUED job can be taken up.
    pending = make_job(contract="cea")
    store.insert(pending)
    assert not store.take_queued(pending.resource_id, node=SLURM_NODE)


def recorded_phase(store: PostgresJobStore, job: Job) -> Phase:
    found = store.get(job.resource_id)
    assert found is not None
    return found.phase


def test_claims_from_many_threads_on_two_nodes_take_each_job_once(
    nodes: list[PostgresJobStore],
) -> None:
    jobs = [queued(f"owner{i % 7}", i / 10) for i in range(400)]
    nodes[0].insert_many(jobs)
    claimed: list[list[Job]] = [[] for _ in range(8)]

    def claim(i: int) -> None:
        store = nodes[i % 2]
        while (job := store.claim(f"node{i % 2}", now=NOW)) is not None:
            claimed[i].append(job)

    at_once(8, claim)
    ids = [job.resource_id for jobs_of_one in claimed for job in jobs_of_one]
    assert sorted(ids) == sorted(job.resource_id for job in jobs)  # each exactly once
    running = executing(nodes[1])
    assert len(running) == 400
    assert {job.run_count for job in running} == {1}
    for i, taken in enumerate(claimed):
        assert {job.node for job in taken} <= {f"node{i % 2}"}
    assert {job.node for job in running} == {"node0", "node1"}


def test_owners_share_the_nodes_fairly_however_many_claim_at_once(
    nodes: list[PostgresJobStore],
) -> None:
    # alice queued 50 jobs first, then bob, carol and dave 50 each: first come, first
    # served would give all 40 claims to alice. Eight threads on two nodes claim five
    # each; a claim may not see the ones in flight beside it, so the shares may differ
    # by up to the number of claimers at once, not more.
    owners = ["alice", "bob", "carol", "dave"]
    nodes[0].insert_many(
        [queued(owner, 100 * k + i) for k, owner in enumerate(owners) for i in range(50)]
    )

    def claim_five(i: int) -> None:
        for _ in range(5):
            assert nodes[i % 2].claim(f"n{i % 2}", now=NOW) is not None

    at_once(8, claim_five)
    shares = Counter(job.owner for job in executing(nodes[0]))
    assert sum(shares.values()) == 40
    assert set(shares) == set(owners)
    assert max(shares.values()) - min(shares.values()) <= 8, shares


def test_no_owner_exceeds_its_limit_however_many_nodes_claim(
    nodes: list[PostgresJobStore],
) -> None:
    # Each round, eight threads on two nodes claim until nothing is left for them, then
    # some runs end; at no point does an owner run more than its limit.
    limits = {"alice": 2, "bob": 3, "carol": 1, "dave": 0}
    nodes[0].insert_many(
        [queued(owner, i) for owner in limits for i in range(30)] + [queued("erin", 99)]
    )

    def claim_all(i: int) -> None:
        store = nodes[i % 2]
        while store.claim(f"n{i}", now=NOW, max_running=lambda o: limits.get(o, 100)):
            pass

    for _ in range(4):
        at_once(8, claim_all)
        running = Counter(job.owner for job in executing(nodes[0]))
        assert running == {"alice": 2, "bob": 3, "carol": 1, "erin": 1}
        for job in executing(nodes[0]):
            if job.owner != "erin":
                nodes[1].transition(job.resource_id, Phase.COMPLETED, running_on=job.node)
    done = Counter(job.owner for job in nodes[0].list_jobs(owner=None, phases=[Phase.COMPLETED]))
    assert done == {"alice": 8, "bob": 12, "carol": 4}


def test_a_claim_skips_a_job_another_transaction_holds(store: PostgresJobStore) -> None:
    first, second = queued("alice", 0), queued("alice", 1)
    store.insert_many([first, second])
    result: list[Job | None] = []
    with psycopg.connect(store.url) as other:  # a transaction holding the oldest job
        other.execute("SELECT 1 FROM jobs WHERE resource_id = %s FOR UPDATE", (first.resource_id,))
        thread = threading.Thread(target=lambda: result.append(store.claim("w1", now=NOW)))
        thread.start()
        thread.join(30)
        finished = not thread.is_alive()
        other.rollback()
    thread.join(30)
    assert finished, "the claim waited for the locked job"
    assert result[0] is not None and result[0].resource_id == second.resource_id


# -- names -----------------------------------------------------------------------------


def test_a_name_is_held_while_its_session_lives(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    holder, _ = join(store, "alpha", sessions, slots=4)

    def records() -> list[tuple[object, ...]]:
        return [(n.name, n.role, n.slots, n.pid, n.heartbeat) for n in store.status().nodes]

    before = records()
    with pytest.raises(NodeNameTakenError) as taken:
        join(store, "alpha", sessions, role=NodeRole.FRONTEND, slots=1)
    assert taken.value.node == "alpha"
    assert records() == before  # the refused join changed nothing
    holder.close()
    join(store, "alpha", sessions, slots=1)  # free after close()
    assert [(n.name, n.slots) for n in store.status().nodes] == [("alpha", 1)]
    assert end_node_sessions(store.url, "alpha") == 2  # as if its process were killed
    assert eventually(lambda: _can_join(store, "alpha", sessions))


def _can_join(store: PostgresJobStore, node: str, sessions: list[ClusterSession]) -> bool:
    try:
        join(store, node, sessions)
    except NodeNameTakenError:
        return False
    return True


def test_two_schemas_share_neither_names_nor_signals_nor_leadership(
    postgres_cluster: Cluster, sessions: list[ClusterSession]
) -> None:
    one, two = (PostgresJobStore(postgres_cluster.new_schema()) for _ in range(2))
    try:
        a1, heard1 = join(one, "same-name", sessions)
        a2, heard2 = join(two, "same-name", sessions)  # not taken: another schema
        assert a1.try_lead() and a2.try_lead()
        a1.send(Signal.STOP, "in-one")
        a2.send(Signal.STOP, "in-two")
        heard1.wait_for(Signal.STOP, "in-one")
        heard2.wait_for(Signal.STOP, "in-two")
        a1.send(Signal.QUEUED, "marker")
        heard1.wait_for(Signal.QUEUED, "marker")
        a2.send(Signal.QUEUED, "marker")
        heard2.wait_for(Signal.QUEUED, "marker")
        assert heard1.signals == [(Signal.STOP, "in-one"), (Signal.QUEUED, "marker")]
        assert heard2.signals == [(Signal.STOP, "in-two"), (Signal.QUEUED, "marker")]
        assert one.status().leader == two.status().leader == "same-name"
    finally:
        one.close()
        two.close()


# -- signals ---------------------------------------------------------------------------


def test_signals_reach_every_node_in_the_order_sent(
    nodes: list[PostgresJobStore], sessions: list[ClusterSession]
) -> None:
    sender, heard_by_sender = join(nodes[0], "sender", sessions)
    _, heard = join(nodes[1], "listener", sessions, role=NodeRole.FRONTEND)
    sent = [(list(Signal)[i % len(Signal)], f"r{i}") for i in range(200)]
    for i, (signal, payload) in enumerate(sent):
        (sender.send if i % 2 else nodes[1].send)(signal, payload)
    heard.wait_for(*sent[-1])
    heard_by_sender.wait_for(*sent[-1])
    assert heard.signals == sent
    assert heard_by_sender.signals == sent


def test_a_signal_this_version_does_not_know_is_ignored(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    session, heard = join(store, "listener", sessions)
    store.send(Signal.STOP, "a:b:c")  # a payload may hold the separator
    with psycopg.connect(store.url, autocommit=True) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        assert row is not None
        conn.execute("SELECT pg_notify(%s, 'resize:x')", (SchemaNames(row[0]).channel,))
    session.send(Signal.QUEUED, "marker")
    heard.wait_for(Signal.QUEUED, "marker")
    assert heard.signals == [(Signal.STOP, "a:b:c"), (Signal.QUEUED, "marker")]


def test_a_failing_handler_does_not_stop_the_signals(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    heard = Heard()

    def on_signal(signal: Signal, payload: str) -> None:
        heard.on_signal(signal, payload)
        if payload == "boom":
            raise RuntimeError("handler failed")

    sessions.append(store.join("n", role=NodeRole.WORKER, slots=1, on_signal=on_signal))
    store.send(Signal.STOP, "boom")
    store.send(Signal.STOP, "after")
    heard.wait_for(Signal.STOP, "after")
    assert heard.signals == [(Signal.STOP, "boom"), (Signal.STOP, "after")]


# -- leadership ------------------------------------------------------------------------


def test_one_node_leads_and_another_takes_over_when_it_dies(
    nodes: list[PostgresJobStore], sessions: list[ClusterSession]
) -> None:
    first, _ = join(nodes[0], "first", sessions)
    second, _ = join(nodes[1], "second", sessions)
    assert store_leader(nodes[0]) is None  # nobody tried yet
    assert first.try_lead() is True
    assert second.try_lead() is False
    assert first.try_lead() is True  # still
    assert (first.leading, second.leading) == (True, False)
    status = nodes[1].status()
    assert status.leader == "first"
    assert status.leader_since is not None
    assert end_node_sessions(nodes[0].url, "first") == 2
    assert eventually(second.try_lead)
    assert second.leading
    assert nodes[0].status().leader == "second"
    assert first.try_lead() is False  # its session is gone, and with it the leadership
    assert first.leading is False


def store_leader(store: PostgresJobStore) -> str | None:
    return store.status().leader


def test_the_leader_record_counts_only_while_its_lock_is_held(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    leader, _ = join(store, "leader", sessions)
    assert leader.try_lead()
    assert store.status().leader == "leader"
    leader.close()  # its row stays, but nobody holds the leadership
    assert eventually(lambda: store.status().leader is None)
    assert store.status().leader_since is None


# -- heartbeats and the link -----------------------------------------------------------


def test_a_lost_session_is_reported_once_and_opened_again(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    session, heard = join(store, "worker", sessions)
    assert session.try_lead()
    session.heartbeat()
    assert heard.links == []
    assert end_node_sessions(store.url, "worker") == 2
    with pytest.raises(ClusterLinkLostError):
        session.heartbeat()
    assert heard.links == [False]
    assert session.leading is False
    assert session.try_lead() is False  # no session, no leadership
    session.heartbeat()  # a new session under the same name
    assert heard.links == [False, True]
    with pytest.raises(NodeNameTakenError):
        join(store, "worker", sessions)  # the name is held again
    store.send(Signal.STOP, "after")
    heard.wait_for(Signal.STOP, "after")  # and signals arrive again
    assert session.try_lead()


def test_a_lost_listening_connection_is_a_lost_session(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    session, heard = join(store, "worker", sessions)
    assert end_node_sessions(store.url, "worker", store=False) == 1

    def lost() -> bool:
        try:
            session.heartbeat()
        except ClusterLinkLostError:
            return True
        return False

    assert eventually(lost)
    assert heard.links == [False]
    session.heartbeat()
    assert heard.links == [False, True]
    store.send(Signal.QUEUED, "again")
    heard.wait_for(Signal.QUEUED, "again")


def test_a_lost_name_taken_by_another_process_is_not_taken_back(
    nodes: list[PostgresJobStore], sessions: list[ClusterSession]
) -> None:
    session, heard = join(nodes[0], "worker", sessions)
    assert end_node_sessions(nodes[0].url, "worker") == 2
    with pytest.raises(ClusterLinkLostError):
        session.heartbeat()
    join(nodes[1], "worker", sessions)  # a new process under that name
    with pytest.raises(NodeNameTakenError):
        session.heartbeat()
    assert heard.links == [False]


def test_a_heartbeat_that_cannot_be_recorded_in_time_is_a_lost_session(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    # Another transaction holds the node's row: the heartbeat's statement times out
    # (after about a heartbeat interval) instead of waiting, and the session counts as
    # lost, since it could not prove itself alive.
    session, heard = join(store, "worker", sessions)
    with psycopg.connect(store.url) as other:
        other.execute("SELECT 1 FROM nodes WHERE name = 'worker' FOR UPDATE")
        with pytest.raises(ClusterLinkLostError, match="statement timeout"):
            session.heartbeat()
        other.rollback()
    assert heard.links == [False]
    session.heartbeat()
    assert heard.links == [False, True]


def test_a_session_ends_its_own_former_backend_if_that_still_holds_its_name(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    # A link this side dropped (a timed-out heartbeat, a failed listener) may keep its
    # backend, and the name's lock, until the server notices, which over a broken
    # network can take long. A stand-in for that backend: a connection holding the
    # name's lock, recorded as the session's former backend (private state, as the
    # real case cannot be staged on one machine).
    session, heard = join(store, "worker", sessions)
    assert end_node_sessions(store.url, "worker") == 2
    with pytest.raises(ClusterLinkLostError):
        session.heartbeat()
    with psycopg.connect(store.url, autocommit=True) as stale:
        row = stale.execute(
            "SELECT current_schema(), pg_backend_pid(), "
            "(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())"
        ).fetchone()
        assert row is not None
        schema, pid, started = row
        stale.execute("SELECT pg_advisory_lock(%s)", (SchemaNames(schema).node_lock("worker"),))
        session._former = (pid, started)  # type: ignore[attr-defined]
        session.heartbeat()
        assert heard.links == [False, True]
        with pytest.raises(psycopg.OperationalError):
            stale.execute("SELECT 1")  # ended by the session
    # Any other holder of the name is left alone: see the test of a name another takes.


def test_a_closed_session_frees_its_name_and_stops_listening(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    session, heard = join(store, "worker", sessions)
    session.close()
    session.close()  # twice is harmless
    with pytest.raises(ClusterLinkLostError):
        session.heartbeat()
    other, other_heard = join(store, "worker", sessions)
    other.send(Signal.STOP, "x")
    other_heard.wait_for(Signal.STOP, "x")
    assert heard.signals == []


# -- nodes and their runs --------------------------------------------------------------


def silence(store: PostgresJobStore, node: str, seconds: float) -> None:
    """Set ``node``'s last heartbeat ``seconds`` back (as if it had been silent)."""
    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE nodes SET heartbeat = now() - make_interval(secs => %s) WHERE name = %s",
            (seconds, node),
        )


def test_silent_nodes_are_dead_and_forgotten_once_they_run_nothing(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    assert store.seconds_until_silent(ttl=5) is None  # no node at all
    alive, _ = join(store, "alive", sessions)
    gone, _ = join(store, "gone", sessions)
    job = queued("alice", 0)
    store.insert(job)
    assert store.claim("gone", now=NOW) is not None
    gone.close()  # its record stays
    silence(store, "gone", 60)
    assert store.dead_nodes(ttl=5) == ["gone"]
    remaining = store.seconds_until_silent(ttl=3600)
    assert remaining is not None and 0 < remaining <= 3600
    assert store.forget_node("alive", ttl=5) is False  # not silent
    assert store.forget_node("gone", ttl=5) is False  # still runs a job
    assert store.transition(job.resource_id, Phase.QUEUED, running_on="gone") is not None
    assert store.forget_node("gone", ttl=120) is False  # not silent that long
    assert store.forget_node("gone", ttl=5) is True
    assert [n.name for n in store.status().nodes] == ["alive"]
    # A node forgotten while it was merely paused records itself at its next heartbeat.
    silence(store, "alive", 60)
    assert store.forget_node("alive", ttl=5) is True
    alive.heartbeat()
    assert [n.name for n in store.status().nodes] == ["alive"]
    assert store.dead_nodes(ttl=5) == []


def test_a_run_ends_only_on_its_node_and_says_so(
    nodes: list[PostgresJobStore], sessions: list[ClusterSession]
) -> None:
    _, heard = join(nodes[1], "frontend", sessions, role=NodeRole.FRONTEND)
    job = queued("alice", 0)
    nodes[0].insert(job)
    claimed = nodes[0].claim("w1", now=NOW)
    assert claimed is not None
    rid = job.resource_id
    assert nodes[0].run_ended(rid, node="w2") is False
    assert nodes[0].run_ended("nosuchjob", node="w1") is False
    assert (still := nodes[1].get(rid)) is not None and still.node == "w1"
    done = nodes[0].transition(rid, Phase.COMPLETED, running_on="w1")
    assert done is not None and done.node == "w1"
    assert nodes[0].run_ended(rid, node="w1") is True
    heard.wait_for(Signal.ENDED, rid)
    ended = nodes[1].get(rid)
    assert ended is not None
    assert (ended.phase, ended.node) == (Phase.COMPLETED, None)
    assert nodes[0].run_ended(rid, node="w1") is False  # once
    nodes[0].send(Signal.QUEUED, "marker")
    heard.wait_for(Signal.QUEUED, "marker")
    assert heard.signals == [(Signal.ENDED, rid), (Signal.QUEUED, "marker")]


def test_running_on_lists_what_runs_on_a_node_oldest_first(store: PostgresJobStore) -> None:
    store.insert_many(
        [
            late := make_job(phase=Phase.EXECUTING, node="w1", creation_time=T0 + timedelta(2)),
            early := make_job(phase=Phase.EXECUTING, node="w1", creation_time=T0),
            make_job(phase=Phase.EXECUTING, node="w2"),
            make_job(phase=Phase.COMPLETED, node="w1"),  # recorded there, not running
            make_job(phase=Phase.EXECUTING),
        ]
    )
    assert store.running_on("w1") == [early, late]
    assert store.running_on("w3") == []


def test_the_status_shows_nodes_leader_queue_and_runs(
    store: PostgresJobStore, sessions: list[ClusterSession]
) -> None:
    worker, _ = join(store, "worker", sessions, slots=3)
    join(store, "frontend", sessions, role=NodeRole.FRONTEND, slots=0)
    assert worker.try_lead()
    store.insert_many([queued("alice", i) for i in range(5)])
    for node in ("worker", "worker", "other"):
        assert store.claim(node, now=NOW) is not None
    status = store.status()
    assert [(n.name, n.role, n.slots) for n in status.nodes] == [
        ("frontend", NodeRole.FRONTEND, 0),
        ("worker", NodeRole.WORKER, 3),
    ]
    for record in status.nodes:
        assert record.heartbeat >= record.started
        assert record.silent_for >= 0
        assert record.started.utcoffset() == timedelta(0)
    assert status.leader == "worker"
    assert status.queued == 2
    assert status.executing == {"worker": 2, "other": 1}
