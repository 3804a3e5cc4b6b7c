"""What a SQLite store's commits wait for, read from the statements SQLite runs.

A store writes with the calling thread's own connection; :func:`trace_statements`
records what that connection runs, and :func:`synchronous_at_commit` says under which
``PRAGMA synchronous`` its next commit ran (``synchronous=NORMAL``: no fsync).
"""

from __future__ import annotations

from wsrf_uws.store import SQLiteJobStore

#: What :func:`synchronous_at_commit` says of a commit that changed no mode: FULL, the default.
UNCHANGED = "PRAGMA synchronous (unchanged)"


def trace_statements(store: SQLiteJobStore) -> list[str]:
    """The statements the calling thread's connection of ``store`` runs from now on."""
    statements: list[str] = []
    store._connections.get().set_trace_callback(statements.append)
    return statements


def synchronous_at_commit(statements: list[str]) -> str:
    """The last ``PRAGMA synchronous`` before the first COMMIT in ``statements`` (or
    :data:`UNCHANGED`); the statements up to that commit are then forgotten."""
    commit = statements.index("COMMIT")
    modes = [s for s in statements[:commit] if s.startswith("PRAGMA synchronous")]
    del statements[: commit + 1]
    return modes[-1] if modes else UNCHANGED
