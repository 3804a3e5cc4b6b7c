"""The operator's routes in front of the service's WSGI application: ``GET /health`` and
``GET /metrics``, and the time of every other request for the metrics.

``/health`` is public (it tells only whether the store answers and how busy the executor
is). ``/metrics`` follows the setting ``metrics_access``: ``loopback`` (the default) serves
it to clients on the loopback interface only (a Prometheus on the same machine, or
reaching it through an SSH tunnel), ``public`` to anyone, ``off`` to nobody; refused, it
is HTTP 404, as if it did not exist. A front proxy on the same machine makes every
request come from the loopback interface: do not forward ``/metrics`` there (see
``docs/operations.md``).
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any, Literal

from .answers import StartResponse, uncached_answer
from .health import HealthCheck
from .metrics import CONTENT_TYPE, ServiceMetrics

WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
MetricsAccess = Literal["loopback", "public", "off"]

_ACTION_PARTS = re.compile(r"[/#:]")

#: The label of a request below each of the service's own routes (by its path's first
#: segments, the longest first), a fixed set: never a job's, a contract's or a caller's
#: word. TAP's queries are apart from its metadata, since they take as long as the query.
ROUTE_LABELS = {
    "/rest": "rest",
    "/tap/sync": "tap_sync",
    "/tap/async": "tap_async",
    "/tap": "tap",
    "/results": "results",
    "/wsdl": "wsdl",
    "/schemas": "schemas",
    "/demo": "demo",
}


class OperatorRoutes:
    """WSGI middleware: ``/health`` and ``/metrics`` here, everything else to ``app``, timed.

    ``operations`` are the SOAP operations the service knows: a request's ``SOAPAction``
    names one of them, or it is counted as ``other`` (a caller cannot make up series).
    Other requests are counted by their route (:data:`ROUTE_LABELS`), else as ``other``.
    """

    def __init__(
        self,
        app: WsgiApp,
        *,
        health: HealthCheck,
        metrics: ServiceMetrics,
        operations: Collection[str],
        metrics_access: MetricsAccess = "loopback",
    ) -> None:
        self.app = app
        self.health = health
        self.metrics = metrics
        self.operations = frozenset(operations)
        self.metrics_access = metrics_access

    def __getattr__(self, name: str) -> Any:
        # body_limit, largest_body...: what the HTTP server asks of the application.
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "")
        if path == "/health" and method in ("GET", "HEAD"):
            return self._health(start_response, head=method == "HEAD")
        if path == "/metrics" and method in ("GET", "HEAD") and self._may_read_metrics(environ):
            return uncached_answer(
                start_response,
                "200 OK",
                self.metrics.render(),
                content_type=CONTENT_TYPE,
                head=method == "HEAD",
            )
        started = time.perf_counter()
        try:
            return self.app(environ, start_response)
        finally:
            self.metrics.observe_request(self.operation(environ), time.perf_counter() - started)

    def operation(self, environ: dict[str, Any]) -> str:
        """The label a request is timed under: its SOAP operation, else its route."""
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith("/uws/"):
            if environ.get("REQUEST_METHOD") != "POST":
                return "wsdl"
            action = environ.get("HTTP_SOAPACTION", "").strip('"')
            for part in reversed(_ACTION_PARTS.split(action)):
                name = part.removesuffix("Request")
                if name in self.operations:
                    return name
            return "other"
        for route, label in ROUTE_LABELS.items():
            if path == route or path.startswith(f"{route}/"):
                return label
        return "other"

    def _may_read_metrics(self, environ: dict[str, Any]) -> bool:
        if self.metrics_access == "public":
            return True
        if self.metrics_access == "off":
            return False
        try:
            address = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return address.ipv4_mapped.is_loopback
        return address.is_loopback

    def _health(self, start_response: StartResponse, *, head: bool) -> Iterable[bytes]:
        healthy, report = self.health.report()
        status = "200 OK" if healthy else "503 Service Unavailable"
        body = json.dumps(report, indent=1).encode() + b"\n"
        return uncached_answer(
            start_response, status, body, content_type="application/json", head=head
        )
