"""The space store: node metadata in one SQLite file, data in files the store names itself.

Layout under ``root``::

    vospace.sqlite          spaces, nodes, properties, uploads under way, transfers
    blobs/{folder}/{blob}   one file per data node's bytes; {folder} is per space

Neither ``folder`` nor ``blob`` is ever derived from a node name (both are random hex),
so no client-chosen name reaches the file system and no path can leave ``root``.

Concurrency. Each thread has its own connection; SQLite in WAL mode lets readers run
while one writer commits, and every change runs in a ``BEGIN IMMEDIATE`` transaction,
so two processes (the service answering REST calls, a worker creating spaces) share
the file safely.

Quota. A space keeps ``used_bytes`` (data committed) and ``reserved_bytes`` (held by
uploads under way). An upload reserves, in a transaction, what it may add beyond the
length of the data it replaces: all of it up front when the length is known, in steps
while it streams when not. A reservation that does not fit fails at once, so two
uploads racing for the last bytes cannot both pass; an upload that fails or is refused
releases its reservation and deletes its partial file, so ``quota - used - reserved``
is exact whenever nothing is under way. Committing an upload moves the file into place,
then in one transaction swaps the node's data, adjusts ``used_bytes`` by the difference
and releases the reservation.

Time comes from the clock: a space whose expiry has passed answers as gone (the lead's
reaper deletes it later with :meth:`SpaceStore.delete_space`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal

from ...core.clock import Clock
from ...core.model import ANONYMOUS
from ...core.sqlite_connections import ThreadConnections
from ...wire.times import as_utc
from .errors import (
    ContainerNotFound,
    DuplicateNode,
    InvalidArgument,
    LinkFound,
    NodeBusy,
    NodeNotFound,
    QuotaBelowUsageError,
    QuotaExceeded,
    SpaceConflictError,
    SpaceNotFoundError,
    TooManyTransfers,
    VOSpaceFault,
)
from .names import NodePath, ServiceIdentity, check_name, format_path
from .nodes import Node, NodeKind, OfferedProtocol, Space, TransferRecord
from .properties import ISPUBLIC, MAX_PROPERTIES, PUBLICREAD, PropertyNames
from .schema import migrate
from .uploads import Upload

log = logging.getLogger(__name__)

_SELECT_NODES = (
    "SELECT id, parent_id, name, space, kind, xsi_type, created, modified, length, md5, blob, "
    "target FROM nodes "
)
#: SQLite's limit on bound parameters is 999 in old builds; stay under it.
_IN_CHUNK = 500


def _each_chunk(conn: sqlite3.Connection, query: str, ids: list[int]) -> Iterator[sqlite3.Row]:
    """Run ``query``, whose ``IN (?)`` stands for the whole id list, once per chunk of
    ids, yielding every row. Only placeholders go into the text; the ids are bound."""
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        yield from conn.execute(query.replace("IN (?)", f"IN ({marks})"), chunk)


def _iso(value: datetime) -> str:
    """A UTC instant as fixed-width text, so that text order is time order."""
    return as_utc(value).isoformat(timespec="microseconds")


def _instant(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


@dataclass(frozen=True)
class SweepReport:
    """What :meth:`SpaceStore.sweep` cleaned up."""

    transfers_removed: int
    uploads_aborted: int
    files_removed: int
    spaces_deleted: tuple[str, ...]


class SpaceStore:
    """Spaces, nodes and their data under ``root``; see the module docstring.

    ``authority`` (and ``service_id``) make the identifiers: a space called ``s`` is
    ``vos://{authority}!{service_id}/s``. ``max_nodes_per_space`` bounds the metadata a
    space's owner can pile up (its quota bounds only the bytes).
    """

    def __init__(
        self,
        root: Path,
        *,
        authority: str,
        clock: Clock,
        service_id: str = "vospace",
        max_nodes_per_space: int = 100_000,
        synchronous: Literal["full", "normal"] = "full",
    ) -> None:
        if max_nodes_per_space < 1:
            raise ValueError("max_nodes_per_space must be at least 1")
        self.root = Path(root)
        self.identity = ServiceIdentity(authority, service_id)
        self.names = PropertyNames(self.identity.ivo_id)
        self.clock = clock
        self.max_nodes_per_space = max_nodes_per_space
        self._blobs = self.root / "blobs"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self.database = self.root / "vospace.sqlite"
        self._connections = ThreadConnections(self.database, synchronous=synchronous)
        self._migrate()

    # -- connections ----------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    def _write(self, *, durable: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction; ``durable=False`` skips the fsync at commit."""
        return self._connections.write(durable=durable)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        # One snapshot for several statements, so a listing never mixes two states.
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as conn:
            migrate(conn, name=str(self.database))

    def close(self) -> None:
        """Close every connection the store opened (no other call may be running)."""
        self._connections.close()

    # -- spaces (what the UWS contract calls) ------------------------------------------

    def create_space(
        self,
        *,
        name: str,
        owner: str,
        quota_bytes: int,
        expires: datetime | None,
        owner_limit: int | None = None,
    ) -> Space:
        """Create the space ``name`` for ``owner``; idempotent for the same owner.

        Running it again for an existing space of the same owner returns that space
        unchanged (a job re-run after a crash); another owner's space of that name
        raises SpaceConflictError. The owner must be an authenticated user: nobody
        could tell one anonymous caller from another, so nobody could write there.
        ``owner_limit`` caps the quotas of all the owner's spaces together, checked in
        the same transaction as the creation (two starts cannot both slip under it):
        beyond it, :class:`QuotaExceeded`.
        """
        check_name(name)
        if owner == ANONYMOUS or not owner:
            raise ValueError("a space needs an authenticated owner, not the anonymous caller")
        if quota_bytes < 0:
            raise ValueError(f"quota_bytes must be >= 0, not {quota_bytes}")
        existing = self.space(name)
        if existing is not None:
            return self._same_owner(existing, owner)
        folder = secrets.token_hex(16)
        (self._blobs / folder).mkdir()
        now = _iso(self.clock.now())
        try:
            with self._write() as conn:
                row = conn.execute("SELECT owner FROM spaces WHERE name = ?", (name,)).fetchone()
                if row is None and owner_limit is not None:
                    (held,) = conn.execute(
                        "SELECT COALESCE(SUM(quota_bytes), 0) FROM spaces WHERE owner = ?",
                        (owner,),
                    ).fetchone()
                    if held + quota_bytes > owner_limit:
                        raise QuotaExceeded(
                            f"{owner}'s spaces hold {held} bytes; {quota_bytes} more would "
                            f"pass the limit of {owner_limit}: destroy a space first"
                        )
                if row is None:
                    cursor = conn.execute(
                        "INSERT INTO nodes (parent_id, name, space, kind, xsi_type, created, "
                        "modified) VALUES (0, ?, ?, 'container', 'ContainerNode', ?, ?)",
                        (name, name, now, now),
                    )
                    conn.execute(
                        "INSERT INTO spaces (name, owner, node_id, folder, quota_bytes, "
                        "expires, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            name,
                            owner,
                            cursor.lastrowid,
                            folder,
                            quota_bytes,
                            None if expires is None else _iso(expires),
                            now,
                        ),
                    )
                    folder_used = True
                else:  # another process created it between our look and our write
                    folder_used = False
        except BaseException:
            shutil.rmtree(self._blobs / folder, ignore_errors=True)
            raise
        if not folder_used:
            shutil.rmtree(self._blobs / folder, ignore_errors=True)
        space = self.space(name)
        assert space is not None
        return self._same_owner(space, owner)

    @staticmethod
    def _same_owner(space: Space, owner: str) -> Space:
        if space.owner != owner:
            raise SpaceConflictError(f"a space called {space.name!r} exists and is not yours")
        return space

    def space(self, name: str) -> Space | None:
        """The space ``name`` (expired or not), or None."""
        row = self._connection().execute("SELECT * FROM spaces WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._space(row)

    def spaces(self) -> list[Space]:
        """Every space, expired ones included, sorted by name."""
        rows = self._connection().execute("SELECT * FROM spaces ORDER BY name").fetchall()
        return [self._space(row) for row in rows]

    def expired_spaces(self) -> list[str]:
        """The names of the spaces whose expiry has passed."""
        now = _iso(self.clock.now())
        rows = self._connection().execute(
            "SELECT name FROM spaces WHERE expires IS NOT NULL AND expires <= ? ORDER BY name",
            (now,),
        )
        return [row["name"] for row in rows]

    def set_expiry(self, name: str, expires: datetime | None) -> Space:
        """Give the space a new expiry (None: none); raises SpaceNotFoundError."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE spaces SET expires = ? WHERE name = ?",
                (None if expires is None else _iso(expires), name),
            )
            if cursor.rowcount == 0:
                raise SpaceNotFoundError(f"no space called {name!r}")
        space = self.space(name)
        assert space is not None
        return space

    def set_quota(self, name: str, quota_bytes: int) -> Space:
        """Give the space a new quota; refuses (QuotaBelowUsageError) a quota smaller than
        the bytes stored plus those held by uploads under way."""
        if quota_bytes < 0:
            raise ValueError(f"quota_bytes must be >= 0, not {quota_bytes}")
        with self._write() as conn:
            row = conn.execute(
                "SELECT used_bytes, reserved_bytes FROM spaces WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise SpaceNotFoundError(f"no space called {name!r}")
            held = row["used_bytes"] + row["reserved_bytes"]
            if quota_bytes < held:
                raise QuotaBelowUsageError(
                    f"the space {name!r} holds {row['used_bytes']} bytes"
                    + (
                        f" and {row['reserved_bytes']} more are being uploaded"
                        if held > row["used_bytes"]
                        else ""
                    )
                    + f"; a quota of {quota_bytes} bytes would not cover them"
                )
            conn.execute("UPDATE spaces SET quota_bytes = ? WHERE name = ?", (quota_bytes, name))
        space = self.space(name)
        assert space is not None
        return space

    def delete_space(self, name: str) -> bool:
        """Delete the space, every node in it, its data and its transfers; True if it
        existed (calling it again is harmless)."""
        with self._write() as conn:
            row = conn.execute("SELECT folder FROM spaces WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            conn.execute(
                "DELETE FROM properties WHERE node_id IN (SELECT id FROM nodes WHERE space = ?)",
                (name,),
            )
            conn.execute("DELETE FROM nodes WHERE space = ?", (name,))
            conn.execute("DELETE FROM uploads WHERE space = ?", (name,))
            conn.execute("DELETE FROM transfers WHERE space = ?", (name,))
            conn.execute("DELETE FROM spaces WHERE name = ?", (name,))
        shutil.rmtree(self._blobs / row["folder"], ignore_errors=True)
        return True

    def _space(self, row: sqlite3.Row) -> Space:
        return Space(
            name=row["name"],
            owner=row["owner"],
            identifier=self.identity.node_uri((row["name"],)),
            quota_bytes=row["quota_bytes"],
            used_bytes=row["used_bytes"],
            reserved_bytes=row["reserved_bytes"],
            node_count=row["node_count"],
            expires=None if row["expires"] is None else _instant(row["expires"]),
            created=_instant(row["created"]),
        )

    # -- nodes ------------------------------------------------------------------------

    def _live_space(
        self, conn: sqlite3.Connection, name: str, *, missing: type[VOSpaceFault]
    ) -> sqlite3.Row:
        """The space row of ``name`` unless missing or expired (then ``missing`` is raised)."""
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM spaces WHERE name = ?", (name,)
        ).fetchone()
        if row is None or (row["expires"] is not None and row["expires"] <= _iso(self.clock.now())):
            raise missing(f"{format_path((name,))} does not exist")
        return row

    def _walk(self, conn: sqlite3.Connection, path: NodePath) -> tuple[sqlite3.Row, sqlite3.Row]:
        """(space row, node row) of ``path`` (at least one name). Raises NodeNotFound for
        the last name, ContainerNotFound for a missing or non-container parent, LinkFound
        for a link among the parents."""
        if not path:
            raise ValueError("the root is not a node of any space")
        space = self._live_space(
            conn, path[0], missing=NodeNotFound if len(path) == 1 else ContainerNotFound
        )
        row = conn.execute(_SELECT_NODES + "WHERE id = ?", (space["node_id"],)).fetchone()
        for depth, name in enumerate(path[1:], start=2):
            here = format_path(path[: depth - 1])
            if row["kind"] == NodeKind.LINK:
                raise LinkFound(f"{here} is a LinkNode; links are not followed in node paths")
            if row["kind"] != NodeKind.CONTAINER:
                raise ContainerNotFound(f"{here} is not a ContainerNode")
            row = conn.execute(
                _SELECT_NODES + "WHERE parent_id = ? AND name = ?",
                (row["id"], name),
            ).fetchone()
            if row is None:
                fault = NodeNotFound if depth == len(path) else ContainerNotFound
                raise fault(f"{format_path(path[:depth])} does not exist")
        return space, row

    def _properties(
        self, conn: sqlite3.Connection, node_ids: list[int]
    ) -> dict[int, dict[str, str]]:
        found: dict[int, dict[str, str]] = {node_id: {} for node_id in node_ids}
        query = "SELECT node_id, uri, value FROM properties WHERE node_id IN (?) ORDER BY uri"
        for row in _each_chunk(conn, query, node_ids):
            found[row["node_id"]][row["uri"]] = row["value"]
        return found

    def _busy(self, conn: sqlite3.Connection, node_ids: list[int]) -> set[int]:
        query = "SELECT node_id FROM uploads WHERE node_id IN (?)"
        return {row["node_id"] for row in _each_chunk(conn, query, node_ids)}

    def _node(
        self,
        row: sqlite3.Row,
        path: NodePath,
        owner: str,
        properties: Mapping[str, str],
        busy: bool,
    ) -> Node:
        kind = NodeKind(row["kind"])
        return Node(
            id=row["id"],
            path=path,
            kind=kind,
            xsi_type=row["xsi_type"],
            space=row["space"],
            owner=owner,
            created=_instant(row["created"]),
            modified=_instant(row["modified"]),
            length=(row["length"] or 0) if kind == NodeKind.DATA else None,
            md5=row["md5"],
            target=row["target"],
            busy=busy,
            properties=dict(properties),
        )

    def _load(self, conn: sqlite3.Connection, path: NodePath) -> tuple[Space, Node]:
        space_row, row = self._walk(conn, path)
        properties = self._properties(conn, [row["id"]])[row["id"]]
        busy = bool(self._busy(conn, [row["id"]]))
        return self._space(space_row), self._node(row, path, space_row["owner"], properties, busy)

    def get_node(self, path: NodePath) -> tuple[Space, Node]:
        """The node at ``path`` and its space; raises NodeNotFound (also for an expired
        space), ContainerNotFound or LinkFound."""
        with self._read() as conn:
            return self._load(conn, path)

    def list_children(
        self,
        path: NodePath,
        *,
        start: str | None = None,
        limit: int | None = None,
        public_only: bool = False,
    ) -> list[Node]:
        """The children of the container at ``path``, sorted by name (code point order),
        from the first whose name is at least ``start``, at most ``limit`` of them; with
        ``public_only``, only those anyone may read (what a non-owner is shown)."""
        with self._read() as conn:
            space_row, row = self._walk(conn, path)
            if row["kind"] != NodeKind.CONTAINER:
                return []
            if limit == 0:
                return []
            # Filtered in SQL, so that a page holds ``limit`` of them whatever lies between.
            public = (
                " AND EXISTS (SELECT 1 FROM properties p WHERE p.node_id = nodes.id "
                "AND p.uri IN (?, ?) AND lower(trim(p.value, ' \t\r\n')) = 'true')"
                if public_only
                else ""
            )
            rows = conn.execute(
                _SELECT_NODES
                + "WHERE parent_id = ? AND name >= ?"
                + public
                + " ORDER BY name LIMIT ?",
                (
                    row["id"],
                    start or "",
                    *((ISPUBLIC, PUBLICREAD) if public_only else ()),
                    -1 if limit is None else limit,
                ),
            ).fetchall()
            ids = [child["id"] for child in rows]
            properties = self._properties(conn, ids)
            busy = self._busy(conn, ids)
            return [
                self._node(
                    child,
                    (*path, child["name"]),
                    space_row["owner"],
                    properties[child["id"]],
                    child["id"] in busy,
                )
                for child in rows
            ]

    def space_nodes(self) -> list[tuple[Space, Node]]:
        """Every live (unexpired) space with its container node, sorted by name."""
        now = _iso(self.clock.now())
        with self._read() as conn:
            spaces = conn.execute(
                "SELECT * FROM spaces WHERE expires IS NULL OR expires > ? ORDER BY name", (now,)
            ).fetchall()
            ids = [row["node_id"] for row in spaces]
            query = _SELECT_NODES + "WHERE id IN (?)"
            rows = {row["id"]: row for row in _each_chunk(conn, query, ids)}
            properties = self._properties(conn, ids)
        return [
            (
                self._space(space),
                self._node(
                    rows[space["node_id"]],
                    (space["name"],),
                    space["owner"],
                    properties[space["node_id"]],
                    False,
                ),
            )
            for space in spaces
        ]

    def create_node(
        self,
        path: NodePath,
        *,
        kind: NodeKind,
        xsi_type: str,
        properties: Mapping[str, str] | None = None,
        target: str | None = None,
    ) -> Node:
        """Create a node inside an existing space (``len(path) >= 2``).

        Raises DuplicateNode, ContainerNotFound (missing parent or expired space),
        LinkFound, or QuotaExceeded when the space already holds its most nodes.
        Properties are stored as given: the caller has checked them.
        """
        if len(path) < 2:
            raise ValueError("nodes directly under the root are spaces: use create_space")
        properties = dict(properties or {})
        if len(properties) > MAX_PROPERTIES:
            raise InvalidArgument(f"a node may have at most {MAX_PROPERTIES} properties")
        if (kind == NodeKind.LINK) != (target is not None):
            raise ValueError("a link node needs a target, and only a link node has one")
        now = _iso(self.clock.now())
        with self._write() as conn:
            try:
                space_row, parent = self._walk(conn, path[:-1])
            except NodeNotFound as missing:
                raise ContainerNotFound(missing.detail) from None
            if parent["kind"] == NodeKind.LINK:
                raise LinkFound(f"{format_path(path[:-1])} is a LinkNode")
            if parent["kind"] != NodeKind.CONTAINER:
                raise ContainerNotFound(f"{format_path(path[:-1])} is not a ContainerNode")
            if space_row["node_count"] >= self.max_nodes_per_space:
                raise QuotaExceeded(
                    f"the space {space_row['name']!r} already holds {space_row['node_count']} "
                    f"nodes, the most it may hold"
                )
            try:
                cursor = conn.execute(
                    "INSERT INTO nodes (parent_id, name, space, kind, xsi_type, created, modified, "
                    "length, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        parent["id"],
                        path[-1],
                        space_row["name"],
                        kind.value,
                        xsi_type,
                        now,
                        now,
                        0 if kind == NodeKind.DATA else None,
                        target,
                    ),
                )
            except sqlite3.IntegrityError:
                raise DuplicateNode(f"{format_path(path)} already exists") from None
            node_id = cursor.lastrowid
            assert node_id is not None
            conn.executemany(
                "INSERT INTO properties (node_id, uri, value) VALUES (?, ?, ?)",
                [(node_id, uri, value) for uri, value in properties.items()],
            )
            conn.execute(
                "UPDATE spaces SET node_count = node_count + 1 WHERE name = ?", (space_row["name"],)
            )
            return self._load(conn, path)[1]

    def set_properties(self, path: NodePath, updates: Mapping[str, str | None]) -> Node:
        """Set (value) or delete (None) client properties of the node at ``path``; the
        caller has checked them. Raises InvalidArgument when the node would end up with
        more than MAX_PROPERTIES."""
        with self._write() as conn:
            _, row = self._walk(conn, path)
            for uri, value in updates.items():
                if value is None:
                    conn.execute(
                        "DELETE FROM properties WHERE node_id = ? AND uri = ?", (row["id"], uri)
                    )
                else:
                    conn.execute(
                        "INSERT INTO properties (node_id, uri, value) VALUES (?, ?, ?) "
                        "ON CONFLICT (node_id, uri) DO UPDATE SET value = excluded.value",
                        (row["id"], uri, value),
                    )
            count = conn.execute(
                "SELECT COUNT(*) FROM properties WHERE node_id = ?", (row["id"],)
            ).fetchone()[0]
            if count > MAX_PROPERTIES:
                raise InvalidArgument(f"a node may have at most {MAX_PROPERTIES} properties")
            if updates:
                conn.execute(
                    "UPDATE nodes SET modified = ? WHERE id = ?",
                    (_iso(self.clock.now()), row["id"]),
                )
            return self._load(conn, path)[1]

    def delete_node(self, path: NodePath) -> int:
        """Delete the node at ``path`` and, for a container, everything below it, with
        their data; returns how many nodes went. A space's own container is deleted with
        :meth:`delete_space` only. Uploads under way into deleted nodes fail when they
        try to commit."""
        if len(path) < 2:
            raise ValueError("a space's container goes with delete_space, not delete_node")
        with self._write() as conn:
            space_row, row = self._walk(conn, path)
            doomed = conn.execute(
                "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL "
                "SELECT n.id FROM nodes n JOIN sub ON n.parent_id = sub.id) "
                "SELECT id, length, blob FROM nodes WHERE id IN sub",
                (row["id"],),
            ).fetchall()
            ids = [d["id"] for d in doomed]
            freed = sum(d["length"] or 0 for d in doomed if d["blob"] is not None)
            query = "SELECT COALESCE(SUM(reserved), 0) FROM uploads WHERE node_id IN (?)"
            released = sum(row[0] for row in _each_chunk(conn, query, ids))
            for query in (
                "DELETE FROM uploads WHERE node_id IN (?)",
                "DELETE FROM properties WHERE node_id IN (?)",
                "DELETE FROM nodes WHERE id IN (?)",
            ):
                for _ in _each_chunk(conn, query, ids):
                    pass
            conn.execute(
                "UPDATE spaces SET used_bytes = used_bytes - ?, "
                "reserved_bytes = reserved_bytes - ?, node_count = node_count - ? WHERE name = ?",
                (freed, released, len(ids), space_row["name"]),
            )
        folder = self._blobs / space_row["folder"]
        for d in doomed:
            if d["blob"] is not None:
                (folder / d["blob"]).unlink(missing_ok=True)
        return len(ids)

    def open_data(self, node: Node) -> BinaryIO | None:
        """The bytes of a data node, open for reading; None before its first upload.
        Raises NodeNotFound when the node's data went away meanwhile, NodeBusy when other
        bytes replaced those ``node`` describes (its length and MD5, from which a
        download makes its headers)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT n.blob, n.md5, s.folder FROM nodes n JOIN spaces s ON s.name = n.space "
                "WHERE n.id = ?",
                (node.id,),
            ).fetchone()
        if row is None:
            raise NodeNotFound(f"{format_path(node.path)} does not exist")
        if row["md5"] != node.md5:
            raise NodeBusy(f"{format_path(node.path)} was written while it was being read")
        if row["blob"] is None:
            return None
        try:
            stream: BinaryIO = (self._blobs / row["folder"] / row["blob"]).open("rb")
        except FileNotFoundError:
            raise NodeNotFound(f"{format_path(node.path)} was deleted") from None
        return stream

    # -- uploads ----------------------------------------------------------------------

    def begin_upload(
        self, path: NodePath, *, expected_length: int | None, node_id: int | None = None
    ) -> Upload:
        """Start writing new data into the data node at ``path`` (which must be node
        ``node_id`` when given). Reserves quota for ``expected_length`` bytes (beyond the
        length the node has now) or, when None, as the bytes arrive. Raises
        QuotaExceeded before anything is written when the data cannot fit, NodeBusy when
        another upload into the node is under way."""
        if expected_length is not None and expected_length < 0:
            raise InvalidArgument("the announced length is negative")
        upload_id = secrets.token_hex(16)
        now = _iso(self.clock.now())
        with self._write() as conn:
            space_row, row = self._walk(conn, path)
            if node_id is not None and row["id"] != node_id:
                raise NodeNotFound(f"{format_path(path)} is no longer the node the transfer named")
            if row["kind"] != NodeKind.DATA:
                raise InvalidArgument(f"{format_path(path)} is not a data node")
            old_length = row["length"] or 0
            reserve = max(0, (expected_length or 0) - old_length)
            available = (
                space_row["quota_bytes"] - space_row["used_bytes"] - space_row["reserved_bytes"]
            )
            if reserve > available:
                raise QuotaExceeded(
                    f"{expected_length} bytes do not fit in {format_path(path[:1])}: "
                    f"{max(0, available) + old_length} bytes are available for this node"
                )
            temp = f"upload-{upload_id}.part"
            try:
                conn.execute(
                    "INSERT INTO uploads (id, space, node_id, reserved, temp, started, touched) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (upload_id, space_row["name"], row["id"], reserve, temp, now, now),
                )
            except sqlite3.IntegrityError:
                raise NodeBusy(
                    f"{format_path(path)} is being written by another transfer"
                ) from None
            conn.execute(
                "UPDATE spaces SET reserved_bytes = reserved_bytes + ? WHERE name = ?",
                (reserve, space_row["name"]),
            )
        folder = self._blobs / space_row["folder"]
        try:
            stream = (folder / temp).open("xb")
        except OSError:
            self._release(upload_id)
            raise
        return Upload(
            self,
            upload_id=upload_id,
            path=path,
            node_id=row["id"],
            space=space_row["name"],
            folder=folder,
            temp=folder / temp,
            stream=stream,
            old_length=old_length,
            reserved=reserve,
            expected_length=expected_length,
        )

    def _grow(self, upload: Upload, needed: int) -> None:
        """Reserve ``needed`` more bytes for ``upload``, or raise QuotaExceeded.

        Exactly what is needed, so that an upload never holds room another could use;
        the transaction is not made durable (a crash loses the upload anyway, and the
        reservation and its row change together or not at all)."""
        with self._write(durable=False) as conn:
            space_row = conn.execute(
                "SELECT quota_bytes, used_bytes, reserved_bytes FROM spaces WHERE name = ?",
                (upload.space,),
            ).fetchone()
            live = conn.execute(
                "SELECT 1 FROM uploads WHERE id = ?", (upload.upload_id,)
            ).fetchone()
            if space_row is None or live is None:
                raise NodeNotFound(f"{format_path(upload.path)} was deleted during the upload")
            available = (
                space_row["quota_bytes"] - space_row["used_bytes"] - space_row["reserved_bytes"]
            )
            if available < needed:
                raise QuotaExceeded(
                    f"the data sent to {format_path(upload.path)} exceeds what "
                    f"{format_path(upload.path[:1])} has room for"
                )
            conn.execute(
                "UPDATE uploads SET reserved = reserved + ?, touched = ? WHERE id = ?",
                (needed, _iso(self.clock.now()), upload.upload_id),
            )
            conn.execute(
                "UPDATE spaces SET reserved_bytes = reserved_bytes + ? WHERE name = ?",
                (needed, upload.space),
            )

    def _touch(self, upload_id: str) -> None:
        with self._write(durable=False) as conn:
            conn.execute(
                "UPDATE uploads SET touched = ? WHERE id = ?", (_iso(self.clock.now()), upload_id)
            )

    def _release(self, upload_id: str) -> None:
        """Forget an upload and give back its reservation (harmless if already gone)."""
        with self._write() as conn:
            row = conn.execute(
                "DELETE FROM uploads WHERE id = ? RETURNING space, reserved", (upload_id,)
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE spaces SET reserved_bytes = reserved_bytes - ? WHERE name = ?",
                    (row["reserved"], row["space"]),
                )

    def _commit(self, upload: Upload, *, blob: str, length: int, md5: str) -> Node:
        """Swap the node's data for ``blob`` and settle the space's accounts."""
        with self._write() as conn:
            row = conn.execute(
                "DELETE FROM uploads WHERE id = ? RETURNING reserved", (upload.upload_id,)
            ).fetchone()
            if row is None:
                raise NodeNotFound(f"{format_path(upload.path)} was deleted during the upload")
            node = conn.execute(
                "SELECT length, blob FROM nodes WHERE id = ?", (upload.node_id,)
            ).fetchone()
            old_length = node["length"] or 0
            conn.execute(
                "UPDATE spaces SET used_bytes = used_bytes + ? - ?, "
                "reserved_bytes = reserved_bytes - ? WHERE name = ?",
                (length, old_length, row["reserved"], upload.space),
            )
            conn.execute(
                "UPDATE nodes SET length = ?, md5 = ?, blob = ?, modified = ? WHERE id = ?",
                (length, md5, blob, _iso(self.clock.now()), upload.node_id),
            )
            space_row, node_row = self._walk(conn, upload.path)
            properties = self._properties(conn, [node_row["id"]])[node_row["id"]]
            result = self._node(node_row, upload.path, space_row["owner"], properties, False)
        if node["blob"] is not None:
            (upload.folder / node["blob"]).unlink(missing_ok=True)
        return result

    # -- transfers --------------------------------------------------------------------

    def add_transfer(
        self, record: TransferRecord, *, space: str | None, owner_limit: int | None = None
    ) -> None:
        """Keep a negotiated transfer until its expiry (deleted with ``space``).

        Expired records of every owner go in the same transaction, so they never pile
        up. With ``owner_limit``, refuses (:class:`TooManyTransfers`, nothing recorded)
        when the record's owner already holds that many live ones; the count and the
        insertion are one transaction, so concurrent negotiations cannot overshoot.
        """
        protocols = json.dumps([[p.uri, p.security_method] for p in record.protocols])
        now = self.clock.now()
        with self._write() as conn:
            conn.execute("DELETE FROM transfers WHERE expires <= ?", (_iso(now),))
            if owner_limit is not None:
                self._check_transfer_room(conn, record.owner, limit=owner_limit, now=now)
            conn.execute(
                "INSERT INTO transfers (id, owner, space, direction, target, path, node_id, "
                "view, protocols, phase, error, created, expires) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.owner,
                    space,
                    record.direction,
                    record.target,
                    None if record.path is None else json.dumps(list(record.path)),
                    record.node_id,
                    record.view,
                    protocols,
                    record.phase,
                    record.error,
                    _iso(record.created),
                    _iso(record.expires),
                ),
            )

    def check_transfer_room(self, owner: str, *, limit: int) -> None:
        """Raise :class:`TooManyTransfers` when ``owner`` holds ``limit`` live transfers
        (a cheap look before negotiating; :meth:`add_transfer` enforces it)."""
        with self._read() as conn:
            self._check_transfer_room(conn, owner, limit=limit, now=self.clock.now())

    @staticmethod
    def _check_transfer_room(
        conn: sqlite3.Connection, owner: str, *, limit: int, now: datetime
    ) -> None:
        held, oldest = conn.execute(
            "SELECT COUNT(*), MIN(expires) FROM transfers WHERE owner = ? AND expires > ?",
            (owner, _iso(now)),
        ).fetchone()
        if held >= limit:
            wait = 1 if oldest is None else (_instant(oldest) - now).total_seconds()
            raise TooManyTransfers.of(
                owner, held=held, limit=limit, retry_after=max(1, math.ceil(wait))
            )

    def extend_transfer(self, transfer_id: str, expires: datetime) -> None:
        """Move the expiry of a live transfer out to ``expires`` (never nearer). Not made
        durable: a crash at worst ends the transfer at its earlier expiry."""
        now = _iso(self.clock.now())
        with self._write(durable=False) as conn:
            conn.execute(
                "UPDATE transfers SET expires = ? WHERE id = ? AND expires > ? AND expires < ?",
                (_iso(expires), transfer_id, now, _iso(expires)),
            )

    def transfer(self, transfer_id: str) -> TransferRecord | None:
        """The transfer ``transfer_id`` unless unknown or expired."""
        row = (
            self._connection()
            .execute(
                "SELECT * FROM transfers WHERE id = ? AND expires > ?",
                (transfer_id, _iso(self.clock.now())),
            )
            .fetchone()
        )
        if row is None:
            return None
        return TransferRecord(
            id=row["id"],
            owner=row["owner"],
            direction=row["direction"],
            target=row["target"],
            path=None if row["path"] is None else tuple(json.loads(row["path"])),
            node_id=row["node_id"],
            view=row["view"],
            protocols=tuple(
                OfferedProtocol(uri, method) for uri, method in json.loads(row["protocols"])
            ),
            phase=row["phase"],
            error=row["error"],
            created=_instant(row["created"]),
            expires=_instant(row["expires"]),
        )

    # -- housekeeping -----------------------------------------------------------------

    def sweep(
        self,
        *,
        stale_after: timedelta = timedelta(hours=1),
        delete_expired_spaces: bool = False,
    ) -> SweepReport:
        """Housekeeping, for the reaper to call now and then.

        Removes expired transfer records; aborts uploads that have been silent for
        ``stale_after`` (those of a process that died; ``stale_after=timedelta(0)``
        reclaims them all, which is right only while no upload can be under way, e.g. when
        the only process serving REST starts); deletes files no
        node or upload refers to and folders of no space, once older than
        ``stale_after`` (left by a crash between a file operation and its commit); and,
        when asked, deletes the expired spaces.
        """
        now = self.clock.now()
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM transfers WHERE expires <= ?", (_iso(now),)
            ).rowcount
            stale = conn.execute(
                "SELECT u.id, u.temp, s.folder FROM uploads u JOIN spaces s ON s.name = u.space "
                "WHERE u.touched <= ?",
                (_iso(now - stale_after),),
            ).fetchall()
        for row in stale:
            self._release(row["id"])
            (self._blobs / row["folder"] / row["temp"]).unlink(missing_ok=True)
        deleted: list[str] = []
        if delete_expired_spaces:
            deleted = [name for name in self.expired_spaces() if self.delete_space(name)]
        files = self._remove_orphans(older_than=time.time() - stale_after.total_seconds())
        report = SweepReport(removed, len(stale), files, tuple(deleted))
        if stale or files or deleted:
            log.info("VOSpace sweep reclaimed what failures left behind: %s", report)
        return report

    def _remove_orphans(self, *, older_than: float) -> int:
        """Delete unreferenced files and folders last changed before ``older_than``."""
        with self._read() as conn:
            folders = {row["folder"] for row in conn.execute("SELECT folder FROM spaces")}
            kept = {
                row["blob"] for row in conn.execute("SELECT blob FROM nodes WHERE blob IS NOT NULL")
            }
            kept |= {row["temp"] for row in conn.execute("SELECT temp FROM uploads")}
        removed = 0
        for folder in list(self._blobs.iterdir()):
            # Everything here may vanish meanwhile (a space deleted by another thread).
            with contextlib.suppress(FileNotFoundError):
                if folder.name not in folders:
                    if folder.stat().st_mtime < older_than:
                        shutil.rmtree(folder, ignore_errors=True)
                        removed += 1
                    continue
                for file in list(folder.iterdir()):
                    if file.name not in kept and file.stat().st_mtime < older_than:
                        file.unlink(missing_ok=True)
                        removed += 1
        return removed
