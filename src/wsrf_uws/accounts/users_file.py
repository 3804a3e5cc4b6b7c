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
- *password hash*: ``algorithm$parameters$salt$hash``, as :mod:`.passwords` writes
  and reads it (scrypt for new hashes; PBKDF2-SHA256 is read too).
- *digest secret* (optional): ``digest=`` and the password itself, base64-encoded.
  PasswordDigest proves knowledge of the password without sending it, but the server
  can check such a proof only if it knows the password: a salted hash is not enough.
  So a user can use PasswordDigest only when added with ``digest=True``, and for that
  user the file holds the password in a *reversible* form: whoever can read the file
  can log in as that user anywhere the password is reused. Text tokens and Basic
  (which need TLS to be safe on the wire) work for every user. The file is written
  with mode 0600 either way.

:meth:`UsersFile.add` and :meth:`UsersFile.remove` rewrite the file atomically and
durably (:func:`wsrf_uws.core.atomic.write_atomic`), keeping comments and order. They do
not lock: do not run two of them on one file at the same time. A running service reads
the file once, when it builds its :class:`UsersFile`.

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
import hmac
import logging
import os
import re
import secrets
import stat
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.atomic import write_atomic
from ..core.errors import NotAuthenticatedError
from ..core.model import ANONYMOUS
from .passwords import UNKNOWN_USER_HASH, PasswordHash, PasswordHashError

log = logging.getLogger(__name__)

_USER_NAME = re.compile(r"[^\s:#][^\s:]*")
#: The first lines of a users file that :meth:`UsersFile.add` creates.
_FILE_HEADER = (
    "# wsrf-uws users: name, password hash, optionally digest=<base64 password>.\n"
    "# Edit with `UsersFile.add` / `UsersFile.remove`; see wsrf_uws.accounts.users_file.\n"
)


class UsersFileError(ValueError):
    """A users file, or a name or password for one, is not acceptable."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        where = f"{path}, line {line}: " if path is not None and line is not None else ""
        super().__init__(where + message)
        self.path = path
        self.line = line


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
        write_atomic(path, "".join(out))

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
        write_atomic(path, "".join(out))

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
                UNKNOWN_USER_HASH.verify(password)
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
        try:
            password_hash = PasswordHash.parse(hash_text)
        except PasswordHashError as error:
            raise UsersFileError(str(error)) from None
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
