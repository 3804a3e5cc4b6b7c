"""Moving bytes in and out over HTTP for a client, under a :class:`TransferPolicy`.

:func:`fetch` downloads a URI into a file, with a size cap on what comes in; :func:`deliver`
copies a file to a URI with HTTP PUT. Both check the policy (:mod:`.transfer_policy`) for the
URI and, when fetching, for every redirect target, and turn every failure into a
:class:`TransferError` whose message a client can act on. Contracts use them in the job's
worker process, never in the service's request threads.

A failure to reach the other side (no route, refused or reset connection, no answer in time, an
answer that is not HTTP, a failed TLS handshake, a name that does not resolve) reads the same to
the client whatever its cause: otherwise the error texts of a few jobs map which ports of a host
are closed, silent or open. The cause is in :attr:`TransferError.detail`, for the service's log.
The time a job takes to fail still differs (a silent port waits for the timeout); the policy,
which names the hosts and ports a client may use at all, is what keeps other ports out of reach.
"""

from __future__ import annotations

import http.client
import os
from http import HTTPStatus
from pathlib import Path
from typing import IO
from urllib.parse import urljoin

import requests
import urllib3

from .. import __version__
from ..core.atomic import atomic_writer
from ..core.sizes import format_bytes
from .transfer_policy import (
    PUBLIC_URL,
    UNREACHABLE,
    TransferError,
    TransferPolicy,
    TransferRefused,
    TransferTooLarge,
    os_reason,
    shown_uri,
)

__all__ = [
    "PUBLIC_URL",
    "UNREACHABLE",
    "TransferError",
    "TransferPolicy",
    "TransferRefused",
    "TransferTooLarge",
    "deliver",
    "fetch",
]

_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024
_USER_AGENT = f"wsrf-uws/{__version__}"
_NETWORK_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)


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
    stops as soon as the count passes ``max_bytes`` (both: :class:`TransferTooLarge`). Non-2xx
    → TransferError with the status. Connection errors/timeouts → TransferError. On any failure
    no file (and no temp file) is left behind.

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
                            f" (the last time to {shown_uri(target)})"
                        )
                    reason = policy.refusal(target)
                    if reason:
                        raise TransferRefused(
                            f"redirect to {shown_uri(target)} refused: {reason}"
                            f" (redirected from {current})"
                        )
                    current = target
                    continue
                _raise_for_status(response, current, uri)
                declared = _content_length(response)
                if declared is not None and declared > max_bytes:
                    raise TransferTooLarge(
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
        raise TransferError(f"{source} cannot be delivered to {uri}: {os_reason(exc)}") from None
    headers = {"Content-Length": str(size), "Content-Type": content_type}
    # requests sends an empty file as chunked while keeping our Content-Length: a body of b""
    # keeps the request well-formed.
    data = body if size else b""
    with body, requests.Session() as session:
        response = _send(session, "PUT", uri, uri, timeout=timeout, data=data, headers=headers)
        with response:
            if 300 <= response.status_code < 400:
                location = response.headers.get("Location")
                to = f" to {shown_uri(urljoin(uri, location))}" if location else ""
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
                        raise TransferTooLarge(
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
            f"{_named(url, origin)} could not be written to {destination}: {os_reason(exc)}"
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
        return os_reason(causes[-1])
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
