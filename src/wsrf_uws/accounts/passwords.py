"""Salted password hashes: how a users file stores a password and how a guess is checked.

A hash is written ``algorithm$parameters$salt$hash``, salt and hash in standard base64,
so the algorithm and its cost can change without a new file format. New hashes are
``scrypt$ln=14,r=8,p=5`` (N = 2^14, the OWASP-equivalent of N = 2^17, p = 1 at 16 MiB);
``pbkdf2-sha256$i=<iterations>`` (at least 200 000) is read too. The parameters a
hash may ask for are bounded, so that a bad line cannot make a check exhaust the host.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

#: Cost of new password hashes: scrypt N = 2^14, r = 8, p = 5 (about 0.15 s, 16 MiB).
SCRYPT_LOG2_N = 14
SCRYPT_R = 8
SCRYPT_P = 5
#: The fewest PBKDF2-SHA256 iterations a hash may ask for.
MIN_PBKDF2_ITERATIONS = 200_000
#: Bounds on what a hash may ask for, so a bad line cannot exhaust the host.
_MAX_KDF_MEMORY = 1 << 30
_MAX_PBKDF2_ITERATIONS = 100_000_000


class PasswordHashError(ValueError):
    """The text of a password hash is malformed or asks for parameters out of bounds."""


@dataclass(frozen=True)
class PasswordHash:
    """A salted password hash and the key derivation that made it."""

    algorithm: str  # "scrypt" or "pbkdf2-sha256"
    params: Mapping[str, int]
    salt: bytes
    hash: bytes

    @classmethod
    def create(cls, password: str) -> PasswordHash:
        """A new scrypt hash of ``password`` with a fresh random salt."""
        params = {"ln": SCRYPT_LOG2_N, "r": SCRYPT_R, "p": SCRYPT_P}
        salt = secrets.token_bytes(16)
        return cls("scrypt", params, salt, _derive("scrypt", params, password.encode(), salt, 32))

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        """Read ``algorithm$k=v,...$salt$hash``; raises PasswordHashError when malformed."""
        parts = text.split("$")
        if len(parts) != 4:
            raise PasswordHashError("password hash is not algorithm$parameters$salt$hash")
        algorithm, param_text, salt_text, hash_text = parts
        if algorithm not in ("scrypt", "pbkdf2-sha256"):
            raise PasswordHashError(f"unknown password hash algorithm {algorithm!r}")
        params: dict[str, int] = {}
        for item in param_text.split(","):
            key, sep, value = item.partition("=")
            if not sep or not value.isdigit():
                raise PasswordHashError(f"bad hash parameter {item!r}")
            params[key] = int(value)
        _check_kdf_params(algorithm, params)
        try:
            salt = base64.b64decode(salt_text, validate=True)
            digest = base64.b64decode(hash_text, validate=True)
        except binascii.Error:
            raise PasswordHashError("salt or hash is not base64") from None
        if len(salt) < 8 or len(digest) < 16:
            raise PasswordHashError("salt or hash is too short")
        return cls(algorithm, params, salt, digest)

    def format(self) -> str:
        """The text form :meth:`parse` reads."""
        param_text = ",".join(f"{k}={v}" for k, v in self.params.items())
        salt, digest = (base64.b64encode(b).decode("ascii") for b in (self.salt, self.hash))
        return f"{self.algorithm}${param_text}${salt}${digest}"

    def verify(self, password: str) -> bool:
        """Whether ``password`` hashes to this hash (slow by design)."""
        derived = _derive(self.algorithm, self.params, password.encode(), self.salt, len(self.hash))
        return hmac.compare_digest(derived, self.hash)


def _check_kdf_params(algorithm: str, params: Mapping[str, int]) -> None:
    """Refuse parameters ``algorithm`` does not take, or that cost too little or too much."""
    if algorithm == "scrypt":
        if set(params) != {"ln", "r", "p"}:
            raise PasswordHashError("scrypt needs exactly the parameters ln, r and p")
        if not 1 <= params["ln"] <= 30 or params["r"] < 1 or params["p"] < 1:
            raise PasswordHashError("scrypt parameters out of range")
        if _scrypt_memory(params) > _MAX_KDF_MEMORY:
            raise PasswordHashError("scrypt parameters need more than 1 GiB of memory")
    else:  # pbkdf2-sha256
        if set(params) != {"i"}:
            raise PasswordHashError("pbkdf2-sha256 needs exactly the parameter i")
        if not MIN_PBKDF2_ITERATIONS <= params["i"] <= _MAX_PBKDF2_ITERATIONS:
            low, high = MIN_PBKDF2_ITERATIONS, _MAX_PBKDF2_ITERATIONS
            raise PasswordHashError(f"pbkdf2-sha256 needs {low} to {high} iterations")


def _scrypt_memory(params: Mapping[str, int]) -> int:
    # What OpenSSL allocates: 128·r·(N + p + 2) bytes.
    return 128 * params["r"] * ((1 << params["ln"]) + params["p"] + 2)


def _derive(
    algorithm: str, params: Mapping[str, int], password: bytes, salt: bytes, length: int
) -> bytes:
    if algorithm == "scrypt":
        return hashlib.scrypt(
            password,
            salt=salt,
            n=1 << params["ln"],
            r=params["r"],
            p=params["p"],
            maxmem=_scrypt_memory(params) + (1 << 20),
            dklen=length,
        )
    return hashlib.pbkdf2_hmac("sha256", password, salt, params["i"], dklen=length)


#: Verified against when the user is unknown, so that costs as much as a wrong password.
#: It is always scrypt at the default cost: for a user whose line holds a pbkdf2-sha256
#: hash (or scrypt at another cost) a wrong password takes a different time than an
#: unknown name, which tells a patient attacker that such a user exists. Accepted: new
#: hashes are all default scrypt, and only hand-edited or legacy lines differ.
UNKNOWN_USER_HASH = PasswordHash(
    "scrypt", {"ln": SCRYPT_LOG2_N, "r": SCRYPT_R, "p": SCRYPT_P}, bytes(16), bytes(32)
)
