"""The VOSpace 2.1 REST endpoint, as a WSGI application mounted at ``/vospace``.

Resources (under ``{base_url}/vospace``):

========================================  ==========================================
``nodes/{path}``                          GET getNode (``detail``, ``limit``, ``uri``),
                                          PUT createNode, POST setNode, DELETE deleteNode
``synctrans``                             POST a transfer (303 to its details); GET or
                                          POST with TARGET, DIRECTION, PROTOCOL
``transfers``                             POST a transfer (303 to its job)
``transfers/{id}[/phase|/error|/results   the transfer job, its phase, error, results
[/transferDetails]]``                     and negotiated transfer document
``data/{token}/{path}``                   PUT (push) or GET/HEAD (pull) the bytes
``files/{path}``                          GET/HEAD a data node's bytes (CADC files-proto)
``capabilities``, ``availability``        VOSI
========================================  ==========================================

``auth/...`` is the same as ``...``: the CADC client, when it sends credentials,
rewrites the transfer URLs it is redirected to that way.

Request bodies are bounded per route (:meth:`VOSpaceApplication.largest_body`): a PUT
to a data URL (an upload) may be as large as the largest space, every other request at
most ``max_document_bytes``; a larger declared ``Content-Length`` gets 413 before
anything else happens, and a chunked body is counted as it is read and refused at the
limit. What a space or a negotiation reveals to whom is :mod:`.access`'s to decide.

The root (``nodes/``) lists the caller's spaces and the public ones; nobody creates,
changes or deletes nodes directly under it: spaces come and go only through the UWS
``vospace`` contract. Each request is authenticated by the ``authenticate`` callable
the server gives (HTTP Basic or anonymous); data URLs carry their own authorisation
(the transfer token) and VOSI needs none.

This module receives the requests; the resources are answered by :mod:`.rest_nodes`,
:mod:`.rest_transfers` and :mod:`.rest_bytes`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from ...core.errors import NotAuthenticatedError
from .errors import (
    InternalFault,
    MethodNotAllowed,
    NodeNotFound,
    NotAuthenticated,
    RequestEntityTooLarge,
    TooManyTransfers,
    VOSpaceFault,
)
from .rest_bytes import ByteRoutes
from .rest_nodes import NodeRoutes
from .rest_routes import Route, allow_methods
from .rest_transfers import TransferRoutes
from .store import SpaceStore
from .transfers import Negotiator
from .vosi import availability_document, capabilities_document
from .wsgi import Request, Response, StartResponse

log = logging.getLogger(__name__)

#: What a 401 answer asks for.
CHALLENGE = ("WWW-Authenticate", 'Basic realm="wsrf-uws"')


class VOSpaceApplication:
    """The VOSpace endpoint over ``store``; see the module docstring.

    ``base_url`` is the server's public URL (``http://host:port``); the endpoint answers
    under ``{base_url}{mount_path}``. ``authenticate(headers=[], environ=...)`` returns the
    caller's name or raises NotAuthenticatedError. ``max_document_bytes`` caps the XML
    documents read and the body of every request but an upload, ``max_upload_bytes``
    the body of an upload (None: only the space's room limits it), ``max_listing`` the
    children listed at once (a client pages with ``limit`` and ``uri`` beyond it).
    ``transfer_lifetime`` is how long a data URL works once used,
    ``unused_transfer_lifetime`` how long a negotiated transfer is kept before that;
    ``max_transfers_per_owner`` and ``max_anonymous_transfers`` bound the negotiated
    transfers kept for one owner and for all anonymous callers together.
    ``anonymous_interface`` lists anonymous interfaces in the capabilities (turn it off
    when the server requires credentials).
    """

    def __init__(
        self,
        *,
        store: SpaceStore,
        base_url: str,
        authenticate: Callable[..., str],
        service_id: str = "vospace",
        mount_path: str = "/vospace",
        max_document_bytes: int = 1 << 20,
        max_upload_bytes: int | None = None,
        max_listing: int = 10_000,
        transfer_lifetime: timedelta = timedelta(hours=1),
        unused_transfer_lifetime: timedelta = timedelta(minutes=10),
        max_transfers_per_owner: int = 10_000,
        max_anonymous_transfers: int = 100,
        anonymous_interface: bool = True,
    ) -> None:
        if service_id != store.identity.service_id:
            raise ValueError(
                f"service_id {service_id!r} differs from the store's "
                f"{store.identity.service_id!r}: the identifiers would not match"
            )
        if not mount_path.startswith("/") or mount_path.endswith("/"):
            raise ValueError(f"mount_path {mount_path!r} must start, and not end, with '/'")
        if max_listing < 1 or max_document_bytes < 1:
            raise ValueError("max_listing and max_document_bytes must be positive")
        if min(max_transfers_per_owner, max_anonymous_transfers) < 1:
            raise ValueError("max_transfers_per_owner and max_anonymous_transfers must be >= 1")
        self.store = store
        self.identity = store.identity
        self.names = store.names
        self.authenticate = authenticate
        self.mount_path = mount_path
        self.service_url = base_url.rstrip("/") + mount_path
        self.max_document_bytes = max_document_bytes
        self.max_upload_bytes = max_upload_bytes
        self.max_listing = max_listing
        self.anonymous_interface = anonymous_interface
        self.negotiator = Negotiator(
            store=store,
            data_url=f"{self.service_url}/data",
            lifetime=transfer_lifetime,
            unused_lifetime=unused_transfer_lifetime,
            max_per_owner=max_transfers_per_owner,
            max_anonymous=max_anonymous_transfers,
        )
        self.started = store.clock.now()
        nodes = NodeRoutes(
            store=store,
            caller=self._caller,
            service_url=self.service_url,
            mount_path=mount_path,
            max_document_bytes=max_document_bytes,
            max_listing=max_listing,
        )
        transfers = TransferRoutes(
            store=store,
            negotiator=self.negotiator,
            caller=self._caller,
            service_url=self.service_url,
            max_document_bytes=max_document_bytes,
        )
        data = ByteRoutes(store=store, negotiator=self.negotiator, caller=self._caller)
        self._routes: dict[str, Route] = {
            "nodes": nodes.route,
            "synctrans": transfers.synctrans,
            "transfers": transfers.transfers,
            "data": data.data,
            "files": data.files,
            "capabilities": self._capabilities,
            "availability": self._availability,
        }

    # -- WSGI -------------------------------------------------------------------------

    def __call__(
        self, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        head = str(environ.get("REQUEST_METHOD", "")).upper() == "HEAD"
        try:
            request = Request(environ)
            self._check_body_length(request)
            response = self._dispatch(request)
        except VOSpaceFault as fault:
            response = self._fault(fault)
        except Exception:
            log.exception(
                "VOSpace request %s %s failed",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
            )
            response = self._fault(InternalFault("the service failed; the error is logged"))
        return response.send(environ, start_response, head=head)

    @staticmethod
    def _fault(fault: VOSpaceFault) -> Response:
        headers = [CHALLENGE] if fault.status == 401 else []
        if isinstance(fault, MethodNotAllowed):
            headers.append(("Allow", fault.allow))
        if isinstance(fault, TooManyTransfers):
            headers.append(("Retry-After", str(fault.retry_after)))
        return Response.text(fault.body(), status=fault.status, headers=headers)

    def largest_body(self, method: str, path: str) -> int | None:
        """The largest request body accepted for ``method`` on ``path`` (the WSGI
        ``PATH_INFO``, ``/vospace/...``): ``max_upload_bytes`` for an upload (None: no
        limit but the space's room), ``max_document_bytes`` for anything else. Depends
        on nothing but the request line, so an HTTP server may ask it before reading
        the body."""
        if self._is_upload(method, path):
            return self.max_upload_bytes
        return self.max_document_bytes

    def _is_upload(self, method: str, path: str) -> bool:
        """Whether the request is a PUT to a data URL, the one route that takes bytes."""
        rest = path.removeprefix(self.mount_path + "/").removeprefix("auth/")
        return method.upper() == "PUT" and rest.startswith("data/")

    def _check_body_length(self, request: Request) -> None:
        """413 for a declared body over the route's limit, before anything reads it."""
        length = request.content_length
        limit = self.largest_body(request.method, request.path)
        if length is None or limit is None or length <= limit:
            return
        if self._is_upload(request.method, request.path):
            raise RequestEntityTooLarge(
                f"the upload has {length} bytes; no space here may hold more than {limit}"
            )
        raise RequestEntityTooLarge(
            f"the request body has {length} bytes; this request may have at most {limit} "
            "(only uploads to a data URL may have more)"
        )

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        prefix = self.mount_path + "/"
        if not path.startswith(prefix):
            raise NodeNotFound(f"nothing is served at {path!r}")
        rest = path[len(prefix) :]
        if rest.startswith("auth/"):
            rest = rest[len("auth/") :]
        resource, _, tail = rest.partition("/")
        handler = self._routes.get(resource)
        if handler is None:
            raise NodeNotFound(f"nothing is served at {path!r}")
        return handler(request, tail)

    def _caller(self, request: Request) -> str:
        try:
            return self.authenticate(headers=[], environ=request.environ)
        except NotAuthenticatedError as error:
            raise NotAuthenticated(error.description) from None

    # -- VOSI -------------------------------------------------------------------------

    def _capabilities(self, request: Request, tail: str) -> Response:
        allow_methods(request, tail, "GET", "HEAD")
        return Response.xml(
            capabilities_document(self.service_url, anonymous=self.anonymous_interface)
        )

    def _availability(self, request: Request, tail: str) -> Response:
        allow_methods(request, tail, "GET", "HEAD")
        try:
            self.store.spaces()
            available, note = True, None
        except Exception as error:  # the store itself is what VOSI reports on
            log.warning("VOSpace store unavailable: %s", error)
            available, note = False, "the node store cannot be read"
        return Response.xml(
            availability_document(available=available, up_since=self.started, note=note)
        )
