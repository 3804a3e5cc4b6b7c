"""Signed data URLs (``jdl/vospace/signing.py``): a token carries what it allows, for one node
path, until it expires, and anything else (forged, altered, malformed, expired, another
key or path) is no grant at all."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from wsrf_uws.jdl.vospace.nodes import PULL_FROM, PUSH_TO
from wsrf_uws.jdl.vospace.signing import Grant, GrantSigner

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PATH = ("space", "dir", "f")


def grant(direction: str = PULL_FROM, owner: str = "alice") -> Grant:
    return Grant(direction, owner, PATH, 42, NOW + timedelta(hours=1))


@pytest.mark.parametrize("direction", [PULL_FROM, PUSH_TO])
def test_a_token_gives_back_its_grant_for_its_path_until_it_expires(direction: str) -> None:
    signer = GrantSigner(b"k" * 32)
    given = grant(direction, owner="ålice")
    token = signer.sign(given)
    assert signer.is_signed(token) and "/" not in token
    assert signer.verify(token, PATH, now=NOW) == given
    assert signer.verify(token, PATH, now=NOW + timedelta(minutes=59)) == given
    assert signer.verify(token, PATH, now=NOW + timedelta(hours=1)) is None
    assert signer.verify(token, ("space", "dir", "g"), now=NOW) is None
    assert signer.verify(token, PATH[:2], now=NOW) is None
    assert GrantSigner(b"o" * 32).verify(token, PATH, now=NOW) is None
    assert GrantSigner().verify(token, PATH, now=NOW) is None  # a restart draws a new key


def test_recorded_transfer_ids_are_not_taken_for_signed_tokens() -> None:
    assert not GrantSigner.is_signed("AbC-dEf_123")


def _altered(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t + ".more",
        lambda t: t.rsplit(".", 1)[0],
        lambda t: _altered(t, 0, "x" + t.split(".")[0][1:]),  # a direction code nobody uses
        lambda t: _altered(t, 0, "u" + t.split(".")[0][1:]),  # the other direction
        lambda t: _altered(t, 0, "dsoon"),
        lambda t: _altered(t, 0, "d" + "9" * 30),  # beyond any date
        lambda t: _altered(t, 0, "d" + str(int(t.split(".")[0][1:]) + 3600)),  # later
        lambda t: _altered(t, 1, "43"),
        lambda t: _altered(t, 1, "forty-two"),
        lambda t: _altered(t, 2, _b64(b"bob")),
        lambda t: _altered(t, 2, _b64(b"\xff\xfe")),  # not UTF-8
        lambda t: _altered(t, 2, "A"),  # not base64url
        lambda t: _altered(t, 3, "A"),
        lambda t: _altered(t, 3, _b64(b"\x00" * 20)),
    ],
)
def test_an_altered_or_malformed_token_grants_nothing(alter) -> None:  # type: ignore[no-untyped-def]
    signer = GrantSigner(b"k" * 32)
    token = signer.sign(grant())
    assert signer.verify(token, PATH, now=NOW) is not None
    assert signer.verify(alter(token), PATH, now=NOW) is None
