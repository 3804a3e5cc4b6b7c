"""The SQLite schema and its history.

The schema version is SQLite's ``user_version``. Each entry of :data:`MIGRATIONS`
takes the schema from version ``n - 1`` to ``n``; a store is brought up to date in
one transaction when opened, and a store newer than this code is refused.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the jobs table. Times are integer microseconds since the epoch (UTC); JSON in
    # text columns; the JDL last, so reading the other columns never touches its pages.
    # The primary key is 63 bits of a hash of the resource id: a rowid lookup is one
    # B-tree descent, where a text key would be two (its index, then the table), and
    # read latency then barely grows with the number of resources (bench/store_bench.py).
    [
        """
        CREATE TABLE jobs (
            key                INTEGER PRIMARY KEY,
            resource_id        TEXT NOT NULL,
            contract           TEXT NOT NULL,
            owner              TEXT NOT NULL,
            phase              TEXT NOT NULL,
            creation_time      INTEGER NOT NULL,
            start_time         INTEGER,
            end_time           INTEGER,
            termination_time   INTEGER,
            execution_duration INTEGER NOT NULL,
            address            TEXT NOT NULL,
            quote              TEXT NOT NULL,
            progress           TEXT NOT NULL,
            error              TEXT,
            results            TEXT NOT NULL,
            jdl_state          TEXT NOT NULL,
            note               TEXT,
            run_count          INTEGER NOT NULL DEFAULT 0,
            jdl                BLOB NOT NULL
        )
        """,
        "CREATE INDEX jobs_by_owner ON jobs (owner, creation_time)",
        # The reaper reads only this index: the earliest time, and what is due.
        """
        CREATE INDEX jobs_by_termination ON jobs (termination_time)
        WHERE termination_time IS NOT NULL
        """,
        # Restart recovery looks only at active jobs.
        "CREATE INDEX jobs_active ON jobs (phase) WHERE phase IN ('QUEUED', 'EXECUTING')",
    ],
    # 2: once-only values of authentication (digests of WS-Security nonces), each until
    # its expiry, so a replay is refused across restarts. The digest is the key: a
    # second insert of one value fails on it, whichever thread or process tries.
    [
        """
        CREATE TABLE nonces (
            digest  BLOB PRIMARY KEY,
            expires INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX nonces_by_expiry ON nonces (expires)",
    ],
    # 3: what the contract read from the JDL at createJob (pickled), so the worker and
    # restart recovery never read it again, and whether the job is isolated. NULL in rows
    # recorded before: those jobs are read from their JDL as they were.
    [
        "ALTER TABLE jobs ADD COLUMN description BLOB",
        "ALTER TABLE jobs ADD COLUMN isolated INTEGER",
    ],
    # 4: the cluster node a job is recorded as running on. SQLite runs no cluster, so it
    # stays NULL unless a change sets it; the column keeps the two stores' rows alike.
    ["ALTER TABLE jobs ADD COLUMN node TEXT"],
    # 5: the jobs of each contract in each phase, counted from this index alone (the
    # service's /metrics), not from the table's pages; and the operators' state (the
    # queue's hold, and a generation each `wsrf-uws admin` action increases), one row.
    [
        "CREATE INDEX jobs_by_contract_phase ON jobs (contract, phase)",
        """
        CREATE TABLE operator_state (
            one        INTEGER PRIMARY KEY CHECK (one = 1),
            generation INTEGER NOT NULL,
            held_by    TEXT,
            held_since INTEGER
        )
        """,
        "INSERT INTO operator_state (one, generation) VALUES (1, 0)",
    ],
    # 6: the client's label of a job (UWS 1.1 RUNID), NULL when it gave none (and in
    # every row recorded before).
    ["ALTER TABLE jobs ADD COLUMN run_id TEXT"],
]

#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)
