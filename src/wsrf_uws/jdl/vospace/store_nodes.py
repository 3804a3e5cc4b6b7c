"""The nodes of a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore`: read one or a
container's children, create, change properties, delete, open a data node's bytes."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import BinaryIO

from .errors import (
    ContainerNotFound,
    DuplicateNode,
    InvalidArgument,
    LinkFound,
    NodeBusy,
    NodeNotFound,
    QuotaExceeded,
)
from .names import NodePath, format_path
from .nodes import Node, NodeKind, Space
from .properties import ISPUBLIC, MAX_PROPERTIES, PUBLICREAD
from .store_rows import SELECT_NODES, SpaceRows, each_chunk, iso


class NodeOperations(SpaceRows):
    """The node operations of a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore`."""

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
                SELECT_NODES
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
        now = iso(self.clock.now())
        with self._read() as conn:
            spaces = conn.execute(
                "SELECT * FROM spaces WHERE expires IS NULL OR expires > ? ORDER BY name", (now,)
            ).fetchall()
            ids = [row["node_id"] for row in spaces]
            query = SELECT_NODES + "WHERE id IN (?)"
            rows = {row["id"]: row for row in each_chunk(conn, query, ids)}
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
        now = iso(self.clock.now())
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
                    (iso(self.clock.now()), row["id"]),
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
            released = sum(row[0] for row in each_chunk(conn, query, ids))
            for query in (
                "DELETE FROM uploads WHERE node_id IN (?)",
                "DELETE FROM properties WHERE node_id IN (?)",
                "DELETE FROM nodes WHERE id IN (?)",
            ):
                for _ in each_chunk(conn, query, ids):
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
