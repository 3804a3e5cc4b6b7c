"""Public, cacheable documents a contract serves over plain HTTP GET (discovery, VOSI).

A contract's metadata for clients (the ADQL tables, the CEA applications) changes only
when the service restarts, so :class:`CachedDocuments` builds every document of a route
once, on the first request (the catalogue behind them may not be open before), and then
answers each request from memory: the cost of a request does not depend on the size of
the metadata, and the memory is what one set of documents takes. Each answer carries an
``ETag`` and ``Cache-Control: public``; ``If-None-Match`` gets a 304. A failed build is
answered 503 and tried again at the next request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]

#: How long clients and proxies may keep a document without asking again, in seconds.
DEFAULT_MAX_AGE = 300


@dataclass(frozen=True)
class Document:
    """One document: its bytes and media type."""

    body: bytes
    media_type: str

    @property
    def etag(self) -> str:
        """A strong validator: the document's digest."""
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


#: Builds every document of a route, keyed by :func:`document_key`.
Builder = Callable[[], Mapping[str, Document]]


def document_key(path: str, query: Iterable[tuple[str, str]] = ()) -> str:
    """The key of the document at ``path`` (below the route's prefix, ``""`` for the prefix
    itself) with the query parameters ``query`` (their order does not matter)."""
    path = path.strip("/")
    parameters = sorted((name.lower(), value) for name, value in query)
    return path + ("?" + urlencode(parameters) if parameters else "")


class CachedDocuments:
    """The WSGI application answering GET and HEAD with the documents ``build`` makes.

    ``prefix`` is the route's path (``/uws/adql/tables``): a request for
    ``{prefix}/{path}?{query}`` is answered the document of :func:`document_key` of
    ``path`` and ``query``, or 404.
    """

    def __init__(self, *, prefix: str, build: Builder, max_age: int = DEFAULT_MAX_AGE) -> None:
        self.prefix = prefix.rstrip("/")
        self.max_age = max_age
        self._build = build
        self._documents: Mapping[str, Document] | None = None
        self._lock = threading.Lock()

    def documents(self) -> Mapping[str, Document]:
        """Every document, built on the first call (one build even if requests race)."""
        documents = self._documents
        if documents is None:
            with self._lock:
                if self._documents is None:
                    self._documents = dict(self._build())
                documents = self._documents
        return documents

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", "use GET", Allow="GET, HEAD")
        path = (environ.get("PATH_INFO") or "")[len(self.prefix) :]
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            documents = self.documents()
        except Exception:
            log.exception("the documents at %s could not be built", self.prefix)
            return _plain(
                start_response, "503 Service Unavailable", "not available now; try again later"
            )
        document = documents.get(document_key(path, query))
        if document is None:
            return _plain(start_response, "404 Not Found", f"no document at {self.prefix}{path}")
        headers = [
            ("ETag", document.etag),
            ("Cache-Control", f"public, max-age={self.max_age}"),
        ]
        wanted = environ.get("HTTP_IF_NONE_MATCH", "")
        if document.etag in {tag.strip() for tag in wanted.split(",")} or wanted.strip() == "*":
            start_response("304 Not Modified", headers)
            return []
        start_response(
            "200 OK",
            [
                ("Content-Type", document.media_type),
                ("Content-Length", str(len(document.body))),
                *headers,
            ],
        )
        return [] if method == "HEAD" else [document.body]


def _plain(start_response: StartResponse, status: str, text: str, **headers: str) -> list[bytes]:
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
