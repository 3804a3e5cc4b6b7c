"""A loopback HTTP file server, for testing what fetches and delivers files over HTTP.

Example::

    with FileServer({"/data/x.fits": b"SIMPLE  = T"}) as server:
        url = server.url_for("/data/x.fits")       # GET answers those bytes
        server.redirect("/old", url)               # GET /old answers 302 to it
        server.fail("/broken", 500)                # GET or PUT /broken answers 500
        ...                                        # PUT anywhere else answers 201
        assert server.received["/results/out.vot"] == expected
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

__all__ = ["PROXY_VARIABLES", "FileServer"]

#: The environment variables that send HTTP clients (``requests``, urllib) through a proxy.
#: A test talking to a :class:`FileServer` removes them (``monkeypatch.delenv``): a proxy
#: the environment names cannot reach this machine's loopback address.
PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
)

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class _Route:
    kind: str  # "file", "redirect", "stream" or "fail"
    body: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    location: str = ""
    total_bytes: int = 0
    declare_length: bool = False


class FileServer:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) that serves files for GET and records
    PUT bodies. Use as a context manager (starts a daemon thread; stops and closes on exit).

    The socket is bound on construction, so :attr:`url` and the URLs that :meth:`add` and its
    siblings return are known before the server starts. GET on a path without a route answers
    404; PUT on a path without a :meth:`fail` or :meth:`redirect` route answers 201 and stores the
    body in :attr:`received`.
    """

    def __init__(self, files: Mapping[str, bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, _Route] = {}
        #: path → body of the last PUT there.
        self.received: dict[str, bytes] = {}
        #: (method, path) of every request, in order of arrival (the path with any query).
        self.requests: list[tuple[str, str]] = []
        #: path → body bytes the last GET of a :meth:`stream` route had sent when it ended (or
        #: has sent so far): how far a client read before it gave up.
        self.served: dict[str, int] = {}
        self._server = _Server(self)
        self._thread: threading.Thread | None = None
        for path, body in (files or {}).items():
            self.add(path, body)

    @property
    def url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def url_for(self, path: str) -> str:
        """The URL of ``path`` (which starts with ``/``) on this server."""
        if not path.startswith("/"):
            raise ValueError(f"a path on the server starts with '/', unlike {path!r}")
        return self.url + path

    def add(self, path: str, body: bytes, *, content_type: str = "application/octet-stream") -> str:
        """Serve ``body`` for GET ``path``; returns its URL."""
        return self._route(path, _Route("file", body=bytes(body), content_type=content_type))

    def redirect(self, path: str, location: str, *, status: int = 302) -> str:
        """Answer GET and PUT ``path`` with ``status`` and ``location``; returns its URL."""
        return self._route(path, _Route("redirect", status=status, location=location))

    def stream(self, path: str, *, total_bytes: int, declare_length: bool = False) -> str:
        """Answer GET ``path`` with ``total_bytes`` bytes made as they are sent; returns its URL.

        The answer is chunked (no Content-Length) unless ``declare_length``: for testing size
        limits on bodies too large to hold in memory, declared or not.
        """
        route = _Route("stream", total_bytes=total_bytes, declare_length=declare_length)
        return self._route(path, route)

    def fail(self, path: str, status: int) -> str:
        """Answer GET and PUT ``path`` with ``status``; returns its URL."""
        return self._route(path, _Route("fail", status=status))

    def start(self) -> None:
        """Serve on a daemon thread (entering the context does this)."""
        if self._thread is None:
            # A short poll interval: closing waits for the serving loop to notice.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"FileServer {self.url}",
                daemon=True,
            )
            self._thread.start()

    def close(self) -> None:
        """Stop serving and release the socket (leaving the context does this)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FileServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _route(self, path: str, route: _Route) -> str:
        url = self.url_for(path)
        with self._lock:
            self._routes[path] = route
        return url

    def _lookup(self, method: str, target: str) -> _Route | None:
        with self._lock:
            self.requests.append((method, target))
            return self._routes.get(urlsplit(target).path)

    def _store(self, target: str, body: bytes) -> None:
        with self._lock:
            self.received[urlsplit(target).path] = body

    def _count(self, target: str, sent: int) -> None:
        with self._lock:
            self.served[urlsplit(target).path] = sent


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: FileServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer is what size-limit tests do on purpose.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An idle kept-alive connection must not hold its thread for ever.
    timeout = 30

    @property
    def owner(self) -> FileServer:
        return cast(_Server, self.server).owner

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        route = self.owner._lookup("GET", self.path)
        if route is None:
            self._answer(HTTPStatus.NOT_FOUND)
        elif route.kind == "file":
            self._answer(200, route.body, route.content_type)
        elif route.kind == "stream":
            self._stream(route)
        else:
            self._answer_route(route)

    def do_PUT(self) -> None:
        route = self.owner._lookup("PUT", self.path)
        body = self._read_body()
        if body is None:
            self._answer(HTTPStatus.LENGTH_REQUIRED)
        elif route is not None and route.kind in {"fail", "redirect"}:
            self._answer_route(route)
        else:
            self.owner._store(self.path, body)
            self._answer(HTTPStatus.CREATED)

    def _answer_route(self, route: _Route) -> None:
        headers = {"Location": route.location} if route.kind == "redirect" else {}
        self._answer(route.status, headers=headers)

    def _answer(
        self,
        status: int,
        body: bytes | None = None,
        content_type: str = "text/plain",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if body is None:
            body = f"{status} {HTTPStatus(status).phrase}\n".encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, route: _Route) -> None:
        sent = 0
        self.owner._count(self.path, sent)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if route.declare_length:
            self.send_header("Content-Length", str(route.total_bytes))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in _generate(route.total_bytes):
                if route.declare_length:
                    self.wfile.write(chunk)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                self.owner._count(self.path, sent)
            if not route.declare_length:
                self.wfile.write(b"0\r\n\r\n")
        except ConnectionError:
            self.close_connection = True

    def _read_body(self) -> bytes | None:
        """The request body, by Content-Length or chunked; None when it has neither."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailers, up to the empty line.
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            return None
        return self.rfile.read(int(length))


def _generate(total: int) -> Iterator[bytes]:
    block = bytes(range(256)) * (_CHUNK // 256)
    while total > 0:
        yield block[:total]
        total -= len(block)
