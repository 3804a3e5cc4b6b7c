"""A throw-away PostgreSQL cluster for tests and benchmarks, run from the installed server
binaries (the suite's fixtures in ``tests/conftest.py``, ``bench/store_bench.py``).

Debian's ``postgresql-15`` keeps ``initdb`` and ``pg_ctl`` in ``/usr/lib/postgresql/15/bin``,
off PATH. ``initdb`` refuses to run as root (as CI does), so as root the cluster belongs
to the ``postgres`` user: its folder is made under the system's temporary folder (pytest's
own is private to root) and handed over. The server listens on a Unix socket in that
folder only, trusts every local connection, and does not wait for the disk: the tests
need a real server, not a durable one.

:func:`end_node_sessions` ends a cluster node's sessions with such a server, as the
node's death would, for the tests of what the other nodes do then.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote


def server_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (the newest installed), or None."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


class Cluster:
    """A PostgreSQL server in a temporary folder; :meth:`stop` removes everything."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="wsrf-uws-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.user = "postgres" if self.as_root else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, program: str, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        command = [*prefix, str(self.binaries / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}{log}")

    def start(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", self.user, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        options = (
            f"-k {self.root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        """The URL of the cluster's ``postgres`` database."""
        return f"postgresql://{self.user}@/postgres?host={quote(str(self.root), safe='/')}"

    def new_schema(self) -> str:
        """The URL of a new, empty schema of its own (the tables go in it)."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url}&options=-csearch_path%3D{name}"


def end_node_sessions(url: str, node: str, *, store: bool = True, signals: bool = True) -> int:
    """End the sessions of node ``node`` of the store at ``url``; returns how many ended.

    The server drops what the sessions held (the node's name lock, the leader lock, its
    ``LISTEN``), exactly as it would if ``kill -9`` ended the node's process: that is how
    the cluster tests make a node die, or lose its link, without killing the test's own
    process. ``store`` is the session that holds the node's name lock, ``signals`` the
    one that listens for the store's signals (see :mod:`wsrf_uws.store.postgres_session`).

    ``url`` is the store's own URL (its schema): only that store's node is touched, not a
    node of the same name in another schema of the server, as another test's cluster may
    run at the same time. Raises :class:`RuntimeError` if a session outlives the 10 s the
    server is given to end it.
    """
    import psycopg

    from ..store.postgres_names import SchemaNames, lock_columns

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        assert row is not None
        names = SchemaNames(row[0])
        classid, objid = lock_columns(names.node_lock(node))
        rows = conn.execute(
            "SELECT pg_terminate_backend(a.pid, 10000) FROM pg_stat_activity a "
            # The store session: the one holding the node's name lock in this schema.
            "WHERE (%(store)s AND a.application_name = %(store_name)s AND EXISTS ("
            "  SELECT FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' "
            "  AND l.granted AND l.objsubid = 1 "
            "  AND l.classid = %(classid)s::bigint::oid AND l.objid = %(objid)s::bigint::oid)) "
            # The listener: its last statement is LISTEN on its wake-up channel, which
            # is named after the schema's channel (it runs no statement after that).
            "OR (%(signals)s AND a.application_name = %(signals_name)s "
            "  AND starts_with(a.query, %(listen)s))",
            {
                "store": store,
                "store_name": f"wsrf-uws node {node}",
                "classid": classid,
                "objid": objid,
                "signals": signals,
                "signals_name": f"wsrf-uws node {node} (signals)",
                "listen": f'LISTEN "{names.channel}_',
            },
        ).fetchall()
    if not all(ended for (ended,) in rows):
        raise RuntimeError(f"a session of node {node} outlived the 10 s it was given to end")
    return len(rows)
