"""``wsrf-uws serve``: the service on waitress, every installed contract on one port.

Start-up first takes the data directory's lock (:mod:`wsrf_uws.data_lock`): a second
service on the same directory stops there, having changed nothing. The port is bound
next, so the contracts are built knowing the public URL; a contract whose settings
section is not valid (or one enabled but not installed) stops the start-up with the
reason, before anything else changes. Then restart recovery runs, before the port
accepts requests, so a client never sees a job that recovery is about to change. Each
request is logged on one line, and so is each step of a job's life
(:mod:`wsrf_uws.observability.job_log`); ``GET /health`` and ``GET /metrics`` serve the
operator (:mod:`wsrf_uws.observability.http`). SIGTERM or SIGINT closes the port, stops
the reaper and the executor (running jobs stay recorded as EXECUTING and are recovered at the next
start), closes the store and releases the lock.

The HTTP server is waitress with :func:`wsrf_uws.waitress_compat.guard` installed: each
route's body limit is applied as the request arrives, one client address holds a
bounded number of connections, and connections that make no progress are closed
(``[http]`` settings).
"""

from __future__ import annotations

import gc
import logging
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from waitress.server import create_server

from .accounts import UsersFile
from .core.cluster import NodeRole
from .core.job_events import AllJobEvents
from .core.registry import ContractRegistry, installed_names
from .core.service import JobService
from .data_lock import DataDirectoryLock
from .observability.health import HealthCheck
from .observability.http import OperatorRoutes
from .observability.job_log import JobEventLog
from .observability.log_format import announce_line
from .observability.metrics import ServiceMetrics
from .request_rate import RequestRate
from .rest import RestRoutes, WaitLimits
from .rest.html import load_secret
from .runtime import build_service
from .settings import Settings, http_base_url
from .soap.application import SoapApplication, WsgiApp
from .soap.identity import Authenticator
from .soap.incoming import XmlLimits
from .soap.properties import REST_PATH
from .tap.mount import tap_routes
from .waitress_compat import ConnectionPolicy, FairTaskDispatcher, guard

log = logging.getLogger("wsrf_uws.server")
access_log = logging.getLogger("wsrf_uws.access")


class RequestLog:
    """WSGI middleware writing one line per request: client, request, status, size, time."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict[str, str] = {}

        def recording_start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            seen["length"] = next((v for k, v in headers if k.lower() == "content-length"), "-")
            return start_response(status, headers, *exc)

        body = self.app(environ, recording_start_response)
        query = environ.get("QUERY_STRING")
        access_log.info(
            '%s "%s %s%s" %s %s %.1fms',
            environ.get("REMOTE_ADDR", "-"),
            _printable(environ.get("REQUEST_METHOD", "")),
            _printable(environ.get("PATH_INFO", "")),
            f"?{_printable(query)}" if query else "",
            seen.get("status", "-"),
            seen.get("length", "-"),
            (time.perf_counter() - started) * 1000,
        )
        return body


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so a request cannot forge log lines."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def public_base_url(settings: Settings, host: str, port: int) -> str:
    """The base URL clients use: configured, else the address the server listens on.

    A wildcard address (``0.0.0.0``, ``::``) names no host a client could use, so it
    needs ``public_url``; an IPv6 address goes in brackets.
    """
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (checking, not binding)
        raise ValueError(
            f"listening on all interfaces ({host or '*'}) needs a public URL: set public_url "
            "or pass --public-url, the address clients reach this server at"
        )
    return http_base_url(host, port)


def check_contracts(settings: Settings, registry: ContractRegistry) -> None:
    """Log the contracts that could not be loaded; raise ValueError, naming them, if any
    failed by the configuration's fault (an invalid settings section, a contract enabled
    but not installed): the service does not start then. Sections of the configuration
    that name no installed contract are logged as warnings."""
    for name, reason in registry.failures.items():
        log.error("contract %s not served: %s", name, reason)
    installed = set(installed_names())
    for name in sorted(set(settings.contract_sections) - installed):
        log.warning("the settings section [%s] names no installed contract", name)
    if registry.misconfigured:
        reasons = "; ".join(
            f"{name}: {registry.failures[name]}" for name in sorted(registry.misconfigured)
        )
        raise ValueError(f"the configuration of the contracts is not valid ({reasons})")


def authenticator(settings: Settings, service: JobService) -> Authenticator:
    """The caller identification ``settings`` ask for."""
    users = UsersFile.load(settings.users_file) if settings.users_file else None
    return Authenticator(
        users=users,
        allow_anonymous=settings.allow_anonymous,
        clock=service.clock,
        nonces=service.store,  # used nonces outlive a restart
    )


def build_application(
    settings: Settings, service: JobService, *, base_url: str | None = None
) -> SoapApplication:
    """The WSGI application of ``service`` (not started) as ``settings`` configure it."""
    authenticate = authenticator(settings, service).authenticate
    rest = RestRoutes(
        service=service,
        base_url=base_url or settings.base_url,
        authenticate=authenticate,
        limits=WaitLimits(max_wait=settings.rest.max_wait, max_waiters=settings.rest.max_waiters),
        max_listed_jobs=settings.max_listed_jobs,
        page_secret=load_secret(settings.data_dir),
    )
    return SoapApplication(
        service=service,
        base_url=base_url or settings.base_url,
        authenticate=authenticate,
        max_body_bytes=settings.max_request_bytes,
        max_listed_jobs=settings.max_listed_jobs,
        xml_limits=XmlLimits(
            max_namespaces=settings.http.max_xml_namespaces,
            max_attributes=settings.http.max_xml_attributes,
        ),
        extra_routes={
            REST_PATH: rest,
            **tap_routes(
                settings,
                service,
                base_url=base_url or settings.base_url,
                authenticate=authenticate,
                job_list=lambda path: rest.mount("adql", path=path),
            ),
        },
    )


#: How long a request thread may hold the interpreter while another waits for it (the
#: default is 5 ms): under load from a few clients, everyone else's requests wait for the
#: interpreter between each of their steps, and the shorter turn kept a polling client's
#: 99th percentile latency about twice lower under the attacks of bench/load_bench.py.
SWITCH_INTERVAL = 0.001


def tune_interpreter() -> None:
    """Set up the interpreter for serving, once start-up is done.

    What start-up made lives as long as the service: it is set aside from the cyclic
    collector, so that a full collection (``parse_envelope`` asks for one after each
    refused request) costs only what requests have allocated since. And threads take
    shorter turns with the interpreter (:data:`SWITCH_INTERVAL`).
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)


def operator_routes(
    settings: Settings, service: JobService, application: SoapApplication, metrics: ServiceMetrics
) -> OperatorRoutes:
    """``application`` behind the operator's routes (``/health``, ``/metrics``), timed."""
    metrics.bind(service)
    operations = {name for endpoint in application.endpoints.values() for name in endpoint.handlers}
    return OperatorRoutes(
        application,
        health=HealthCheck(service),
        metrics=metrics,
        operations=operations,
        metrics_access=settings.metrics_access,
    )


#: How much the event loop reads from a connection at once (waitress reads 8 KiB): each
#: read is a turn of the loop, and each turn asks every open connection whether it is
#: readable and writable. With a hundred connections held open, a client sending
#: megabyte bodies made the loop turn a thousand times a second, and the turns cost
#: the request threads the interpreter; a larger read takes a body in a few turns.
RECEIVE_BYTES = 256 * 1024


def http_server(
    settings: Settings, application: SoapApplication | OperatorRoutes, listener: socket.socket
) -> Any:
    """The waitress server of ``application`` on ``listener``, guarded as ``settings`` say."""
    http = settings.http
    connections = _connection_limit(http.connection_limit)
    dispatcher = FairTaskDispatcher(max_in_flight=http.max_requests_in_flight_per_client)
    dispatcher.set_thread_count(settings.threads)
    server = create_server(
        RequestLog(application),
        sockets=[listener],
        threads=settings.threads,
        # waitress refuses bodies of this size or more, after reading them: the largest
        # route's limit; each route's own applies before (guard).
        max_request_body_size=application.largest_body() + 1,
        connection_limit=connections,
        recv_bytes=RECEIVE_BYTES,
        channel_timeout=http.channel_timeout,
        # How often the timeouts are checked: a fraction of the shortest.
        cleanup_interval=max(0.5, min(30.0, http.channel_timeout / 4, http.request_timeout / 4)),
        # poll(), not select(): select() cannot watch descriptors beyond 1023.
        asyncore_use_poll=True,
        ident="wsrf-uws",
        clear_untrusted_proxy_headers=True,
        _dispatcher=dispatcher,  # waitress's parameter for its own pool's replacement
    )
    guard(
        server,
        ConnectionPolicy(
            body_limit=application.body_limit,
            timed_body_bytes=settings.max_request_bytes,
            max_per_client=http.max_connections_per_client,
            idle_timeout=http.channel_timeout,
            request_timeout=http.request_timeout,
            rate=(
                RequestRate(rate=http.client_requests_per_second, burst=http.client_request_burst)
                if http.client_requests_per_second > 0
                else None
            ),
        ),
    )
    return server


#: Descriptors the service needs besides its connections (store, logs, job pipes...).
_SPARE_DESCRIPTORS = 256


def _connection_limit(wanted: int) -> int:
    """``wanted``, or fewer if the process may not open that many descriptors.

    The soft limit on open files is raised as far as the hard limit allows: at the
    limit, accept() fails, and waitress would try again and again at full speed.
    """
    needed = wanted + _SPARE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < needed:
        possible = max(8, soft - _SPARE_DESCRIPTORS)
        log.warning(
            "only %d open files allowed (ulimit -n): serving %d connections, not %d",
            soft,
            possible,
            wanted,
        )
        return possible
    return wanted


class _Stop(SystemExit):
    """Raised in the main thread by SIGTERM or SIGINT to leave the server loop.

    A SystemExit, because waitress lets only SystemExit and KeyboardInterrupt out of its
    loop (another exception raised while it handles a connection is logged and dropped).
    """


def _finish_requests(server: Any, *, seconds: float) -> None:
    """Stop accepting, let the requests already running finish, and send their answers.

    Requests still waiting for a thread are dropped (their clients see the connection
    close and may retry elsewhere); none is cut off half-way through the store.
    """
    server.accepting = False
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=seconds)
    channels = getattr(server, "_map", None) or getattr(server, "map", {})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(
        getattr(channel, "total_outbufs_len", 0) for channel in list(channels.values())
    ):
        server.asyncore.loop(timeout=0.05, map=channels, count=1)


def serve(
    settings: Settings,
    *,
    registry: ContractRegistry | None = None,
    announce: Callable[[str], None] | None = None,
    role: NodeRole = NodeRole.ALL,
    node: str | None = None,
) -> int:
    """Run the service until SIGTERM or SIGINT; returns the exit status.

    With port 0 the system picks a free port; the public URL then follows it
    unless one is configured. ``announce`` receives the ready message. With
    ``database_url`` set, the service is the cluster node ``node`` in ``role`` (``all``
    or ``frontend``).
    """
    if settings.database_url.get_secret_value():
        # The nodes of a cluster share the data directory; the node's name, held in the
        # store, keeps a second process from running as the same node. (A service that is
        # no cluster node takes the directory's lock once built: see _serve_locked.)
        return _serve_locked(settings, registry=registry, announce=announce, role=role, node=node)
    # Before anything else touches the data directory: a second service stops here.
    lock = DataDirectoryLock.acquire(settings.data_dir)
    try:
        return _serve_locked(
            settings, registry=registry, announce=announce, role=role, node=node, locked=True
        )
    finally:
        lock.release()


def _serve_locked(
    settings: Settings,
    *,
    registry: ContractRegistry | None,
    announce: Callable[[str], None] | None,
    role: NodeRole,
    node: str | None,
    locked: bool = False,
) -> int:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    listener = socket.create_server((settings.host, settings.port), family=family)
    host, port = listener.getsockname()[:2]
    try:
        base_url = public_base_url(settings, host, port)
    except ValueError:
        listener.close()
        raise
    metrics = ServiceMetrics()
    try:
        service = build_service(
            settings,
            registry=registry,
            public_url=base_url,
            role=role,
            node=node,
            events=AllJobEvents([JobEventLog(), metrics]),
        )
    except BaseException:
        listener.close()
        raise
    lock: DataDirectoryLock | None = None
    try:
        if registry is None:
            check_contracts(settings, service.registry)
        if not locked and service.duties.node is None:
            # On PostgreSQL but not a cluster node (a contract runs on Slurm): one process
            # recovers and follows the jobs, so the data directory's lock keeps a second
            # one out, before recovery.
            lock = DataDirectoryLock.acquire(settings.data_dir)
    except (ValueError, OSError):
        listener.close()
        service.shutdown()
        raise
    try:
        return _run(
            settings,
            service,
            listener,
            base_url=base_url,
            role=role,
            announce=announce,
            metrics=metrics,
        )
    finally:
        if lock is not None:
            lock.release()


def _run(
    settings: Settings,
    service: JobService,
    listener: socket.socket,
    *,
    base_url: str,
    role: NodeRole,
    announce: Callable[[str], None] | None,
    metrics: ServiceMetrics,
) -> int:
    report = service.startup()
    try:
        application = build_application(settings, service, base_url=base_url)
        routes = operator_routes(settings, service, application, metrics)
        server = http_server(settings, routes, listener)

        def stop(signum: int, frame: Any) -> None:
            raise _Stop

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        contracts = ", ".join(service.registry.names()) or "no contracts"
        where = f"data {settings.data_dir}"
        if service.duties.node is not None:
            where += f"; node {service.duties.node}, role {role}"
        message = (
            f"wsrf-uws serving {contracts} at {base_url}/uws/{{contract}} "
            f"({where}; at start-up {len(report.requeued)} job(s) requeued, "
            f"{len(report.held)} held)"
        )
        tune_interpreter()
        (announce or _printer(settings))(message)
        try:
            server.run()  # returns when _Stop, a SystemExit, ends waitress's loop
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("stopping: finishing the requests under way")
            _finish_requests(server, seconds=10)
            server.close()
    finally:
        service.shutdown()
    return 0


def _printer(settings: Settings) -> Callable[[str], None]:
    """What prints the ready line on stderr: in the log's format (a JSON object in JSON)."""

    def print_line(message: str) -> None:
        print(announce_line(message, log_format=settings.log_format), file=sys.stderr, flush=True)

    return print_line
