"""The spaces of a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore` (what the UWS
contract calls): create one, look them up, change a space's expiry or quota, delete it
with everything in it."""

from __future__ import annotations

import secrets
import shutil
from datetime import datetime

from ...core.model import ANONYMOUS
from .errors import QuotaBelowUsageError, QuotaExceeded, SpaceConflictError, SpaceNotFoundError
from .names import check_name
from .nodes import Space
from .store_rows import SpaceRows, iso


class SpaceOperations(SpaceRows):
    """The space operations of a :class:`~wsrf_uws.jdl.vospace.store.SpaceStore`."""

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
        now = iso(self.clock.now())
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
                            None if expires is None else iso(expires),
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
        now = iso(self.clock.now())
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
                (None if expires is None else iso(expires), name),
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
