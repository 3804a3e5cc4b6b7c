"""A node's session with a PostgreSQL store: its name, its leadership, its signals.

A session rests on a *link*: two dedicated connections, outside the store's pool.

* The **session connection** holds the node's name and, once won, the leadership, as
  session-level advisory locks: PostgreSQL releases them when that connection ends,
  however its process ends (``kill -9`` included), so a successor never waits for a
  dead holder. Heartbeats go through it, so a heartbeat that succeeds proves the locks
  are still held.
* The **listening connection** ``LISTEN``\\ s on the schema's channel; a thread of the
  session waits on it and hands each notification, in the order received, to
  ``on_signal``. A connection of its own because psycopg's ``notifies()`` holds its
  connection while it waits: on one shared connection a heartbeat would wait for the
  listener (or starve), and a slow ``on_signal`` would delay the heartbeats.

Both are in autocommit mode, with TCP keepalives and ``tcp_user_timeout`` (a network
that goes silent is noticed) and a ``statement_timeout`` of about a heartbeat interval:
each heartbeat, each attempt to connect again, returns or fails within a bounded time.

When either connection fails, the link is dropped whole: ``on_link(False)`` is called
once, :meth:`PostgresClusterSession.heartbeat` raises
:class:`~wsrf_uws.core.cluster.ClusterLinkLostError`, and each later heartbeat tries to
open a new link under the same name (``on_link(True)`` when it did).
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from ..core.cluster import (
    ClusterLinkLostError,
    ClusterSession,
    NodeNameTakenError,
    NodeRole,
    Signal,
)
from ..core.ports import StoreError
from .postgres_names import SchemaNames, lock_columns

log = logging.getLogger(__name__)

_Connection = psycopg.Connection[DictRow]

#: The separator of a notification's payload: ``<signal>:<payload>``.
_SEPARATOR = ":"


def encode_signal(signal: Signal, payload: str) -> str:
    """The notification payload that carries ``signal`` and its ``payload``."""
    return f"{signal.value}{_SEPARATOR}{payload}"


def decode_signal(text: str) -> tuple[Signal, str] | None:
    """Inverse of :func:`encode_signal`; None for a signal this version does not know."""
    kind, _, payload = text.partition(_SEPARATOR)
    try:
        return Signal(kind), payload
    except ValueError:
        return None


@dataclass(frozen=True)
class LinkOptions:
    """How the session's connections are opened and bounded."""

    url: str
    #: The interval at which the node heartbeats, in seconds: the bound of each attempt.
    heartbeat_interval: float

    @property
    def statement_timeout_ms(self) -> int:
        """No statement on the session's connections runs longer (at least a second, so
        that a loaded server is not taken for a lost one)."""
        return int(max(self.heartbeat_interval, 1.0) * 1000)

    def connect(self, application_name: str) -> _Connection:
        """A new dedicated connection in autocommit mode, bounded as described above,
        called ``application_name`` (what ``pg_stat_activity`` shows operators)."""
        seconds = max(self.heartbeat_interval, 1.0)
        conn = psycopg.connect(
            self.url,
            autocommit=True,
            row_factory=dict_row,
            application_name=application_name[:63],
            # libpq counts whole seconds, and takes less than 2 as 2.
            connect_timeout=max(2, math.ceil(seconds)),
            keepalives=1,
            keepalives_idle=max(1, math.ceil(seconds)),
            keepalives_interval=1,
            keepalives_count=3,
            tcp_user_timeout=int(2 * seconds * 1000),
        )
        try:
            # A SET takes no parameters; set_config does. The URL's own options (the
            # schema's search_path) are left as they are.
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false)",
                (str(self.statement_timeout_ms),),
            )
            # The server's side of the same bound: PostgreSQL releases this node's name
            # and leadership only once its backend notices the connection is gone, by
            # default (the system's keepalive) two hours after a machine vanishes. Unix
            # sockets ignore these.
            for name, value in (
                ("tcp_keepalives_idle", max(1, math.ceil(seconds))),
                ("tcp_keepalives_interval", 1),
                ("tcp_keepalives_count", 3),
                ("tcp_user_timeout", int(2 * seconds * 1000)),
            ):
                conn.execute("SELECT set_config(%s, %s, false)", (name, str(value)))
        except BaseException:
            conn.close()
            raise
        return conn


@dataclass
class _Link:
    """The two connections of a live link and the thread listening on the second."""

    session: _Connection
    listener: _Connection
    #: The channel only this link listens on, to wake its thread when the link is dropped.
    wake: str
    thread: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    #: Set by the thread when the listening connection failed.
    broken: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        """Ask the thread to stop (it closes the listening connection), and close the
        session connection, which releases the locks."""
        self.stopping.set()
        # If this fails, the thread notices on its own: its connection failed too, or
        # its wait times out.
        with suppress(psycopg.Error):
            self.session.execute("SELECT pg_notify(%s, '')", (self.wake,))
        self.session.close()


class PostgresClusterSession(ClusterSession):
    """A node's membership of the cluster of a PostgreSQL store (see the module's
    documentation). Opened by :meth:`~wsrf_uws.store.postgres.PostgresJobStore.join`."""

    def __init__(
        self,
        *,
        options: LinkOptions,
        names: SchemaNames,
        node: str,
        role: NodeRole,
        slots: int,
        on_signal: Callable[[Signal, str], None],
        on_link: Callable[[bool], None] | None,
        send: Callable[[Signal, str], None],
    ) -> None:
        self._options = options
        self._names = names
        self._node = node
        self._role = role
        self._slots = slots
        self._on_signal = on_signal
        self._on_link = on_link
        self._send = send
        self._host = socket.gethostname()
        #: Serializes heartbeat, try_lead and close (signals arrive on the link's thread).
        self._lock = threading.Lock()
        self._leading = False
        self._closed = False
        #: The first link's start by the store's clock: the node's ``started``.
        self._started: datetime | None = None
        #: The session connection's backend of the last link, ``(pid, backend_start)``,
        #: so that a new link can tell it from another process when it finds the name held.
        self._former: tuple[int, datetime] | None = None
        try:
            self._link: _Link | None = self._open()
        except psycopg.Error as exc:
            raise StoreError(f"cannot join the cluster as {node!r}: {exc}") from exc

    # -- ClusterSession --------------------------------------------------------------

    @property
    def node(self) -> str:
        return self._node

    @property
    def leading(self) -> bool:
        return self._leading

    def heartbeat(self) -> None:
        with self._lock:
            self._check_open()
            link = self._link
            if link is None:
                self._link = self._reopen()
            else:
                try:
                    self._beat(link)
                    return
                except (psycopg.Error, _ListenerLost) as exc:
                    self._drop()
                    failure: BaseException = exc
        if link is None:
            self._tell_link(True)
            return
        self._tell_link(False)
        raise ClusterLinkLostError(
            f"node {self._node!r} lost its session with the store: {failure}"
        ) from failure

    def try_lead(self) -> bool:
        with self._lock:
            self._check_open()
            link = self._link
            if link is None:
                return False
            try:
                if self._leading:
                    # The lock lives as long as the connection: prove it still does.
                    link.session.execute("SELECT 1")
                else:
                    self._leading = self._take_leadership(link)
            except psycopg.Error as exc:
                log.warning("node %s lost its session with the store: %s", self._node, exc)
                self._drop()
                lost = True
            else:
                lost = False
        if lost:
            self._tell_link(False)
            return False
        return self._leading

    def send(self, signal: Signal, payload: str = "") -> None:
        self._send(signal, payload)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            link, self._link = self._link, None
            self._leading = False
            if link is not None:
                link.stop()
        thread = None if link is None else link.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2 * self._options.heartbeat_interval + 1)

    # -- the link --------------------------------------------------------------------

    def _open(self) -> _Link:
        """A new link: the name's lock taken, the node recorded, the listener started.

        Raises :class:`NodeNameTakenError` (and changes nothing) if another process
        holds the name, or a psycopg error if the store cannot be reached.
        """
        session = self._options.connect(f"wsrf-uws node {self._node}")
        listener: _Connection | None = None
        try:
            backend = self._take_name(session)
            listener = self._options.connect(f"wsrf-uws node {self._node} (signals)")
            wake = f"{self._names.channel}_{secrets.token_hex(4)}"
            for channel in (self._names.channel, wake):
                listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._record(session)
            link = _Link(session=session, listener=listener, wake=wake)
        except BaseException:
            session.close()
            if listener is not None:
                listener.close()
            raise
        link.thread = threading.Thread(
            target=self._listen, args=(link,), name=f"cluster-signals-{self._node}", daemon=True
        )
        link.thread.start()
        self._former = backend
        return link

    def _take_name(self, session: _Connection) -> tuple[int, datetime]:
        key = self._names.node_lock(self._node)
        row = session.execute(_TAKE_NAME, (key,)).fetchone()
        assert row is not None
        if not row["taken"] and self._former is not None and self._end_former(session, key):
            row = session.execute(_TAKE_NAME, (key,)).fetchone()
            assert row is not None
        if not row["taken"]:
            raise NodeNameTakenError(self._node)
        return int(row["pid"]), row["backend_start"]

    def _end_former(self, session: _Connection, key: int) -> bool:
        """End this session's former backend if it is what still holds the name (its
        connection was dropped by this side, and the server has not noticed yet)."""
        assert self._former is not None
        pid, started = self._former
        classid, objid = lock_columns(key)
        row = session.execute(
            "SELECT pg_terminate_backend(l.pid, %s) AS ended FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid "
            "AND l.pid = %s AND a.backend_start = %s",
            (self._options.statement_timeout_ms // 2, classid, objid, pid, started),
        ).fetchone()
        return row is not None and bool(row["ended"])

    def _record(self, session: _Connection) -> None:
        """Record the node (again, if the leader forgot it meanwhile), heartbeat now."""
        row = session.execute(
            "INSERT INTO nodes (name, role, slots, host, pid, started, heartbeat) "
            "VALUES (%s, %s, %s, %s, %s, coalesce(%s, now()), now()) "
            "ON CONFLICT (name) DO UPDATE SET role = excluded.role, slots = excluded.slots, "
            "host = excluded.host, pid = excluded.pid, started = excluded.started, "
            "heartbeat = excluded.heartbeat RETURNING started",
            (self._node, self._role.value, self._slots, self._host, os.getpid(), self._started),
        ).fetchone()
        assert row is not None
        self._started = row["started"]

    def _beat(self, link: _Link) -> None:
        if link.broken.is_set():
            raise _ListenerLost("its listening connection failed")
        cursor = link.session.execute(
            "UPDATE nodes SET heartbeat = now() WHERE name = %s", (self._node,)
        )
        if cursor.rowcount == 0:
            # The leader forgot this node while it was silent (a paused process).
            self._record(link.session)

    def _take_leadership(self, link: _Link) -> bool:
        row = link.session.execute(
            "SELECT pg_try_advisory_lock(%s) AS taken", (self._names.leader_lock,)
        ).fetchone()
        assert row is not None
        if not row["taken"]:
            return False
        link.session.execute(
            "INSERT INTO cluster_leader (one, node, since, backend_pid) "
            "VALUES (true, %s, now(), pg_backend_pid()) ON CONFLICT (one) DO UPDATE "
            "SET node = excluded.node, since = excluded.since, backend_pid = excluded.backend_pid",
            (self._node,),
        )
        log.info("node %s leads the cluster", self._node)
        return True

    def _reopen(self) -> _Link:
        try:
            link = self._open()
        except psycopg.Error as exc:
            raise ClusterLinkLostError(
                f"node {self._node!r} cannot reach the store again: {exc}"
            ) from exc
        log.info("node %s has a session with the store again", self._node)
        return link

    def _drop(self) -> None:
        """Forget the link (its locks go with its session connection)."""
        link, self._link = self._link, None
        self._leading = False
        if link is not None:
            link.stop()

    def _tell_link(self, up: bool) -> None:
        if self._on_link is None:
            return
        try:
            self._on_link(up)
        except Exception:
            log.exception("on_link(%s) of node %s failed", up, self._node)

    def _check_open(self) -> None:
        if self._closed:
            raise ClusterLinkLostError(f"the session of node {self._node!r} is closed")

    # -- the listening thread --------------------------------------------------------

    def _listen(self, link: _Link) -> None:
        timeout = max(self._options.heartbeat_interval, 1.0)
        try:
            while not link.stopping.is_set():
                for notify in link.listener.notifies(timeout=timeout):
                    if link.stopping.is_set():
                        return
                    if notify.channel == self._names.channel:
                        self._deliver(notify.payload)
        except psycopg.Error as exc:
            if not link.stopping.is_set():
                log.warning("node %s stopped hearing signals: %s", self._node, exc)
                link.broken.set()
        finally:
            link.listener.close()

    def _deliver(self, text: str) -> None:
        decoded = decode_signal(text)
        if decoded is None:
            log.debug("node %s ignores an unknown signal %r", self._node, text)
            return
        try:
            self._on_signal(*decoded)
        except Exception:
            log.exception("node %s failed to handle the signal %r", self._node, text)


class _ListenerLost(Exception):
    """The listening connection of a link failed."""


_TAKE_NAME = (
    "SELECT pg_try_advisory_lock(%s) AS taken, pg_backend_pid() AS pid, "
    "(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS backend_start"
)
