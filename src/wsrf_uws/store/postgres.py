"""A job store in PostgreSQL, which several service nodes can share.

Same semantics as the SQLite store (:mod:`wsrf_uws.store.sqlite`), and the same encoding
of every value (:mod:`wsrf_uws.store.codec`). Connections come from a pool, in
autocommit mode: a single statement is its own transaction, and the methods that need
several statements open one. Every change has committed when its method returns. It is
also the store of a cluster of nodes (:class:`~wsrf_uws.core.cluster.ClusterStore`,
implemented in :mod:`wsrf_uws.store.postgres_cluster`).

Concurrency rests on PostgreSQL, not on the process:

* A phase change is one ``UPDATE ... WHERE phase = ANY(expected) RETURNING``: a
  concurrent change of the row makes it wait and then test the phase again on the new
  row, so of any number of racing transitions exactly one succeeds.
* ``insert`` with a cap on the owner's jobs takes a transaction-scoped advisory lock on
  the owner before counting: inserts for one owner queue on it, on every node, while
  inserts for other owners proceed. Advisory locks and channels are shared by the whole
  database, so their keys and names are derived from the schema
  (:mod:`wsrf_uws.store.postgres_names`).

A job read (or returned by a change) reuses the job decoded from an identical row
before (:mod:`wsrf_uws.store.decoded_jobs`), as in the SQLite store.

psycopg 3 and psycopg-pool are an optional dependency (``pip install 'wsrf-uws[postgres]'``).
A pool must not be used across ``fork()``: the local executor's job processes are forked
from warm parents (or a forkserver) that never open the store, so they inherit none of its
connections (and never touch the store).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

try:
    import psycopg
    from psycopg.rows import DictRow, dict_row
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the PostgreSQL store needs psycopg 3 and psycopg-pool (pip install 'wsrf-uws[postgres]')"
    ) from exc

from ..core.model import Job, Result
from ..core.operator_state import OperatorState
from ..core.phases import Phase
from ..core.ports import JobChanges, LiveJobsLimitError, ResourceIdTakenError, StoreError
from . import codec, shared_sql
from .decoded_jobs import DecodedJobs
from .postgres_cluster import PostgresCluster
from .postgres_migrations import MIGRATIONS, SCHEMA_VERSION
from .postgres_names import SchemaNames

_Connection = psycopg.Connection[DictRow]

#: The key of the lock taken while creating or migrating the tables (in the two-key form
#: of the advisory lock functions, so it is never mistaken for a key of
#: :mod:`.postgres_names`): the schema is not known until then, nor needed.
_MIGRATION_LOCK = 0x55575301

#: Expired nonces one call of :meth:`PostgresJobStore.remember_nonce` deletes at most:
#: each call adds one, so the backlog still shrinks, and no call pays for a long pause.
_NONCE_SWEEP = 100


class PostgresJobStore(PostgresCluster):
    """A :class:`JobStore` (and :class:`~wsrf_uws.core.cluster.ClusterStore`) in the
    PostgreSQL database at ``url``.

    ``url`` is a libpq connection string or URI (``postgresql://user@host/db``; a
    password is best kept in ``~/.pgpass`` or ``PGPASSWORD``). The tables are created in
    the connection's ``search_path``, so ``?options=-csearch_path%3Dname`` puts them in a
    schema of their own. ``max_connections`` bounds the pool: a thread wanting one more
    waits up to ``pool_timeout`` seconds. ``connect_timeout`` bounds the first connection,
    which brings the schema up to date (a store written by a newer version is refused).
    ``decoded_jobs`` is how many decoded jobs are kept for rows that have not changed
    since (0: none).
    """

    def __init__(
        self,
        url: str,
        *,
        max_connections: int = 10,
        pool_timeout: float = 30.0,
        connect_timeout: int = 10,
        decoded_jobs: int = 4096,
    ) -> None:
        self.url = url
        self._decoded = DecodedJobs(capacity=decoded_jobs)
        # A direct connection first: its error says why PostgreSQL cannot be reached
        # (a pool would only time out), and the schema is migrated before any use.
        try:
            with psycopg.connect(
                url, autocommit=True, row_factory=dict_row, connect_timeout=connect_timeout
            ) as conn:
                self._migrate(conn)
                schema = conn.execute("SELECT current_schema() AS s").fetchone()
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot open the PostgreSQL store: {exc}") from exc
        assert schema is not None  # a session always has one: the tables were created in it
        self._names = SchemaNames(schema["s"])
        self._pool = ConnectionPool(
            url,
            connection_class=_Connection,
            kwargs={"autocommit": True, "row_factory": dict_row},
            min_size=1,
            max_size=max_connections,
            timeout=pool_timeout,
            name="wsrf-uws-store",
            open=True,
        )

    # -- connections and transactions ------------------------------------------------

    @staticmethod
    def _migrate(conn: _Connection) -> None:
        with conn.transaction():
            # Nodes started together queue here instead of racing to create the tables.
            conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS wsrf_uws_schema (version integer NOT NULL)")
            row = conn.execute("SELECT version FROM wsrf_uws_schema").fetchone()
            version = 0 if row is None else int(row["version"])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the PostgreSQL store has schema version {version}; this wsrf-uws knows "
                    f"only up to {SCHEMA_VERSION}. Upgrade wsrf-uws."
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO wsrf_uws_schema VALUES (%s)", (SCHEMA_VERSION,))
            else:
                conn.execute("UPDATE wsrf_uws_schema SET version = %s", (SCHEMA_VERSION,))

    @contextmanager
    def _transaction(self, *, durable: bool = True) -> Iterator[_Connection]:
        """A connection inside a transaction, committed on leaving (rolled back on error).

        ``durable=False`` commits without waiting for the write-ahead log to reach the
        disk: a crash of the database server may lose the last moment's commits, never
        leave a transaction half applied.
        """
        with self._pool.connection() as conn, conn.transaction():
            if not durable:
                conn.execute("SET LOCAL synchronous_commit = off")
            yield conn

    def schema_version(self) -> int:
        """The schema version of the database."""
        with self._pool.connection() as conn:
            row = conn.execute("SELECT version FROM wsrf_uws_schema").fetchone()
        assert row is not None
        return int(row["version"])

    def close(self) -> None:
        """Close the pool and its connections (not the sessions of nodes: their owners
        close them)."""
        self._pool.close()

    def _job(self, row: DictRow) -> Job:
        return self._decoded.job(
            row["resource_id"], tuple(row.values()), lambda: codec.job_from_row(row)
        )

    # -- JobStore --------------------------------------------------------------------

    def insert(self, job: Job, *, max_owner_jobs: int | None = None) -> None:
        try:
            with self._transaction() as conn:
                if max_owner_jobs is not None:
                    # Held to the commit: the next insert for this owner counts only after
                    # this one is visible. The count is a statement of its own, after the
                    # lock: in READ COMMITTED each statement sees what committed before it
                    # began, so one that began before the wait could miss the last insert.
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(%s)", (self._names.insert_lock(job.owner),)
                    )
                    if _count(conn, job.owner) >= max_owner_jobs:
                        raise LiveJobsLimitError(job.owner, max_owner_jobs)
                conn.execute(_INSERT, codec.job_to_row(job))
        except psycopg.errors.UniqueViolation as exc:
            raise ResourceIdTakenError(job.resource_id) from exc

    def insert_many(self, jobs: Iterable[Job]) -> int:
        rows = [codec.job_to_row(job) for job in jobs]
        try:
            with self._transaction() as conn, conn.cursor() as cursor:
                cursor.executemany(_INSERT, rows)
        except psycopg.errors.UniqueViolation as exc:
            raise ResourceIdTakenError("(one of the batch)") from exc
        return len(rows)

    def get(self, resource_id: str) -> Job | None:
        with self._pool.connection() as conn:
            row = conn.execute(_SELECT_ONE, (resource_id,)).fetchone()
        return None if row is None else self._job(row)

    def _compare_and_set(
        self,
        resource_id: str,
        expected: frozenset[Phase],
        to: Phase,
        changes: JobChanges,
        running_on: str | None = None,
        durable: bool = True,  # always durable here (see JobStore.transition)
    ) -> Job | None:
        assignments, values = _assignments(changes)
        conditions: list[Any] = [resource_id, sorted(p.value for p in expected)]
        node = ""
        if running_on is not None:
            node = " AND node = %s"
            conditions.append(running_on)
        with self._pool.connection() as conn:
            row = conn.execute(
                f"UPDATE jobs SET {', '.join(['phase = %s', *assignments])} "
                f"WHERE resource_id = %s AND phase = ANY(%s){node} RETURNING {_COLUMNS}",
                (to.value, *values, *conditions),
            ).fetchone()
        return None if row is None else self._job(row)

    def update(self, resource_id: str, changes: JobChanges) -> Job | None:
        assignments, values = _assignments(changes)
        if not values:
            return self.get(resource_id)
        with self._pool.connection() as conn:
            row = conn.execute(
                f"UPDATE jobs SET {', '.join(assignments)} "
                f"WHERE resource_id = %s RETURNING {_COLUMNS}",
                (*values, resource_id),
            ).fetchone()
        return None if row is None else self._job(row)

    def add_results(self, resource_id: str, results: Sequence[Result]) -> Job | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT results FROM jobs WHERE resource_id = %s FOR UPDATE", (resource_id,)
            ).fetchone()
            if row is None:
                return None
            merged = {r.name: r for r in codec.results_from_db(row["results"])}
            for result in results:
                merged.pop(result.name, None)  # a replaced result moves to the end
                merged[result.name] = result
            updated = conn.execute(
                f"UPDATE jobs SET results = %s WHERE resource_id = %s RETURNING {_COLUMNS}",
                (codec.results_to_db(tuple(merged.values())), resource_id),
            ).fetchone()
        assert updated is not None  # the row is locked since the SELECT
        return self._job(updated)

    def record(self, resource_id: str, changes: JobChanges) -> bool:
        assignments, values = _assignments(changes)
        if not values:
            return self.exists(resource_id)
        with self._transaction(durable=False) as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET {', '.join(assignments)} WHERE resource_id = %s",
                (*values, resource_id),
            )
            return cursor.rowcount == 1

    def record_results(self, resource_id: str, results: Sequence[Result]) -> bool:
        names = [result.name for result in results]
        if not names:
            return self.exists(resource_id)
        if len(set(names)) == len(names):
            # New names are appended by PostgreSQL in one statement, without sending or
            # decoding the results already there; if a name is there already, the row is
            # left alone and the merging path below replaces it.
            items = f"[{','.join(map(codec.result_to_db, results))}]"
            with self._transaction(durable=False) as conn:
                cursor = conn.execute(
                    "UPDATE jobs SET results = (results::jsonb || %s::jsonb)::text "
                    "WHERE resource_id = %s AND NOT EXISTS (SELECT FROM "
                    "jsonb_array_elements(jobs.results::jsonb) AS r WHERE r->>'name' = ANY(%s))",
                    (items, resource_id, names),
                )
                if cursor.rowcount == 1:
                    return True
        return self.add_results(resource_id, results) is not None

    def delete(self, resource_id: str) -> bool:
        with self._pool.connection() as conn:
            cursor = conn.execute("DELETE FROM jobs WHERE resource_id = %s", (resource_id,))
            return cursor.rowcount == 1

    def list_jobs(
        self,
        *,
        owner: str | None,
        phases: Collection[Phase] | None = None,
        after: datetime | None = None,
        last: int | None = None,
    ) -> list[Job]:
        sql, values = shared_sql.job_list(
            columns=_COLUMNS, style="pyformat", owner=owner, phases=phases, after=after, last=last
        )
        with self._pool.connection() as conn:
            rows = conn.execute(sql, values).fetchall()
        return [self._job(row) for row in rows]

    def in_phases(self, phases: Collection[Phase]) -> Iterator[Job]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE phase = ANY(%s) ORDER BY creation_time",
                ([p.value for p in phases],),
            ).fetchall()
        return (self._job(row) for row in rows)

    def exists(self, resource_id: str) -> bool:
        with self._pool.connection() as conn:
            cursor = conn.execute("SELECT 1 FROM jobs WHERE resource_id = %s", (resource_id,))
            return cursor.fetchone() is not None

    def count(self, *, owner: str | None = None) -> int:
        with self._pool.connection() as conn:
            return _count(conn, owner)

    def operator_state(self) -> OperatorState:
        with self._pool.connection() as conn:
            return shared_sql.read_operator_state(conn.execute, "pyformat")

    def operator_acted(
        self, *, hold: bool | None = None, by: str = "", now: datetime | None = None
    ) -> OperatorState:
        with self._pool.connection() as conn, conn.transaction():
            return shared_sql.record_operator_action(
                conn.execute, "pyformat", hold=hold, by=by, now=now
            )

    def count_by_contract_and_phase(self) -> dict[tuple[str, Phase], int]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT contract, phase, count(*) AS n FROM jobs GROUP BY contract, phase"
            ).fetchall()
        return {(row["contract"], Phase(row["phase"])): int(row["n"]) for row in rows}

    def next_termination_time(self) -> datetime | None:
        with self._pool.connection() as conn:
            row = conn.execute(_NEXT_TERMINATION_TIME).fetchone()
        assert row is not None
        return codec.time_from_db(row["t"])

    def expired(self, now: datetime, *, limit: int) -> list[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(_EXPIRED, {"now": codec.time_to_db(now), "limit": limit}).fetchall()
        return [row["resource_id"] for row in rows]

    def remember_nonce(self, digest: bytes, *, expires: datetime, now: datetime) -> bool:
        # Not waiting for the disk, as SQLite does not: this runs for every authenticated
        # request, not only for changes.
        at = codec.time_to_db(now)
        with self._transaction(durable=False) as conn:
            # Rows another call is deleting are skipped rather than waited for.
            conn.execute(
                "DELETE FROM nonces WHERE digest IN (SELECT digest FROM nonces "
                "WHERE expires <= %s LIMIT %s FOR UPDATE SKIP LOCKED)",
                (at, _NONCE_SWEEP),
            )
            # A row still there but expired counts as forgotten: it is taken over. Of
            # calls racing with one digest, the later ones wait for the first's commit
            # and then find its row, unexpired.
            row = conn.execute(
                "INSERT INTO nonces (digest, expires) VALUES (%s, %s) "
                "ON CONFLICT (digest) DO UPDATE SET expires = excluded.expires "
                "WHERE nonces.expires <= %s RETURNING 1",
                (digest, codec.time_to_db(expires), at),
            ).fetchone()
        return row is not None


_COLUMNS = ", ".join(codec.JOB_COLUMNS)
_INSERT = f"INSERT INTO jobs ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(codec.JOB_COLUMNS))})"
_SELECT_ONE = f"SELECT {_COLUMNS} FROM jobs WHERE resource_id = %s"
_NEXT_TERMINATION_TIME = shared_sql.in_style(shared_sql.NEXT_TERMINATION_TIME, "pyformat")
_EXPIRED = shared_sql.in_style(shared_sql.EXPIRED, "pyformat")


def _count(conn: _Connection, owner: str | None) -> int:
    if owner is None:
        row = conn.execute("SELECT count(*) AS n FROM jobs").fetchone()
    else:
        row = conn.execute("SELECT count(*) AS n FROM jobs WHERE owner = %s", (owner,)).fetchone()
    assert row is not None
    return int(row["n"])


def _assignments(changes: JobChanges) -> tuple[list[str], list[Any]]:
    """``col = %s`` fragments and their values for the fields ``changes`` sets."""
    assigned = changes.assigned()
    return (
        [f"{name} = %s" for name in assigned],
        [codec.ENCODERS[name](value) for name, value in assigned.items()],
    )
