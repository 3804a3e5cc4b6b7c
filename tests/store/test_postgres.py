"""What only the PostgreSQL store has: its schema, its errors, its choice by the settings,
and its atomic steps under real concurrency (threads on separate connections and pools,
as on several nodes). The rest of its behaviour is tested with SQLite's in test_store.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from store_support import assert_the_run_id_column_works, older_row

from wsrf_uws.core.model import Job
from wsrf_uws.core.phases import Phase
from wsrf_uws.core.ports import LiveJobsLimitError, StoreError
from wsrf_uws.runtime import job_store
from wsrf_uws.settings import Settings
from wsrf_uws.store.postgres import PostgresJobStore
from wsrf_uws.store.postgres_migrations import MIGRATIONS, SCHEMA_VERSION

from conftest import at_once
from factories import make_job


@pytest.fixture
def nodes(postgres_url: str) -> Iterator[list[PostgresJobStore]]:
    """Two stores on one schema, each with its own pool: two service nodes."""
    stores = [PostgresJobStore(postgres_url) for _ in range(2)]
    yield stores
    for store in stores:
        store.close()


def test_the_live_jobs_cap_holds_under_parallel_inserts(nodes: list[PostgresJobStore]) -> None:
    # Eight threads on two nodes insert six jobs each for alice (cap 10), and for bob
    # (cap 100, never reached): alice ends with exactly 10, and bob is not held up.
    outcomes: dict[str, list[str]] = {"alice": [], "bob": []}

    def insert(i: int) -> None:
        store = nodes[i % 2]
        for _ in range(6):
            for owner, cap in (("alice", 10), ("bob", 100)):
                try:
                    store.insert(make_job(owner=owner), max_owner_jobs=cap)
                    outcomes[owner].append("inserted")
                except LiveJobsLimitError as exc:
                    outcomes[owner].append(f"refused: {exc.owner} {exc.limit}")

    at_once(8, insert)
    assert sorted(outcomes["alice"]) == ["inserted"] * 10 + ["refused: alice 10"] * 38
    assert nodes[0].count(owner="alice") == 10
    assert outcomes["bob"] == ["inserted"] * 48
    assert nodes[1].count(owner="bob") == 48


def test_racing_transitions_of_one_job_have_exactly_one_winner(
    nodes: list[PostgresJobStore],
) -> None:
    # Two threads on two nodes start the same 300 jobs, in the same order: each job is
    # started exactly once, by one of them.
    jobs = [make_job(phase=Phase.QUEUED) for _ in range(300)]
    nodes[0].insert_many(jobs)
    ids = [job.resource_id for job in jobs]
    won: list[list[str]] = [[], []]

    def start(i: int) -> None:
        for rid in ids:
            if nodes[i].transition(rid, Phase.EXECUTING, expected={Phase.QUEUED}) is not None:
                won[i].append(rid)

    at_once(2, start)
    assert sorted(won[0] + won[1]) == sorted(ids)
    assert not set(won[0]) & set(won[1])
    assert len(list(nodes[1].in_phases([Phase.EXECUTING]))) == 300
    assert list(nodes[1].in_phases([Phase.QUEUED])) == []


def test_the_schema_version_is_recorded_and_a_newer_one_refused(postgres_url: str) -> None:
    PostgresJobStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute("SELECT version FROM wsrf_uws_schema").fetchone()
        assert row == (SCHEMA_VERSION,)
        conn.execute("UPDATE wsrf_uws_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="Upgrade wsrf-uws"):
        PostgresJobStore(postgres_url)


def test_a_store_of_version_1_gains_the_cluster_tables(postgres_url: str) -> None:
    job = make_job(phase=Phase.EXECUTING)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("CREATE TABLE wsrf_uws_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO wsrf_uws_schema VALUES (1)")
        insert_row(conn, job, without=("node", "run_id"))  # the columns of version 1
    store = PostgresJobStore(postgres_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.get(job.resource_id) == job  # on no node
        assert store.running_on("w1") == []
        assert store.status().nodes == []
    finally:
        store.close()


def test_a_store_of_version_3_gains_the_run_id_column(postgres_url: str) -> None:
    job = make_job()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for statements in MIGRATIONS[:3]:
            for statement in statements:
                conn.execute(statement)
        conn.execute("CREATE TABLE wsrf_uws_schema (version integer NOT NULL)")
        conn.execute("INSERT INTO wsrf_uws_schema VALUES (3)")
        insert_row(conn, job, without=("run_id",))
    store = PostgresJobStore(postgres_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert_the_run_id_column_works(store, job)
    finally:
        store.close()


def insert_row(conn: psycopg.Connection[Any], job: Job, *, without: tuple[str, ...]) -> None:
    """Insert ``job``'s row as an older schema had it: its columns but ``without``."""
    pairs = older_row(job, without=without)
    conn.execute(
        f"INSERT INTO jobs ({', '.join(c for c, _ in pairs)}) "
        f"VALUES ({', '.join(['%s'] * len(pairs))})",
        [value for _, value in pairs],
    )


def test_claims_find_owners_and_their_oldest_jobs_in_the_index(postgres_url: str) -> None:
    # (The EXECUTING jobs are few, bounded by the slots of the cluster: any index of
    # them serves, and the planner's choice among them on an empty table is arbitrary.)
    PostgresJobStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # an empty table would be scanned anyway
        for sql, index in (
            ("SELECT owner FROM jobs WHERE phase = 'QUEUED' AND owner > 'a' "
             "ORDER BY owner LIMIT 1", "jobs_queued"),
            ("SELECT resource_id FROM jobs WHERE phase = 'QUEUED' AND owner = 'a' "
             "ORDER BY creation_time, resource_id LIMIT 1", "jobs_queued"),
        ):  # fmt: skip
            plan = " ".join(row[0] for row in conn.execute(f"EXPLAIN {sql}"))
            assert index in plan, plan


def test_the_reaper_queries_can_read_only_the_termination_index(postgres_url: str) -> None:
    PostgresJobStore(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # an empty table would be scanned anyway
        for sql in (
            "SELECT min(termination_time) FROM jobs WHERE termination_time IS NOT NULL",
            "SELECT resource_id FROM jobs WHERE termination_time IS NOT NULL "
            "AND termination_time <= 0 ORDER BY termination_time LIMIT 10",
        ):
            plan = " ".join(row[0] for row in conn.execute(f"EXPLAIN {sql}"))
            assert "jobs_by_termination" in plan, plan


def test_nodes_started_together_create_the_schema_once(postgres_url: str) -> None:
    opened: list[PostgresJobStore] = []
    at_once(4, lambda _: opened.append(PostgresJobStore(postgres_url)))
    try:
        assert [store.schema_version() for store in opened] == [SCHEMA_VERSION] * 4
    finally:
        for store in opened:
            store.close()


def test_an_unreachable_database_says_why(tmp_path: Path) -> None:
    url = f"postgresql://nobody@/nowhere?host={tmp_path}"  # no server listens there
    with pytest.raises(StoreError, match="cannot open the PostgreSQL store"):
        PostgresJobStore(url, connect_timeout=2)


def test_the_settings_choose_the_store(tmp_path: Path, postgres_url: str) -> None:
    sqlite = job_store(Settings(data_dir=tmp_path))
    assert type(sqlite).__name__ == "SQLiteJobStore"
    sqlite.close()
    postgres = job_store(Settings(data_dir=tmp_path, database_url=postgres_url))
    assert isinstance(postgres, PostgresJobStore)
    postgres.close()
    # The URL may hold a password: the printed settings hide it.
    shown = Settings(database_url="postgresql://u:secret@db/uws").model_dump(mode="json")
    assert "secret" not in str(shown)


def test_a_missing_psycopg_is_a_clear_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "wsrf_uws.store.postgres")
    with pytest.raises(StoreError, match=r"database_url is set.*wsrf-uws\[postgres\]"):
        job_store(Settings(data_dir=tmp_path, database_url="postgresql://db/uws"))
