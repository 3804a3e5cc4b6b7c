"""SQLite connections for a database used from many threads (and perhaps a forked child).

Shared by the job store (:mod:`wsrf_uws.store.sqlite`) and any contract that keeps a
database of its own.

sqlite3 connections must not be shared between threads that use them at once, and a
forked child must not touch its parent's. :class:`ThreadConnections` gives each thread
its own connection to one file, opened in autocommit mode (the stores issue ``BEGIN``
themselves) with WAL and the store's durability, and closes them all together.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal


class ThreadConnections:
    """One WAL connection per thread to ``path``; ``pragmas`` run on each new one."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["full", "normal"] = "full",
        pragmas: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> None:
        if synchronous not in ("full", "normal"):
            raise ValueError(f"synchronous must be 'full' or 'normal', not {synchronous!r}")
        self.path = Path(path)
        #: ``FULL`` or ``NORMAL``, as PRAGMA synchronous takes it.
        self.synchronous = synchronous.upper()
        self._pragmas = tuple(pragmas)
        self._timeout = timeout
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def get(self) -> sqlite3.Connection:
        """The calling thread's connection, opened on first use."""
        if self._pid != os.getpid():
            # A forked child must not use its parent's connections: start afresh.
            self._pid = os.getpid()
            self._local = threading.local()
            with self._lock:
                self._opened = []
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Each connection is used by its own thread only; close() may run elsewhere.
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=self._timeout, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            for pragma in self._pragmas:
                conn.execute(f"PRAGMA {pragma}")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """An immediate write transaction on the calling thread's connection.

        ``durable=False`` skips the fsync at commit for this transaction (WAL keeps it
        atomic: after a crash it is there entirely or not at all).
        """
        conn = self.get()
        if not durable:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # After a failed COMMIT (disk full, say) the transaction is still open:
                # end it, or every later BEGIN on this thread's connection would fail.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            if not durable:
                conn.execute(f"PRAGMA synchronous={self.synchronous}")

    def close(self) -> None:
        """Close every connection opened so far (from any thread)."""
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._local = threading.local()
