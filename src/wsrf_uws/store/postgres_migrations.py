"""The PostgreSQL schema and its history.

The schema version is the one row of ``wsrf_uws_schema``. Each entry of
:data:`MIGRATIONS` takes the schema from version ``n - 1`` to ``n``; a store is brought up
to date in one transaction when opened (PostgreSQL's DDL is transactional, so a failed
migration leaves nothing half done), and a store newer than this code is refused.

The tables live in the connection's ``search_path`` (the ``public`` schema unless the
database URL says otherwise), so several services can share one database in schemas of
their own.

Values are encoded as the SQLite store encodes them (:mod:`wsrf_uws.store.codec`): times
as integer microseconds since the epoch, structured values as JSON text. Text rather than
``jsonb`` because the store reads each value whole and decodes it in Python: ``jsonb``
would be parsed on every write and printed again on every read, would refuse a ``\\u0000``
that a contract's free-form state may hold, and would make the two stores' rows differ.
Where SQL must look inside the JSON (appending results), it casts to ``jsonb`` in the
statement. Identifiers and names are ``COLLATE "C"``: byte order, as in SQLite, whatever
the database's locale, and cheaper comparisons.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the jobs and the once-only values of authentication, as SQLite's 1-3 made them.
    # The resource id is the primary key: PostgreSQL keeps rows in a heap, so a lookup
    # by any key is one index descent and one heap fetch (no hashed key as in SQLite).
    [
        """
        CREATE TABLE jobs (
            resource_id        text COLLATE "C" PRIMARY KEY,
            contract           text COLLATE "C" NOT NULL,
            owner              text COLLATE "C" NOT NULL,
            phase              text COLLATE "C" NOT NULL,
            creation_time      bigint NOT NULL,
            start_time         bigint,
            end_time           bigint,
            termination_time   bigint,
            execution_duration integer NOT NULL,
            address            text NOT NULL,
            quote              text NOT NULL,
            progress           text NOT NULL,
            error              text,
            results            text NOT NULL,
            jdl_state          text NOT NULL,
            note               text,
            run_count          integer NOT NULL DEFAULT 0,
            jdl                bytea NOT NULL,
            description        bytea,
            isolated           boolean
        )
        """,
        "CREATE INDEX jobs_by_owner ON jobs (owner, creation_time)",
        # The reaper reads only this index: the earliest time, and what is due (with the
        # ids, so that no table page is read).
        """
        CREATE INDEX jobs_by_termination ON jobs (termination_time) INCLUDE (resource_id)
        WHERE termination_time IS NOT NULL
        """,
        # Restart recovery looks only at active jobs.
        "CREATE INDEX jobs_active ON jobs (phase) WHERE phase IN ('QUEUED', 'EXECUTING')",
        """
        CREATE TABLE nonces (
            digest  bytea PRIMARY KEY,
            expires bigint NOT NULL
        )
        """,
        "CREATE INDEX nonces_by_expiry ON nonces (expires)",
    ],
    # 2: the cluster (wsrf_uws.core.cluster, wsrf_uws.store.postgres_cluster): the node a
    # job runs on, the nodes and their heartbeats (the store's clock), and who leads.
    [
        'ALTER TABLE jobs ADD COLUMN node text COLLATE "C"',
        # A claim walks the owners that have queued jobs (one descent per owner) and
        # takes the oldest job of the one it chooses.
        """
        CREATE INDEX jobs_queued ON jobs (owner, creation_time, resource_id)
        WHERE phase = 'QUEUED'
        """,
        # ... counting each candidate owner's executing jobs across the cluster.
        "CREATE INDEX jobs_executing ON jobs (owner) WHERE phase = 'EXECUTING'",
        # A node's own jobs (its recovery, the sweep of a dead node, the status).
        "CREATE INDEX jobs_running_on ON jobs (node) WHERE phase = 'EXECUTING'",
        """
        CREATE TABLE nodes (
            name      text COLLATE "C" PRIMARY KEY,
            role      text NOT NULL,
            slots     integer NOT NULL,
            host      text NOT NULL,
            pid       integer NOT NULL,
            started   timestamptz NOT NULL,
            heartbeat timestamptz NOT NULL
        )
        """,
        # Who took the leadership last, for operators. The leadership itself is an
        # advisory lock: the row names the leader only while the backend it records
        # (backend_pid) still holds that lock.
        """
        CREATE TABLE cluster_leader (
            one         boolean PRIMARY KEY DEFAULT true CHECK (one),
            node        text COLLATE "C" NOT NULL,
            since       timestamptz NOT NULL,
            backend_pid integer NOT NULL
        )
        """,
    ],
    # 3: the jobs of each contract in each phase, counted from this index alone (the
    # service's /metrics: an index-only scan), not from the table's pages; and the
    # operators' state (the queue's hold, and a generation each `wsrf-uws admin` action
    # increases), one row.
    [
        "CREATE INDEX jobs_by_contract_phase ON jobs (contract, phase)",
        """
        CREATE TABLE operator_state (
            one        boolean PRIMARY KEY DEFAULT true CHECK (one),
            generation bigint NOT NULL,
            held_by    text,
            held_since bigint
        )
        """,
        "INSERT INTO operator_state (one, generation) VALUES (true, 0)",
    ],
    # 4: the client's label of a job (UWS 1.1 RUNID), NULL when it gave none (and in
    # every row recorded before). Free text, so no collation of its own.
    ["ALTER TABLE jobs ADD COLUMN run_id text"],
]

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)
