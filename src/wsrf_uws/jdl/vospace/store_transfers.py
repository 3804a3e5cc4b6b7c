"""The negotiated transfers a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore` keeps
until they expire, and the cap on those one owner holds."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime

from .errors import TooManyTransfers
from .nodes import OfferedProtocol, TransferRecord
from .store_rows import SpaceRows, instant, iso


class TransferOperations(SpaceRows):
    """The transfer records of a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore`."""

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
            conn.execute("DELETE FROM transfers WHERE expires <= ?", (iso(now),))
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
                    iso(record.created),
                    iso(record.expires),
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
            (owner, iso(now)),
        ).fetchone()
        if held >= limit:
            wait = 1 if oldest is None else (instant(oldest) - now).total_seconds()
            raise TooManyTransfers.of(
                owner, held=held, limit=limit, retry_after=max(1, math.ceil(wait))
            )

    def extend_transfer(self, transfer_id: str, expires: datetime) -> None:
        """Move the expiry of a live transfer out to ``expires`` (never nearer). Not made
        durable: a crash at worst ends the transfer at its earlier expiry."""
        now = iso(self.clock.now())
        with self._write(durable=False) as conn:
            conn.execute(
                "UPDATE transfers SET expires = ? WHERE id = ? AND expires > ? AND expires < ?",
                (iso(expires), transfer_id, now, iso(expires)),
            )

    def transfer(self, transfer_id: str) -> TransferRecord | None:
        """The transfer ``transfer_id`` unless unknown or expired."""
        row = (
            self._connection()
            .execute(
                "SELECT * FROM transfers WHERE id = ? AND expires > ?",
                (transfer_id, iso(self.clock.now())),
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
            created=instant(row["created"]),
            expires=instant(row["expires"]),
        )
