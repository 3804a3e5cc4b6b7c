"""The space store's SQLite file (:mod:`.store`): its connections, its rows read as
spaces and nodes, found by path, and the release of an upload's reservation. What the
store's parts (:mod:`.store_spaces`, :mod:`.store_nodes`, :mod:`.store_transfers`,
:mod:`.store_sweep`) build on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path

from ...core.clock import Clock
from ...core.sqlite_connections import ThreadConnections
from ...wire.times import as_utc
from .errors import ContainerNotFound, LinkFound, NodeNotFound, VOSpaceFault
from .names import NodePath, ServiceIdentity, format_path
from .nodes import Node, NodeKind, Space
from .properties import PropertyNames

SELECT_NODES = (
    "SELECT id, parent_id, name, space, kind, xsi_type, created, modified, length, md5, blob, "
    "target FROM nodes "
)
#: SQLite's limit on bound parameters is 999 in old builds; stay under it.
_IN_CHUNK = 500


def each_chunk(conn: sqlite3.Connection, query: str, ids: list[int]) -> Iterator[sqlite3.Row]:
    """Run ``query``, whose ``IN (?)`` stands for the whole id list, once per chunk of
    ids, yielding every row. Only placeholders go into the text; the ids are bound."""
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        yield from conn.execute(query.replace("IN (?)", f"IN ({marks})"), chunk)


def iso(value: datetime) -> str:
    """A UTC instant as fixed-width text, so that text order is time order."""
    return as_utc(value).isoformat(timespec="microseconds")


def instant(text: str) -> datetime:
    """The UTC instant :func:`iso` wrote as ``text``."""
    return as_utc(datetime.fromisoformat(text))


class SpaceRows:
    """The rows of a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore` (which sets the
    attributes declared here), and the base of its parts."""

    root: Path
    identity: ServiceIdentity
    names: PropertyNames
    clock: Clock
    max_nodes_per_space: int
    database: Path
    _blobs: Path
    _connections: ThreadConnections

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

    # -- rows -------------------------------------------------------------------------

    def _space(self, row: sqlite3.Row) -> Space:
        return Space(
            name=row["name"],
            owner=row["owner"],
            identifier=self.identity.node_uri((row["name"],)),
            quota_bytes=row["quota_bytes"],
            used_bytes=row["used_bytes"],
            reserved_bytes=row["reserved_bytes"],
            node_count=row["node_count"],
            expires=None if row["expires"] is None else instant(row["expires"]),
            created=instant(row["created"]),
        )

    def _live_space(
        self, conn: sqlite3.Connection, name: str, *, missing: type[VOSpaceFault]
    ) -> sqlite3.Row:
        """The space row of ``name`` unless missing or expired (then ``missing`` is raised)."""
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM spaces WHERE name = ?", (name,)
        ).fetchone()
        if row is None or (row["expires"] is not None and row["expires"] <= iso(self.clock.now())):
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
        row = conn.execute(SELECT_NODES + "WHERE id = ?", (space["node_id"],)).fetchone()
        for depth, name in enumerate(path[1:], start=2):
            here = format_path(path[: depth - 1])
            if row["kind"] == NodeKind.LINK:
                raise LinkFound(f"{here} is a LinkNode; links are not followed in node paths")
            if row["kind"] != NodeKind.CONTAINER:
                raise ContainerNotFound(f"{here} is not a ContainerNode")
            row = conn.execute(
                SELECT_NODES + "WHERE parent_id = ? AND name = ?",
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
        for row in each_chunk(conn, query, node_ids):
            found[row["node_id"]][row["uri"]] = row["value"]
        return found

    def _busy(self, conn: sqlite3.Connection, node_ids: list[int]) -> set[int]:
        query = "SELECT node_id FROM uploads WHERE node_id IN (?)"
        return {row["node_id"] for row in each_chunk(conn, query, node_ids)}

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
            created=instant(row["created"]),
            modified=instant(row["modified"]),
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

    # -- uploads (given up by their own accounts, :mod:`.store`, and by the sweep) ------

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
