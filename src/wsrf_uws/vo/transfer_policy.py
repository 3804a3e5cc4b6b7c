"""Which URIs the service may fetch from or deliver to, on behalf of a client.

A contract that moves bytes to or from a URI a client names (``cea``'s remote inputs and
output destinations, ``adql``'s uploads by URI) makes requests on that client's behalf:
:class:`TransferPolicy` says which URIs it may use, and refuses by default any host that
resolves to the service's own network (server-side request forgery). :mod:`.transfer` moves
the bytes under such a policy.

At job creation a contract only calls :meth:`TransferPolicy.check` (syntax, no network); the
address check (:meth:`TransferPolicy.check_addresses`) runs just before each request.

The address check resolves the host just before the request; a DNS answer that changes between
the check and the connection (rebinding) is not caught here. A deployment that must rule that out
sends its transfers through an egress proxy.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from .uri_paths import decoded_path

__all__ = [
    "PUBLIC_URL",
    "UNREACHABLE",
    "TransferError",
    "TransferPolicy",
    "TransferRefused",
    "TransferTooLarge",
]

_SCHEMES = {"http": 80, "https": 443}

# Everything a URI may not contain: a parser that reads "\" or white space differently from
# requests could see another host than the one the policy checked.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_ENTRY = re.compile(
    r"(?P<scheme>[^:/]+)://(?P<host>\[[^\]]*\]|[^/:]*)(?::(?P<port>[^/]*))?(?P<path>/.*)?",
    re.DOTALL,
)
_HOST_PATTERN = re.compile(r"[a-z0-9*?_.-]+")


#: The start of a policy entry that stands for the service's public URL.
PUBLIC_URL = "{public_url}"

#: What a client reads when the other side could not be reached, whatever the reason.
UNREACHABLE = "could not be reached (no HTTP answer; the service's log has the reason)"


class TransferError(Exception):
    """A fetch or delivery failed; the message says why, in one sentence, naming the URI.

    ``detail`` is the underlying cause when the message leaves it out on purpose (see the
    module's text): for the service's log, never for the client.
    """

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class TransferRefused(TransferError):
    """The URI is not allowed by the policy (scheme, host, port, path or a private address)."""


class TransferTooLarge(TransferError):
    """What the URI answered is larger than the caller's limit."""


@dataclass(frozen=True)
class _Entry:
    """One parsed policy entry."""

    text: str
    scheme: str
    host: str
    wildcard: bool
    port: int | None  # None: any port
    path: str  # "" : any path; otherwise a prefix without a trailing "/"

    @classmethod
    def parse(cls, text: str) -> _Entry:
        match = _ENTRY.fullmatch(text)
        if match is None:
            raise ValueError(
                f"transfer policy entry {text!r} is not of the form scheme://host[:port][/path]"
            )
        scheme = match["scheme"].lower()
        if scheme not in _SCHEMES:
            raise ValueError(
                f"transfer policy entry {text!r} names scheme {scheme!r}; "
                "only http and https are supported"
            )
        host = match["host"].lower()
        if not host:
            raise ValueError(f"transfer policy entry {text!r} has no host")
        if host.startswith("["):
            try:
                host = str(ipaddress.IPv6Address(host[1:-1]))
            except ValueError:
                raise ValueError(
                    f"transfer policy entry {text!r} has an invalid IPv6 address {host}"
                ) from None
        elif not _HOST_PATTERN.fullmatch(host):
            raise ValueError(
                f"transfer policy entry {text!r} has host {host!r}, which is neither a name, "
                "an address nor a wildcard pattern"
            )
        port_text = match["port"]
        port: int | None
        if port_text is None:
            port = _SCHEMES[scheme]
        elif port_text == "*":
            port = None
        elif port_text.isdecimal() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            raise ValueError(
                f"transfer policy entry {text!r} has port {port_text!r}, "
                "which is neither a number from 1 to 65535 nor *"
            )
        path = match["path"] or ""
        if "?" in path or "#" in path:
            raise ValueError(f"transfer policy entry {text!r} has a query or fragment")
        if path:
            path, trouble = decoded_path(path)
            if trouble:
                raise ValueError(f"transfer policy entry {text!r}: its path {trouble}")
        path = path.rstrip("/")
        return cls(text, scheme, host, "*" in host or "?" in host, port, path)

    def matches_host(self, host: str) -> bool:
        return fnmatchcase(host, self.host) if self.wildcard else host == self.host

    def matches_path(self, path: str) -> bool:
        # A prefix matches on whole segments: /data allows /data/x, not /database.
        return not self.path or path == self.path or path.startswith(self.path + "/")


@dataclass(frozen=True)
class TransferPolicy:
    """Which URIs the service may fetch from or deliver to.

    Each entry of ``allowed`` is ``scheme://host[:port][/path-prefix]``. ``host`` may use shell
    wildcards (``*``, ``*.example.org``); ``port`` may be ``*`` (any) and defaults to the scheme's
    default port; a path prefix, when given, must match on whole segments. Only http and https are
    supported schemes.
    A host that resolves to a loopback, private, link-local, multicast, reserved or unspecified
    address is refused unless an entry names that host exactly (no wildcard): a wildcard
    entry must not open the service's own network to clients (SSRF).
    """

    allowed: tuple[str, ...] = ("https://*", "http://*")
    #: The service's own public URL, against which a URI without a host
    #: (``/demo/cea/stars-a.vot``) is resolved (:meth:`resolve`); None: no such URI.
    base_url: str | None = field(default=None, compare=False)
    _entries: tuple[_Entry, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.allowed, str):
            raise TypeError("TransferPolicy.allowed is a sequence of entries, not one string")
        allowed = tuple(self.allowed)
        object.__setattr__(self, "allowed", allowed)
        object.__setattr__(self, "_entries", tuple(_Entry.parse(e) for e in allowed))

    @classmethod
    def parse(cls, entries: Iterable[str], *, public_url: str | None = None) -> TransferPolicy:
        """A policy from ``entries`` (surrounding white space and blank entries ignored).

        An entry may begin with :data:`PUBLIC_URL`, which stands for ``public_url`` (the
        service's own address, known only once the server listens), so a configuration can
        name the service's own paths without knowing its port. Raises ``ValueError`` naming
        the first entry that is not valid.
        """
        if isinstance(entries, str):
            raise TypeError("TransferPolicy.parse takes an iterable of entries, not one string")
        expanded = []
        for entry in (e.strip() for e in entries):
            if entry.startswith(PUBLIC_URL):
                if public_url is None:
                    raise ValueError(f"transfer policy entry {entry!r} needs the public URL")
                entry = public_url.rstrip("/") + entry[len(PUBLIC_URL) :]
            if entry:
                expanded.append(entry)
        return cls(tuple(expanded), base_url=public_url)

    def resolve(self, uri: str) -> str:
        """``uri``, or for a path without a host (``/demo/...``), that path on the service's
        own public URL, so a job description can name the service's data wherever it runs."""
        if uri.startswith("/") and not uri.startswith("//") and self.base_url:
            return self.base_url.rstrip("/") + uri
        return uri

    def check(self, uri: str) -> None:
        """Raise TransferRefused unless ``uri`` is an absolute http(s) URI matching an entry
        (syntax only; no DNS). Also refuse userinfo (user:pass@) and fragments."""
        self._matching(uri)

    def check_addresses(self, uri: str) -> None:
        """Resolve the host (socket.getaddrinfo) and apply the private-address rule above.

        Only that rule: an entry that matches ``uri`` and names its host exactly exempts it;
        otherwise every address of the host must be public. The rest is :meth:`check`'s work, so
        a transfer needs both. Raises :class:`TransferRefused` for a refused address and
        :class:`TransferError` when the host cannot be resolved.
        """
        reason = self._address_refusal(uri)
        if reason:
            raise TransferRefused(f"{shown_uri(uri)} refused: {reason}")

    def refusal(self, uri: str) -> str:
        """Why the policy refuses ``uri`` ("" when it allows it): :meth:`check`'s reasons, then
        :meth:`check_addresses`'s (which resolves the host, and raises
        :class:`TransferError` when it cannot)."""
        return self._match(uri)[1] or self._address_refusal(uri)

    def _matching(self, uri: str) -> list[_Entry]:
        entries, reason = self._match(uri)
        if reason:
            raise TransferRefused(f"{shown_uri(uri)} refused: {reason}")
        return entries

    def _match(self, uri: str) -> tuple[list[_Entry], str]:
        """The entries allowing ``uri``, or why none does."""
        if _UNSAFE.search(uri):
            return [], "it contains white space, a control character or a backslash"
        try:
            parts = urlsplit(uri)
            host = parts.hostname
        except ValueError:
            return [], "it is not a valid URI"
        scheme = parts.scheme.lower()
        if not scheme:
            return [], "it is not an absolute http(s) URI"
        if scheme not in _SCHEMES:
            return [], f"scheme {scheme!r} is not allowed"
        if "@" in parts.netloc:
            return [], "user information (user:password@) is not accepted in a URI"
        if "#" in uri:
            return [], "a fragment (#...) is not accepted in a URI"
        if not parts.netloc.isascii():
            return [], "its host is not ASCII (use the IDNA form)"
        if not host:
            return [], "it has no host"
        try:
            port = parts.port or _SCHEMES[scheme]
        except ValueError:
            return [], "its port is not a number from 1 to 65535"
        path, trouble = decoded_path(parts.path)

        entries = [e for e in self._entries if e.scheme == scheme]
        if not entries:
            return [], f"scheme {scheme!r} is not allowed"
        entries = [e for e in entries if e.matches_host(host)]
        if not entries:
            return [], f"host {host!r} is not allowed"
        entries = [e for e in entries if e.port is None or e.port == port]
        if not entries:
            return [], f"port {port} is not allowed for host {host!r}"
        if trouble:
            # Some server would read the path as one outside a prefix: only entries that
            # allow any path still match.
            entries = [e for e in entries if not e.path]
            if not entries:
                return [], f"path {parts.path!r} {trouble}"
        entries = [e for e in entries if e.matches_path(path)]
        if not entries:
            return [], f"path {parts.path!r} is not allowed"
        return entries, ""

    def _address_refusal(self, uri: str) -> str:
        """Why the private-address rule refuses ``uri`` ("" if it does not)."""
        entries, reason = self._match(uri)
        if any(not e.wildcard for e in entries):
            return ""
        try:
            host = urlsplit(uri).hostname
        except ValueError:
            host = None
        if not host:
            return reason or "it has no host"
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            # Said like any other unreachable server: a name that does not resolve is as
            # much a fact about the service's network as a closed port.
            raise TransferError(
                f"{shown_uri(uri)} {UNREACHABLE}",
                detail=f"host {host!r} could not be resolved ({os_reason(exc)})",
            ) from None
        for info in infos:
            address = str(info[4][0])
            kind = _non_public(ipaddress.ip_address(address.partition("%")[0]))
            if kind:
                shown = host if host == address else f"{host} ({address})"
                return (
                    f"host {shown} is a {kind} address, "
                    "which only a policy entry naming the host exactly allows"
                )
        return ""


def _non_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The kind of a non-public address ("" for a public one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    # The order matters: a loopback or link-local address also counts as private.
    kinds = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, flag in kinds if flag), "")


def shown_uri(uri: str) -> str:
    """``uri`` for a message, without any password it carries."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def os_reason(exc: BaseException) -> str:
    """The operating system's words for ``exc`` ("Connection refused"), else its text."""
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return str(strerror or exc)
