"""Everything ``wsrf-uws serve`` changes in waitress, its HTTP server, in one place.

waitress reads requests and writes replies on one event loop and runs the application
on a pool of threads. What it leaves open to a hostile or broken client, and what this
module does about it (:func:`guard` installs all of it on a server):

1. **A body with nothing to continue.** waitress (3.0.2 and earlier 3.x) never hands a
   request to the application when it has no body but carries ``Expect: 100-continue``:
   it answers ``100 Continue`` and waits for a body that never comes. The CADC ``vos``
   client sends that header on every request of its ``VOFile`` class. The expectation
   is dropped on requests that announce no body (:func:`fix_expect_continue` alone
   installs only this, for a server that needs none of the rest).
2. **Bodies over a route's limit.** waitress's ``max_request_body_size`` is one limit for
   every route, checked only after the body has been read and spooled to disk. The
   service's limit depends on the route (2 MiB on SOAP routes, a whole space on VOSpace
   uploads), so waitress's is the largest and each request is held to its route's own
   (:attr:`ConnectionPolicy.body_limit`) as it arrives: a ``Content-Length`` over the
   limit completes the request at once with no body, a chunked body is cut off when it
   passes the limit. The application sees the length and answers 413 at once; what the
   client goes on sending of the body is dropped unread, and the connection closed
   (:class:`GuardedChannel`).
3. **Connections that hold on.** waitress closes a connection only when it has been
   idle with no request running, and only when the event loop can write to it, which a
   client that stops reading a reply never allows: such a connection, and the request
   thread writing to it once 16 MB wait unsent, were held until the client went away.
   A client that sends a request one byte at a time (slowloris) was never idle, and a
   hundred of them filled waitress's connection limit. :func:`maintenance` closes
   connections that make no progress (no byte in or out) for ``idle_timeout``, whether
   or not a thread writes to them, and requests that take more than
   ``request_timeout`` to arrive (their headers, and their body unless it is an upload);
   one client address may hold at most ``max_per_client`` connections at once.
4. **Headers Python cannot read.** A ``Content-Length`` of thousands of digits, or a
   target ``urlsplit`` refuses, raised a ValueError out of waitress's parser, logged as an
   uncaptured exception; they are answered 400 like any other malformed header.
5. **Clients that ask too fast.** With a :class:`~wsrf_uws.request_rate.RequestRate` in
   the policy, each request is charged to its client address when its header arrives,
   more for a large body; over the address's rate it is answered ``429 Too Many
   Requests`` with ``Retry-After`` and the connection closed, without reading its body
   or waking the application. Until its ``Retry-After`` has passed, nothing more is read
   from any connection of that address (what it sends waits in the kernel's buffers),
   so a client that ignores the header gets one refusal per wait, not thousands.
6. **Threads taken in turn.** waitress runs requests on its threads first come, first
   served: a client with many connections had as many requests running at once, and every
   other client's request waited behind them for the threads and for the interpreter.
   :class:`FairTaskDispatcher` runs at most ``max_in_flight`` requests of one client
   address at once; its others wait in the queue while other clients' requests go ahead.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import BaseWSGIServer
from waitress.task import ThreadedTaskDispatcher
from waitress.utilities import Error

from .request_rate import RequestRate, client_key, retry_after

log = logging.getLogger("wsrf_uws.server")


@dataclass(frozen=True, kw_only=True)
class ConnectionPolicy:
    """What one client may make the HTTP server hold, and for how long."""

    #: The largest body a request (method, path) accepts; None: waitress's global limit.
    body_limit: Callable[[str, str], int | None]
    #: Bodies up to this size must arrive within ``request_timeout``; larger ones
    #: (uploads) need only keep making progress (``idle_timeout``).
    timed_body_bytes: int
    #: Connections one client address may hold at once; 0: no cap.
    max_per_client: int
    #: Seconds a connection may make no progress, nothing received and nothing sent.
    idle_timeout: float
    #: Seconds a client may take to send one request: its headers, and its body on
    #: routes whose limit is at most ``timed_body_bytes``.
    request_timeout: float
    #: The request rate each client address may have; None: no limit.
    rate: RequestRate | None = None


class TooManyRequests(Error):
    """``429 Too Many Requests``, with the seconds to wait in ``Retry-After``."""

    code = 429
    reason = "Too Many Requests"

    def __init__(self, wait: float) -> None:
        self.wait = retry_after(wait)
        super().__init__(f"too many requests from your address: retry in {self.wait} s")

    # The stubs type the body as str; waitress 3 returns (and writes) bytes.
    def to_response(self, ident: str | None = None) -> Any:
        status, headers, body = super().to_response(ident)
        return status, [*headers, ("Retry-After", str(self.wait))], body


class BodylessExpectParser(HTTPRequestParser):
    """A request parser that drops ``Expect: 100-continue`` when there is no body."""

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        if self.expect_continue and not self.chunked and self.content_length == 0:
            self.expect_continue = False


class BodylessExpectChannel(HTTPChannel):
    """An HTTP channel whose requests are read by :class:`BodylessExpectParser`."""

    parser_class = BodylessExpectParser


#: The most of a refused body that is read and dropped so its client can see the 413.
DRAIN_BYTES = 64 * 1024 * 1024


class GuardedParser(BodylessExpectParser):
    """Holds each request's body to its route's limit while it arrives.

    ``on_refusal`` hears of each refused body: the bytes of it still to come (None: a
    chunked body, of unknown length).
    """

    policy: ClassVar[ConnectionPolicy]
    #: The route's limit, known once the header is read (None: no limit of the route's).
    route_limit: int | None = None
    # What waitress's parser sets; its type stubs leave them out or read-only.
    path: str
    headers: dict[str, str]

    def __init__(
        self,
        adj: Any,
        *,
        on_refusal: Callable[[int | None], None] | None = None,
        client: str = "",
    ) -> None:
        super().__init__(adj)
        self.on_refusal = on_refusal
        self.client = client
        #: Seconds the client must wait before this request would be taken; 0: taken.
        self.rate_wait = 0.0

    def parse_header(self, header_plus: bytes) -> None:
        try:
            super().parse_header(header_plus)
        except ValueError as error:
            # int() of a Content-Length of more than 4300 digits, urlsplit() of a target
            # such as "http://[::1/": waitress let the ValueError escape and logged it as
            # an uncaptured exception. Either is a bad request (400).
            raise ParsingError(f"invalid request header: {error}") from None
        command = self.command  # str in waitress 3, bytes in its type stubs
        method = command.decode("latin-1") if isinstance(command, bytes) else str(command)
        self.route_limit = self.policy.body_limit(method, self.path)
        if self.policy.rate is not None:
            self.rate_wait = self.policy.rate.take(self.client, body_bytes=self.content_length)

    def received(self, data: bytes) -> int:
        in_header = not self.headers_finished
        consumed: int = super().received(data)
        if in_header and self.headers_finished and self.rate_wait > 0 and not self.error:
            # Nothing of the body is read, not even to drain it: a client over its rate
            # gets the 429 if it reads before it sends on, a reset otherwise.
            self._refuse_body(self.content_length, unread=0)
            self.error = TooManyRequests(self.rate_wait)
            return len(data)
        limit = self.route_limit
        if self.completed or not self.headers_finished or limit is None:
            return consumed
        if in_header and not self.chunked and self.content_length > limit:
            # what followed the header in ``data`` is body: dropped with the rest
            self._refuse_body(
                self.content_length, unread=self.content_length - (len(data) - consumed)
            )
            return len(data)
        if self.chunked and self.body_rcv is not None and len(self.body_rcv) > limit:
            self._refuse_body(len(self.body_rcv), unread=None)
            return len(data)
        return consumed

    def _refuse_body(self, length: int, *, unread: int | None) -> None:
        """Complete the request without its body; the application answers 413."""
        # The application refuses from this length; the body it would read is empty.
        self.headers["CONTENT_LENGTH"] = str(length)
        if self.body_rcv is not None:
            self.body_rcv.getbuf().close()
            self.body_rcv = None
        self.expect_continue = False  # never invite the body
        self.headers["CONNECTION"] = "close"  # the rest of the body would follow
        self.completed = True
        if self.on_refusal is not None:
            self.on_refusal(unread)


class GuardedChannel(BodylessExpectChannel):
    """A connection that counts against its client's cap and times its requests.

    After a refused body it *lingers*, as nginx does: the 413 is sent at once, and what
    the client goes on sending of the body (up to :data:`DRAIN_BYTES`, for at most the
    request timeout) is read and dropped before the connection closes. Closing at once
    would reset the connection under a client still sending, and most clients (urllib,
    Java's) then report the reset, never the 413 waiting for them.
    """

    parser_type: ClassVar[type[GuardedParser]]
    policy: ClassVar[ConnectionPolicy]
    #: When the first byte of the request being received arrived (None: between requests).
    request_started: float | None = None
    #: Bytes of a refused body still to drop, and until when (``time.time()``).
    draining = 0
    drain_until = 0.0
    _client: str = ""
    _fileno: int | None  # the socket's descriptor, None once closed (wasyncore's)

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        # waitress makes each request's parser with self.parser_class(adj): this one's
        # parsers report refused bodies to it.
        client = str(addr[0]) if isinstance(addr, tuple) and addr else ""
        self.parser_class = partial(  # type: ignore[assignment]
            self.parser_type, on_refusal=self._drain, client=client
        )
        super().__init__(server, sock, addr, adj, map)
        self._client = client
        clients = _clients(server)
        clients[self._client] += 1
        cap = self.policy.max_per_client
        if cap and clients[self._client] > cap:
            _refusals.note(self._client, cap)
            self.will_close = True  # closed by the loop before anything is read

    def del_channel(self, map: Any = None) -> None:
        counted = self._fileno is not None
        super().del_channel(map)
        if counted:
            clients = _clients(self.server)
            clients[self._client] -= 1
            if clients[self._client] <= 0:
                del clients[self._client]

    def received(self, data: bytes) -> bool:
        if self.draining:
            self.draining = max(0, self.draining - len(data))  # dropped unread
            return True
        if self.request is None and data:
            self.request_started = time.time()
        result: bool = super().received(data)
        if self.request is None:
            self.request_started = None
        return result

    def _drain(self, unread: int | None) -> None:
        """A refused body: drop what is still to come of it, if that is not too much."""
        expected = DRAIN_BYTES if unread is None else unread
        if 0 < expected <= DRAIN_BYTES:
            self.draining = expected
            self.drain_until = time.time() + self.policy.request_timeout

    # While draining, the connection stays readable and closes only once drained, though
    # its reply (the 413) is flushed and waitress would close it.

    def readable(self) -> bool:
        if self.draining:
            return not self.will_close
        if self.policy.rate is not None and self.policy.rate.held_for(self._client):
            return False  # over its rate: its requests wait unread until its Retry-After
        return bool(super().readable())

    def writable(self) -> bool:
        if self.draining:
            return bool(self.total_outbufs_len or self.will_close)
        return bool(super().writable())

    def handle_write(self) -> None:
        if self.draining and self.close_when_flushed and not self.will_close:
            self.close_when_flushed = False
            try:
                super().handle_write()
            finally:
                self.close_when_flushed = True
            return
        super().handle_write()


class FairTaskDispatcher(ThreadedTaskDispatcher):
    """waitress's thread pool, running at most ``max_in_flight`` requests of one client at once.

    A task (a connection with a request to answer) whose client already has that many
    running waits in the queue; a free thread takes the first task of a client under
    its share, so the queue stays first come, first served among those. ``0``: no cap.
    Behind a reverse proxy every request comes from the proxy's address: switch it off.
    """

    def __init__(self, *, max_in_flight: int) -> None:
        super().__init__()
        self.max_in_flight = max_in_flight
        #: Requests running, by client (``request_rate.client_key``).
        self.in_flight: Counter[str] = Counter()

    def handler_thread(self, thread_no: int) -> None:
        while True:
            with self.lock:
                # As waitress's own: a thread asked to stop stops before taking a task.
                while self.stop_count == 0 and (task := self._next_task()) is None:
                    self.active_count -= 1
                    self.queue_cv.wait()
                    self.active_count += 1
                if self.stop_count > 0:
                    self.active_count -= 1
                    self.stop_count -= 1
                    self.threads.discard(thread_no)
                    self.thread_exit_cv.notify()
                    return
                client = _task_client(task)
                self.in_flight[client] += 1
            try:
                task.service()
            except BaseException:
                self.logger.exception("Exception when servicing %r", task)
            finally:
                with self.lock:
                    self.in_flight[client] -= 1
                    if self.in_flight[client] <= 0:
                        del self.in_flight[client]
                    # A task of this client may have been waiting for its share.
                    self.queue_cv.notify()

    def _next_task(self) -> Any:
        """The first queued task whose client is under its share, taken off the queue."""
        cap = self.max_in_flight
        for index, task in enumerate(self.queue):
            if not cap or self.in_flight[_task_client(task)] < cap:
                del self.queue[index]
                return task
        return None


def _task_client(task: Any) -> str:
    """The client a waitress task (a channel) serves: its address, an IPv6 /64 as one."""
    address = getattr(task, "addr", None)
    host = address[0] if isinstance(address, tuple) and address else ""
    return client_key(str(host))


class _Refusals:
    """Logs refused connections at most once every few seconds (an attack sends many)."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.last = -every
        self.count = 0
        self.client = ""
        self.cap = 0

    def note(self, client: str, cap: int) -> None:
        """Count one refusal; log now unless a line was written a moment ago."""
        self.count += 1
        self.client, self.cap = client, cap
        self.flush()

    def flush(self) -> None:
        """Log the refusals not yet logged, if the last line is old enough."""
        now = time.monotonic()
        if self.count and now - self.last >= self.every:
            log.warning(
                "refused %d connection(s), the latest from %s: a client may hold %d at once",
                self.count,
                self.client,
                self.cap,
            )
            self.last, self.count = now, 0


_refusals = _Refusals()


def _why_close(channel: GuardedChannel, now: float, adj: Any) -> str | None:
    """Why ``channel`` should be closed now, or None."""
    policy = channel.policy
    silent = channel.last_activity < now - policy.idle_timeout
    if not channel.requests and silent:
        return f"nothing received or sent for {policy.idle_timeout:g} s"
    if channel.requests and silent and channel.total_outbufs_len > adj.outbuf_high_watermark:
        return f"the client took none of its reply for {policy.idle_timeout:g} s"
    started = channel.request_started
    request = channel.request
    late = started is not None and now - started > policy.request_timeout
    if (
        late
        and request is not None
        and (not request.headers_finished or _body_is_timed(request, policy))
    ):
        return f"its request took more than {policy.request_timeout:g} s to arrive"
    return None


def _body_is_timed(request: Any, policy: ConnectionPolicy) -> bool:
    """Whether ``request``'s body must arrive within the request timeout (not an upload)."""
    limit = getattr(request, "route_limit", None)
    return limit is not None and limit <= policy.timed_body_bytes


def maintenance(server: Any, now: float) -> None:
    """Close the connections of ``server`` that :func:`_why_close` gives a reason for.

    Replaces waitress's own, which waits for the event loop to write to an idle
    connection, so it never closes one whose client does not read.
    """
    _refusals.flush()
    for channel in list(server.active_channels.values()):
        if not isinstance(channel, GuardedChannel) or channel.will_close:
            continue
        if channel.draining and now > channel.drain_until:
            channel.draining = 0  # lingered long enough: closed once its reply is out
        reason = _why_close(channel, now, server.adj)
        if reason is None:
            continue
        log.info("closing the connection from %s: %s", channel._client or "?", reason)
        channel.will_close = True
        # The event loop sees the connection hang up and closes it, waking a request
        # thread that waits to write to it (it then stops with ClientDisconnected).
        if channel.socket is not None:
            with suppress(OSError):
                channel.socket.shutdown(socket.SHUT_RDWR)


def _clients(listener: Any) -> Counter[str]:
    """Open connections per client address of ``listener`` (kept by :func:`guard`)."""
    clients: Counter[str] = listener.wsrf_uws_clients
    return clients


def _listeners(server: Any) -> list[BaseWSGIServer]:
    """The listening servers of ``server`` (what ``create_server`` returns)."""
    if isinstance(server, BaseWSGIServer):
        return [server]
    return [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]


def fix_expect_continue(server: Any) -> None:
    """Make ``server`` (what ``waitress.server.create_server`` returns, one socket or
    several) read new connections with :class:`BodylessExpectChannel`."""
    for listener in _listeners(server):
        listener.channel_class = BodylessExpectChannel


def guard(server: Any, policy: ConnectionPolicy) -> None:
    """Install everything this module describes on ``server``, under ``policy``.

    Call it before the server runs; waitress's ``cleanup_interval`` says how often the
    timeouts are checked.
    """
    parser = type("Parser", (GuardedParser,), {"policy": policy})
    channel = type("Channel", (GuardedChannel,), {"policy": policy, "parser_type": parser})
    for listener in _listeners(server):
        listener.channel_class = channel
        # Attributes of this server object only (waitress's class stays as it is).
        setattr(listener, "wsrf_uws_clients", Counter())  # noqa: B010
        setattr(listener, "maintenance", partial(maintenance, listener))  # noqa: B010
