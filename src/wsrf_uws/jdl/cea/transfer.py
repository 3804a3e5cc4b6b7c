"""Moving a job's bytes in and out over HTTP, under a policy of which URIs the service may use.

A ``cea`` job may name a *remote* input (a URI whose content the service fetches into the job's
folder) and an output *destination* (a URI to which the service copies an output file when the
job completes). Both URIs come from clients, so the service is the one making requests on their
behalf: :class:`TransferPolicy` says which URIs it may use, and refuses by default any host that
resolves to the service's own network (server-side request forgery). :func:`fetch` and
:func:`deliver` move the bytes, with a size cap on what comes in, and turn every failure into a
:class:`TransferError` whose message a client can act on.

At job creation the service only calls :meth:`TransferPolicy.check` (syntax, no network); the
transfers themselves, with the address check, run in the job's worker process.

A failure to reach the other side (no route, refused or reset connection, no answer in time, an
answer that is not HTTP, a failed TLS handshake, a name that does not resolve) reads the same to
the client whatever its cause: otherwise the error texts of a few jobs map which ports of a host
are closed, silent or open. The cause is in :attr:`TransferError.detail`, for the service's log.
The time a job takes to fail still differs (a silent port waits for the timeout); the policy,
which names the hosts and ports a client may use at all, is what keeps other ports out of reach.

The address check resolves the host just before the request; a DNS answer that changes between
the check and the connection (rebinding) is not caught here. A deployment that must rule that out
sends its transfers through an egress proxy.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http import HTTPStatus
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from ... import __version__
from ...core.atomic import atomic_writer
from ...core.sizes import format_bytes
from .uri_paths import decoded_path

__all__ = [
    "PUBLIC_URL",
    "UNREACHABLE",
    "TransferError",
    "TransferPolicy",
    "TransferRefused",
    "deliver",
    "fetch",
]

_SCHEMES = {"http": 80, "https": 443}
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024
_USER_AGENT = f"wsrf-uws/{__version__}"

# Everything a URI may not contain: a parser that reads "\" or white space differently from
# requests could see another host than the one the policy checked.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_ENTRY = re.compile(
    r"(?P<scheme>[^:/]+)://(?P<host>\[[^\]]*\]|[^/:]*)(?::(?P<port>[^/]*))?(?P<path>/.*)?",
    re.DOTALL,
)
_HOST_PATTERN = re.compile(r"[a-z0-9*?_.-]+")
_NETWORK_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)


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
        return cls(tuple(expanded))

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
            raise TransferRefused(f"{_shown(uri)} refused: {reason}")

    def _matching(self, uri: str) -> list[_Entry]:
        entries, reason = self._match(uri)
        if reason:
            raise TransferRefused(f"{_shown(uri)} refused: {reason}")
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
                f"{_shown(uri)} {UNREACHABLE}",
                detail=f"host {host!r} could not be resolved ({_os_reason(exc)})",
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


def fetch(
    uri: str,
    destination: Path,
    *,
    policy: TransferPolicy,
    max_bytes: int,
    timeout: float = 30.0,
    max_redirects: int = 5,
) -> int:
    """Download ``uri`` into ``destination`` (written atomically and durably, see
    :mod:`wsrf_uws.core.atomic`), returning the byte count. Checks policy (check +
    check_addresses) for the URI and for every redirect target (follow redirects manually with
    allow_redirects=False; relative Location resolved against the current URL). Refuses, before
    reading the body, a Content-Length above ``max_bytes``; counts bytes while streaming and
    stops as soon as the count passes ``max_bytes``. Non-2xx → TransferError with the status.
    Connection errors/timeouts → TransferError. On any failure no file (and no temp file) is
    left behind.

    ``timeout`` bounds connecting and each wait for data, not the whole download: the job's
    execution duration bounds that. A destination that already exists is replaced only on
    success.
    """
    if max_bytes < 0:
        raise ValueError(f"max_bytes must not be negative, not {max_bytes}")
    if max_redirects < 0:
        raise ValueError(f"max_redirects must not be negative, not {max_redirects}")
    policy.check(uri)
    policy.check_addresses(uri)
    destination = Path(destination)
    current = uri
    with requests.Session() as session:
        for redirects in range(max_redirects + 1):
            response = _send(session, "GET", current, uri, timeout=timeout)
            with response:
                if response.status_code in _REDIRECTS:
                    target = _redirect_target(response, current, uri)
                    if redirects == max_redirects:
                        raise TransferError(
                            f"{_named(current, uri)} redirected more than {max_redirects} times"
                            f" (the last time to {_shown(target)})"
                        )
                    reason = policy._match(target)[1] or policy._address_refusal(target)
                    if reason:
                        raise TransferRefused(
                            f"redirect to {_shown(target)} refused: {reason}"
                            f" (redirected from {current})"
                        )
                    current = target
                    continue
                _raise_for_status(response, current, uri)
                declared = _content_length(response)
                if declared is not None and declared > max_bytes:
                    raise TransferError(
                        f"{_named(current, uri)} is larger than the limit of "
                        f"{format_bytes(max_bytes)} (it declares {format_bytes(declared)})"
                    )
                return _save(response, destination, max_bytes, current, uri)
    raise AssertionError("unreachable: the loop returns or raises")


def deliver(
    source: Path,
    uri: str,
    *,
    policy: TransferPolicy,
    timeout: float = 30.0,
    content_type: str = "application/octet-stream",
) -> None:
    """Copy the file ``source`` to ``uri`` with HTTP PUT (body streamed from the file, with
    Content-Length and Content-Type), after the same policy checks. Any non-2xx answer →
    TransferError naming the status. No redirects are followed for PUT (a 3xx is an error saying
    so)."""
    policy.check(uri)
    policy.check_addresses(uri)
    source = Path(source)
    try:
        body = source.open("rb")
        size = os.fstat(body.fileno()).st_size
    except OSError as exc:
        raise TransferError(f"{source} cannot be delivered to {uri}: {_os_reason(exc)}") from None
    headers = {"Content-Length": str(size), "Content-Type": content_type}
    # requests sends an empty file as chunked while keeping our Content-Length: a body of b""
    # keeps the request well-formed.
    data = body if size else b""
    with body, requests.Session() as session:
        response = _send(session, "PUT", uri, uri, timeout=timeout, data=data, headers=headers)
        with response:
            if 300 <= response.status_code < 400:
                location = response.headers.get("Location")
                to = f" to {_shown(urljoin(uri, location))}" if location else ""
                raise TransferError(
                    f"{uri} answered HTTP {_status(response)}{to}; "
                    "redirects are not followed when delivering"
                )
            _raise_for_status(response, uri, uri)


def _send(
    session: requests.Session,
    method: str,
    url: str,
    origin: str,
    *,
    timeout: float,
    data: bytes | IO[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """One request whose body is not read yet; network failures become TransferError."""
    all_headers = {
        "User-Agent": _USER_AGENT,
        # A gzip-encoded answer would be stored decoded; ask for the bytes as they are.
        "Accept-Encoding": "identity",
        **(headers or {}),
    }
    try:
        return session.request(
            method,
            url,
            headers=all_headers,
            data=data,
            timeout=timeout,
            stream=True,
            allow_redirects=False,
            # The service account's ~/.netrc must never be sent to a client-chosen URI.
            auth=_no_auth,
        )
    except _NETWORK_ERRORS as exc:
        raise TransferError(
            f"{_named(url, origin)} {UNREACHABLE}",
            detail=f"{method} {url}: {_network_reason(exc, timeout)}",
        ) from None


def _save(
    response: requests.Response, destination: Path, max_bytes: int, url: str, origin: str
) -> int:
    """Stream the body into ``destination``, atomically and durably; the byte count."""
    count = 0
    try:
        with atomic_writer(destination) as out:
            try:
                for chunk in response.iter_content(_CHUNK):
                    count += len(chunk)
                    if count > max_bytes:
                        raise TransferError(
                            f"{_named(url, origin)} is larger than the limit of "
                            f"{format_bytes(max_bytes)}"
                        )
                    out.write(chunk)
            except _NETWORK_ERRORS as exc:
                raise TransferError(
                    f"{_named(url, origin)} stopped sending after {format_bytes(count)} "
                    "(the service's log has the reason)",
                    detail=f"GET {url}: {_network_reason(exc, None)}",
                ) from None
    except OSError as exc:
        raise TransferError(
            f"{_named(url, origin)} could not be written to {destination}: {_os_reason(exc)}"
        ) from None
    return count


def _redirect_target(response: requests.Response, url: str, origin: str) -> str:
    location = response.headers.get("Location")
    if not location:
        raise TransferError(
            f"{_named(url, origin)} answered HTTP {_status(response)} without a Location"
        )
    return urljoin(url, location)


def _raise_for_status(response: requests.Response, url: str, origin: str) -> None:
    if not 200 <= response.status_code < 300:
        raise TransferError(f"{_named(url, origin)} answered HTTP {_status(response)}")


def _status(response: requests.Response) -> str:
    code = response.status_code
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = response.reason or ""
    return f"{code} {phrase}".strip()


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdecimal() else None


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


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


def _shown(uri: str) -> str:
    """``uri`` for a message, without any password it carries."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def _named(url: str, origin: str) -> str:
    """The URI a message is about: the client's, and where it led if it was redirected."""
    return origin if url == origin else f"{origin} (redirected to {url})"


def _network_reason(exc: BaseException, timeout: float | None) -> str:
    """The cause of a network failure, without the layers requests and urllib3 wrap it in."""
    chain = _chain(exc)
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {timeout:g} s" if timeout else "no connection in time"
    read_timeouts = requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError
    if any(isinstance(e, read_timeouts) for e in chain):
        return f"no answer within {timeout:g} s" if timeout else "the server stopped sending"
    causes = [e for e in chain if isinstance(e, OSError) and e.strerror]
    if causes:
        return _os_reason(causes[-1])
    if isinstance(exc, requests.exceptions.SSLError):
        return "the TLS handshake failed"
    return str(exc) or type(exc).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps, outermost first."""
    found: list[BaseException] = []
    pending: list[object] = [exc]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or any(current is e for e in found):
            continue
        found.append(current)
        # requests and urllib3 wrap the cause in args or in .reason as often as in __cause__.
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += list(current.args)
    return found


def _os_reason(exc: BaseException) -> str:
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return str(strerror or exc)
