"""The embedded store: one SQLite file in WAL mode.

Each thread gets its own connection (WAL lets readers proceed while one writer
commits). Writes run in ``BEGIN IMMEDIATE`` transactions and are committed before
a method returns; with ``synchronous=FULL`` (the default) a commit also survives a
power cut, and in any mode a process killed at any instant leaves a consistent file.

Rows are found by :func:`row_key`, a 63-bit hash of the resource id, always together
with the id itself, so a hash collision can never return the wrong job.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from hashlib import blake2b
from pathlib import Path
from typing import Any, Literal

from ..core.model import Job, Result
from ..core.operator_state import OperatorState
from ..core.phases import Phase
from ..core.ports import JobChanges, JobStore, LiveJobsLimitError, ResourceIdTakenError, StoreError
from ..core.sqlite_connections import ThreadConnections
from . import codec, shared_sql
from .decoded_jobs import DecodedJobs
from .migrations import MIGRATIONS, SCHEMA_VERSION

_COLUMNS = ", ".join(("key", *codec.JOB_COLUMNS))


#: The most this SQLite build lets a connection map (SQLITE_MAX_MMAP_SIZE).
DEFAULT_MMAP_BYTES = 0x7FFF0000


def row_key(resource_id: str) -> int:
    """The integer primary key of ``resource_id``: 63 bits of its BLAKE2b hash."""
    digest = blake2b(resource_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


#: The phases of the partial index ``jobs_active`` (migration 1), and its condition verbatim.
_ACTIVE = frozenset({Phase.QUEUED, Phase.EXECUTING})
_ACTIVE_CONDITION = "phase IN ('QUEUED', 'EXECUTING')"


class SQLiteJobStore(JobStore):
    """A :class:`JobStore` in one SQLite file.

    ``mmap_bytes`` is how much of the file each connection reads through a memory map
    (0 turns it off): reads then skip a copy per page, which keeps lookups in a large
    store nearly as fast as in a small one. ``decoded_jobs`` is how many decoded jobs are
    kept for rows that have not changed since (:mod:`wsrf_uws.store.decoded_jobs`; 0: none).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Literal["full", "normal"] = "full",
        mmap_bytes: int = DEFAULT_MMAP_BYTES,
        decoded_jobs: int = 4096,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = ThreadConnections(
            self.path,
            synchronous=synchronous,
            pragmas=("cache_size=-32768", f"mmap_size={int(mmap_bytes)}"),
        )
        self._decoded = DecodedJobs(capacity=decoded_jobs)
        self._migrate()

    # -- connections and transactions ------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._connections.write()

    def _migrate(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}; this wsrf-uws knows only "
                    f"up to {SCHEMA_VERSION}. Upgrade wsrf-uws."
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def schema_version(self) -> int:
        """The schema version of the file."""
        return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close every connection this store opened (from any thread)."""
        self._connections.close()

    # -- rows ------------------------------------------------------------------------

    @staticmethod
    def _row(job: Job) -> tuple[Any, ...]:
        return (row_key(job.resource_id), *codec.job_to_row(job))

    def _job(self, row: sqlite3.Row) -> Job:
        """The job of a full row (its decoded form kept for later reads)."""
        return self._decoded.job(row["resource_id"], tuple(row), lambda: codec.job_from_row(row))

    # -- JobStore --------------------------------------------------------------------

    def insert(self, job: Job, *, max_owner_jobs: int | None = None) -> None:
        try:
            # BEGIN IMMEDIATE takes the write lock first: no other insert can slip in
            # between the count and the insert.
            with self._write() as conn:
                if max_owner_jobs is not None:
                    held = conn.execute(
                        "SELECT COUNT(*) FROM jobs WHERE owner = ?", (job.owner,)
                    ).fetchone()[0]
                    if held >= max_owner_jobs:
                        raise LiveJobsLimitError(job.owner, max_owner_jobs)
                conn.execute(_INSERT, self._row(job))
        except sqlite3.IntegrityError as exc:
            raise ResourceIdTakenError(job.resource_id) from exc

    def insert_many(self, jobs: Iterable[Job]) -> int:
        try:
            with self._write() as conn:
                cursor = conn.executemany(_INSERT, (self._row(job) for job in jobs))
                return cursor.rowcount
        except sqlite3.IntegrityError as exc:
            raise ResourceIdTakenError("(one of the batch)") from exc

    def get(self, resource_id: str) -> Job | None:
        row = (
            self._connection()
            .execute(f"SELECT {_COLUMNS} FROM jobs WHERE {_BY_ID}", _by_id(resource_id))
            .fetchone()
        )
        return None if row is None else self._job(row)

    def _compare_and_set(
        self,
        resource_id: str,
        expected: frozenset[Phase],
        to: Phase,
        changes: JobChanges,
        running_on: str | None = None,
        durable: bool = True,
    ) -> Job | None:
        assignments, values = _assignments(changes)
        marks = ", ".join("?" * len(expected))
        conditions: list[Any] = [*_by_id(resource_id), *sorted(expected)]
        node = ""
        if running_on is not None:
            node = " AND node = ?"
            conditions.append(running_on)
        with self._connections.write(durable=durable) as conn:
            row = conn.execute(
                f"UPDATE jobs SET phase = ?{assignments} "
                f"WHERE {_BY_ID} AND phase IN ({marks}){node} RETURNING {_COLUMNS}",
                (to.value, *values, *conditions),
            ).fetchone()
        return None if row is None else self._job(row)

    def update(self, resource_id: str, changes: JobChanges) -> Job | None:
        assignments, values = _assignments(changes)
        if not values:
            return self.get(resource_id)
        with self._write() as conn:
            row = conn.execute(
                f"UPDATE jobs SET {assignments.lstrip(', ')} WHERE {_BY_ID} RETURNING {_COLUMNS}",
                (*values, *_by_id(resource_id)),
            ).fetchone()
        return None if row is None else self._job(row)

    def add_results(self, resource_id: str, results: Sequence[Result]) -> Job | None:
        with self._write() as conn:
            row = conn.execute(
                f"SELECT results FROM jobs WHERE {_BY_ID}", _by_id(resource_id)
            ).fetchone()
            if row is None:
                return None
            merged = {r.name: r for r in codec.results_from_db(row[0])}
            for result in results:
                merged.pop(result.name, None)  # a replaced result moves to the end
                merged[result.name] = result
            updated = conn.execute(
                f"UPDATE jobs SET results = ? WHERE {_BY_ID} RETURNING {_COLUMNS}",
                (codec.results_to_db(tuple(merged.values())), *_by_id(resource_id)),
            ).fetchone()
        return self._job(updated)

    def record(self, resource_id: str, changes: JobChanges) -> bool:
        assignments, values = _assignments(changes)
        if not values:
            return self.exists(resource_id)
        with self._connections.write(durable=False) as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET {assignments.lstrip(', ')} WHERE {_BY_ID}",
                (*values, *_by_id(resource_id)),
            )
            return cursor.rowcount == 1

    def record_results(self, resource_id: str, results: Sequence[Result]) -> bool:
        names = [result.name for result in results]
        if not names:
            return self.exists(resource_id)
        if len(set(names)) == len(names) <= _MAX_APPENDED:
            # New names are appended by SQLite's JSON functions, in C, without decoding
            # the results already there; a name already there takes the merging path.
            marks = ", ".join("?" * len(names))
            appends = ", ".join("'$[#]', json(?)" for _ in names)
            with self._connections.write(durable=False) as conn:
                replaces = conn.execute(
                    f"SELECT EXISTS (SELECT 1 FROM jobs, json_each(jobs.results) WHERE "
                    f"jobs.key = ? AND jobs.resource_id = ? "
                    f"AND json_extract(json_each.value, '$.name') IN ({marks}))",
                    (*_by_id(resource_id), *names),
                ).fetchone()[0]
                if not replaces:
                    cursor = conn.execute(
                        f"UPDATE jobs SET results = json_insert(results, {appends}) WHERE {_BY_ID}",
                        (*map(codec.result_to_db, results), *_by_id(resource_id)),
                    )
                    return cursor.rowcount == 1
        return self.add_results(resource_id, results) is not None

    def delete(self, resource_id: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(f"DELETE FROM jobs WHERE {_BY_ID}", _by_id(resource_id))
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
            columns=_COLUMNS, style="named", owner=owner, phases=phases, after=after, last=last
        )
        return [self._job(row) for row in self._connection().execute(sql, values)]

    def in_phases(self, phases: Collection[Phase]) -> Iterator[Job]:
        # The phases are written into the statement, not bound, and the partial index's
        # own condition repeated word for word: SQLite uses ``jobs_active`` only when the
        # query's WHERE visibly contains the index's.
        listed = ", ".join(f"'{Phase(p).value}'" for p in phases)
        where = f"phase IN ({listed})"
        if set(phases) <= _ACTIVE:
            where += f" AND {_ACTIVE_CONDITION}"
        rows = (
            self._connection()
            .execute(f"SELECT {_COLUMNS} FROM jobs WHERE {where} ORDER BY creation_time")
            .fetchall()
        )
        return (self._job(row) for row in rows)

    def exists(self, resource_id: str) -> bool:
        cursor = self._connection().execute(
            f"SELECT 1 FROM jobs WHERE {_BY_ID}", _by_id(resource_id)
        )
        return cursor.fetchone() is not None

    def count(self, *, owner: str | None = None) -> int:
        if owner is None:
            return int(self._connection().execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
        query = "SELECT COUNT(*) FROM jobs WHERE owner = ?"
        return int(self._connection().execute(query, (owner,)).fetchone()[0])

    def operator_state(self) -> OperatorState:
        return shared_sql.read_operator_state(self._connection().execute, "named")

    def operator_acted(
        self, *, hold: bool | None = None, by: str = "", now: datetime | None = None
    ) -> OperatorState:
        with self._write() as conn:
            return shared_sql.record_operator_action(
                conn.execute, "named", hold=hold, by=by, now=now
            )

    def count_by_contract_and_phase(self) -> dict[tuple[str, Phase], int]:
        rows = self._connection().execute(
            "SELECT contract, phase, COUNT(*) FROM jobs INDEXED BY jobs_by_contract_phase "
            "GROUP BY contract, phase"
        )
        return {(contract, Phase(phase)): int(n) for contract, phase, n in rows}

    def next_termination_time(self) -> datetime | None:
        row = self._connection().execute(shared_sql.NEXT_TERMINATION_TIME).fetchone()
        return codec.time_from_db(row["t"])

    def remember_nonce(self, digest: bytes, *, expires: datetime, now: datetime) -> bool:
        # Not waiting for the disk (WAL keeps the commit atomic, and a killed process
        # loses nothing): this runs for every authenticated request, not only for changes.
        with self._connections.write(durable=False) as conn:
            conn.execute("DELETE FROM nonces WHERE expires <= ?", (codec.time_to_db(now),))
            cursor = conn.execute(
                "INSERT INTO nonces (digest, expires) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (digest, codec.time_to_db(expires)),
            )
            return cursor.rowcount == 1

    def expired(self, now: datetime, *, limit: int) -> list[str]:
        rows = self._connection().execute(
            shared_sql.EXPIRED, {"now": codec.time_to_db(now), "limit": limit}
        )
        return [row["resource_id"] for row in rows]


_PLACEHOLDERS = ", ".join("?" * len(_COLUMNS.split(", ")))
_INSERT = f"INSERT INTO jobs ({_COLUMNS}) VALUES ({_PLACEHOLDERS})"
_BY_ID = "key = ? AND resource_id = ?"

#: Results appended by one json_insert call: two arguments each, and SQLite's functions
#: take at most 127 unless it was built with more.
_MAX_APPENDED = 60


def _by_id(resource_id: str) -> tuple[int, str]:
    return row_key(resource_id), resource_id


def _assignments(changes: JobChanges) -> tuple[str, list[Any]]:
    """``, col = ?`` fragments and their values for the fields ``changes`` sets."""
    assigned = changes.assigned()
    text = "".join(f", {name} = ?" for name in assigned)
    values = [codec.ENCODERS[name](value) for name, value in assigned.items()]
    return text, values
