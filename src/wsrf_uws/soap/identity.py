"""Who is calling: anonymous, a WS-Security UsernameToken, or HTTP Basic.

The SOAP binding asks an :class:`Authenticator` for the owner name of every request;
the engine then checks that name against the owner of the resource the request
names. Without a users file every caller is :data:`~wsrf_uws.core.model.ANONYMOUS`
and presenting credentials is an error (they would be silently ignored otherwise).
With one, a caller may identify with

- a ``wsse:Security/wsse:UsernameToken`` SOAP header (WS-Security UsernameToken
  Profile 1.0), its password as ``PasswordText`` or ``PasswordDigest``
  (``Base64(SHA-1(nonce + created + password))``); a ``wsu:Created`` is checked for
  freshness whenever present, and a ``wsse:Nonce`` may be used only once;
- HTTP Basic (RFC 7617, UTF-8), from the WSGI ``HTTP_AUTHORIZATION``.

Failures are :class:`~wsrf_uws.core.errors.NotAuthenticatedError`, whose description
never tells a caller whether a user name exists: an unknown user and a wrong
password read the same, and take about as long (an unknown user costs a key
derivation too).

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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from ..core.clock import Clock, as_utc
from ..core.errors import NotAuthenticatedError
from ..core.model import ANONYMOUS
from .namespaces import PASSWORD_DIGEST, PASSWORD_TEXT, WSSE, WSU, q

log = logging.getLogger(__name__)

SECURITY = q(WSSE, "Security")
USERNAME_TOKEN = q(WSSE, "UsernameToken")
_MESSAGE_SECURITY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0"
)
BASE64_BINARY = _MESSAGE_SECURITY + "#Base64Binary"

#: What a caller is told when a user name or password does not match; never more.
WRONG_CREDENTIALS = "unknown user or wrong password"
#: The same for a PasswordDigest token, which also fails for users without a digest secret.
WRONG_DIGEST_CREDENTIALS = (
    f"{WRONG_CREDENTIALS}, or digest authentication is not enabled for this user"
)

#: Cost of new password hashes: scrypt N = 2^14, r = 8, p = 5 (about 0.15 s, 16 MiB).
SCRYPT_LOG2_N = 14
SCRYPT_R = 8
SCRYPT_P = 5
MIN_PBKDF2_ITERATIONS = 200_000
#: Bounds on what a users file may ask for, so a bad line cannot exhaust the host.
_MAX_KDF_MEMORY = 1 << 30
_MAX_PBKDF2_ITERATIONS = 100_000_000
_MAX_NONCE_BYTES = 1024

_NAME = re.compile(r"[^\s:#][^\s:]*")
_FILE_HEADER = (
    "# wsrf-uws users: name, password hash, optionally digest=<base64 password>.\n"
    "# Edit with `UsersFile.add` / `UsersFile.remove`; see wsrf_uws.soap.identity.\n"
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
        _check_params(algorithm, params)
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


def _check_params(algorithm: str, params: Mapping[str, int]) -> None:
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
    with the same credentials pays for the derivation once.
    """

    #: How many successful (user, password) checks are remembered.
    VERIFIED_CACHE_SIZE = 4096

    def __init__(self, users: Mapping[str, User]) -> None:
        self._users = dict(users)
        self._cache_key = secrets.token_bytes(32)
        self._verified: OrderedDict[tuple[str, bytes], None] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> UsersFile:
        """Read a users file; raises UsersFileError naming the line of a problem."""
        path = Path(path)
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("users file %s is readable by other users; it should be mode 0600", path)
        return cls({user.name: user for user in _read(path)})

    @classmethod
    def add(
        cls, path: str | os.PathLike[str], name: str, password: str, *, digest: bool = False
    ) -> None:
        """Add user ``name``, or replace their password; creates the file if needed.

        ``digest=True`` also stores the password reversibly so the user can send
        PasswordDigest tokens (see the module docstring for what that costs).
        """
        path = Path(path)
        _check_name(name)
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

    @classmethod
    def remove(cls, path: str | os.PathLike[str], name: str) -> None:
        """Remove user ``name``; raises KeyError when the file has no such user."""
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
        """Whether ``password`` is ``name``'s; as slow for an unknown name as a wrong one."""
        user = self._users.get(name)
        key = (name, hmac.digest(self._cache_key, password.encode(), "sha256"))
        with self._lock:
            if user is not None and key in self._verified:
                self._verified.move_to_end(key)
                return True
        if user is None:
            _DUMMY_HASH.verify(password)
            return False
        if not user.password_hash.verify(password):
            return False
        with self._lock:
            self._verified[key] = None
            while len(self._verified) > self.VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return True

    def digest_secret(self, name: str) -> str | None:
        """The password ``name`` uses for PasswordDigest; None if unknown or not enabled."""
        user = self._users.get(name)
        return user.digest_secret if user is not None else None


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UsersFileError(
            f"user name {name!r} is not acceptable: it must be non-empty, "
            "without whitespace or ':', and not start with '#'"
        )
    if name == ANONYMOUS:
        raise UsersFileError(f"the name {ANONYMOUS!r} is reserved for unauthenticated callers")


def _raw_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _read(path: Path) -> list[User]:
    users: dict[str, User] = {}
    for number, line in enumerate(_raw_lines(path), start=1):
        user = _parse_line(line, path=path, number=number)
        if user is None:
            continue
        if user.name in users:
            raise UsersFileError(f"user {user.name!r} appears twice", path=path, line=number)
        users[user.name] = user
    return list(users.values())


def _parse_line(line: str, *, path: Path, number: int) -> User | None:
    """The user on ``line``, or None for a blank or comment line."""
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    try:
        if len(fields) not in (2, 3):
            raise UsersFileError(f"expected 2 or 3 fields, found {len(fields)}")
        name, hash_text, *rest = fields
        _check_name(name)
        password_hash = PasswordHash.parse(hash_text)
        secret = None
        if rest:
            key, _, value = rest[0].partition("=")
            if key != "digest":
                raise UsersFileError(f"unknown third field {key!r} (expected digest=...)")
            try:
                secret = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise UsersFileError("digest secret is not base64 of UTF-8 text") from None
    except UsersFileError as error:
        raise UsersFileError(str(error), path=path, line=number) from None
    return User(name, password_hash, secret)


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


# -- requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    """A parsed UsernameToken (the password is never logged)."""

    username: str
    password: str = field(repr=False)
    digest: bool
    nonce: bytes | None = None
    created_text: str | None = None
    created: datetime | None = None


class _NonceCache:
    """Nonces seen recently, each with the instant it may be forgotten; thread-safe, bounded."""

    def __init__(self, *, max_size: int) -> None:
        self._expiry: OrderedDict[bytes, datetime] = OrderedDict()
        self._max_size = max_size
        self._lock = threading.Lock()

    def remember(self, nonce: bytes, *, now: datetime, keep: timedelta) -> bool:
        """Record ``nonce`` until ``now + keep``; False when it is already recorded."""
        with self._lock:
            # Insertion order is expiry order while the clock runs forward; should it step
            # back, an expired entry only lingers until the ones before it go.
            while self._expiry and next(iter(self._expiry.values())) <= now:
                self._expiry.popitem(last=False)
            if nonce in self._expiry:
                return False
            self._expiry[nonce] = now + keep
            while len(self._expiry) > self._max_size:
                self._expiry.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)


class Authenticator:
    """Turns a request's credentials into its owner name; see the module docstring."""

    #: How many nonces are remembered at most; beyond it the oldest are forgotten.
    NONCE_CACHE_SIZE = 100_000

    def __init__(
        self,
        *,
        users: UsersFile | None = None,
        allow_anonymous: bool = True,
        clock: Clock,
        max_clock_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        if users is None and not allow_anonymous:
            raise ValueError("with no users file, anonymous access is the only access")
        if max_clock_skew <= timedelta(0):
            raise ValueError("max_clock_skew must be positive")
        self.users = users
        self.allow_anonymous = allow_anonymous
        self.clock = clock
        self.max_clock_skew = max_clock_skew
        self._nonces = _NonceCache(max_size=self.NONCE_CACHE_SIZE)

    def authenticate(self, *, headers: list[etree._Element], environ: Mapping[str, Any]) -> str:
        """Owner name for a request: the user named by a valid wsse:Security UsernameToken
        header block (among ``headers``, the SOAP header blocks) or a valid HTTP Basic
        ``HTTP_AUTHORIZATION`` in ``environ`` (WSGI); ANONYMOUS when neither is present and
        anonymous access is allowed. Raises NotAuthenticatedError on bad/unknown/replayed/
        stale credentials, or when credentials are required and absent.
        """
        token = _read_token(headers)
        basic = _read_basic(environ.get("HTTP_AUTHORIZATION"))
        if token is None and basic is None:
            if self.allow_anonymous:
                return ANONYMOUS
            raise NotAuthenticatedError(
                "this service requires authentication: send a WS-Security UsernameToken "
                "or HTTP Basic credentials"
            )
        if self.users is None:
            raise NotAuthenticatedError(
                "this service has no users: send no credentials to be served anonymously"
            )
        names = {token.username} if token is not None else set()
        names |= {basic[0]} if basic is not None else set()
        if len(names) > 1:
            raise NotAuthenticatedError(
                "the WS-Security UsernameToken and the HTTP Basic credentials name different users"
            )
        (name,) = names
        try:
            if basic is not None and not self.users.verify_password(name=name, password=basic[1]):
                raise NotAuthenticatedError(WRONG_CREDENTIALS)
            if token is not None:
                self._check_token(self.users, token)
        except NotAuthenticatedError as error:
            # The user name helps an administrator spot guessing; the password never appears.
            log.info(
                "authentication of %r from %s failed: %s",
                name,
                environ.get("REMOTE_ADDR", "an unknown address"),
                error.description,
            )
            raise
        return name

    def _check_token(self, users: UsersFile, token: _Token) -> None:
        now = self.clock.now()
        if token.created is not None:
            if token.created < now - self.max_clock_skew:
                raise NotAuthenticatedError(
                    f"the UsernameToken is stale: wsu:Created {token.created_text} is more than "
                    f"{self.max_clock_skew} before the server's time"
                )
            if token.created > now + self.max_clock_skew:
                raise NotAuthenticatedError(
                    f"the UsernameToken is from the future: wsu:Created {token.created_text} is "
                    f"more than {self.max_clock_skew} after the server's time"
                )
        if token.digest:
            # _read_token refuses a digest token without both.
            assert token.nonce is not None
            assert token.created_text is not None
            secret = users.digest_secret(token.username)
            # SHA-1 is what the UsernameToken Profile prescribes; a secret of None (unknown
            # user, or digest not enabled) still costs the same work before failing.
            expected = hashlib.sha1(  # noqa: S324
                token.nonce + token.created_text.encode() + (secret or "").encode()
            ).digest()
            received = _b64decode(token.password, what="the PasswordDigest")
            if not hmac.compare_digest(expected, received) or secret is None:
                raise NotAuthenticatedError(WRONG_DIGEST_CREDENTIALS)
        elif not users.verify_password(name=token.username, password=token.password):
            raise NotAuthenticatedError(WRONG_CREDENTIALS)
        # Only after the password checks out, so strangers cannot fill the cache.
        if token.nonce is not None and not self._nonces.remember(
            token.nonce, now=now, keep=2 * self.max_clock_skew
        ):
            raise NotAuthenticatedError("the UsernameToken's wsse:Nonce has been used before")


def _read_token(headers: list[etree._Element]) -> _Token | None:
    """The UsernameToken among the SOAP header blocks, or None when there is no wsse:Security."""
    securities = [h for h in headers if h.tag == SECURITY]
    if not securities:
        return None
    tokens = [t for s in securities for t in s.findall(USERNAME_TOKEN)]
    if not tokens:
        raise NotAuthenticatedError("the wsse:Security header carries no wsse:UsernameToken")
    if len(tokens) > 1:
        raise NotAuthenticatedError("the request carries more than one wsse:UsernameToken")
    token = tokens[0]

    username = (token.findtext(q(WSSE, "Username")) or "").strip()
    if not username:
        raise NotAuthenticatedError("the UsernameToken has an empty or missing wsse:Username")

    password_element = token.find(q(WSSE, "Password"))
    if password_element is None:
        raise NotAuthenticatedError("the UsernameToken has no wsse:Password")
    password_type = password_element.get("Type", PASSWORD_TEXT)
    if password_type not in (PASSWORD_TEXT, PASSWORD_DIGEST):
        raise NotAuthenticatedError(
            f"unsupported wsse:Password Type {password_type!r} "
            f"(expected {PASSWORD_TEXT} or {PASSWORD_DIGEST})"
        )
    digest = password_type == PASSWORD_DIGEST

    nonce = None
    nonce_element = token.find(q(WSSE, "Nonce"))
    if nonce_element is not None:
        encoding = nonce_element.get("EncodingType", BASE64_BINARY)
        if encoding != BASE64_BINARY:
            raise NotAuthenticatedError(f"unsupported wsse:Nonce EncodingType {encoding!r}")
        nonce = _b64decode(nonce_element.text or "", what="the wsse:Nonce")
        if not nonce:
            raise NotAuthenticatedError("the wsse:Nonce is empty")
        if len(nonce) > _MAX_NONCE_BYTES:
            raise NotAuthenticatedError(f"the wsse:Nonce is longer than {_MAX_NONCE_BYTES} bytes")

    created_text = token.findtext(q(WSU, "Created"))
    created = None
    if created_text is not None:
        created_text = created_text.strip()
        try:
            if "T" not in created_text:
                raise ValueError("a date without a time")
            created = as_utc(datetime.fromisoformat(created_text))
        except ValueError:
            raise NotAuthenticatedError(
                f"wsu:Created {created_text!r} is not an xsd:dateTime"
            ) from None

    if digest and (nonce is None or created is None):
        raise NotAuthenticatedError("a PasswordDigest token needs a wsse:Nonce and a wsu:Created")
    return _Token(username, password_element.text or "", digest, nonce, created_text, created)


def _read_basic(authorization: object) -> tuple[str, str] | None:
    """(user, password) from an HTTP Authorization value, or None when there is none."""
    if authorization is None or not str(authorization).strip():
        return None
    scheme, _, credentials = str(authorization).strip().partition(" ")
    if scheme.lower() != "basic":
        # Not echoed: a client that sends a bare secret would see it in the fault.
        raise NotAuthenticatedError(
            "unsupported HTTP authentication scheme (this service accepts Basic)"
        )
    if not credentials.strip():
        raise NotAuthenticatedError("the HTTP Basic Authorization header has no credentials")
    decoded = _b64decode(credentials.strip(), what="the HTTP Basic credentials")
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAuthenticatedError("the HTTP Basic credentials are not UTF-8") from None
    name, colon, password = text.partition(":")
    if not colon:
        raise NotAuthenticatedError("the HTTP Basic credentials have no ':' after the user name")
    if not name:
        raise NotAuthenticatedError("the HTTP Basic credentials have an empty user name")
    return name, password


def _b64decode(text: str, *, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise NotAuthenticatedError(f"{what} is not valid base64") from None
