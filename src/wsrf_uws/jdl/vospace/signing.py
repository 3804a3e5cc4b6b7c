"""Signed data URLs: transfers negotiated with URL parameters, recorded nowhere.

VOSpace 2.1 (§3.7.2, "URL Parameter Transfers") lets a client negotiate a transfer with
``TARGET``, ``DIRECTION`` and ``PROTOCOL`` as query parameters of ``GET`` (or ``POST``)
``synctrans``; the answer is the transfer document itself, or a redirect to the data,
and no job is created. So that such a request (a ``GET``, which a crawler or a link
preview may send) writes nothing, its data URL carries what it allows instead of
naming a stored record: the direction, the node, the caller it was negotiated for and
its expiry, signed with HMAC-SHA256 under a key each service process draws when it
starts. A restart therefore ends these URLs early (negotiate again); recorded
transfers (the document forms) are not affected.

A token looks like ``d1767225600.42.YWxpY2U.{mac}``: direction (``d`` pull, ``u``
push) and expiry in Unix seconds, node id, owner (base64url), and the MAC over those
and the node's path. Recorded transfers' ids never contain a dot, so the two kinds
cannot be mistaken for each other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from .names import NodePath
from .nodes import PULL_FROM, PUSH_TO

_CODES = {PULL_FROM: "d", PUSH_TO: "u"}
_DIRECTIONS = {code: direction for direction, code in _CODES.items()}
#: Bytes of the MAC kept in a token (160 bits).
_MAC_BYTES = 20


@dataclass(frozen=True)
class Grant:
    """What a data URL lets its bearer do: move the bytes of one node in one direction,
    on behalf of ``owner``, until ``expires``."""

    direction: str
    owner: str
    path: NodePath
    node_id: int
    expires: datetime


class GrantSigner:
    """Makes and checks signed data-URL tokens under one secret key (random unless
    given: tests may pin it)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    @staticmethod
    def is_signed(token: str) -> bool:
        """Whether ``token`` has the form of a signed token (rather than a record's id)."""
        return "." in token

    def sign(self, grant: Grant) -> str:
        """The token for ``grant`` (URL-safe, no ``/``)."""
        payload = ".".join(
            (
                f"{_CODES[grant.direction]}{int(grant.expires.timestamp())}",
                str(grant.node_id),
                _b64(grant.owner.encode("utf-8")),
            )
        )
        return f"{payload}.{_b64(self._mac(payload, grant.path))}"

    def verify(self, token: str, path: NodePath, *, now: datetime) -> Grant | None:
        """The grant ``token`` carries for the node at ``path``; None when the token is
        malformed, forged, for another path, or expired at ``now``."""
        parts = token.split(".")
        if len(parts) != 4:
            return None
        head, node_id, owner, mac = parts
        payload = f"{head}.{node_id}.{owner}"
        try:
            given = _unb64(mac)
            direction = _DIRECTIONS[head[:1]]
            expires = datetime.fromtimestamp(int(head[1:]), UTC)
            grant = Grant(direction, _unb64(owner).decode("utf-8"), path, int(node_id), expires)
        except (KeyError, ValueError, OverflowError, OSError):
            return None
        if not hmac.compare_digest(given, self._mac(payload, path)):
            return None
        return grant if expires > now else None

    def _mac(self, payload: str, path: NodePath) -> bytes:
        # Names never hold control characters (names.check_name), so NUL separates them.
        message = "\x00".join((payload, *path)).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
