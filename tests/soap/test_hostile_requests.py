"""Hostile requests against a real ``wsrf-uws serve``: each is refused precisely, and none
lets one client starve the others (issue 14, the request path).

The server runs with two request threads and short timeouts, so the attacks show in
seconds. Attackers connect from other loopback addresses (127.0.0.2, ...) than the
well-behaved client (127.0.0.1), as they would from other hosts: the per-client
connection cap tells them apart by address.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from lxml import etree

from wsrf_uws.testing.server import RunningServer, running_server

from soap_support import (
    BF,
    CORE,
    RP,
    SOAP,
    STEPS,
    UWS,
    addressing,
    envelope,
    error_code,
    fault_detail,
    post,
    stored_jobs,
)

THREADS = 2
TIMEOUT = 2.0  # channel_timeout and request_timeout of the server under attack
PER_CLIENT = 10
CONNECTIONS = 40


def server_env(timeout: float) -> dict[str, str]:
    return {
        "WSRF_UWS_CONTRACTS": '["steps", "vospace"]',
        "WSRF_UWS_THREADS": str(THREADS),
        "WSRF_UWS_HTTP__CHANNEL_TIMEOUT": str(timeout),
        "WSRF_UWS_HTTP__REQUEST_TIMEOUT": str(timeout),
        "WSRF_UWS_HTTP__MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
        "WSRF_UWS_HTTP__CONNECTION_LIMIT": str(CONNECTIONS),
    }


#: A result larger than waitress's output high-water mark (16 MB) and the socket buffers.
LARGE_RESULT = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Short timeouts: connections that make no progress are closed within seconds."""
    data = tmp_path_factory.mktemp("hostile") / "data"
    with running_server(data, env=server_env(TIMEOUT)) as running:
        yield running


@pytest.fixture(scope="module")
def patient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Timeouts longer than any test: an attack holds for as long as the test wants."""
    data = tmp_path_factory.mktemp("patient") / "data"
    with running_server(data, env=server_env(120)) as running:
        yield running


def create_job(server: RunningServer) -> str:
    body = (
        f'<s:createJob xmlns:s="{STEPS}"><s:job><s:steps>1</s:steps>'
        "<s:stepSeconds>0</s:stepSeconds></s:job></s:createJob>"
    )
    status, reply = post(server.url("steps"), envelope(body, addressing(server.url("steps"), "a")))
    assert status == 200, etree.tostring(reply)
    return str(reply.findtext(f".//{{{CORE}}}ResourceId"))


def get_property(server: RunningServer, resource_id: str, name: str = "c:Phase") -> str | None:
    """The well-behaved client: GetResourceProperty, answered or an exception."""
    body = f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:c="{CORE}">{name}</r:GetResourceProperty>'
    status, reply = post(server.url("steps"), envelope(body, addressing("a", "a", resource_id)))
    assert status == 200, etree.tostring(reply)
    return reply.findtext(f".//{{{CORE}}}Phase")


def completed_job(server: RunningServer) -> str:
    resource_id = create_job(server)
    status, _ = post(
        server.url("steps"),
        envelope(f'<s:startJob xmlns:s="{STEPS}"/>', addressing("a", "a", resource_id)),
    )
    assert status == 200
    deadline = time.monotonic() + 60
    while get_property(server, resource_id) != "COMPLETED":
        assert time.monotonic() < deadline, "the job did not complete"
        time.sleep(0.1)
    return resource_id


def connect(
    server: RunningServer,
    source: str,
    *,
    receive_buffer: int | None = None,
    send_buffer: int | None = None,
) -> socket.socket:
    """A raw connection to the server from the loopback address ``source``."""
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect((host, int(port)))
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (the client never read from it)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1 << 16, socket.MSG_PEEK) == b""
    except ConnectionError:
        return True


def read_until_closed(sock: socket.socket, *, limit: int) -> int:
    """Read until the server closes ``sock`` (or ``limit`` bytes came); how many came."""
    total = 0
    sock.settimeout(30)
    try:
        while total < limit:
            block = sock.recv(1 << 20)
            if not block:
                break
            total += len(block)
    except ConnectionError:
        pass
    return total


class Dripper:
    """Slowloris: connections that send one more header line every half second."""

    def __init__(self, server: RunningServer, source: str, count: int) -> None:
        self.sockets = []
        for _ in range(count):
            sock = connect(server, source)
            sock.sendall(b"POST /uws/steps HTTP/1.1\r\nHost: x\r\n")
            self.sockets.append(sock)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self) -> None:
        while not self.stopped.wait(0.5):
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: yes\r\n")

    def open(self) -> int:
        return sum(not closed_by_server(sock) for sock in self.sockets)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


# -- reply size --------------------------------------------------------------------------


def test_a_property_named_twice_is_refused_and_each_once_is_answered(
    server: RunningServer,
) -> None:
    resource_id = create_job(server)
    names = "<r:ResourceProperty>u:job</r:ResourceProperty>" * 1000
    body = (
        f'<r:GetMultipleResourceProperties xmlns:r="{RP}" xmlns:u="{UWS}">{names}'
        "</r:GetMultipleResourceProperties>"
    )
    status, reply = post(server.url("steps"), envelope(body, addressing("a", "a", resource_id)))
    assert status == 500
    assert error_code(reply) == "invalid-request"
    assert "more than once" in (fault_detail(reply).findtext(f"{{{BF}}}Description") or "")
    assert len(etree.tostring(reply)) < 4096

    distinct = (
        f'<r:GetMultipleResourceProperties xmlns:r="{RP}" xmlns:u="{UWS}" xmlns:c="{CORE}">'
        "<r:ResourceProperty>u:job</r:ResourceProperty>"
        "<r:ResourceProperty>c:Phase</r:ResourceProperty></r:GetMultipleResourceProperties>"
    )
    status, reply = post(server.url("steps"), envelope(distinct, addressing("a", "a", resource_id)))
    assert status == 200
    answer = reply.find(f".//{{{RP}}}GetMultipleResourcePropertiesResponse")
    assert [child.tag for child in answer] == [f"{{{UWS}}}job", f"{{{CORE}}}Phase"]


# -- slow readers, slow senders, connection hogs ------------------------------------------


def _enlarge_result(server: RunningServer, resource_id: str) -> str:
    """Make the job's result file LARGE_RESULT bytes (sparse); its download URL.

    The steps contract writes small results; the download route serves whatever file the
    job recorded, so a larger file on disk stands in for a large result.
    """
    [path] = (server.data_dir / "jobs").glob(f"*/{resource_id}/step-1.txt")
    with open(path, "r+b") as handle:
        handle.truncate(LARGE_RESULT)
    return f"/results/{resource_id}/step-1.txt"


def _start_download(server: RunningServer, source: str, path: str) -> socket.socket:
    sock = connect(server, source, receive_buffer=4096)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def test_downloads_nobody_reads_hold_no_thread(patient_server: RunningServer) -> None:
    server = patient_server
    resource_id = completed_job(server)
    path = _enlarge_result(server, resource_id)
    readers = [_start_download(server, "127.0.0.3", path) for _ in range(2 * THREADS)]
    try:
        time.sleep(1)  # every download has begun and filled the socket buffers
        # More stalled downloads than request threads, held for longer than the client
        # waits (120 s): the others are still answered.
        assert get_property(server, resource_id) == "COMPLETED"
    finally:
        for reader in readers:
            reader.close()


def _open_handles(server: RunningServer, path: Path) -> int:
    """How many times the server process has the file at ``path`` open."""
    assert server.process is not None
    return sum(Path(item.path) == path for item in psutil.Process(server.process.pid).open_files())


def test_downloads_nobody_reads_are_closed(server: RunningServer) -> None:
    resource_id = completed_job(server)
    path = _enlarge_result(server, resource_id)
    [result] = (server.data_dir / "jobs").glob(f"*/{resource_id}/step-1.txt")
    readers = [_start_download(server, "127.0.0.3", path) for _ in range(2)]
    try:
        time.sleep(0.5)
        assert _open_handles(server, result) == 2  # each download holds the file open
        # Taking nothing for longer than the channel timeout, each is closed by the server,
        # though it never becomes writable again: the file is no longer held...
        deadline = time.monotonic() + 10 * TIMEOUT
        while _open_handles(server, result) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _open_handles(server, result) == 0
        # ...and what a reader then finds is what was in flight, not the whole file.
        for reader in readers:
            assert read_until_closed(reader, limit=LARGE_RESULT) < LARGE_RESULT
    finally:
        for reader in readers:
            reader.close()


def test_slow_senders_are_capped_per_client_and_cut_off(server: RunningServer) -> None:
    hogs = Dripper(server, "127.0.0.2", 3 * PER_CLIENT)
    try:
        time.sleep(0.5)
        # one address holds at most PER_CLIENT connections; the others were closed at once
        assert hogs.open() <= PER_CLIENT
        # still sending, but no request in TIMEOUT: each is closed
        deadline = time.monotonic() + 10 * TIMEOUT
        while hogs.open() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert hogs.open() == 0
    finally:
        hogs.close()


def test_stalled_readers_and_slowloris_together_do_not_starve_a_client(
    patient_server: RunningServer,
) -> None:
    server = patient_server
    resource_id = completed_job(server)
    path = _enlarge_result(server, resource_id)
    readers = [_start_download(server, "127.0.0.4", path) for _ in range(2 * THREADS)]
    # Three addresses, each trying for more connections than the server holds in all.
    hogs = [Dripper(server, f"127.0.0.{n}", CONNECTIONS) for n in (5, 6, 7)]
    try:
        time.sleep(0.5)
        for _ in range(3):  # answered at all, again and again, while the attack holds
            assert get_property(server, resource_id) == "COMPLETED"
    finally:
        for hog in hogs:
            hog.close()
        for reader in readers:
            reader.close()


# -- bodies over the limit -----------------------------------------------------------------


def _answer(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            block = sock.recv(4096)
            if not block:
                break
            data += block
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(rest) < length:
            block = sock.recv(4096)
            if not block:
                break
            rest += block
        return head + b"\r\n\r\n" + rest
    except ConnectionError:
        return data


def test_a_body_over_the_limit_gets_413_before_it_is_sent(server: RunningServer) -> None:
    sock = connect(server, "127.0.0.1")
    sock.sendall(
        b"POST /uws/steps HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
        b"Content-Length: 50000000\r\n\r\n"
    )  # and not one byte of the body
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    reply = etree.fromstring(answer.partition(b"\r\n\r\n")[2])
    assert error_code(reply) == "request-too-large"

    # other routes have the same limit (waitress's own is VOSpace's 1 GiB), a contract's
    # HTTP application too unless it sets its own (VOSpace's registry document does not)
    for path in (b"/", b"/results/x/y", b"/reg/resource-caps"):
        sock = connect(server, "127.0.0.1")
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n" % path)
        assert _answer(sock).startswith(b"HTTP/1.1 413 "), path
        sock.close()


def test_a_chunked_body_is_cut_off_at_the_limit(server: RunningServer) -> None:
    # A small send buffer, so that what counts as sent is what the server could take, not
    # what the kernel buffered on a loopback whose buffers grow to several MB under load
    # (13 MB counted once in CI, on a busy machine).
    sock = connect(server, "127.0.0.1", send_buffer=64 * 1024)
    sock.sendall(
        b"POST /uws/steps HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    sent = 0
    while sent < 50_000_000 and not select.select([sock], [], [], 0)[0]:
        try:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except ConnectionError:
            break
        sent += len(chunk)
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < 10 * 1024 * 1024  # answered near the 2 MiB limit, not after 50 MB


def test_vospace_routes_keep_their_own_limits(server: RunningServer) -> None:
    """The VOSpace endpoint says which limit each of its requests has (largest_body)."""
    megabytes = 3 * 1024 * 1024
    # a node document: 1 MiB, refused from the Content-Length, before the body is sent
    sock = connect(server, "127.0.0.1")
    sock.sendall(
        b"POST /vospace/nodes/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % megabytes
    )
    assert _answer(sock).startswith(b"HTTP/1.1 413 ")
    sock.close()
    # an upload may be as large as a space: read whole, answered by the endpoint
    sock = connect(server, "127.0.0.1")
    sock.sendall(
        b"PUT /vospace/data/none HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % megabytes
    )
    sock.sendall(b"x" * megabytes)
    answer = _answer(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 ") and not answer.startswith(b"HTTP/1.1 413")


# -- malformed requests ---------------------------------------------------------------------


def test_too_many_namespace_declarations_are_refused_and_create_nothing(
    server: RunningServer,
) -> None:
    before = stored_jobs(server)
    declarations = " ".join(f'xmlns:n{i}="urn:n{i}"' for i in range(5000))
    body = (
        f'<s:createJob xmlns:s="{STEPS}" {declarations}><s:job><s:steps>1</s:steps>'
        "<s:stepSeconds>0</s:stepSeconds></s:job></s:createJob>"
    )
    status, reply = post(server.url("steps"), envelope(body, addressing("a", "a")))
    assert status == 500
    assert error_code(reply) == "too-complex"
    assert "namespaces" in (fault_detail(reply).findtext(f"{{{BF}}}Description") or "")

    attributes = " ".join(f'a{i}="x"' for i in range(300))
    body = (
        f'<s:createJob xmlns:s="{STEPS}"><s:job {attributes}><s:steps>1</s:steps>'
        "<s:stepSeconds>0</s:stepSeconds></s:job></s:createJob>"
    )
    status, reply = post(server.url("steps"), envelope(body, addressing("a", "a")))
    assert status == 500
    assert error_code(reply) == "too-complex"
    assert stored_jobs(server) == before


def _flood(kind: str) -> bytes:
    """About 1 MB of one request the parser refuses part-way."""
    job = "<s:job><s:steps>1</s:steps><s:stepSeconds>0</s:stepSeconds></s:job>"
    if kind == "namespaces":
        declarations = " ".join(f'xmlns:n{i}="urn:n{i}"' for i in range(40_000))
        return envelope(f'<s:createJob xmlns:s="{STEPS}" {declarations}>{job}</s:createJob>')
    if kind == "attributes":
        attributes = " ".join(f'a{i}="x"' for i in range(100_000))
        return envelope(f'<s:createJob xmlns:s="{STEPS}" {attributes}>{job}</s:createJob>')
    elements = "<s:x/>" * 150_000  # then a syntax error at the very end
    return envelope(f'<s:createJob xmlns:s="{STEPS}">{job}{elements}</s:createJob>')[:-3]


@pytest.mark.parametrize(
    ("kind", "code"),
    [("namespaces", "too-complex"), ("attributes", "too-complex"), ("malformed", "malformed-xml")],
)
def test_refused_floods_give_their_memory_back(server: RunningServer, kind: str, code: str) -> None:
    """lxml's abandoned parser is a cycle holding megabytes: collected at the refusal."""
    assert server.process is not None
    process = psutil.Process(server.process.pid)
    body = _flood(kind)
    status, _ = post(server.url("steps"), body)  # the first one may grow caches
    assert status == 500
    before = process.memory_info().rss
    for _ in range(40):
        status, reply = post(server.url("steps"), body)
        assert (status, error_code(reply)) == (500, code)
    grown = process.memory_info().rss - before
    # Without the collection each refusal of an attribute flood kept some 7 MB (280 MB).
    assert grown < 100 * 1024 * 1024, f"the service grew by {grown / 1024**2:.0f} MB"


def test_multipart_is_refused_before_any_parser_sees_it(server: RunningServer) -> None:
    resource_id = create_job(server)
    query = f'<r:GetResourceProperty xmlns:r="{RP}">&x;</r:GetResourceProperty>'
    soap_part = b'<!DOCTYPE e [<!ENTITY x "EXPANDED-ENTITY">]>' + envelope(
        query, addressing("a", "a", resource_id)
    )
    body = (
        b"--b\r\nContent-Type: application/xop+xml\r\nContent-ID: <root>\r\n\r\n"
        + soap_part
        + b"\r\n--b\r\nContent-ID: <a>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b"QUJD\r\n--b--\r\n"
    )
    content_type = 'multipart/related; type="application/xop+xml"; boundary=b; start="<root>"'
    status, reply = post(server.url("steps"), body, headers={"Content-Type": content_type})
    assert status == 415
    assert error_code(reply) == "unsupported-media-type"
    assert b"EXPANDED-ENTITY" not in etree.tostring(reply)


@pytest.mark.parametrize(
    ("content_type", "encode", "code"),
    [
        (
            "text/xml; charset=utf-8",
            lambda data: data.replace(b"Phase", b"Ph\xff\xfese"),
            "malformed-xml",
        ),
        ("text/xml; charset=x-klingon", lambda data: data, "unsupported-charset"),
        ("text/xml; charset=iso-8859-1", lambda data: data, "unsupported-charset"),
        (
            "text/xml; charset=utf-16",
            lambda data: data.decode().encode("utf-16")[:-1],
            "malformed-xml",
        ),
    ],
    ids=["invalid UTF-8", "unknown charset", "not UTF-8 nor UTF-16", "truncated UTF-16"],
)
def test_charsets_a_soap_message_may_not_use_are_client_faults(
    server: RunningServer, content_type: str, encode: object, code: str
) -> None:
    resource_id = create_job(server)
    body = f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:c="{CORE}">c:Phase</r:GetResourceProperty>'
    data = encode(envelope(body, addressing("a", "a", resource_id)))  # type: ignore[operator]
    status, reply = post(server.url("steps"), data, headers={"Content-Type": content_type})
    assert status == 500
    assert reply.findtext(f".//{{{SOAP}}}Fault/faultcode") == "soap:Client"
    assert error_code(reply) == code


def test_utf_16_is_accepted(server: RunningServer) -> None:
    resource_id = create_job(server)
    body = f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:c="{CORE}">c:Phase</r:GetResourceProperty>'
    data = envelope(body, addressing("a", "a", resource_id)).decode().encode("utf-16")
    status, reply = post(
        server.url("steps"), data, headers={"Content-Type": "text/xml; charset=UTF-16"}
    )
    assert status == 200
    assert reply.findtext(f".//{{{CORE}}}Phase") == "PENDING"


def test_range_headers_of_any_length(server: RunningServer) -> None:
    resource_id = completed_job(server)
    url = f"{server.base_url}/results/{resource_id}/step-1.txt"

    def status_of(range_header: str) -> int:
        request = urllib.request.Request(url, headers={"Range": range_header})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert status_of("bytes=-" + "9" * 5000) == 206  # a suffix longer than the file: all of it
    assert status_of("bytes=" + "9" * 5000 + "-") == 416  # starts beyond the end
    assert status_of("bytes=0-" + "9" * 5000) == 206
    assert status_of("bytes=" + "0" * 5000 + "1-1") == 206


def test_a_content_length_python_cannot_read_is_a_400(server: RunningServer) -> None:
    sock = connect(server, "127.0.0.1")
    sock.sendall(
        b"POST /uws/steps HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    )
    assert _answer(sock).startswith(b"HTTP/1.1 400 ")
    sock.close()


def test_no_traceback_or_uncaptured_exception_reached_the_log(server: RunningServer) -> None:
    log = "".join(server.log)
    assert "Traceback" not in log, log[-3000:]
    assert "uncaptured" not in log, log[-3000:]
