"""One wsrf-uws server process for the SOAP benchmark (``bench/soap_bench.py`` starts it).

Why: the benchmark compares the service's operations with a bare Spyne operation, and
the comparison is only fair when both run in the same process, on the same waitress
server, threads and interpreter. This script assembles the service exactly as
``wsrf-uws serve`` does (``build_service``, the authenticator, the request-log middleware,
the same waitress options) and adds one route, ``/bench/echo``: a stock Spyne Soap11
service with one operation ``echo(text) -> text`` (:func:`echo_application`), whose WSDL
is at ``/bench/echo?wsdl``.

When it serves, it prints one line on stdout::

    soap_server ready at http://127.0.0.1:PORT pid PID

SIGTERM or SIGINT closes the port and shuts the service down. With ``--profile FILE``
every request the WSGI application handles is profiled with cProfile (one profiler per
server thread) and the merged statistics are written to FILE (``pstats`` format) at exit.

Run: ``python bench/soap_server.py DATA_DIR [--port 0] [--threads 8] [--synchronous full]``.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from waitress.server import create_server

from wsrf_uws.core.service import JobService
from wsrf_uws.runtime import build_service
from wsrf_uws.server import RequestLog, authenticator, http_server, tune_interpreter
from wsrf_uws.settings import Settings
from wsrf_uws.soap.application import SoapApplication, WsgiApp

#: Where the baseline operation is served, and its namespace.
ECHO_PATH = "/bench/echo"
ECHO_NAMESPACE = "urn:wsrf-uws:bench:echo"

READY = "soap_server ready at"


class Stop(SystemExit):
    """Raised in the main thread by SIGTERM or SIGINT to leave the server loop.

    A SystemExit, not an Exception: the signal may arrive while waitress's loop is inside
    a channel's handler, and waitress (wasyncore) re-raises only SystemExit,
    KeyboardInterrupt and its own ExitNow from there; any other exception is logged as
    "uncaptured python exception, closing channel" and the server keeps running.
    waitress's ``run()`` catches the SystemExit and shuts its task dispatcher down.
    """


class ThreadProfiles:
    """WSGI middleware profiling each request with one cProfile profiler per thread.

    cProfile only sees the thread that enabled it, and waitress answers requests on a
    pool of threads, so each thread gets its own profiler, enabled for the duration of
    the application call (waitress's own HTTP parsing and writing are not included).
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.local = threading.local()
        self.profilers: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        profiler = getattr(self.local, "profiler", None)
        if profiler is None:
            profiler = self.local.profiler = cProfile.Profile()
            with self.lock:
                self.profilers.append(profiler)
        profiler.enable()
        try:
            return self.app(environ, start_response)
        finally:
            profiler.disable()

    def dump(self, path: Path) -> None:
        """Write the merged statistics of every thread to ``path``."""
        with self.lock:
            profilers = [p for p in self.profilers if p.getstats()]
        if not profilers:
            return
        stats = pstats.Stats(profilers[0])
        for profiler in profilers[1:]:
            stats.add(profiler)
        path.parent.mkdir(parents=True, exist_ok=True)
        stats.dump_stats(str(path))


def echo_application(*, namespace: str, max_body_bytes: int) -> WsgiApp:
    """A stock Spyne service with one ``echo(text) -> text`` operation and plain Soap11.

    The benchmark baseline: the cost of Spyne itself on the same server.
    """
    # Imported here, not at the top: Spyne is importable on Python 3.12+ only once
    # wsrf_uws.soap.spyne_compat has installed its import shim, which the imports of
    # wsrf_uws.soap above have done (isort would put a top-level spyne import first).
    from spyne import Application, ServiceBase, Unicode, rpc
    from spyne.protocol.soap import Soap11
    from spyne.server.wsgi import WsgiApplication

    class Echo(ServiceBase):  # type: ignore[misc]
        @rpc(Unicode, _returns=Unicode)  # type: ignore[untyped-decorator]
        def echo(ctx: Any, text: str) -> str:
            return text

    application = Application(
        [Echo], tns=namespace, name="Echo", in_protocol=Soap11(), out_protocol=Soap11()
    )
    echo: WsgiApp = WsgiApplication(application, max_content_length=max_body_bytes)
    return echo


def application(settings: Settings, base_url: str) -> tuple[JobService, SoapApplication]:
    """The service (not started) and the WSGI application serving it plus the echo route."""
    service = build_service(settings, public_url=base_url)
    if "steps" not in service.registry.names():
        failures = service.registry.failures
        raise SystemExit(f"soap_server: the contract 'steps' is not installed {failures or ''}")
    echo = echo_application(namespace=ECHO_NAMESPACE, max_body_bytes=settings.max_request_bytes)
    app = SoapApplication(
        service=service,
        base_url=base_url,
        authenticate=authenticator(settings, service).authenticate,
        max_body_bytes=settings.max_request_bytes,
        extra_routes={ECHO_PATH: echo},
    )
    return service, app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="data directory (store and job folders)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument(
        "--threads", type=int, default=8, help="waitress threads (default 8, as `serve`)"
    )
    parser.add_argument(
        "--synchronous",
        choices=["full", "normal"],
        default="full",
        help="SQLite synchronous mode of the store (default full, as `serve`)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="INFO writes the access log, one line per request, on stderr (default WARNING)",
    )
    parser.add_argument("--profile", type=Path, help="profile requests; write pstats here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings.load(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        threads=args.threads,
        sqlite_synchronous=args.synchronous,
        # The createJob workload is an anonymous client creating thousands of jobs:
        # measure the service, not the anonymous quota's refusals.
        quotas={"max_anonymous_live_jobs": 10**9},
        http={"client_requests_per_second": 0},
    )
    listener = socket.create_server((settings.host, settings.port), reuse_port=False)
    host, port = listener.getsockname()[:2]
    base_url = f"http://{host}:{port}"
    service, app = application(settings, base_url)
    profiles = ThreadProfiles(app) if args.profile else None
    service.startup()
    try:
        if profiles is None:
            # Exactly the server `wsrf-uws serve` runs, with its guards, tuned as it is.
            server = http_server(settings, app, listener)
            tune_interpreter()
        else:
            server = create_server(
                RequestLog(profiles),
                sockets=[listener],
                threads=settings.threads,
                max_request_body_size=settings.max_request_bytes,
                ident="wsrf-uws",
                clear_untrusted_proxy_headers=True,
            )

        def stop(signum: int, frame: Any) -> None:
            raise Stop

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        print(f"{READY} {base_url} pid {os.getpid()}", flush=True)
        try:
            server.run()  # returns after Stop (see there)
        finally:
            server.close()
    finally:
        service.shutdown()
        if profiles is not None:
            profiles.dump(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
