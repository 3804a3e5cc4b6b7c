"""Result files over plain HTTP: ``GET /results/{resource-id}/{name}``.

The same owner check as every SOAP operation (another owner's job is answered like
an unknown one, 404), the MIME type the job declared, the length, and single byte
ranges (``Range: bytes=...``, answered 206) so large results can be fetched in parts
or resumed. A destroyed job's results answer 404. Files are handed to the server's
``wsgi.file_wrapper``, so a slow reader ties up a connection, never a request thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..core.errors import NotAuthenticatedError, ResourceUnknownError
from ..core.service import JobService
from ..wire.ranges import RangeNotSatisfiable, byte_range

StartResponse = Callable[..., Any]
_BLOCK = 64 * 1024


def plain(start_response: StartResponse, status: str, text: str, **headers: str) -> list[bytes]:
    """A short text/plain answer."""
    body = (text + "\n").encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *headers.items(),
        ],
    )
    return [body]


def _chunks(handle: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            block = handle.read(min(_BLOCK, length))
            if not block:
                break
            length -= len(block)
            yield block
    finally:
        handle.close()


class ResultDownloads:
    """The WSGI handler of the results route."""

    def __init__(self, *, service: JobService, authenticate: Callable[..., str]) -> None:
        self.service = service
        self.authenticate = authenticate

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse, resource_id: str, name: str
    ) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return plain(start_response, "405 Method Not Allowed", "GET or HEAD", Allow="GET, HEAD")
        try:
            owner = self.authenticate(headers=[], environ=environ)
        except NotAuthenticatedError as error:
            return plain(
                start_response,
                "401 Unauthorized",
                error.description,
                **{"WWW-Authenticate": 'Basic realm="wsrf-uws"'},
            )
        try:
            job = self.service.get_job(resource_id, owner=owner)
        except ResourceUnknownError:
            return plain(start_response, "404 Not Found", f"no resource {resource_id}")
        result = job.result(name)
        if result is None or not result.is_local:
            return plain(start_response, "404 Not Found", f"{resource_id} has no result {name}")
        try:
            path = self.service.files.file(resource_id, result.location)
        except ValueError:
            return plain(start_response, "404 Not Found", f"result {name} is not available")
        return send_file(environ, start_response, path, name=name, mime_type=result.mime_type)


def send_file(
    environ: dict[str, Any],
    start_response: StartResponse,
    path: Path,
    *,
    name: str,
    mime_type: str,
) -> Iterable[bytes]:
    """Answer a GET or HEAD with the file at ``path`` (one byte range at most), as an attachment."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by the response iterator)
    except OSError:
        return plain(start_response, "404 Not Found", f"{name} is not available")
    size = os.fstat(handle.fileno()).st_size
    headers = [
        ("Content-Type", mime_type),
        ("Accept-Ranges", "bytes"),
        # A file is data, served from the service's own origin: never let a browser run
        # it there (HTML, SVG) with the credentials it keeps for us.
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "sandbox"),
        ("Content-Disposition", f'attachment; filename="{name}"'),
    ]
    try:
        wanted = byte_range(environ.get("HTTP_RANGE"), size)
    except RangeNotSatisfiable:
        handle.close()
        return plain(
            start_response,
            "416 Range Not Satisfiable",
            "the range lies outside the file",
            **{"Content-Range": f"bytes */{size}"},
        )
    if wanted is None:
        first, last, status = 0, size - 1, "200 OK"
    else:
        first, last = wanted
        status = "206 Partial Content"
        headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
    length = max(0, last - first + 1)
    headers.append(("Content-Length", str(length)))
    start_response(status, headers)
    if environ["REQUEST_METHOD"] == "HEAD":
        handle.close()
        return []
    handle.seek(first)
    file_wrapper = environ.get("wsgi.file_wrapper")
    if file_wrapper is not None:
        # The server sends the file from its event loop as the client takes it (waitress
        # sends from the current position, Content-Length bytes): no thread waits on a
        # client that reads slowly or not at all. A generator would be drained by a
        # request thread, which blocks once 16 MB wait unsent.
        wrapped: Iterable[bytes] = file_wrapper(handle, _BLOCK)
        return wrapped
    return _chunks(handle, length)
