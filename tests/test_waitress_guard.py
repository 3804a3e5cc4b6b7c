"""``waitress_compat.guard`` on a real waitress server, real sockets, a stand-in application.

The service's own large replies (result files) are handed to ``wsgi.file_wrapper`` and
never occupy a request thread (``test_hostile_requests``); an application that streams a
generator does: waitress's thread writes it and waits once 16 MB lie unsent. The VOSpace
endpoint's downloads are such a generator. The application here is the smallest one
that streams like that, so the guard's last resort, closing a connection whose client
takes nothing, is shown on its own.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from waitress import wasyncore
from waitress.server import create_server

from wsrf_uws.waitress_compat import ConnectionPolicy, guard

TIMEOUT = 1.0
BLOCK = b"x" * 65536


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/big":
        start_response("200 OK", [("Content-Length", str(512 * len(BLOCK)))])
        return (BLOCK for _ in range(512))  # 32 MiB, written by a request thread
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture
def base_url() -> Iterator[str]:
    server: Any = create_server(
        application,
        host="127.0.0.1",
        port=0,
        threads=1,
        channel_timeout=TIMEOUT,
        cleanup_interval=0.25,
        asyncore_use_poll=True,
    )
    guard(
        server,
        ConnectionPolicy(
            body_limit=lambda method, path: 1024,
            timed_body_bytes=1024,
            max_per_client=0,
            idle_timeout=TIMEOUT,
            request_timeout=TIMEOUT,
        ),
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()


def test_a_thread_writing_to_a_client_that_takes_nothing_is_freed(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    stalled = []
    for _ in range(2):  # the one request thread, and one more waiting for it
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        stalled.append(sock)
    try:
        # The thread blocks in its writes; after TIMEOUT without progress the connection
        # is closed, the thread stops, and the next request is answered.
        with urllib.request.urlopen(f"{base_url}/small", timeout=30) as reply:
            assert reply.read() == b"ok"
    finally:
        for sock in stalled:
            sock.close()
