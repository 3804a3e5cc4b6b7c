"""What the space store hands out: spaces, nodes and transfer records, as immutable values.

A *space* is the container node a UWS job created for its owner, with a quota and an
expiry; every other node lives inside one. Nodes are containers, data nodes or links
(VOSpace 2.1 §3.1). A *transfer* is the record of one negotiated transfer
(``pushToVoSpace`` or ``pullFromVoSpace``): its random id is also the token in the data
URLs it hands out, so the record says what that token lets its bearer do, until when.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .names import NodePath, format_path

#: The two transfer directions this service offers (VOSpace 2.1 §3.7).
PUSH_TO = "pushToVoSpace"
PULL_FROM = "pullFromVoSpace"


class NodeKind(StrEnum):
    """How the store treats a node."""

    CONTAINER = "container"
    DATA = "data"
    LINK = "link"


#: The xsi:type (without prefix) a client may ask for, and the kind the store keeps.
CREATABLE_TYPES: Mapping[str, NodeKind] = {
    "ContainerNode": NodeKind.CONTAINER,
    "DataNode": NodeKind.DATA,
    "UnstructuredDataNode": NodeKind.DATA,
    "LinkNode": NodeKind.LINK,
}


@dataclass(frozen=True)
class Space:
    """A space: its container node, owner, quota, usage and lifetime."""

    name: str
    owner: str
    #: ``vos://{authority}!{service}/{name}``.
    identifier: str
    quota_bytes: int
    #: Bytes of data committed in the space.
    used_bytes: int
    #: Bytes held for uploads under way (released when they commit or fail).
    reserved_bytes: int
    #: How many nodes the space holds, its own container included.
    node_count: int
    #: None: no expiry.
    expires: datetime | None
    created: datetime

    @property
    def node_path(self) -> str:
        """The container's path, ``/{name}``."""
        return format_path((self.name,))

    @property
    def available_bytes(self) -> int:
        """What a new upload may still use: quota minus used minus reserved."""
        return max(0, self.quota_bytes - self.used_bytes - self.reserved_bytes)

    def is_expired(self, now: datetime) -> bool:
        """Whether the space's lifetime has ended at ``now`` (it then answers as gone)."""
        return self.expires is not None and self.expires <= now


@dataclass(frozen=True)
class Node:
    """One node, with the client's properties (the service's own are computed elsewhere)."""

    id: int
    path: NodePath
    kind: NodeKind
    #: The VOSpace type as created, e.g. ``UnstructuredDataNode`` (no prefix).
    xsi_type: str
    #: The space the node belongs to, and its owner.
    space: str
    owner: str
    created: datetime
    modified: datetime
    #: Data nodes: bytes stored (0 before any upload); None for other kinds.
    length: int | None = None
    #: Data nodes: hex MD5 of the bytes, None before the first upload.
    md5: str | None = None
    #: Link nodes: the URI the link points to.
    target: str | None = None
    #: Data nodes: an upload into the node is under way.
    busy: bool = False
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The last name of the path."""
        return self.path[-1]


@dataclass(frozen=True)
class OfferedProtocol:
    """One protocol of a transfer's answer: its URI and, when the client named one, the
    security method it was asked with."""

    uri: str
    security_method: str | None = None


@dataclass(frozen=True)
class TransferRecord:
    """One negotiated transfer. ``phase`` is COMPLETED (endpoints usable until
    ``expires``) or ERROR (``error`` holds the fault text, there are no endpoints)."""

    id: str
    owner: str
    direction: str
    #: The target as the client wrote it, and the path it names (None if it named none).
    target: str
    path: NodePath | None
    #: The data node the endpoints read or write (None for an ERROR record).
    node_id: int | None
    view: str | None
    protocols: tuple[OfferedProtocol, ...]
    phase: str
    error: str | None
    created: datetime
    expires: datetime
