"""Fetching one result file: streamed, resumable with HTTP ``Range``, with progress.

A download to a path goes to ``{path}.part`` and is renamed once complete, so a path
that exists is always a whole file. With ``resume``, a ``.part`` left by an interrupted
download is continued: the request asks for ``Range: bytes={size}-``; a ``206`` answer is
appended, a ``200`` (a server without ranges) starts over, and a ``416`` whose
``Content-Range`` says the file has exactly the bytes already there means it was complete.
Without ``resume`` a failed download leaves nothing behind.

A job's results do not change once it has ended, which is what makes appending safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

import requests

from .channel import Channel, connection_error
from .errors import NotAuthenticated, ResultUnavailable, TransportError

__all__ = ["DownloadProgress", "fetch_to_path", "fetch_to_stream"]

_CHUNK = 64 * 1024
_TOTAL = re.compile(r"/(\d+)\s*$")

#: Called as bytes arrive: (bytes so far, total bytes or None when unknown).
DownloadProgress = Callable[[int, int | None], object]


def fetch_to_path(
    channel: Channel,
    href: str,
    path: Path,
    *,
    resume: bool = False,
    progress: DownloadProgress | None = None,
) -> int:
    """Fetch ``href`` into ``path`` (see the module docstring); the file's size."""
    partial = path.with_name(path.name + ".part")
    have = partial.stat().st_size if resume and partial.exists() else 0
    try:
        headers = {"Range": f"bytes={have}-"} if have else {}
        with _get(channel, href, headers) as response:
            if have and response.status_code == 416 and _total(response) == have:
                partial.replace(path)
                return have
            if response.status_code == 206 and have:
                mode, start = "ab", have
            else:
                _check(response, href)
                mode, start = "wb", 0
            total = _expected_total(response, start)
            with partial.open(mode) as handle:
                size = _copy(response, handle, start=start, total=total, progress=progress)
        partial.replace(path)
        return size
    except BaseException:
        if not resume:
            partial.unlink(missing_ok=True)
        raise


def fetch_to_stream(
    channel: Channel, href: str, handle: IO[bytes], *, progress: DownloadProgress | None = None
) -> int:
    """Fetch ``href`` into the binary file ``handle``; the number of bytes written."""
    with _get(channel, href, {}) as response:
        _check(response, href)
        total = _expected_total(response, 0)
        return _copy(response, handle, start=0, total=total, progress=progress)


def _get(channel: Channel, href: str, headers: dict[str, str]) -> requests.Response:
    try:
        return channel.session.get(
            href,
            stream=True,
            timeout=channel.timeout,
            auth=channel.credentials_for(href),
            headers=headers,
        )
    except requests.RequestException as error:
        raise connection_error(error, href) from error


def _check(response: requests.Response, href: str) -> None:
    """Raise what a download's status means, unless it is 200 (or 206)."""
    status = response.status_code
    if status == 401:
        raise NotAuthenticated(f"{href}: {response.text.strip()}", code="Client")
    if status == 404:
        raise ResultUnavailable(f"{href}: {response.text.strip()}")
    if status not in (200, 206):
        raise TransportError(f"HTTP {status} from {href}", url=href, status_code=status)


def _total(response: requests.Response) -> int | None:
    """The whole file's size a Content-Range header names (``bytes a-b/total``)."""
    found = _TOTAL.search(response.headers.get("Content-Range", ""))
    return int(found.group(1)) if found else None


def _expected_total(response: requests.Response, start: int) -> int | None:
    if response.status_code == 206:
        return _total(response)
    length = response.headers.get("Content-Length", "")
    return start + int(length) if length.isdigit() else None


def _copy(
    response: requests.Response,
    handle: IO[bytes],
    *,
    start: int,
    total: int | None,
    progress: DownloadProgress | None,
) -> int:
    size = start
    if progress is not None:
        progress(size, total)
    try:
        for chunk in response.iter_content(_CHUNK):
            handle.write(chunk)
            size += len(chunk)
            if progress is not None:
                progress(size, total)
    except requests.RequestException as error:
        raise connection_error(error, response.url) from error
    return size
