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
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from ...core.errors import NotAuthenticatedError
from ...wire.times import format_utc
from .access import (
    can_read,
    require_parent_writable,
    visible_node,
    writable_node,
)
from .documents import (
    NodeRepresentation,
    NodeRequest,
    PropertyValue,
    ProtocolRequest,
    TransferJob,
    TransferRequest,
    job_document,
    node_document,
    parse_node,
    parse_transfer,
    results_document,
    transfer_document,
)
from .errors import (
    InternalFault,
    InvalidArgument,
    InvalidURI,
    MethodNotAllowed,
    NodeNotFound,
    NotAuthenticated,
    PermissionDenied,
    RequestEntityTooLarge,
    TooManyTransfers,
    TypeNotSupported,
    VOSpaceFault,
)
from .names import NodePath, parse_path
from .nodes import CREATABLE_TYPES, PULL_FROM, PUSH_TO, Node, NodeKind, Space, TransferRecord
from .properties import (
    AVAILABLE_SPACE,
    CREATOR,
    DATE,
    LENGTH,
    MD5,
    check_client_property,
    content_type,
)
from .signing import Grant
from .store import SpaceStore
from .transfers import COMPLETED, Negotiator, follow_links
from .vosi import availability_document, capabilities_document
from .wsgi import (
    Request,
    Response,
    StartResponse,
    byte_range,
    content_disposition,
)

log = logging.getLogger(__name__)

#: What a 401 answer asks for.
CHALLENGE = ("WWW-Authenticate", 'Basic realm="wsrf-uws"')
_DETAILS = ("min", "max", "properties")
#: Read-only properties whose values change without the client doing anything.
_VOLATILE = frozenset({DATE, AVAILABLE_SPACE})


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
        self._routes: dict[str, Callable[[Request, str], Response]] = {
            "nodes": self._nodes,
            "synctrans": self._synctrans,
            "transfers": self._transfers,
            "data": self._data,
            "files": self._files,
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
        _allow(request, tail, "GET", "HEAD")
        return Response.xml(
            capabilities_document(self.service_url, anonymous=self.anonymous_interface)
        )

    def _availability(self, request: Request, tail: str) -> Response:
        _allow(request, tail, "GET", "HEAD")
        try:
            self.store.spaces()
            available, note = True, None
        except Exception as error:  # the store itself is what VOSI reports on
            log.warning("VOSpace store unavailable: %s", error)
            available, note = False, "the node store cannot be read"
        return Response.xml(
            availability_document(available=available, up_since=self.started, note=note)
        )

    # -- nodes ------------------------------------------------------------------------

    def _nodes(self, request: Request, tail: str) -> Response:
        path = parse_path(tail)
        method = request.method
        if method in ("GET", "HEAD"):
            return self._get_node(request, path)
        if method == "PUT":
            return self._create_node(request, path)
        if method == "POST":
            return self._set_node(request, path)
        if method == "DELETE":
            return self._delete_node(request, path)
        raise MethodNotAllowed(
            f"{method} is not defined for nodes", allow="GET, HEAD, PUT, POST, DELETE"
        )

    def _get_node(self, request: Request, path: NodePath) -> Response:
        caller = self._caller(request)
        detail = request.query.get("detail", "max")
        if detail not in _DETAILS:
            raise InvalidArgument(f"detail is one of {', '.join(_DETAILS)}, not {detail!r}")
        limit = self._limit(request)
        start = self._start(request, path)
        if not path:
            return Response.xml(node_document(self._root(caller, detail, start, limit)))
        space, node = visible_node(self.store, caller, path)
        children: list[Node] = []
        if node.kind == NodeKind.CONTAINER:
            # Anyone else sees, in a public container, only the public children.
            children = self.store.list_children(
                path, start=start, limit=limit, public_only=caller != node.owner
            )
        return Response.xml(node_document(self._represent(space, node, detail, children)))

    def _limit(self, request: Request) -> int:
        text = request.query.get("limit")
        if text is None or text == "":
            return self.max_listing
        try:
            limit = int(text)
        except ValueError:
            raise InvalidArgument(f"limit is a number of nodes, not {text!r}") from None
        if limit < 0:
            raise InvalidArgument("limit is negative")
        return min(limit, self.max_listing)

    def _start(self, request: Request, path: NodePath) -> str | None:
        """The name of the first child to list, from the ``uri`` parameter."""
        uri = request.query.get("uri")
        if not uri:
            return None
        start = self.identity.path_of(uri)
        if len(start) != len(path) + 1 or start[:-1] != path:
            raise InvalidURI(f"uri={uri} is not a child of {self.identity.node_uri(path)}")
        return start[-1]

    def _root(self, caller: str, detail: str, start: str | None, limit: int) -> NodeRepresentation:
        listed = [
            (space, node)
            for space, node in self.store.space_nodes()
            if (start is None or space.name >= start) and can_read(caller, node)
        ][:limit]
        children = tuple(
            self._represent(space, node, "min" if detail == "min" else "child", [])
            for space, node in listed
        )
        return NodeRepresentation(
            uri=self.identity.node_uri(()),
            xsi_type="ContainerNode",
            busy=False,
            views=detail == "max",
            children=children,
        )

    def _represent(
        self, space: Space, node: Node, detail: str, children: list[Node]
    ) -> NodeRepresentation:
        """A node's document content; ``detail`` is min, max, properties, or child (a
        listed child: properties, no views)."""
        listed = tuple(
            self._represent(space, child, "min" if detail == "min" else "child", [])
            for child in children
        )
        properties = () if detail == "min" else self._properties(space, node)
        return NodeRepresentation(
            uri=self.identity.node_uri(node.path),
            xsi_type=node.xsi_type,
            properties=properties,
            busy=None if node.kind == NodeKind.LINK else node.busy,
            target=node.target,
            views=detail == "max",
            children=listed,
        )

    def _properties(self, space: Space, node: Node) -> tuple[PropertyValue, ...]:
        """The node's properties: the service's (read-only) first, then the client's."""
        computed = self._computed(space, node)
        values = [PropertyValue(uri, value, read_only=True) for uri, value in computed.items()]
        values.extend(
            PropertyValue(uri, value)
            for uri, value in sorted(node.properties.items())
            if uri not in computed
        )
        return tuple(values)

    def _computed(self, space: Space, node: Node) -> dict[str, str]:
        computed = {DATE: format_utc(node.modified), CREATOR: node.owner}
        if node.kind == NodeKind.DATA:
            computed[LENGTH] = str(node.length or 0)
            if node.md5 is not None:
                computed[MD5] = node.md5
        if node.kind == NodeKind.CONTAINER:
            computed[AVAILABLE_SPACE] = str(space.available_bytes)
        if len(node.path) == 1:
            computed[self.names.quota] = str(space.quota_bytes)
            if space.expires is not None:
                computed[self.names.expires] = format_utc(space.expires)
        return computed

    def _document(self, request: Request, path: NodePath) -> NodeRequest:
        """The node document of a PUT or POST, checked to name the node of the URL."""
        document = parse_node(request.read_body(limit=self.max_document_bytes))
        if self.identity.path_of(document.uri) != path:
            raise InvalidURI(
                f"the document's uri {document.uri} does not name the node of the URL "
                f"({self.identity.node_uri(path)})"
            )
        return document

    def _refuse_root_and_spaces(self, path: NodePath, *, verb: str) -> None:
        """Refuse writes at the root, and creating or deleting a space, whatever exists
        there (the answer says nothing about it)."""
        if len(path) == 0:
            raise PermissionDenied(f"the root belongs to the service; nobody may {verb} it")
        if len(path) == 1:
            raise PermissionDenied(
                f"{verb} {self.identity.node_uri(path)}: nodes directly under the root are "
                "spaces, which are created, extended and destroyed only through the UWS "
                f"vospace contract (createJob and startJob, SetTerminationTime, Destroy) at "
                f"{self.service_url.rsplit(self.mount_path, 1)[0]}/uws/vospace"
            )

    def _create_node(self, request: Request, path: NodePath) -> Response:
        caller = self._caller(request)
        # Permission first: a body from someone who may not write here is not even read.
        self._refuse_root_and_spaces(path, verb="create")
        require_parent_writable(self.store, caller, path)
        document = self._document(request, path)
        xsi_type = "UnstructuredDataNode" if document.xsi_type == "Node" else document.xsi_type
        kind = CREATABLE_TYPES.get(xsi_type)
        if kind is None:
            raise TypeNotSupported(
                f"this service does not create {xsi_type} nodes; it creates "
                + ", ".join(CREATABLE_TYPES)
            )
        target = None
        if kind == NodeKind.LINK:
            target = _link_target(document.target)
        elif document.target is not None:
            raise InvalidArgument(f"a {xsi_type} has no target")
        properties: dict[str, str] = {}
        for uri, value in document.properties:
            check_client_property(uri, value, self.names)
            if value is not None:
                properties[uri] = value
        node = self.store.create_node(
            path, kind=kind, xsi_type=xsi_type, properties=properties, target=target
        )
        space, node = self.store.get_node(node.path)
        return Response.xml(node_document(self._represent(space, node, "max", [])), status=201)

    def _set_node(self, request: Request, path: NodePath) -> Response:
        caller = self._caller(request)
        if not path:
            self._refuse_root_and_spaces(path, verb="change")
        space, node = writable_node(self.store, caller, path)
        document = self._document(request, path)
        if document.xsi_type != "Node":
            asked = CREATABLE_TYPES.get(document.xsi_type)
            if asked is not None and asked != node.kind:
                raise InvalidArgument(
                    f"setNode cannot change the type of {self.identity.node_uri(path)} "
                    f"({node.xsi_type}) to {document.xsi_type}"
                )
        if document.target is not None and document.target != node.target:
            raise InvalidArgument("setNode cannot change a LinkNode's target")
        computed = self._computed(space, node)
        updates: dict[str, str | None] = {}
        for uri, value in document.properties:
            # Clients post back the node they read, read-only properties included: those
            # are ignored when unchanged, or when they are values that move on their own
            # (a date, the available space) and the copy is merely out of date.
            echoed = uri in computed and value is not None
            if echoed and (uri in _VOLATILE or (value or "").strip() == computed[uri]):
                continue
            check_client_property(uri, value, self.names)
            updates[uri] = value
        self.store.set_properties(path, updates)
        space, node = self.store.get_node(path)
        children = (
            self.store.list_children(path, limit=self.max_listing)
            if node.kind == NodeKind.CONTAINER
            else []
        )
        return Response.xml(node_document(self._represent(space, node, "max", children)))

    def _delete_node(self, request: Request, path: NodePath) -> Response:
        caller = self._caller(request)
        self._refuse_root_and_spaces(path, verb="delete")
        writable_node(self.store, caller, path)
        self.store.delete_node(path)
        return Response(204)

    # -- transfers --------------------------------------------------------------------

    def _synctrans(self, request: Request, tail: str) -> Response:
        if tail:
            raise NodeNotFound(f"nothing is served at synctrans/{tail}")
        keys = {key.upper() for key in request.query}
        if request.method in ("GET", "POST") and "TARGET" in keys:
            return self._parameter_transfer(request)
        _allow(request, "", "POST")
        caller = self._caller(request)
        transfer = parse_transfer(request.read_body(limit=self.max_document_bytes))
        record = self.negotiator.negotiate(transfer, caller=caller)
        return Response.redirect(self._job_url(record) + "/results/transferDetails")

    def _parameter_transfer(self, request: Request) -> Response:
        """VOSpace 2.1 §3.7.2: TARGET, DIRECTION, PROTOCOL (and SECURITYMETHOD, VIEW,
        REQUEST=redirect) as query parameters of GET or POST; the transfer document (or
        a redirect to the data) is the answer. No job is made and nothing is recorded
        (:meth:`.Negotiator.offer`): a fault is answered as such."""
        caller = self._caller(request)
        params = {key.upper(): value for key, value in request.query.items()}
        missing = [key for key in ("TARGET", "DIRECTION", "PROTOCOL") if not params.get(key)]
        if missing:
            raise InvalidArgument(f"a parameter transfer needs {', '.join(missing)}")
        if params["DIRECTION"] not in (PUSH_TO, PULL_FROM):
            raise InvalidArgument(f"DIRECTION is {PUSH_TO} or {PULL_FROM} here")
        methods = (params["SECURITYMETHOD"],) if params.get("SECURITYMETHOD") else ()
        transfer = TransferRequest(
            targets=(params["TARGET"],),
            direction=params["DIRECTION"],
            view=params.get("VIEW") or None,
            protocols=(ProtocolRequest(params["PROTOCOL"], methods),),
            params={},
        )
        endpoints = self.negotiator.offer(transfer, caller=caller)
        redirect = params.get("REQUEST", "").lower() in ("redirect", "true")
        if redirect and transfer.direction == PULL_FROM and endpoints[0].endpoint:
            return Response.redirect(endpoints[0].endpoint)
        return Response.xml(
            transfer_document(
                target=transfer.targets[0],
                direction=transfer.direction,
                view=transfer.view,
                protocols=endpoints,
            )
        )

    def _transfers(self, request: Request, tail: str) -> Response:
        if not tail:
            _allow(request, "", "POST")
            caller = self._caller(request)
            transfer = parse_transfer(request.read_body(limit=self.max_document_bytes))
            record = self.negotiator.negotiate(transfer, caller=caller)
            return Response.redirect(self._job_url(record))
        job_id, _, part = tail.partition("/")
        caller = self._caller(request)
        found = self.store.transfer(job_id)
        if found is None or found.owner != caller:
            raise NodeNotFound(f"no transfer {job_id!r} of yours is known (or it has expired)")
        record = found
        if part == "phase" and request.method == "POST":
            # Negotiation is immediate: the job is final already, so RUN has nothing to do.
            return Response.redirect(self._job_url(record))
        _allow(request, "", "GET", "HEAD")
        if part == "":
            return Response.xml(job_document(self._job(record)))
        if part == "phase":
            return Response.text(record.phase)
        if part == "error":
            if record.error is None:
                raise NodeNotFound(f"the transfer {job_id} has no error")
            return Response.text(record.error)
        if part == "results":
            url = self._job_url(record) + "/results/transferDetails"
            return Response.xml(results_document(url if record.phase == COMPLETED else None))
        if part == "results/transferDetails":
            return self._details_response(record)
        raise NodeNotFound(f"nothing is served at transfers/{tail}")

    def _details_response(self, record: TransferRecord) -> Response:
        return Response.xml(
            transfer_document(
                target=record.target,
                direction=record.direction,
                view=record.view,
                protocols=self.negotiator.endpoints(record),
            )
        )

    def _job_url(self, record: TransferRecord) -> str:
        return f"{self.service_url}/transfers/{quote(record.id, safe='')}"

    def _job(self, record: TransferRecord) -> TransferJob:
        return TransferJob(
            job_id=record.id,
            owner=None if record.owner == "anonymous" else record.owner,
            phase=record.phase,
            created=record.created,
            destruction=record.expires,
            details_url=self._job_url(record) + "/results/transferDetails",
            error=record.error,
            target=record.target,
            direction=record.direction,
            view=record.view,
        )

    # -- bytes ------------------------------------------------------------------------

    def _data(self, request: Request, tail: str) -> Response:
        token, _, rest = tail.partition("/")
        path = parse_path(rest)
        method = request.method
        if method not in ("PUT", "GET", "HEAD"):
            raise MethodNotAllowed(f"{method} is not defined for data URLs", allow="PUT, GET, HEAD")
        grant, _, node = self.negotiator.authorize_data(token, path, method=method)
        if method == "PUT":
            return self._upload(request, grant, node)
        return self._download(request, node)

    def _files(self, request: Request, tail: str) -> Response:
        _allow(request, "", "GET", "HEAD")
        caller = self._caller(request)
        path = parse_path(tail)
        if not path:
            raise InvalidArgument("the root has no bytes")
        return self._download(request, follow_links(self.store, path, caller=caller))

    def _download(self, request: Request, node: Node) -> Response:
        if node.kind != NodeKind.DATA:
            raise InvalidArgument(
                f"{self.identity.node_uri(node.path)} is a {node.xsi_type}; only data nodes "
                "have bytes"
            )
        headers = [
            ("Content-Type", content_type(node.properties)),
            ("Content-Disposition", content_disposition(node.name)),
            ("Accept-Ranges", "bytes"),
            ("Last-Modified", format_datetime(node.modified, usegmt=True)),
        ]
        if node.md5 is not None:
            headers.append(("Digest", "md5=" + _b64_md5(node.md5)))
            headers.append(("ETag", f'"{node.md5}"'))
        stream = self.store.open_data(node)
        size = node.length or 0
        if stream is None:
            return Response(200, [*headers, ("Content-Length", "0")], [])
        try:
            selected = byte_range(request.header("Range"), size)
        except VOSpaceFault:
            stream.close()
            raise
        if selected is None:
            return Response(200, [*headers, ("Content-Length", str(size))], stream=stream)
        first, last = selected
        headers += [
            ("Content-Length", str(last - first + 1)),
            ("Content-Range", f"bytes {first}-{last}/{size}"),
        ]
        return Response(206, headers, stream=stream, offset=first, length=last - first + 1)

    def _upload(self, request: Request, grant: Grant, node: Node) -> Response:
        expected_md5 = _announced_md5(request)
        first = node.md5 is None
        # Refused here (QuotaExceeded), before a byte is read, when the declared length
        # does not fit; a chunked body is refused as soon as it goes beyond the room.
        upload = self.store.begin_upload(
            node.path, expected_length=request.content_length, node_id=grant.node_id
        )
        with upload:
            for chunk in request.body_chunks():
                upload.write(chunk)
            stored = upload.commit(expected_md5=expected_md5)
        assert stored.md5 is not None
        return Response.text(
            "",
            status=201 if first else 200,
            headers=[("Digest", "md5=" + _b64_md5(stored.md5))],
        )


def _allow(request: Request, tail: str, *methods: str) -> None:
    if tail:
        raise NodeNotFound(f"nothing is served below this resource ({tail!r})")
    if request.method not in methods:
        raise MethodNotAllowed(
            f"{request.method} is not defined here; use {' or '.join(methods)}",
            allow=", ".join(methods),
        )


def _link_target(target: str | None) -> str:
    if not target:
        raise InvalidArgument("a LinkNode needs a target URI")
    if len(target) > 4096 or any(c.isspace() or ord(c) < 32 for c in target):
        raise InvalidArgument("the link target is not a URI (too long, or with spaces)")
    if "://" not in target and not target.startswith(("urn:", "mailto:")):
        raise InvalidArgument(f"the link target {target!r} is not an absolute URI")
    return target


def _b64_md5(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _announced_md5(request: Request) -> str | None:
    """The MD5 a client announces for its upload (``Digest: md5=``, RFC 3230, as the
    CADC client sends it, or ``Content-MD5``), as hex; None when it announces none."""
    digest = request.header("Digest")
    encoded = None
    if digest:
        for part in digest.split(","):
            algorithm, _, value = part.strip().partition("=")
            if algorithm.strip().lower() == "md5":
                encoded = value.strip()
    if encoded is None:
        encoded = request.header("Content-MD5")
    if not encoded:
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("the announced MD5 is not base64") from None
    if len(raw) != 16:
        raise InvalidArgument("the announced MD5 is not 16 bytes")
    return raw.hex()
