"""The WSGI application: every installed contract, its documents and the results, on one port.

| route | what |
|---|---|
| ``POST /uws/{contract}`` | the contract's SOAP endpoint (Spyne) |
| ``GET /uws/{contract}?wsdl`` | its published WSDL (``&addressing=2004-08``: for 2004/08 clients) |
| ``GET /wsdl/...``, ``GET /schemas/...`` | the documents the WSDL imports |
| ``GET /results/{resource-id}/{name}`` | a result file |
| ``GET /demo/{contract}/{name}`` | a contract's demonstration data (for examples) |
| ``/{prefix}/...`` | a contract's own HTTP application (:meth:`Contract.web_routes`), |
|  | also below its endpoint: ``/uws/{contract}/{name}/...`` (discovery documents) |
| ``GET /`` | a short index of the endpoints |

Request bodies larger than ``max_body_bytes`` are refused with HTTP 413 from their
``Content-Length``, before the body is read, on every route but those of a contract's
own HTTP application that declares its own limits (:class:`~wsrf_uws.core.contract.WebRoute`:
an upload route may take far larger bodies). :meth:`SoapApplication.body_limit` says which
limit a request has and :meth:`SoapApplication.largest_body` the largest of all; ``wsrf-uws
serve`` applies them as the request arrives (:mod:`wsrf_uws.waitress_compat`), so an
oversized body is not even received, and a chunked one is cut off at the limit.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from lxml import etree

from ..core.contract import Authenticate, Contract, WebRoute
from ..core.service import JobService
from ..published import AddressingVersion
from .documents import Documents
from .endpoint import ContractEndpoint
from .faults import RequestError
from .incoming import XmlLimits
from .listing import DEFAULT_MAX_LISTED_JOBS
from .results import ResultDownloads, StartResponse, plain, send_file
from .spyne_compat import fault_envelope, spyne_application

#: Names of demonstration files: no path separators, no leading dot.
_DEMO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: Default limit of a request body (DESIGN §2: 2 MiB, configurable).
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024


class SoapApplication:
    """Routes requests to the contract endpoints, the documents and the result files."""

    def __init__(
        self,
        *,
        service: JobService,
        base_url: str,
        authenticate: Authenticate,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        xml_limits: XmlLimits | None = None,
        extra_routes: Mapping[str, WsgiApp] | None = None,
        max_listed_jobs: int = DEFAULT_MAX_LISTED_JOBS,
    ) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.max_body_bytes = max_body_bytes
        contracts = list(service.registry)
        self.endpoints = {
            contract.name: ContractEndpoint(
                service=service,
                contract=contract,
                base_url=self.base_url,
                authenticate=authenticate,
                max_listed_jobs=max_listed_jobs,
            )
            for contract in contracts
        }
        self.soap: dict[str, WsgiApp] = {
            name: spyne_application(
                endpoint=endpoint,
                name=name,
                namespace=endpoint.contract.namespace,
                max_body_bytes=max_body_bytes,
                xml_limits=xml_limits,
            )
            for name, endpoint in self.endpoints.items()
        }
        self.documents = Documents(base_url=self.base_url, contracts=contracts)
        self.results = ResultDownloads(service=service, authenticate=authenticate)
        #: The contracts' own HTTP applications, and ``extra_routes`` (a benchmark's
        #: baseline, say), by path prefix.
        self.web_routes = _web_routes(contracts, authenticate=authenticate)
        for prefix, application in (extra_routes or {}).items():
            if prefix in self.web_routes:
                raise ValueError(f"an extra route and a contract both claim {prefix}")
            self.web_routes[prefix] = WebRoute(application)

    def _web_route(self, path: str) -> WebRoute | None:
        """The contract's own HTTP application serving ``path``, if any."""
        for prefix, route in self.web_routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return route
        return None

    def body_limit(self, method: str, path: str) -> int | None:
        """The largest request body ``method`` on ``path`` accepts (None: no limit here).

        Depends on the request line alone, so the HTTP server asks before it reads the
        body. Every route, SOAP or not, accepts ``max_body_bytes``, except a contract's
        own HTTP application that declares its own limits (an upload route, say).
        """
        route = self._web_route(path or "/")
        if route is None:
            return self.max_body_bytes
        if route.body_limit is not None:
            return route.body_limit(method, path)
        return self.max_body_bytes if route.max_body_bytes is None else route.max_body_bytes

    def largest_body(self) -> int:
        """The largest request body any route accepts: what the HTTP server must read."""
        own = [r.max_body_bytes for r in self.web_routes.values() if r.max_body_bytes is not None]
        return max([self.max_body_bytes, *own])

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ["REQUEST_METHOD"]
        route = self._web_route(path)
        if route is None or route.body_limit is None:  # else the application answers itself
            length = _content_length(environ)
            limit = self.body_limit(method, path)
            if limit is not None and length > limit:
                return self._too_large(path, environ, start_response, length, limit=limit)
        if route is not None:
            return route.application(environ, start_response)
        if path.startswith("/uws/"):
            return self._contract(path[len("/uws/") :].rstrip("/"), environ, start_response)
        if path.startswith("/results/"):
            parts = path[len("/results/") :].split("/")
            if len(parts) == 2 and all(parts):
                return self.results(environ, start_response, parts[0], parts[1])
            return plain(start_response, "404 Not Found", "use /results/{resource-id}/{name}")
        if method in ("GET", "HEAD"):
            if path.startswith("/demo/"):
                return self._demo(path[len("/demo/") :], environ, start_response)
            document = self.documents.get(path)
            if document is not None:
                return _xml(environ, start_response, document, etag=self.documents.etag)
            if path == "/":
                return plain(start_response, "200 OK", self._index())
        return plain(start_response, "404 Not Found", f"nothing at {path}")

    def _contract(
        self, name: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if name not in self.soap:
            installed = ", ".join(sorted(self.soap)) or "none"
            return plain(
                start_response, "404 Not Found", f"no contract {name!r} (installed: {installed})"
            )
        method = environ["REQUEST_METHOD"]
        if method in ("GET", "HEAD"):
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if "wsdl" in {key.lower() for key in query}:
                wanted = query.get("addressing", [AddressingVersion.W3C.value])[-1]
                try:
                    addressing = AddressingVersion(wanted)
                except ValueError:
                    versions = ", ".join(version.value for version in AddressingVersion)
                    return plain(
                        start_response,
                        "400 Bad Request",
                        f"no WSDL for addressing={wanted!r}; this service has {versions}",
                    )
                document = self.documents.wsdl(name, addressing)
                return _xml(environ, start_response, document, etag=self.documents.etag)
            return plain(
                start_response,
                "200 OK",
                f"SOAP endpoint; its WSDL: {self.base_url}/uws/{name}?wsdl",
            )
        if method != "POST":
            return plain(
                start_response, "405 Method Not Allowed", "POST SOAP 1.1", Allow="GET, POST"
            )
        return self.soap[name](environ, start_response)

    def _demo(
        self, path: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        contract_name, _, name = path.partition("/")
        contract = self.service.registry.get(contract_name) if contract_name in self.soap else None
        folder = None if contract is None else contract.demo_data
        if folder is None or not _DEMO_NAME.fullmatch(name) or not (folder / name).is_file():
            return plain(start_response, "404 Not Found", f"no demonstration file /demo/{path}")
        mime_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return send_file(environ, start_response, folder / name, name=name, mime_type=mime_type)

    def _too_large(
        self,
        path: str,
        environ: dict[str, Any],
        start_response: StartResponse,
        length: int,
        *,
        limit: int,
    ) -> Iterable[bytes]:
        """413, before anything reads the body: a SOAP fault on a contract endpoint."""
        description = (
            f"the request body has {length} bytes or more; this service accepts at most {limit}"
        )
        name = path[len("/uws/") :].rstrip("/") if path.startswith("/uws/") else ""
        if name not in self.endpoints:
            return plain(start_response, "413 Request Entity Too Large", description)
        error = RequestError("request-too-large", description, http_status=413)
        fault, header = self.endpoints[name].fault(error, None)
        body = etree.tostring(fault_envelope(fault, header), xml_declaration=True, encoding="UTF-8")
        start_response(
            "413 Request Entity Too Large",
            [
                ("Content-Type", "text/xml; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    def _index(self) -> str:
        lines = ["wsrf-uws: the Universal Worker Service pattern over SOAP/WS-RF", ""]
        for name in sorted(self.endpoints):
            lines.append(
                f"{name}: {self.base_url}/uws/{name}  (WSDL: ?wsdl, or ?wsdl&addressing=2004-08)"
            )
        if not self.endpoints:
            lines.append("no contracts are installed")
        return "\n".join(lines)


#: First path segments the application itself answers; no contract may claim them.
_RESERVED_PREFIXES = frozenset({"", "uws", "results", "demo", "wsdl", "schemas"})


def _web_routes(
    contracts: Iterable[Contract], *, authenticate: Authenticate
) -> dict[str, WebRoute]:
    """Every contract's own HTTP applications, by prefix; refuses clashing prefixes."""
    routes: dict[str, WebRoute] = {}
    owners: dict[str, str] = {}
    for contract in contracts:
        offered = contract.web_routes(authenticate=authenticate)
        for prefix, route in offered.items():
            if not isinstance(route, WebRoute):
                raise TypeError(
                    f"contract {contract.name!r}: route {prefix} must be a WebRoute, "
                    f"not {type(route).__name__}"
                )
            segments = prefix.strip("/").split("/")
            if not prefix.startswith("/") or prefix.endswith("/") or not all(segments):
                raise ValueError(f"contract {contract.name!r}: bad route prefix {prefix!r}")
            # Below its own endpoint (/uws/{name}/...) a contract may serve its discovery
            # documents; every other reserved prefix is the service's.
            own = len(segments) > 2 and segments[:2] == ["uws", contract.name]
            if segments[0] in _RESERVED_PREFIXES and not own:
                raise ValueError(f"contract {contract.name!r}: route {prefix} is reserved")
            clash = next(
                (
                    p
                    for p in routes
                    if p == prefix or p.startswith(prefix + "/") or prefix.startswith(p + "/")
                ),
                None,
            )
            if clash is not None:
                raise ValueError(
                    f"contracts {owners[clash]!r} and {contract.name!r} both claim {prefix}"
                )
            routes[prefix] = route
            owners[prefix] = contract.name
    return routes


def _content_length(environ: dict[str, Any]) -> int:
    """The body length a request announces (0 if none or unreadable)."""
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _xml(
    environ: dict[str, Any], start_response: StartResponse, document: bytes, *, etag: str
) -> list[bytes]:
    """A published document, with its ETag; 304 when the client has it already."""
    if etag in (tag.strip() for tag in environ.get("HTTP_IF_NONE_MATCH", "").split(",")):
        start_response("304 Not Modified", [("ETag", etag)])
        return []
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/xml; charset=utf-8"),
            ("Content-Length", str(len(document))),
            ("ETag", etag),
        ],
    )
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [document]
