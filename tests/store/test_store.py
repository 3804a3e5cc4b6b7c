"""The stores: round trips, migrations, queries, and compare-and-set under contention.

A test taking ``store`` or ``store_factory`` runs against SQLite and against PostgreSQL;
the others are about SQLite alone (its file, its query plans, its cache).
PostgreSQL's own tests are in test_postgres.py.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path

import pytest
from store_support import assert_the_run_id_column_works, older_row

from wsrf_uws.core.atomic import write_atomic
from wsrf_uws.core.jobfiles import TRASH_EMPTIER, JobFiles
from wsrf_uws.core.model import (
    ErrorSummary,
    ErrorType,
    Job,
    Progress,
    ProgressStep,
    Quote,
    Result,
    StepStatus,
)
from wsrf_uws.core.phases import Phase
from wsrf_uws.core.ports import JobChanges, JobStore, ResourceIdTakenError, StoreError
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.store.migrations import MIGRATIONS, SCHEMA_VERSION
from wsrf_uws.store.postgres_migrations import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from wsrf_uws.store.sqlite import row_key

from conftest import StoreFactory, open_store
from factories import T0, make_job
from sqlite_commits import UNCHANGED, synchronous_at_commit, trace_statements


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteJobStore]:
    """A fresh SQLite store, for what only SQLite has."""
    store = SQLiteJobStore(tmp_path / "store.sqlite")
    yield store
    store.close()


def test_every_field_survives_a_round_trip(store_factory: StoreFactory) -> None:
    job = make_job(
        phase=Phase.EXECUTING,
        start_time=T0 + timedelta(seconds=1),
        end_time=None,
        termination_time=None,
        quote=Quote(duration=timedelta(seconds=90.5), cost={"bytes": 1e9, "cpu-seconds": 3}),
        progress=Progress(
            0.25,
            (
                ProgressStep("fetch", StepStatus.DONE),
                ProgressStep(
                    "run",
                    StepStatus.ACTIVE,
                    "frame 3/12",
                    (ProgressStep("resample", StepStatus.ACTIVE, "row 10"),),
                ),
            ),
        ),
        error=ErrorSummary("disk full", ErrorType.TRANSIENT, "ENOSPC on /scratch"),
        results=(Result("table", "table.vot", "application/x-votable+xml", 1234),),
        jdl_state={"rows": 5, "nested": {"a": [1, 2]}, "nul": "a\x00b", "ratio": 2.0},
        note="held for a reason",
        run_count=2,
        jdl=b"<job>\xc3\xa9</job>",
        node="worker-1",
        run_id="TAPLINT-001 \u00e9",
    )
    store_factory().insert(job)
    reopened = store_factory()  # what was committed is in the database, not in a cache
    assert reopened.get(job.resource_id) == job


def test_unknown_resource(store: JobStore) -> None:
    assert store.get("nosuchjob") is None
    assert store.update("nosuchjob", JobChanges(note="x")) is None
    assert store.add_result("nosuchjob", Result("a", "a")) is None
    assert store.transition("nosuchjob", Phase.QUEUED) is None
    assert store.delete("nosuchjob") is False


def test_duplicate_resource_id_is_refused(store: JobStore) -> None:
    job = make_job()
    store.insert(job)
    with pytest.raises(ResourceIdTakenError):
        store.insert(job)
    with pytest.raises(ResourceIdTakenError):
        store.insert_many([make_job(), job])
    assert store.count() == 1  # the batch was refused whole


def test_a_row_key_clash_never_returns_the_wrong_job(sqlite_store: SQLiteJobStore) -> None:
    # A row squatting on the key of "victim" (as a 63-bit hash clash would) is never
    # mistaken for it, and blocks only the insertion of "victim" itself.
    store = sqlite_store
    squatter = make_job(resource_id="squatter")
    store.insert(squatter)
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE jobs SET key = ? WHERE resource_id = 'squatter'", (row_key("victim"),))
    conn.commit()
    conn.close()
    assert store.get("victim") is None
    assert store.exists("victim") is False
    assert store.delete("victim") is False
    assert store.transition("victim", Phase.QUEUED) is None
    with pytest.raises(ResourceIdTakenError):
        store.insert(make_job(resource_id="victim"))
    assert store.count() == 1


def test_synchronous_mode_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'full' or 'normal'"):
        SQLiteJobStore(tmp_path / "s.sqlite", synchronous="ful")  # type: ignore[arg-type]


def test_a_change_can_name_only_fields_that_may_change() -> None:
    changeable = {f.name for f in fields(JobChanges)}
    assert changeable <= {f.name for f in fields(Job)}
    fixed = {"resource_id", "contract", "owner", "phase", "creation_time", "address", "jdl"}
    assert not changeable & fixed


def test_every_change_is_stored_and_what_it_keeps_is_left_alone(store: JobStore) -> None:
    job = make_job(end_time=T0 + timedelta(hours=1), note="before")
    store.insert(job)
    everything = JobChanges(
        start_time=T0 + timedelta(seconds=5),
        end_time=None,  # None is a value: it clears the end time
        termination_time=None,
        execution_duration=7,
        quote=Quote(duration=timedelta(seconds=3), cost={"bytes": 10}),
        progress=Progress(0.5, (ProgressStep("run", StepStatus.ACTIVE),)),
        error=ErrorSummary("broken", ErrorType.TRANSIENT),
        results=(Result("out", "out.txt", "text/plain", 3),),
        jdl_state={"rows": 9},
        note="after",
        run_count=3,
        node="worker-1",
        run_id="label",
    )
    assert set(everything.assigned()) == {f.name for f in fields(JobChanges)}
    updated = store.update(job.resource_id, everything)
    assert updated == replace(job, **everything.assigned())
    assert store.get(job.resource_id) == updated
    assert store.update(job.resource_id, JobChanges(note="again")) == replace(updated, note="again")
    assert store.update(job.resource_id, JobChanges()) == replace(updated, note="again")


def test_add_result_replaces_by_name(store: JobStore) -> None:
    job = make_job()
    store.insert(job)
    store.add_result(job.resource_id, Result("a", "a.txt", "text/plain", 1))
    store.add_result(job.resource_id, Result("b", "b.txt", "text/plain", 2))
    updated = store.add_result(job.resource_id, Result("a", "a2.txt", "text/plain", 3))
    assert updated is not None
    assert [(r.name, r.location) for r in updated.results] == [("b", "b.txt"), ("a", "a2.txt")]


def test_list_jobs_filters(store: JobStore) -> None:
    jobs = [
        make_job(owner="alice", creation_time=T0 + timedelta(minutes=i), phase=phase)
        for i, phase in enumerate(
            [Phase.PENDING, Phase.COMPLETED, Phase.ARCHIVED, Phase.ERROR, Phase.PENDING]
        )
    ]
    store.insert_many([*jobs, make_job(owner="bob")])
    ids = [j.resource_id for j in jobs]

    def listed(**kw: object) -> list[str]:
        return [j.resource_id for j in store.list_jobs(owner="alice", **kw)]  # type: ignore[arg-type]

    assert listed() == [ids[4], ids[3], ids[1], ids[0]]  # newest first, ARCHIVED hidden
    assert listed(phases=[Phase.ARCHIVED]) == [ids[2]]
    assert listed(phases=[Phase.PENDING, Phase.ERROR]) == [ids[4], ids[3], ids[0]]
    assert listed(after=T0 + timedelta(minutes=1)) == [ids[4], ids[3]]
    assert listed(last=2) == [ids[4], ids[3]]
    assert listed(phases=[Phase.PENDING], last=1) == [ids[4]]
    assert len(store.list_jobs(owner=None)) == 5


def test_termination_queries_use_the_earliest_time(store: JobStore) -> None:
    assert store.next_termination_time() is None
    late = make_job(termination_time=T0 + timedelta(days=2))
    soon = make_job(termination_time=T0 + timedelta(hours=1))
    forever = make_job(termination_time=None)
    store.insert_many([late, soon, forever])
    assert store.next_termination_time() == soon.termination_time
    assert store.expired(T0, limit=10) == []
    assert store.expired(T0 + timedelta(hours=1), limit=10) == [soon.resource_id]
    assert store.expired(T0 + timedelta(days=9), limit=10) == [soon.resource_id, late.resource_id]
    assert store.expired(T0 + timedelta(days=9), limit=1) == [soon.resource_id]


def test_reaper_queries_read_only_the_index(sqlite_store: SQLiteJobStore) -> None:
    conn = sqlite3.connect(sqlite_store.path)
    plans = [
        " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
        for sql, args in [
            ("SELECT MIN(termination_time) FROM jobs WHERE termination_time IS NOT NULL", ()),
            (
                "SELECT resource_id FROM jobs WHERE termination_time IS NOT NULL "
                "AND termination_time <= ? ORDER BY termination_time LIMIT ?",
                (0, 10),
            ),
        ]
    ]
    conn.close()
    for plan in plans:
        assert "jobs_by_termination" in plan
        assert "SCAN jobs" not in plan.replace("USING COVERING INDEX", "")


def test_a_running_jobs_reports_do_not_wait_for_the_disk_and_its_end_does(
    sqlite_store: SQLiteJobStore,
) -> None:
    """Progress, state and results are committed with synchronous=NORMAL (no fsync: the
    next durable commit takes them to the disk with it); a transition with FULL."""
    job = make_job(phase=Phase.EXECUTING, start_time=T0, end_time=None)
    sqlite_store.insert(job)
    statements = trace_statements(sqlite_store)

    def synchronous_of(write: Callable[[], object]) -> str:
        statements.clear()
        assert write()
        return synchronous_at_commit(statements)

    rid = job.resource_id
    progress = JobChanges(progress=Progress(0.5))
    state = JobChanges(jdl_state={"rows": 3})
    results = [Result("result", "result.xml", "text/xml", 10)]
    for report in (
        lambda: sqlite_store.record(rid, progress),
        lambda: sqlite_store.record(rid, state),
        lambda: sqlite_store.record_results(rid, results),
    ):
        assert synchronous_of(report) == "PRAGMA synchronous=NORMAL"
        assert statements[-1] == "PRAGMA synchronous=FULL"  # restored for the next write

    def end() -> object:
        return sqlite_store.transition(rid, Phase.COMPLETED, expected={Phase.EXECUTING})

    assert synchronous_of(end) == UNCHANGED
    stored = sqlite_store.get(rid)
    assert stored is not None
    assert (stored.phase, stored.progress, stored.jdl_state) == (
        Phase.COMPLETED,
        Progress(0.5),
        {"rows": 3},
    )
    assert [r.name for r in stored.results] == ["result"]


def test_sqlite_schema_version_is_recorded_and_newer_stores_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    SQLiteJobStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="Upgrade wsrf-uws"):
        SQLiteJobStore(path)


def test_a_store_of_version_3_gains_the_node_column(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite"  # as the last version before clusters left it
    conn = sqlite3.connect(path)
    for statements in MIGRATIONS[:3]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version=3")
    job = make_job(phase=Phase.EXECUTING)
    insert_row(conn, job, without=("node", "run_id"))
    conn.commit()
    conn.close()
    store = SQLiteJobStore(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get(job.resource_id) == job  # on no node
        assert store.transition(job.resource_id, Phase.ERROR, running_on="w1") is None
    finally:
        store.close()


def test_a_store_of_version_5_gains_the_run_id_column(tmp_path: Path) -> None:
    path = tmp_path / "v5.sqlite"  # as the last version before RUNID left it
    conn = sqlite3.connect(path)
    for statements in MIGRATIONS[:5]:
        for statement in statements:
            conn.execute(statement)
    conn.execute("PRAGMA user_version=5")
    job = make_job()
    insert_row(conn, job, without=("run_id",))
    conn.commit()
    conn.close()
    store = SQLiteJobStore(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert_the_run_id_column_works(store, job)
    finally:
        store.close()


def insert_row(conn: sqlite3.Connection, job: Job, *, without: tuple[str, ...]) -> None:
    """Insert ``job``'s row as an older schema had it: its columns but ``without``."""
    pairs = [("key", row_key(job.resource_id)), *older_row(job, without=without)]
    conn.execute(
        f"INSERT INTO jobs ({', '.join(c for c, _ in pairs)}) "
        f"VALUES ({', '.join('?' * len(pairs))})",
        [value for _, value in pairs],
    )


def test_a_change_in_one_phase_is_a_compare_and_set_on_it(store: JobStore) -> None:
    """``update_in_phase``: the change is made only while the job is in that phase, which
    it stays in (a RUNID is changed only while PENDING, even as the job is started)."""
    job = make_job(run_id="before")
    store.insert(job)
    changed = store.update_in_phase(job.resource_id, Phase.PENDING, JobChanges(run_id="after"))
    assert changed == replace(job, run_id="after")
    assert store.get(job.resource_id) == changed
    assert store.update_in_phase("nobody", Phase.PENDING, JobChanges(run_id="x")) is None
    started = store.transition(job.resource_id, Phase.QUEUED)
    assert started is not None
    assert store.update_in_phase(job.resource_id, Phase.PENDING, JobChanges(run_id="x")) is None
    assert store.get(job.resource_id) == started  # nothing changed, still QUEUED
    assert started.run_id == "after"


def test_migrations_run_on_an_empty_database_only_once(store_factory: StoreFactory) -> None:
    job = make_job()
    first = store_factory()
    first.insert(job)
    first.close()
    again = store_factory()  # opening again must not re-create or lose anything
    assert again.get(job.resource_id) == job
    expected = SCHEMA_VERSION if store_factory.kind == "sqlite" else POSTGRES_SCHEMA_VERSION
    assert again.schema_version() == expected  # type: ignore[attr-defined]


def test_concurrent_starts_in_threads_have_one_winner(store: JobStore) -> None:
    for _ in range(20):
        job = make_job(phase=Phase.QUEUED)
        store.insert(job)
        barrier = threading.Barrier(8)
        wins: list[bool] = []

        def start(
            rid: str = job.resource_id, b: threading.Barrier = barrier, out: list[bool] = wins
        ) -> None:
            b.wait()
            out.append(store.transition(rid, Phase.EXECUTING, expected={Phase.QUEUED}) is not None)

        threads = [threading.Thread(target=start) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wins.count(True) == 1


def _race(kind: str, location: str, resource_ids: list[str], barrier: object, out: object) -> None:
    store = open_store(kind, location)
    won = []
    barrier.wait()  # type: ignore[attr-defined]
    for rid in resource_ids:
        if store.transition(rid, Phase.EXECUTING, expected={Phase.QUEUED}) is not None:
            won.append(rid)
    out.put(won)  # type: ignore[attr-defined]
    store.close()


def test_concurrent_starts_in_processes_have_one_winner(store_factory: StoreFactory) -> None:
    store = store_factory()
    jobs = [make_job(phase=Phase.QUEUED) for _ in range(200)]
    store.insert_many(jobs)
    ids = [j.resource_id for j in jobs]
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    where = (store_factory.kind, store_factory.location)
    procs = [ctx.Process(target=_race, args=(*where, ids, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    winners = [rid for _ in procs for rid in out.get(timeout=60)]
    for p in procs:
        p.join()
    assert sorted(winners) == sorted(ids)  # every job started exactly once, by exactly one
    assert {j.phase for j in store.list_jobs(owner=None)} == {Phase.EXECUTING}


def test_files_are_per_resource_and_removed_whole(tmp_path: Path) -> None:
    files = JobFiles(tmp_path / "jobs")
    rid = make_job().resource_id
    folder = files.ensure(rid)
    write_atomic(folder / "a.txt", b"hello")
    assert (folder / "a.txt").read_bytes() == b"hello"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left
    assert files.file(rid, "a.txt") == (folder / "a.txt").resolve()
    with pytest.raises(ValueError, match="not inside"):
        files.file(rid, "../../etc/passwd")
    with pytest.raises(ValueError, match="not a resource id"):
        files.folder("../x")
    files.remove(rid)
    assert not folder.exists()
    files.remove(rid)  # idempotent
    # Its files are deleted by the trash's thread, soon after.
    TRASH_EMPTIER.wait()
    assert list((files.root / ".trash").iterdir()) == []


def test_sweep_removes_orphans_and_trash(tmp_path: Path) -> None:
    files = JobFiles(tmp_path / "jobs")
    live, dead = make_job().resource_id, make_job().resource_id
    files.ensure(live)
    files.ensure(dead)
    (files.root / ".trash" / "leftover").mkdir(parents=True)
    assert files.sweep(lambda rid: rid == live) == [dead]
    assert files.folder(live).exists()
    assert not files.folder(dead).exists()
    trash = files.root / ".trash"
    assert not trash.exists() or not any(trash.iterdir())


def _open_with_cache(store_factory: StoreFactory, decoded_jobs: int) -> JobStore:
    """A store on ``store_factory``'s database keeping ``decoded_jobs`` decoded jobs."""
    if store_factory.kind == "sqlite":
        store: JobStore = SQLiteJobStore(store_factory.location, decoded_jobs=decoded_jobs)
    else:
        from wsrf_uws.store.postgres import PostgresJobStore

        store = PostgresJobStore(store_factory.location, decoded_jobs=decoded_jobs)
    store_factory.opened.append(store)
    return store


def test_an_unchanged_row_is_decoded_once_and_a_changed_one_again(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    other = store_factory()  # another connection (another node) changes the row
    job = make_job()
    store.insert(job)
    first = store.get(job.resource_id)
    assert store.get(job.resource_id) is first
    other.transition(job.resource_id, Phase.QUEUED, expected={Phase.PENDING})
    changed = store.get(job.resource_id)
    assert changed is not first
    assert changed is not None and changed.phase is Phase.QUEUED
    other.update(job.resource_id, JobChanges(progress=Progress(0.5)))
    progressed = store.get(job.resource_id)
    assert progressed is not None and progressed.progress.fraction == 0.5
    assert store.get(job.resource_id) is progressed
    # A change through the store itself is what the next read reuses.
    started = store.transition(job.resource_id, Phase.EXECUTING, expected={Phase.QUEUED})
    assert started is not None
    assert store.get(job.resource_id) is started
    assert other.get(job.resource_id) == started


def test_the_decoded_job_cache_is_bounded_and_can_be_off(store_factory: StoreFactory) -> None:
    store = _open_with_cache(store_factory, decoded_jobs=2)
    uncached = _open_with_cache(store_factory, decoded_jobs=0)
    jobs = [make_job() for _ in range(3)]
    uncached.insert_many(jobs)
    first = store.get(jobs[0].resource_id)
    store.get(jobs[1].resource_id)
    store.get(jobs[2].resource_id)  # pushes the first out
    assert store.get(jobs[0].resource_id) is not first
    assert store.get(jobs[0].resource_id) == first
    assert uncached.get(jobs[1].resource_id) is not uncached.get(jobs[1].resource_id)


def test_a_transition_can_require_the_node_the_job_runs_on(store: JobStore) -> None:
    # A node cut off from the store, whose job another node has claimed since, can
    # never finish that job: its transition names itself and finds the other node.
    job = make_job(phase=Phase.EXECUTING, node="worker-2")
    store.insert(job)
    rid = job.resource_id
    assert store.get(rid) == job
    stale = store.transition(rid, Phase.COMPLETED, expected={Phase.EXECUTING}, running_on="w1")
    assert stale is None
    assert (unchanged := store.get(rid)) is not None and unchanged.phase is Phase.EXECUTING
    done = store.transition(
        rid,
        Phase.COMPLETED,
        expected={Phase.EXECUTING},
        changes=JobChanges(end_time=T0 + timedelta(minutes=1)),
        running_on="worker-2",
    )
    assert done is not None
    assert (done.phase, done.node) == (Phase.COMPLETED, "worker-2")
    # The change may clear the node; then no transition names it any more.
    again = store.transition(
        rid, Phase.ARCHIVED, changes=JobChanges(node=None), running_on="worker-2"
    )
    assert again is not None and again.node is None
    assert store.transition(rid, Phase.ARCHIVED, running_on="worker-2") is None
    # Without running_on, the node is no condition (a job on no node moves too).
    unplaced = make_job(phase=Phase.QUEUED)
    store.insert(unplaced)
    assert store.transition(unplaced.resource_id, Phase.EXECUTING) is not None
    assert store.transition(unplaced.resource_id, Phase.ABORTED, running_on="w1") is None


def test_recorded_results_append_or_replace_exactly_as_added_results(store: JobStore) -> None:
    # record_results appends new names in SQL, without reading the job; the job must read
    # back exactly as with add_results, whichever path each batch takes.
    job, twin = make_job(), make_job()
    store.insert_many([job, twin])
    batches = [
        [Result("a", "a.txt", "text/plain", 1)],
        [Result("b", "b.txt", None, None), Result("c", "http://example.org/c", "image/fits", 3)],
        [Result("a", "a2.txt", "text/plain", 2)],  # a replacement: moves to the end
        [Result(f"r{i}", f"r{i}.txt", "text/plain", i) for i in range(100)],  # beyond one call
        [Result("d", "d.txt", "text/plain", 4), Result("d", "d2.txt", "text/plain", 5)],
    ]
    for batch in batches:
        assert store.record_results(job.resource_id, batch)
        store.add_results(twin.resource_id, batch)
    recorded, added = store.get(job.resource_id), store.get(twin.resource_id)
    assert recorded is not None and added is not None
    assert recorded.results == added.results
    assert [r.name for r in recorded.results][:3] == ["b", "c", "a"]
    assert not store.record_results("nosuchjob", [Result("x", "x.txt")])
    assert not store.record("nosuchjob", JobChanges(note="n"))
    assert store.record(job.resource_id, JobChanges(note="n"))
    assert (again := store.get(job.resource_id)) is not None and again.note == "n"
