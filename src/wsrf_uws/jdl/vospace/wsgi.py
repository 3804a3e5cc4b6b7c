"""The small amount of HTTP the VOSpace endpoint needs, over plain WSGI.

:class:`Request` decodes what the application reads (path as UTF-8, query parameters,
a capped body); :class:`Response` is what a handler returns: status, headers and a body
that may stream a file. Byte ranges (``Range: bytes=a-b``, one range) are parsed here
too, because the CADC client resumes downloads with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote

from ...wire import ranges
from .errors import IncompleteUpload, InvalidArgument, InvalidURI, RequestEntityTooLarge

StartResponse = Callable[..., Any]
#: How much of a request body is read at a time.
CHUNK_BYTES = 1 << 16


class Request:
    """One WSGI request, decoded."""

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        raw = str(environ.get("PATH_INFO", ""))
        try:
            # WSGI hands the path over as latin-1 characters of the raw bytes.
            self.path = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise InvalidURI("the request path is not UTF-8") from None
        query = str(environ.get("QUERY_STRING", ""))
        try:
            pairs = parse_qsl(
                query, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=50
            )
        except (ValueError, UnicodeError):
            raise InvalidArgument("the query string is malformed or not UTF-8") from None
        #: The last value of each query parameter.
        self.query: dict[str, str] = dict(pairs)

    def header(self, name: str) -> str | None:
        """The value of request header ``name`` (any case), or None."""
        key = name.upper().replace("-", "_")
        value = self.environ.get(
            key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        )
        return None if value is None else str(value)

    @property
    def content_length(self) -> int | None:
        """The declared body length, or None (chunked, or not said)."""
        value = self.header("Content-Length")
        if value is None or value.strip() == "":
            return None
        try:
            length = int(value)
        except ValueError:
            raise InvalidArgument(f"Content-Length {value!r} is not a number") from None
        if length < 0:
            raise InvalidArgument("Content-Length is negative")
        return length

    def body_chunks(self) -> Iterator[bytes]:
        """The body as it arrives: Content-Length bytes, or up to the end of a
        terminated (chunked) input. Raises IncompleteUpload when it ends early."""
        stream = self.environ["wsgi.input"]
        length = self.content_length
        if length is None:
            if not self.environ.get("wsgi.input_terminated"):
                return
            while block := stream.read(CHUNK_BYTES):
                yield block
            return
        remaining = length
        while remaining > 0:
            block = stream.read(min(CHUNK_BYTES, remaining))
            if not block:
                raise IncompleteUpload(f"the body ended {remaining} bytes short of Content-Length")
            remaining -= len(block)
            yield block

    def read_body(self, *, limit: int) -> bytes:
        """The whole body, refusing (RequestEntityTooLarge) one over ``limit`` bytes,
        before reading it when its length is declared."""
        length = self.content_length
        if length is not None and length > limit:
            raise RequestEntityTooLarge(
                f"the document has {length} bytes; at most {limit} are read"
            )
        parts: list[bytes] = []
        size = 0
        for block in self.body_chunks():
            size += len(block)
            if size > limit:
                raise RequestEntityTooLarge(f"the document is larger than {limit} bytes")
            parts.append(block)
        return b"".join(parts)


@dataclass
class Response:
    """What a handler answers."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Iterable[bytes] = ()
    #: A file streamed as the body (closed after sending), and the slice of it to send.
    stream: BinaryIO | None = None
    offset: int = 0
    length: int | None = None

    @classmethod
    def xml(cls, document: bytes, *, status: int = 200) -> Response:
        return cls(status, [("Content-Type", "text/xml; charset=UTF-8")], [document])

    @classmethod
    def text(
        cls, text: str, *, status: int = 200, headers: Iterable[tuple[str, str]] = ()
    ) -> Response:
        return cls(
            status,
            [("Content-Type", "text/plain; charset=UTF-8"), *headers],
            [text.encode("utf-8")],
        )

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(303, [("Location", location), ("Content-Type", "text/plain; charset=UTF-8")], [])

    def send(
        self, environ: Mapping[str, Any], start_response: StartResponse, *, head: bool
    ) -> Iterable[bytes]:
        """Hand the response to the WSGI server (no body for HEAD)."""
        phrase = HTTPStatus(self.status).phrase
        headers = list(self.headers)
        if self.stream is not None:
            if head:
                self.stream.close()
                start_response(f"{self.status} {phrase}", headers)
                return []
            start_response(f"{self.status} {phrase}", headers)
            return _file_body(self.stream, self.offset, self.length)
        body = list(self.body)
        if self.status not in (204, 304) and not any(
            name.lower() == "content-length" for name, _ in headers
        ):
            headers.append(("Content-Length", str(sum(len(b) for b in body))))
        start_response(f"{self.status} {phrase}", headers)
        return [] if head else body


def _file_body(stream: BinaryIO, offset: int, length: int | None) -> Iterator[bytes]:
    try:
        stream.seek(offset)
        remaining = length
        while remaining is None or remaining > 0:
            block = stream.read(CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining))
            if not block:
                break
            if remaining is not None:
                remaining -= len(block)
            yield block
    finally:
        stream.close()


class RangeNotSatisfiable(InvalidArgument):
    """A byte range outside the data (HTTP 416)."""

    status = 416


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``Range: bytes=`` request within ``size`` bytes, or
    None for the whole file (:func:`wsrf_uws.wire.ranges.byte_range`); a range outside the
    data is the VOSpace fault :class:`RangeNotSatisfiable` (answered 416)."""
    try:
        return ranges.byte_range(header, size)
    except ranges.RangeNotSatisfiable:
        raise RangeNotSatisfiable(f"the range {header!r} lies outside the {size} bytes") from None


def content_disposition(name: str) -> str:
    """An RFC 6266 ``inline`` disposition naming ``name`` (ASCII fallback and UTF-8)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
