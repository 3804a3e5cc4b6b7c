"""Transfer negotiation: ``pushToVoSpace`` and ``pullFromVoSpace`` over HTTP.

A client posts a ``vos:transfer`` (to ``synctrans``, or ``transfers``); the service
picks the protocols it offers among those asked for, and records the transfer. The
record's random id (192 bits) is the token in the data URLs it answers,
``{service}/data/{id}/{path}``: a pre-authorised URL that lets its bearer PUT (push)
or GET (pull) that one node until the record expires, as VOSpace services usually
do, so any HTTP client can move the bytes without credentials.

Faults found while negotiating (no such node, not yours, no protocol in common...)
do not fail the request: as VOSpace 2.1 asks, they make a transfer job in phase ERROR
whose ``error`` resource holds the fault, and whose transfer details list no protocol.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from .access import require_read, require_write
from .documents import ANY_VIEW, DEFAULT_VIEW, ProtocolEndpoint, TransferRequest
from .errors import (
    ContainerNotFound,
    DuplicateNode,
    InvalidArgument,
    LinkFound,
    NodeBusy,
    NodeNotFound,
    OperationNotSupported,
    ProtocolNotSupported,
    QuotaExceeded,
    ViewNotSupported,
    VOSpaceFault,
)
from .names import NodePath, quote_path
from .nodes import Node, NodeKind, OfferedProtocol, Space, TransferRecord
from .properties import CORE, LENGTH
from .store import SpaceStore

PUSH_TO = "pushToVoSpace"
PULL_FROM = "pullFromVoSpace"
COMPLETED = "COMPLETED"
ERROR = "ERROR"

HTTPGET = CORE + "httpget"
HTTPSGET = CORE + "httpsget"
HTTPPUT = CORE + "httpput"
HTTPSPUT = CORE + "httpsput"
#: The protocols offered per direction. The endpoint's scheme is the service's own
#: (the public URL's); the CADC client asks for the https variants even over http.
PROTOCOLS = {PULL_FROM: (HTTPGET, HTTPSGET), PUSH_TO: (HTTPPUT, HTTPSPUT)}

#: Security methods a data URL satisfies: none needed (the token authorises), and
#: HTTP Basic (credentials sent along are not needed, so never refused).
BASIC_METHODS = frozenset(
    {"ivo://ivoa.net/sso#BasicAA", "http://www.w3.org/Protocols/HTTP/1.0/spec/html#BasicAA"}
)
#: Views that mean "the bytes as stored" (the CADC client's ``data`` view included).
BYTE_VIEWS = frozenset(
    {ANY_VIEW, DEFAULT_VIEW, CORE + "binaryview", "ivo://cadc.nrc.ca/vospace/view#data"}
)
#: How many links a pull follows before giving up (a loop of links ends there).
MAX_LINKS = 8


@dataclass(frozen=True)
class Negotiator:
    """Turns transfer requests into transfer records (see the module docstring)."""

    store: SpaceStore
    #: ``{service URL}/data``: the base of the data URLs handed out.
    data_url: str
    lifetime: timedelta

    def negotiate(self, request: TransferRequest, *, caller: str) -> TransferRecord:
        """Record the transfer ``request`` of ``caller``: COMPLETED with protocols to use,
        or ERROR with the fault that stopped it."""
        now = self.store.clock.now()
        target = request.targets[0]
        path: NodePath | None = None
        try:
            if len(request.targets) != 1:
                raise InvalidArgument("a push or pull transfer names exactly one target")
            path = self.store.identity.path_of(target)
            protocols = self._protocols(request)
            if request.direction == PULL_FROM:
                node = self._pull_node(path, caller=caller)
            else:
                node = self._push_node(path, caller=caller, request=request)
            path = node.path
            record = TransferRecord(
                id=secrets.token_urlsafe(24),
                owner=caller,
                direction=request.direction,
                target=target,
                path=node.path,
                node_id=node.id,
                view=request.view,
                protocols=protocols,
                phase=COMPLETED,
                error=None,
                created=now,
                expires=now + self.lifetime,
            )
        except VOSpaceFault as fault:
            record = TransferRecord(
                id=secrets.token_urlsafe(24),
                owner=caller,
                direction=request.direction,
                target=target,
                path=None,
                node_id=None,
                view=request.view,
                protocols=(),
                phase=ERROR,
                error=fault.body().strip(),
                created=now,
                expires=now + self.lifetime,
            )
        self.store.add_transfer(record, space=path[0] if path else None)
        return record

    def _protocols(self, request: TransferRequest) -> tuple[OfferedProtocol, ...]:
        if request.direction not in PROTOCOLS:
            if "://" in request.direction:
                raise OperationNotSupported(
                    "moving or copying nodes inside the service is not offered; transfers "
                    f"here are {PUSH_TO} and {PULL_FROM}"
                )
            raise InvalidArgument(
                f"the direction {request.direction!r} is none of {PUSH_TO}, {PULL_FROM}"
            )
        if request.view is not None and request.view not in BYTE_VIEWS:
            raise ViewNotSupported(
                f"the view {request.view} is not offered; nodes here hold bytes as sent "
                f"({ANY_VIEW}, {DEFAULT_VIEW})"
            )
        offered: list[OfferedProtocol] = []
        for protocol in request.protocols:
            if protocol.uri not in PROTOCOLS[request.direction]:
                continue
            if not protocol.security_methods:
                offered.append(OfferedProtocol(protocol.uri))
            offered.extend(
                OfferedProtocol(protocol.uri, method)
                for method in protocol.security_methods
                if method in BASIC_METHODS
            )
        if not offered:
            raise ProtocolNotSupported(
                f"none of the protocols asked for is offered for {request.direction}: this "
                f"service offers {', '.join(PROTOCOLS[request.direction])} (no security method, "
                "or HTTP Basic)"
            )
        return tuple(offered)

    def _pull_node(self, path: NodePath, *, caller: str) -> Node:
        if len(path) < 1:
            raise InvalidArgument("the root has no bytes to pull")
        node = follow_links(self.store, self.store.get_node(path)[1], caller=caller)
        if node.kind != NodeKind.DATA:
            raise InvalidArgument(f"{target_text(node.path)} is a ContainerNode: it has no bytes")
        return node

    def _push_node(self, path: NodePath, *, caller: str, request: TransferRequest) -> Node:
        if len(path) < 2:
            raise InvalidArgument(
                f"{target_text(path)} is a ContainerNode (a space, or the root): data goes into "
                "data nodes inside a space"
            )
        try:
            space, node = self.store.get_node(path)
        except NodeNotFound:
            try:
                space, parent = self.store.get_node(path[:-1])
            except NodeNotFound as missing:
                raise ContainerNotFound(missing.detail) from None
            require_write(caller, owner=parent.owner, path=path)
            # Checked before creating the node, so that a refusal leaves nothing behind.
            self._check_length(request, space, old_length=0, path=path)
            try:
                node = self.store.create_node(
                    path, kind=NodeKind.DATA, xsi_type="UnstructuredDataNode"
                )
            except DuplicateNode:  # created meanwhile by a concurrent request
                space, node = self.store.get_node(path)
        require_write(caller, owner=node.owner, path=path)
        if node.kind != NodeKind.DATA:
            raise InvalidArgument(f"{target_text(path)} is not a data node; data goes into one")
        if node.busy:
            raise NodeBusy(f"{target_text(path)} is being written by another transfer")
        self._check_length(request, space, old_length=node.length or 0, path=path)
        return node

    @staticmethod
    def _check_length(
        request: TransferRequest, space: Space, *, old_length: int, path: NodePath
    ) -> None:
        """Refuse at once an upload whose announced length (core#length) cannot fit in
        place of the ``old_length`` bytes the node holds."""
        announced = request.params.get(LENGTH)
        if announced is None:
            return
        try:
            length = int(announced)
        except ValueError:
            raise InvalidArgument(f"{LENGTH} is {announced!r}, not a number of bytes") from None
        room = space.available_bytes + old_length
        if length > room:
            raise QuotaExceeded(
                f"{length} bytes do not fit: {room} bytes are available for {target_text(path)}"
            )

    def endpoints(self, record: TransferRecord) -> list[ProtocolEndpoint]:
        """The protocols of a COMPLETED record with their data URLs."""
        if record.path is None:
            return []
        url = f"{self.data_url}/{record.id}/{quote_path(record.path)}"
        return [ProtocolEndpoint(p.uri, url, p.security_method) for p in record.protocols]


def follow_links(store: SpaceStore, node: Node, *, caller: str) -> Node:
    """The node ``node`` leads to through links inside this service (at most
    MAX_LINKS of them), which ``caller`` must be allowed to read, like every link on
    the way. Raises LinkFound for a link out of the service or too long a chain."""
    for _ in range(MAX_LINKS + 1):
        require_read(caller, node)
        if node.kind != NodeKind.LINK:
            return node
        try:
            linked = store.identity.path_of(node.target or "")
        except VOSpaceFault:
            raise LinkFound(f"{node.target} lies outside this service; fetch it there") from None
        node = store.get_node(linked)[1]
    raise LinkFound(f"more than {MAX_LINKS} links in a row lead to {target_text(node.path)}")


def target_text(path: NodePath) -> str:
    """``/a/b`` for messages."""
    return "/" + "/".join(path)


def authorize_data(
    store: SpaceStore, token: str, path: NodePath, *, method: str
) -> tuple[TransferRecord, Space, Node]:
    """The transfer, space and node the data URL ``{token}/{path}`` gives ``method``
    (PUT, GET or HEAD) access to.

    A push token allows PUT and HEAD, a pull token GET and HEAD. Raises NodeNotFound
    when the token is unknown, expired, failed, for the other direction, or names
    another node, and when the node or its space went meanwhile; PermissionDenied when
    the transfer's owner may no longer do it.
    """
    record = store.transfer(token)
    if record is None or record.phase != COMPLETED or record.path != path:
        raise NodeNotFound("this data URL is unknown or has expired; negotiate a new transfer")
    if method == "PUT" and record.direction != PUSH_TO:
        raise NodeNotFound("this data URL is for reading; negotiate a pushToVoSpace transfer")
    if method == "GET" and record.direction != PULL_FROM:
        raise NodeNotFound("this data URL is for writing; negotiate a pullFromVoSpace transfer")
    space, node = store.get_node(path)
    if node.id != record.node_id:
        raise NodeNotFound(f"{target_text(path)} is no longer the node this transfer named")
    if record.direction == PUSH_TO:
        require_write(record.owner, owner=node.owner, path=path)
    else:
        require_read(record.owner, node)
    return record, space, node
