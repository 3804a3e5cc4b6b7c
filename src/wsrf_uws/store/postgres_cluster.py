"""The cluster half of the PostgreSQL store: :class:`~wsrf_uws.core.cluster.ClusterStore`.

:class:`PostgresCluster` is the base of :class:`~wsrf_uws.store.postgres.PostgresJobStore`
(which adds the connection pool, the schema and the :class:`JobStore` methods). Nodes
share only the database; the sessions of nodes are in
:mod:`wsrf_uws.store.postgres_session`.

**Claiming** (:meth:`PostgresCluster.claim`) is fair between owners and safe with any
number of nodes claiming at once:

1. One statement lists the owners that have QUEUED jobs (a skip scan of the index of
   queued jobs by owner: one descent per owner, however many jobs each has queued), each
   with its EXECUTING jobs across the cluster and its oldest queued job, fewest
   executing first, then oldest job first.
2. For each owner in that order, below its limit: one transaction takes the oldest of
   its queued jobs that no other claim has locked (``FOR UPDATE SKIP LOCKED``: claims
   never wait for each other's rows) and moves it to EXECUTING on the node. With a
   limit, the transaction first takes an advisory lock on the owner, and the move
   happens only if the owner's EXECUTING jobs, counted after that lock, are below it:
   claims of one owner queue on the lock, on every node, so two nodes can never push
   an owner over its limit. A transaction holds at most one such lock, and waits for
   nothing else while holding it, so claims cannot deadlock.

**Signals** are ``NOTIFY``\\ s on the schema's channel (:mod:`.postgres_names`), sent
through the pool; ``pg_notify`` inside a transaction is delivered at its commit, so a
node hearing :data:`~wsrf_uws.core.cluster.Signal.ENDED` finds the change it announces.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import DictRow
from psycopg_pool import ConnectionPool

from ..core.cluster import (
    ClusterSession,
    ClusterStatus,
    ClusterStore,
    NodeRecord,
    NodeRole,
    Signal,
)
from ..core.model import Job
from . import codec
from .postgres_names import SchemaNames, lock_columns
from .postgres_session import LinkOptions, PostgresClusterSession, encode_signal

_Connection = psycopg.Connection[DictRow]

#: How often a node heartbeats unless :meth:`PostgresCluster.join` is told otherwise.
DEFAULT_HEARTBEAT_INTERVAL = 1.0

_COLUMNS = ", ".join(codec.JOB_COLUMNS)

#: Owners with queued jobs, each with its EXECUTING jobs (cluster-wide) and its oldest
#: queued job; the recursive part skips from one owner to the next in the index.
_CANDIDATES = """
WITH RECURSIVE owners(owner) AS (
    (SELECT owner FROM jobs WHERE phase = 'QUEUED' AND contract <> ALL(%(exclude)s)
     ORDER BY owner LIMIT 1)
    UNION ALL
    SELECT (SELECT j.owner FROM jobs j WHERE j.phase = 'QUEUED' AND j.owner > o.owner
            AND j.contract <> ALL(%(exclude)s) ORDER BY j.owner LIMIT 1)
    FROM owners o WHERE o.owner IS NOT NULL
)
SELECT o.owner,
       (SELECT count(*) FROM jobs e WHERE e.phase = 'EXECUTING' AND e.owner = o.owner)
           AS running,
       (SELECT min(q.creation_time) FROM jobs q WHERE q.phase = 'QUEUED' AND q.owner = o.owner
        AND q.contract <> ALL(%(exclude)s)) AS oldest
FROM owners o WHERE o.owner IS NOT NULL
ORDER BY running, oldest, o.owner
"""

# The column names are the codec's; every value is bound.
_CLAIM = f"""
UPDATE jobs SET phase = 'EXECUTING', node = %(node)s, start_time = %(start)s,
    end_time = NULL, run_count = run_count + 1
WHERE phase = 'QUEUED' AND resource_id = (
    SELECT resource_id FROM jobs WHERE phase = 'QUEUED' AND owner = %(owner)s
    AND contract <> ALL(%(exclude)s)
    ORDER BY creation_time, resource_id LIMIT 1 FOR UPDATE SKIP LOCKED)
{{limit}}
RETURNING {_COLUMNS}
"""  # noqa: S608
_CLAIM_ANY = _CLAIM.format(limit="")
_CLAIM_BELOW_LIMIT = _CLAIM.format(
    limit="AND (SELECT count(*) FROM jobs WHERE phase = 'EXECUTING' AND owner = %(owner)s) "
    "< %(limit)s"
)


class PostgresCluster(ClusterStore):
    """The :class:`ClusterStore` methods of the PostgreSQL store (see the module)."""

    # Provided by PostgresJobStore.
    url: str
    _pool: ConnectionPool[_Connection]
    _names: SchemaNames

    @abstractmethod
    def _job(self, row: DictRow) -> Job:
        """The job of a full row (its decoded form kept for later reads)."""

    # -- sessions and signals --------------------------------------------------------

    def join(
        self,
        node: str,
        *,
        role: NodeRole,
        slots: int,
        on_signal: Callable[[Signal, str], None],
        on_link: Callable[[bool], None] | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    ) -> ClusterSession:
        """See :meth:`ClusterStore.join`. ``heartbeat_interval`` (seconds) bounds each
        attempt of the session: connecting, and each statement, take about that long at
        most (at least a second; two for a connection)."""
        if not node:
            raise ValueError("a node needs a name")
        return PostgresClusterSession(
            options=LinkOptions(url=self.url, heartbeat_interval=heartbeat_interval),
            names=self._names,
            node=node,
            role=role,
            slots=slots,
            on_signal=on_signal,
            on_link=on_link,
            send=self.send,
        )

    def send(self, signal: Signal, payload: str = "") -> None:
        """Send ``signal`` to every node of the cluster (what sessions send with)."""
        with self._pool.connection() as conn:
            conn.execute(
                "SELECT pg_notify(%s, %s)", (self._names.channel, encode_signal(signal, payload))
            )

    # -- jobs on nodes ---------------------------------------------------------------

    def claim(
        self,
        node: str,
        *,
        now: datetime,
        max_running: Callable[[str], int] | None = None,
        exclude: Collection[str] = (),
    ) -> Job | None:
        excluded = sorted(exclude)
        with self._pool.connection() as conn:
            candidates = conn.execute(_CANDIDATES, {"exclude": excluded}).fetchall()
        start = codec.time_to_db(now)
        for candidate in candidates:
            owner = candidate["owner"]
            values: dict[str, Any] = {
                "node": node,
                "start": start,
                "owner": owner,
                "exclude": excluded,
            }
            if max_running is None:
                with self._pool.connection() as conn:
                    row = conn.execute(_CLAIM_ANY, values).fetchone()
            else:
                values["limit"] = limit = max_running(owner)
                if candidate["running"] >= limit:
                    continue  # and if it is below now, the next claim sees it
                with self._pool.connection() as conn, conn.transaction():
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(%s)", (self._names.claim_lock(owner),)
                    )
                    # A statement of its own after the lock: in READ COMMITTED, it sees
                    # every claim for this owner that committed before it got the lock.
                    row = conn.execute(_CLAIM_BELOW_LIMIT, values).fetchone()
            if row is not None:
                return self._job(row)
        return None

    def queued_jobs(self, contracts: Collection[str], *, node: str | None = None) -> list[Job]:
        on_node = "node IS NULL" if node is None else "node = %(node)s"
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE phase = 'QUEUED' AND {on_node} "  # noqa: S608
                "AND contract = ANY(%(contracts)s) ORDER BY creation_time, resource_id",
                {"node": node, "contracts": sorted(contracts)},
            ).fetchall()
        return [self._job(row) for row in rows]

    def take_queued(self, resource_id: str, *, node: str) -> bool:
        with self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE jobs SET node = %s WHERE resource_id = %s AND phase = 'QUEUED' "
                "AND node IS NULL RETURNING resource_id",
                (node, resource_id),
            ).fetchone()
        return row is not None

    def running_on(self, node: str) -> list[Job]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE phase = 'EXECUTING' AND node = %s "  # noqa: S608
                "ORDER BY creation_time, resource_id",
                (node,),
            ).fetchall()
        return [self._job(row) for row in rows]

    def run_ended(self, resource_id: str, *, node: str) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "UPDATE jobs SET node = NULL WHERE resource_id = %s AND node = %s "
                "RETURNING resource_id",
                (resource_id, node),
            ).fetchone()
            if row is None:
                return False
            # Delivered when this transaction commits, with the change it announces.
            conn.execute(
                "SELECT pg_notify(%s, %s)",
                (self._names.channel, encode_signal(Signal.ENDED, resource_id)),
            )
        return True

    # -- nodes -----------------------------------------------------------------------

    def dead_nodes(self, *, ttl: float) -> list[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT name FROM nodes WHERE heartbeat < now() - make_interval(secs => %s) "
                "ORDER BY name",
                (ttl,),
            ).fetchall()
        return [row["name"] for row in rows]

    def seconds_until_silent(self, *, ttl: float) -> float | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM min(heartbeat) + make_interval(secs => %s) - now()) "
                "AS seconds FROM nodes WHERE heartbeat >= now() - make_interval(secs => %s)",
                (ttl, ttl),
            ).fetchone()
        assert row is not None
        return None if row["seconds"] is None else max(0.0, float(row["seconds"]))

    def forget_node(self, node: str, *, ttl: float) -> bool:
        with self._pool.connection() as conn:
            cursor = conn.execute(
                "DELETE FROM nodes WHERE name = %s "
                "AND heartbeat < now() - make_interval(secs => %s) AND NOT EXISTS "
                "(SELECT FROM jobs WHERE phase = 'EXECUTING' AND node = %s)",
                (node, ttl, node),
            )
            return cursor.rowcount == 1

    def status(self) -> ClusterStatus:
        classid, objid = lock_columns(self._names.leader_lock)
        with self._pool.connection() as conn, conn.transaction():
            # One snapshot for the whole picture: a job moving from QUEUED to EXECUTING
            # between two statements is counted once.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            nodes = conn.execute(
                "SELECT name, role, slots, host, pid, started, heartbeat, "
                "extract(epoch FROM now() - heartbeat) AS silent_for FROM nodes ORDER BY name"
            ).fetchall()
            leader = conn.execute(
                "SELECT l.node, l.since FROM cluster_leader l WHERE EXISTS (SELECT FROM pg_locks k "
                "WHERE k.locktype = 'advisory' AND k.granted AND k.pid = l.backend_pid "
                "AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND k.classid = %s::bigint::oid AND k.objid = %s::bigint::oid AND k.objsubid = 1)",
                (classid, objid),
            ).fetchone()
            counts = conn.execute(
                "SELECT coalesce(node, '') AS node, phase, count(*) AS n FROM jobs "
                "WHERE phase IN ('QUEUED', 'EXECUTING') GROUP BY node, phase"
            ).fetchall()
        executing = {
            row["node"]: int(row["n"])
            for row in counts
            if row["phase"] == "EXECUTING" and row["node"]
        }
        return ClusterStatus(
            nodes=[
                NodeRecord(
                    name=row["name"],
                    role=NodeRole(row["role"]),
                    slots=row["slots"],
                    host=row["host"],
                    pid=row["pid"],
                    started=row["started"].astimezone(UTC),
                    heartbeat=row["heartbeat"].astimezone(UTC),
                    silent_for=max(0.0, float(row["silent_for"])),
                )
                for row in nodes
            ],
            leader=None if leader is None else leader["node"],
            leader_since=None if leader is None else leader["since"].astimezone(UTC),
            queued=sum(int(row["n"]) for row in counts if row["phase"] == "QUEUED"),
            executing=executing,
        )
