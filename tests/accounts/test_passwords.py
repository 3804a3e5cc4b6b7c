"""Password hashes (``wsrf_uws.accounts.passwords``): salted, read back, bounded."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from wsrf_uws.accounts import PasswordHash, PasswordHashError

SALT = base64.b64encode(b"saltsalt").decode()
DIGEST = "A" * 44


def test_hashes_are_salted() -> None:
    first, second = PasswordHash.create("same"), PasswordHash.create("same")
    assert first.salt != second.salt
    assert first.hash != second.hash
    assert first.verify("same") and second.verify("same")
    assert not first.verify("Same")
    assert PasswordHash.parse(first.format()) == first


def test_pbkdf2_hashes_are_read() -> None:
    salt = os.urandom(16)
    derived = hashlib.pbkdf2_hmac("sha256", b"legacy", salt, 200_000)
    encoded = [base64.b64encode(b).decode() for b in (salt, derived)]
    text = f"pbkdf2-sha256$i=200000${encoded[0]}${encoded[1]}"
    parsed = PasswordHash.parse(text)
    assert parsed.format() == text
    assert parsed.verify("legacy")
    assert not parsed.verify("Legacy")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scrypt$ln=14,r=8,p=5$" + SALT, "algorithm\\$parameters\\$salt\\$hash"),
        (f"md5$x$y${DIGEST}", "unknown password hash algorithm"),
        (f"scrypt$ln=14,r=8,p${SALT}${DIGEST}", "bad hash parameter"),
        (f"scrypt$ln=14,r=8${SALT}${DIGEST}", "exactly the parameters ln, r and p"),
        (f"scrypt$ln=31,r=8,p=1${SALT}${DIGEST}", "out of range"),
        (f"scrypt$ln=30,r=8,p=1${SALT}${DIGEST}", "more than 1 GiB"),
        (f"pbkdf2-sha256$n=300000${SALT}${DIGEST}", "exactly the parameter i"),
        (f"pbkdf2-sha256$i=1000${SALT}${DIGEST}", "needs 200000 to"),
        (f"scrypt$ln=14,r=8,p=5$!!${DIGEST}", "not base64"),
        (f"scrypt$ln=14,r=8,p=5$c2FsdA==${DIGEST}", "too short"),
    ],
)
def test_a_malformed_or_unbounded_hash_is_refused(text: str, expected: str) -> None:
    with pytest.raises(PasswordHashError, match=expected):
        PasswordHash.parse(text)
