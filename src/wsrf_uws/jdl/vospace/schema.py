"""The tables of the space store, in one SQLite file (see :mod:`.store`).

``spaces`` holds each space's owner, quota and accounts; ``nodes`` every node (a
space's own container has ``parent_id`` 0); ``properties`` the clients' properties;
``uploads`` the uploads under way with the quota they hold; ``transfers`` the
negotiated transfers, whose ids are the tokens of their data URLs.

Version 2 adds the index that counts an owner's live transfers (each owner may hold a
bounded number of them); a version-1 file gains it when opened.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2
STATEMENTS = (
    """CREATE TABLE spaces (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        node_id INTEGER NOT NULL,
        folder TEXT NOT NULL UNIQUE,
        quota_bytes INTEGER NOT NULL CHECK (quota_bytes >= 0),
        used_bytes INTEGER NOT NULL DEFAULT 0,
        reserved_bytes INTEGER NOT NULL DEFAULT 0,
        node_count INTEGER NOT NULL DEFAULT 1,
        expires TEXT,
        created TEXT NOT NULL
    )""",
    # parent_id 0: the container of a space (its name is the space's name).
    """CREATE TABLE nodes (
        id INTEGER PRIMARY KEY,
        parent_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        space TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('container', 'data', 'link')),
        xsi_type TEXT NOT NULL,
        created TEXT NOT NULL,
        modified TEXT NOT NULL,
        length INTEGER,
        md5 TEXT,
        blob TEXT,
        target TEXT,
        UNIQUE (parent_id, name)
    )""",
    "CREATE INDEX nodes_space ON nodes (space)",
    """CREATE TABLE properties (
        node_id INTEGER NOT NULL,
        uri TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (node_id, uri)
    ) WITHOUT ROWID""",
    """CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        space TEXT NOT NULL,
        node_id INTEGER NOT NULL UNIQUE,
        reserved INTEGER NOT NULL,
        temp TEXT NOT NULL,
        started TEXT NOT NULL,
        touched TEXT NOT NULL
    )""",
    "CREATE INDEX uploads_space ON uploads (space)",
    """CREATE TABLE transfers (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        space TEXT,
        direction TEXT NOT NULL,
        target TEXT NOT NULL,
        path TEXT,
        node_id INTEGER,
        view TEXT,
        protocols TEXT NOT NULL,
        phase TEXT NOT NULL,
        error TEXT,
        created TEXT NOT NULL,
        expires TEXT NOT NULL
    )""",
    "CREATE INDEX transfers_expires ON transfers (expires)",
    "CREATE INDEX transfers_space ON transfers (space)",
    # Version 2: counting an owner's live transfers.
    "CREATE INDEX transfers_owner ON transfers (owner, expires)",
)
#: What takes a file of each earlier version to the next.
UPGRADES = {1: ("CREATE INDEX IF NOT EXISTS transfers_owner ON transfers (owner, expires)",)}


def migrate(conn: sqlite3.Connection, *, name: str) -> None:
    """Create the tables in an empty file, upgrade a file of an earlier version, refuse
    one of a newer version (``name`` says which file, for the message). Runs inside the
    caller's write transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{name} has schema version {version}; this wsrf-uws knows only up to {SCHEMA_VERSION}"
        )
    if version == 0:
        for statement in STATEMENTS:
            conn.execute(statement)
    else:
        for step in range(version, SCHEMA_VERSION):
            for statement in UPGRADES[step]:
                conn.execute(statement)
    if version != SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
