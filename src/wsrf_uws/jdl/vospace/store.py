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

The store is built of parts, one module each: its rows (:mod:`.store_rows`), spaces
(:mod:`.store_spaces`), nodes (:mod:`.store_nodes`), transfers (:mod:`.store_transfers`)
and housekeeping (:mod:`.store_sweep`); this module builds it and keeps the uploads'
accounts.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Literal

from ...core.clock import Clock
from ...core.sqlite_connections import ThreadConnections
from .errors import InvalidArgument, NodeBusy, NodeNotFound, QuotaExceeded
from .names import NodePath, ServiceIdentity, format_path
from .nodes import Node, NodeKind
from .properties import PropertyNames
from .schema import migrate
from .store_nodes import NodeOperations
from .store_rows import iso
from .store_sweep import Housekeeping, SweepReport
from .store_transfers import TransferOperations
from .uploads import Upload

__all__ = ["SpaceStore", "SweepReport"]


class SpaceStore(Housekeeping, NodeOperations, TransferOperations):
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

    def _migrate(self) -> None:
        with self._write() as conn:
            migrate(conn, name=str(self.database))

    def close(self) -> None:
        """Close every connection the store opened (no other call may be running)."""
        self._connections.close()

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
        now = iso(self.clock.now())
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
                (needed, iso(self.clock.now()), upload.upload_id),
            )
            conn.execute(
                "UPDATE spaces SET reserved_bytes = reserved_bytes + ? WHERE name = ?",
                (needed, upload.space),
            )

    def _touch(self, upload_id: str) -> None:
        with self._write(durable=False) as conn:
            conn.execute(
                "UPDATE uploads SET touched = ? WHERE id = ?", (iso(self.clock.now()), upload_id)
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
                (length, md5, blob, iso(self.clock.now()), upload.node_id),
            )
            space_row, node_row = self._walk(conn, upload.path)
            properties = self._properties(conn, [node_row["id"]])[node_row["id"]]
            result = self._node(node_row, upload.path, space_row["owner"], properties, False)
        if node["blob"] is not None:
            (upload.folder / node["blob"]).unlink(missing_ok=True)
        return result
