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

Records are bounded. Each owner holds at most ``max_per_owner`` live ones, and all
anonymous callers together ``max_anonymous`` (beyond: :class:`TooManyTransfers`, HTTP
429, nothing recorded). A record lives ``unused_lifetime`` until its data URL is first
used, then ``lifetime`` from its creation (retries and resumed downloads need it);
expired records are deleted whenever a new one is recorded.

A transfer negotiated with URL parameters (:meth:`Negotiator.offer`) has no job and is
recorded nowhere: its data URL carries a signed grant (:mod:`.signing`).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta

from ...core.model import ANONYMOUS
from .access import (
    can_read,
    require_parent_writable,
    visible_node,
    writable_node,
)
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
from .nodes import PULL_FROM, PUSH_TO, Node, NodeKind, OfferedProtocol, Space, TransferRecord
from .properties import CORE, LENGTH
from .signing import Grant, GrantSigner
from .store import SpaceStore

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
#: What every refused data URL answers: an unknown token, an expired or failed one,
#: one whose node went or that its owner may no longer use are all alike.
_GONE = "this data URL is unknown or has expired; negotiate a new transfer"


@dataclass(frozen=True)
class Negotiator:
    """Turns transfer requests into transfer records or signed grants, and data URLs
    back into what they allow (see the module docstring)."""

    store: SpaceStore
    #: ``{service URL}/data``: the base of the data URLs handed out.
    data_url: str
    #: How long a transfer lasts once its data URL has been used (counted from its
    #: creation), and how long a signed grant lasts.
    lifetime: timedelta = timedelta(hours=1)
    #: How long a recorded transfer lasts while its data URL has not been used.
    unused_lifetime: timedelta = timedelta(minutes=10)
    #: Live recorded transfers one owner may hold, and all anonymous callers together.
    max_per_owner: int = 10_000
    max_anonymous: int = 100
    signer: GrantSigner = field(default_factory=GrantSigner)

    def limit_for(self, caller: str) -> int:
        """How many live recorded transfers ``caller`` may hold."""
        return self.max_anonymous if caller == ANONYMOUS else self.max_per_owner

    def negotiate(self, request: TransferRequest, *, caller: str) -> TransferRecord:
        """Record the transfer ``request`` of ``caller``: COMPLETED with protocols to use,
        or ERROR with the fault that stopped it. Raises TooManyTransfers (nothing
        recorded, nothing created) when ``caller`` holds its most."""
        limit = self.limit_for(caller)
        # Looked at first, so that a refusal creates no node; add_transfer enforces it.
        self.store.check_transfer_room(caller, limit=limit)
        now = self.store.clock.now()
        failed = TransferRecord(
            id=secrets.token_urlsafe(24),
            owner=caller,
            direction=request.direction,
            target=request.targets[0],
            path=None,
            node_id=None,
            view=request.view,
            protocols=(),
            phase=ERROR,
            error=None,
            created=now,
            expires=now + min(self.unused_lifetime, self.lifetime),
        )
        path: NodePath | None = None
        try:
            if len(request.targets) != 1:
                raise InvalidArgument("a push or pull transfer names exactly one target")
            path = self.store.identity.path_of(failed.target)
            protocols, node = self._resolve(request, path, caller=caller)
            path = node.path
            record = replace(
                failed, path=path, node_id=node.id, protocols=protocols, phase=COMPLETED
            )
        except VOSpaceFault as fault:
            record = replace(failed, error=fault.body().strip())
        self.store.add_transfer(record, space=path[0] if path else None, owner_limit=limit)
        return record

    def offer(self, request: TransferRequest, *, caller: str) -> list[ProtocolEndpoint]:
        """The protocols and signed data URLs for ``request`` (one target), recording
        nothing: the parameter form of negotiation. Faults are raised, not recorded."""
        if len(request.targets) != 1:
            raise InvalidArgument("a push or pull transfer names exactly one target")
        path = self.store.identity.path_of(request.targets[0])
        protocols, node = self._resolve(request, path, caller=caller)
        grant = Grant(
            direction=request.direction,
            owner=caller,
            path=node.path,
            node_id=node.id,
            expires=self.store.clock.now() + self.lifetime,
        )
        url = f"{self.data_url}/{self.signer.sign(grant)}/{quote_path(node.path)}"
        return [ProtocolEndpoint(p.uri, url, p.security_method) for p in protocols]

    def _resolve(
        self, request: TransferRequest, path: NodePath, *, caller: str
    ) -> tuple[tuple[OfferedProtocol, ...], Node]:
        """The protocols to offer and the data node ``request`` moves bytes of (a push
        creates it when missing); raises the fault that stops it."""
        protocols = self._protocols(request)
        if request.direction == PULL_FROM:
            return protocols, self._pull_node(path, caller=caller)
        return protocols, self._push_node(path, caller=caller, request=request)

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
        node = follow_links(self.store, path, caller=caller)
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
            space, node = writable_node(self.store, caller, path)
        except (NodeNotFound, ContainerNotFound):
            # Missing, or not the caller's to see: say which only to the space's owner.
            require_parent_writable(self.store, caller, path)
            space, node = self._create_data_node(path, request=request)
        if node.kind != NodeKind.DATA:
            raise InvalidArgument(f"{target_text(path)} is not a data node; data goes into one")
        if node.busy:
            raise NodeBusy(f"{target_text(path)} is being written by another transfer")
        self._check_length(request, space, old_length=node.length or 0, path=path)
        return node

    def _create_data_node(self, path: NodePath, *, request: TransferRequest) -> tuple[Space, Node]:
        """Create the data node a push names, in a space the caller owns."""
        try:
            space, _ = self.store.get_node(path[:-1])
        except NodeNotFound as missing:
            raise ContainerNotFound(missing.detail) from None
        # Checked before creating the node, so that a refusal leaves nothing behind.
        self._check_length(request, space, old_length=0, path=path)
        # DuplicateNode: created meanwhile by a concurrent request, which is as good.
        with contextlib.suppress(DuplicateNode):
            self.store.create_node(path, kind=NodeKind.DATA, xsi_type="UnstructuredDataNode")
        return self.store.get_node(path)

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

    def authorize_data(
        self, token: str, path: NodePath, *, method: str
    ) -> tuple[Grant, Space, Node]:
        """The grant, space and node the data URL ``{token}/{path}`` gives ``method``
        (PUT, GET or HEAD) access to.

        A push token allows PUT and HEAD, a pull token GET and HEAD. Every refusal but
        the wrong direction is the same NodeNotFound: an unknown, expired or failed
        token, one for another path, a node that went or changed, and an owner who may
        no longer do what the token says. The first use of a recorded transfer extends
        it to its full ``lifetime``.
        """
        now = self.store.clock.now()
        record = None
        if self.signer.is_signed(token):
            grant = self.signer.verify(token, path, now=now)
        else:
            record = self.store.transfer(token)
            grant = _grant_of(record) if record is not None else None
        if grant is None or grant.path != path:
            raise NodeNotFound(_GONE)
        if method == "PUT" and grant.direction != PUSH_TO:
            raise NodeNotFound("this data URL is for reading; negotiate a pushToVoSpace transfer")
        if method == "GET" and grant.direction != PULL_FROM:
            raise NodeNotFound("this data URL is for writing; negotiate a pullFromVoSpace transfer")
        try:
            space, node = self.store.get_node(path)
        except (NodeNotFound, ContainerNotFound, LinkFound):
            raise NodeNotFound(_GONE) from None
        if grant.direction == PUSH_TO:
            allowed = grant.owner == node.owner
        else:
            allowed = can_read(grant.owner, node)
        if node.id != grant.node_id or not allowed:
            raise NodeNotFound(_GONE)
        if record is not None and record.expires < record.created + self.lifetime:
            self.store.extend_transfer(record.id, record.created + self.lifetime)
        return grant, space, node


def _grant_of(record: TransferRecord) -> Grant | None:
    """What a recorded transfer allows (None for a failed one)."""
    if record.phase != COMPLETED or record.path is None or record.node_id is None:
        return None
    return Grant(record.direction, record.owner, record.path, record.node_id, record.expires)


def follow_links(store: SpaceStore, path: NodePath, *, caller: str) -> Node:
    """The node ``path`` leads to through links inside this service (at most MAX_LINKS
    of them), each as ``caller`` sees it (:func:`.access.visible_node`). Raises
    LinkFound for a link out of the service or too long a chain."""
    node = visible_node(store, caller, path)[1]
    for _ in range(MAX_LINKS):
        if node.kind != NodeKind.LINK:
            return node
        try:
            linked = store.identity.path_of(node.target or "")
        except VOSpaceFault:
            raise LinkFound(f"{node.target} lies outside this service; fetch it there") from None
        if not linked:
            raise LinkFound(f"{node.target} is the root, which has no bytes")
        node = visible_node(store, caller, linked)[1]
    if node.kind != NodeKind.LINK:
        return node
    raise LinkFound(f"more than {MAX_LINKS} links in a row lead to {target_text(node.path)}")


def target_text(path: NodePath) -> str:
    """``/a/b`` for messages."""
    return "/" + "/".join(path)
