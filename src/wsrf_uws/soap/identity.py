"""Who is calling: anonymous, a WS-Security UsernameToken, or HTTP Basic.

The SOAP binding asks an :class:`Authenticator` for the owner name of every request;
the engine then checks that name against the owner of the resource the request
names. Without a users file every caller is :data:`~wsrf_uws.core.model.ANONYMOUS`
and presenting credentials is an error (they would be silently ignored otherwise).
With one (a :class:`~wsrf_uws.accounts.UsersFile`), a caller may identify with

- a ``wsse:Security/wsse:UsernameToken`` SOAP header (WS-Security UsernameToken
  Profile 1.0), its password as ``PasswordText`` or ``PasswordDigest``
  (``Base64(SHA-1(nonce + created + password))``, only for users whose entry holds a
  digest secret); a ``wsu:Created`` is checked for freshness whenever present, and a
  ``wsse:Nonce`` may be used only once: within the freshness window, also after a
  restart, since the nonces are kept in the store (a :class:`NonceRegistry`);
- HTTP Basic (RFC 7617, UTF-8), from the WSGI ``HTTP_AUTHORIZATION``.

Failures are :class:`~wsrf_uws.core.errors.NotAuthenticatedError`, whose description
never tells a caller whether a user name exists: an unknown user and a wrong
password read the same, and take about as long (an unknown user costs a key
derivation too). Key derivations are rationed by the users file: when too many are
under way a check fails at once as busy (see :mod:`wsrf_uws.accounts.users_file`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from lxml import etree

from ..accounts import UsersFile
from ..core.clock import Clock
from ..core.errors import NotAuthenticatedError
from ..core.model import ANONYMOUS
from ..wire.namespaces import PASSWORD_DIGEST, PASSWORD_TEXT, WSSE, WSU, q
from ..wire.times import as_utc

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

#: The longest wsse:Nonce accepted (the cache keeps digests, but parsing costs too).
_MAX_NONCE_BYTES = 1024


@dataclass(frozen=True)
class _Token:
    """A parsed UsernameToken (the password is never logged)."""

    username: str
    #: The wsse:Password text: the password itself, or the base64 digest when ``digest``.
    password: str = field(repr=False)
    digest: bool
    nonce: bytes | None = None
    #: wsu:Created as sent (a PasswordDigest covers these exact characters) and as read.
    created_text: str | None = None
    created: datetime | None = None


class NonceRegistry(Protocol):
    """Where used nonces are kept: the store (:meth:`~wsrf_uws.core.ports.JobStore.remember_nonce`)
    in a service, so a replay is refused across restarts too."""

    def remember_nonce(self, digest: bytes, *, expires: datetime, now: datetime) -> bool:
        """Record ``digest`` until ``expires``; False when it is recorded (and not expired)."""
        ...


class _NonceCache:
    """Nonces seen recently, each with the instant it may be forgotten; thread-safe, bounded.

    The :class:`NonceRegistry` of an authenticator given none: it forgets everything
    when the process ends, so a replay after a restart is not noticed.
    """

    def __init__(self, *, max_size: int) -> None:
        self._expiry: OrderedDict[bytes, datetime] = OrderedDict()
        self._max_size = max_size
        self._lock = threading.Lock()

    def remember_nonce(self, digest: bytes, *, expires: datetime, now: datetime) -> bool:
        """Record ``digest`` until ``expires``; False when it is already recorded."""
        with self._lock:
            # Insertion order is expiry order while the clock runs forward; should it step
            # back, an expired entry only lingers until the ones before it go.
            while self._expiry and next(iter(self._expiry.values())) <= now:
                self._expiry.popitem(last=False)
            if digest in self._expiry:
                return False
            self._expiry[digest] = expires
            while len(self._expiry) > self._max_size:
                self._expiry.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)


class Authenticator:
    """Turns a request's credentials into its owner name; see the module docstring."""

    #: How many nonces an authenticator without a store remembers at most; beyond it the
    #: oldest are forgotten.
    NONCE_CACHE_SIZE = 100_000

    def __init__(
        self,
        *,
        users: UsersFile | None = None,
        allow_anonymous: bool = True,
        clock: Clock,
        max_clock_skew: timedelta = timedelta(minutes=5),
        nonces: NonceRegistry | None = None,
    ) -> None:
        """``nonces`` keeps the used nonces (the service's store); without one they are
        kept in memory only, and forgotten by a restart."""
        if users is None and not allow_anonymous:
            raise ValueError("with no users file, anonymous access is the only access")
        if max_clock_skew <= timedelta(0):
            raise ValueError("max_clock_skew must be positive")
        self.users = users
        self.allow_anonymous = allow_anonymous
        self.clock = clock
        self.max_clock_skew = max_clock_skew
        self._nonces: NonceRegistry = nonces or _NonceCache(max_size=self.NONCE_CACHE_SIZE)

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
        """Raise NotAuthenticatedError unless ``token`` is fresh, its password is right
        and its nonce has not been used before."""
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
        # Only after the password checks out, so strangers cannot fill the registry. A
        # nonce is kept as its SHA-256 digest (32 bytes), not as sent (up to
        # _MAX_NONCE_BYTES), for as long as a token carrying it could pass as fresh.
        if token.nonce is not None and not self._nonces.remember_nonce(
            hashlib.sha256(token.nonce).digest(),
            expires=now + 2 * self.max_clock_skew,
            now=now,
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
    """``text`` decoded from base64, ignoring whitespace; ``what`` names it in the error."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError:  # binascii.Error, or a plain ValueError for non-ASCII text
        raise NotAuthenticatedError(f"{what} is not valid base64") from None
