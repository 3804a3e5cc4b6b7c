"""The users file: who may log in to a service, and how their passwords are checked.

:class:`UsersFile` reads the file once and answers "is this ``name``'s password?"
(:meth:`~UsersFile.verify_password`) and "what does ``name`` use for PasswordDigest?"
(:meth:`~UsersFile.digest_secret`); :mod:`wsrf_uws.soap.identity` turns a request's
credentials into those questions. :meth:`UsersFile.add` and :meth:`UsersFile.remove`
edit the file, for the ``wsrf-uws users`` command.

The users file
--------------
UTF-8 text, one user per line; blank lines and lines starting with ``#`` are
ignored. A line has two or three fields separated by whitespace::

    # name   password hash                                  [digest secret]
    alice    scrypt$ln=14,r=8,p=5$<salt>$<hash>
    bob      scrypt$ln=14,r=8,p=5$<salt>$<hash>            digest=<base64 password>

- *name*: any characters but whitespace and ``:`` (HTTP Basic cannot carry a colon in
  a user name); it may not start with ``#``, and ``anonymous`` is reserved.
- *password hash*: ``algorithm$parameters$salt$hash``, salt and hash in standard
  base64, so the algorithm and its cost can change without a new format. Written as
  ``scrypt$ln=14,r=8,p=5`` (N = 2^14, the OWASP-equivalent of N = 2^17, p = 1 at 16
  MiB); ``pbkdf2-sha256$i=<iterations>`` (at least 200 000) is read too.
- *digest secret* (optional): ``digest=`` and the password itself, base64-encoded.
  PasswordDigest proves knowledge of the password without sending it, but the server
  can check such a proof only if it knows the password: a salted hash is not enough.
  So a user can use PasswordDigest only when added with ``digest=True``, and for that
  user the file holds the password in a *reversible* form: whoever can read the file
  can log in as that user anywhere the password is reused. Text tokens and Basic
  (which need TLS to be safe on the wire) work for every user. The file is written
  with mode 0600 either way.

:meth:`UsersFile.add` and :meth:`UsersFile.remove` rewrite the file atomically
(temporary file, fsync, rename), keeping comments and order. They do not lock: do not
run two of them on one file at the same time. A running service reads the file once,
when it builds its :class:`UsersFile`.

Checking a password costs a key derivation (about 0.15 s and 16 MiB), so guesses
could tie up the host. A :class:`UsersFile` therefore runs at most
:attr:`UsersFile.MAX_CONCURRENT_CHECKS` derivations at once; a check that cannot
start one within :attr:`UsersFile.CHECK_WAIT` seconds fails at once with
:class:`~wsrf_uws.core.errors.NotAuthenticatedError` (the service is busy) instead of
queueing, so a flood of bad credentials delays other logins by at most that wait and
never touches requests that send none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import NotAuthenticatedError
from ..core.model import ANONYMOUS

log = logging.getLogger(__name__)

#: Cost of new password hashes: scrypt N = 2^14, r = 8, p = 5 (about 0.15 s, 16 MiB).
SCRYPT_LOG2_N = 14
SCRYPT_R = 8
SCRYPT_P = 5
#: The fewest PBKDF2-SHA256 iterations a users file may ask for.
MIN_PBKDF2_ITERATIONS = 200_000
#: Bounds on what a users file may ask for, so a bad line cannot exhaust the host.
_MAX_KDF_MEMORY = 1 << 30
_MAX_PBKDF2_ITERATIONS = 100_000_000

_USER_NAME = re.compile(r"[^\s:#][^\s:]*")
#: The first lines of a users file that :meth:`UsersFile.add` creates.
_FILE_HEADER = (
    "# wsrf-uws users: name, password hash, optionally digest=<base64 password>.\n"
    "# Edit with `UsersFile.add` / `UsersFile.remove`; see wsrf_uws.soap.users.\n"
)


class UsersFileError(ValueError):
    """A users file, or a name or password for one, is not acceptable."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        where = f"{path}, line {line}: " if path is not None and line is not None else ""
        super().__init__(where + message)
        self.path = path
        self.line = line


# -- password hashes ------------------------------------------------------------------


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
        """Read ``algorithm$k=v,...$salt$hash``; raises UsersFileError when malformed."""
        parts = text.split("$")
        if len(parts) != 4:
            raise UsersFileError("password hash is not algorithm$parameters$salt$hash")
        algorithm, param_text, salt_text, hash_text = parts
        if algorithm not in ("scrypt", "pbkdf2-sha256"):
            raise UsersFileError(f"unknown password hash algorithm {algorithm!r}")
        params: dict[str, int] = {}
        for item in param_text.split(","):
            key, sep, value = item.partition("=")
            if not sep or not value.isdigit():
                raise UsersFileError(f"bad hash parameter {item!r}")
            params[key] = int(value)
        _check_kdf_params(algorithm, params)
        try:
            salt = base64.b64decode(salt_text, validate=True)
            digest = base64.b64decode(hash_text, validate=True)
        except binascii.Error:
            raise UsersFileError("salt or hash is not base64") from None
        if len(salt) < 8 or len(digest) < 16:
            raise UsersFileError("salt or hash is too short")
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
            raise UsersFileError("scrypt needs exactly the parameters ln, r and p")
        if not 1 <= params["ln"] <= 30 or params["r"] < 1 or params["p"] < 1:
            raise UsersFileError("scrypt parameters out of range")
        if _scrypt_memory(params) > _MAX_KDF_MEMORY:
            raise UsersFileError("scrypt parameters need more than 1 GiB of memory")
    else:  # pbkdf2-sha256
        if set(params) != {"i"}:
            raise UsersFileError("pbkdf2-sha256 needs exactly the parameter i")
        if not MIN_PBKDF2_ITERATIONS <= params["i"] <= _MAX_PBKDF2_ITERATIONS:
            low, high = MIN_PBKDF2_ITERATIONS, _MAX_PBKDF2_ITERATIONS
            raise UsersFileError(f"pbkdf2-sha256 needs {low} to {high} iterations")


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
_DUMMY_HASH = PasswordHash(
    "scrypt", {"ln": SCRYPT_LOG2_N, "r": SCRYPT_R, "p": SCRYPT_P}, bytes(16), bytes(32)
)


# -- the users file -------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """One line of a users file."""

    name: str
    password_hash: PasswordHash
    #: The password itself, for PasswordDigest; None when digest is not enabled.
    digest_secret: str | None = field(default=None, repr=False)

    def format(self) -> str:
        """The line for this user, without the newline."""
        fields = [self.name, self.password_hash.format()]
        if self.digest_secret is not None:
            fields.append("digest=" + base64.b64encode(self.digest_secret.encode()).decode())
        return " ".join(fields)


class UsersFile:
    """The users a service knows, as read from a users file (see the module docstring).

    Checking a password is slow on purpose (a key derivation); successful checks are
    remembered, keyed by user and a keyed hash of the password, so a client that polls
    with the same credentials pays for the derivation once. Derivations are rationed
    (see the module docstring): ``max_concurrent_checks`` at once, and a check that
    waits ``check_wait`` seconds for a turn fails as busy.
    """

    #: How many successful (user, password) checks are remembered.
    VERIFIED_CACHE_SIZE = 4096
    #: Key derivations run at once, at most: about the CPUs a small host gives them.
    MAX_CONCURRENT_CHECKS = 2
    #: Seconds a check waits for a turn before failing with "busy".
    CHECK_WAIT = 1.0
    #: What a check that gets no turn raises (as NotAuthenticatedError).
    BUSY = "the service is busy checking other credentials; try again"

    def __init__(
        self,
        users: Mapping[str, User],
        *,
        max_concurrent_checks: int | None = None,
        check_wait: float | None = None,
    ) -> None:
        self._users = dict(users)
        self._cache_key = secrets.token_bytes(32)
        self._verified: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._lock = threading.Lock()
        slots = (
            self.MAX_CONCURRENT_CHECKS if max_concurrent_checks is None else max_concurrent_checks
        )
        if slots < 1:
            raise ValueError("max_concurrent_checks must be at least 1")
        self._derivations = threading.BoundedSemaphore(slots)
        self._check_wait = self.CHECK_WAIT if check_wait is None else check_wait

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        max_concurrent_checks: int | None = None,
        check_wait: float | None = None,
    ) -> UsersFile:
        """Read a users file; raises UsersFileError naming the line of a problem.

        ``max_concurrent_checks`` and ``check_wait`` are as for the constructor.
        """
        path = Path(path)
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("users file %s is readable by other users; it should be mode 0600", path)
        return cls(
            _read_users(path), max_concurrent_checks=max_concurrent_checks, check_wait=check_wait
        )

    @staticmethod
    def add(
        path: str | os.PathLike[str], name: str, password: str, *, digest: bool = False
    ) -> None:
        """Add user ``name`` to the file at ``path``, or replace their password; creates
        the file if needed.

        ``digest=True`` also stores the password reversibly so the user can send
        PasswordDigest tokens (see the module docstring for what that costs).
        """
        path = Path(path)
        _check_user_name(name)
        if not password:
            raise UsersFileError("the password is empty")
        user = User(name, PasswordHash.create(password), password if digest else None)
        lines = _raw_lines(path) if path.exists() else [_FILE_HEADER]
        out: list[str] = []
        found = False
        for number, line in enumerate(lines, start=1):
            parsed = _parse_line(line, path=path, number=number)
            if parsed is not None and parsed.name == name:
                line, found = user.format() + "\n", True
            out.append(line)
        if not found:
            out.append(user.format() + "\n")
        _write_atomically(path, "".join(out))

    @staticmethod
    def remove(path: str | os.PathLike[str], name: str) -> None:
        """Remove user ``name`` from the file at ``path``; raises KeyError when it has no
        such user."""
        path = Path(path)
        lines = _raw_lines(path)
        out = []
        for number, line in enumerate(lines, start=1):
            user = _parse_line(line, path=path, number=number)
            if user is None or user.name != name:
                out.append(line)
        if len(out) == len(lines):
            raise KeyError(name)
        _write_atomically(path, "".join(out))

    def __contains__(self, name: object) -> bool:
        return name in self._users

    def __len__(self) -> int:
        return len(self._users)

    @property
    def names(self) -> list[str]:
        """The user names, in file order."""
        return list(self._users)

    def verify_password(self, *, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s; as slow for an unknown name as a wrong one.

        Raises NotAuthenticatedError (:attr:`BUSY`) when no key derivation can start
        within the wait (see the module docstring); a remembered success needs none.
        """
        user = self._users.get(name)
        key = (name, hmac.digest(self._cache_key, password.encode(), "sha256"))
        with self._lock:
            if user is not None and key in self._verified:
                self._verified.move_to_end(key)
                return True
        if not self._derivations.acquire(timeout=self._check_wait):
            # identity.Authenticator logs the refusal, as it does every failed login.
            raise NotAuthenticatedError(self.BUSY)
        try:
            if user is None:
                _DUMMY_HASH.verify(password)
                return False
            if not user.password_hash.verify(password):
                return False
        finally:
            self._derivations.release()
        with self._lock:
            self._verified[key] = None
            while len(self._verified) > self.VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return True

    def digest_secret(self, name: str) -> str | None:
        """The password ``name`` uses for PasswordDigest; None if unknown or not enabled."""
        user = self._users.get(name)
        return user.digest_secret if user is not None else None


def _check_user_name(name: str) -> None:
    """Refuse a name the file or HTTP Basic cannot carry, and the anonymous caller's name."""
    if not _USER_NAME.fullmatch(name):
        raise UsersFileError(
            f"user name {name!r} is not acceptable: it must be non-empty, "
            "without whitespace or ':', and not start with '#'"
        )
    if name == ANONYMOUS:
        raise UsersFileError(f"the name {ANONYMOUS!r} is reserved for unauthenticated callers")


def _raw_lines(path: Path) -> list[str]:
    """The lines of ``path``, line ends kept, so that edits can write back the rest as is."""
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _read_users(path: Path) -> dict[str, User]:
    """The users in the file at ``path``, by name, in file order."""
    users: dict[str, User] = {}
    for number, line in enumerate(_raw_lines(path), start=1):
        user = _parse_line(line, path=path, number=number)
        if user is None:
            continue
        if user.name in users:
            raise UsersFileError(f"user {user.name!r} appears twice", path=path, line=number)
        users[user.name] = user
    return users


def _parse_line(line: str, *, path: Path, number: int) -> User | None:
    """The user on ``line``, or None for a blank or comment line."""
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    try:
        if len(fields) not in (2, 3):
            raise UsersFileError(f"expected 2 or 3 fields, found {len(fields)}")
        name, hash_text, *rest = fields
        _check_user_name(name)
        password_hash = PasswordHash.parse(hash_text)
        digest_secret = None
        if rest:
            key, _, value = rest[0].partition("=")
            if key != "digest":
                raise UsersFileError(f"unknown third field {key!r} (expected digest=...)")
            try:
                digest_secret = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise UsersFileError("digest secret is not base64 of UTF-8 text") from None
    except UsersFileError as error:
        raise UsersFileError(str(error), path=path, line=number) from None
    return User(name, password_hash, digest_secret)


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: a 0600 temporary file, fsync, rename, fsync the folder."""
    folder = path.parent
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)  # mkstemp already creates 0600; be explicit
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
