"""The names a PostgreSQL store uses that are shared by its whole database.

Tables live in a schema, but ``NOTIFY`` channels and advisory locks belong to the
database: two services in two schemas of one database (as a site may run them, and as
the tests do) would hear each other's signals and contend for each other's locks if they
used fixed names. Every such name is therefore derived from the schema's name, with a
hash: a channel ``wsrf_uws_<8 hex digits>``, and 64-bit lock keys (the single-key form of
the advisory lock functions) hashed from the schema, what is locked and its name, so
that two names share a key with a probability of about 2^-64.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b


@dataclass(frozen=True)
class SchemaNames:
    """The channel and the lock keys of the store in ``schema``."""

    schema: str

    @property
    def channel(self) -> str:
        """The ``NOTIFY`` channel of the cluster's signals."""
        digest = blake2b(self.schema.encode("utf-8"), digest_size=4, person=b"channel")
        return f"wsrf_uws_{digest.hexdigest()}"

    def lock(self, kind: str, name: str = "") -> int:
        """The advisory lock key (a signed 64-bit integer) of ``name`` of ``kind``."""
        text = "\0".join((self.schema, kind, name)).encode("utf-8")
        digest = blake2b(text, digest_size=8, person=b"lock").digest()
        return int.from_bytes(digest, "big", signed=True)

    def node_lock(self, node: str) -> int:
        """Held by the session of the node called ``node``."""
        return self.lock("node", node)

    @property
    def leader_lock(self) -> int:
        """Held by the session of the leader."""
        return self.lock("leader")

    def claim_lock(self, owner: str) -> int:
        """Held by a transaction claiming a job of ``owner`` under a limit."""
        return self.lock("claim", owner)

    def insert_lock(self, owner: str) -> int:
        """Held by a transaction inserting a job of ``owner`` under a cap."""
        return self.lock("insert", owner)


def lock_columns(key: int) -> tuple[int, int]:
    """``classid`` and ``objid`` of the row of ``pg_locks`` for the advisory lock ``key``
    (the high and low halves of the key, as unsigned 32-bit values; ``objsubid`` is 1)."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF
