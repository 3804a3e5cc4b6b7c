"""The ``nodes/{path}`` resource of the VOSpace endpoint: getNode, createNode, setNode and
deleteNode, with node documents built from the store (service properties first)."""

from __future__ import annotations

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
    node_document,
    parse_node,
)
from .errors import (
    InvalidArgument,
    InvalidURI,
    MethodNotAllowed,
    PermissionDenied,
    TypeNotSupported,
)
from .names import NodePath, parse_path
from .nodes import CREATABLE_TYPES, Node, NodeKind, Space
from .properties import (
    AVAILABLE_SPACE,
    CREATOR,
    DATE,
    LENGTH,
    MD5,
    check_client_property,
)
from .rest_routes import Caller
from .store import SpaceStore
from .wsgi import Request, Response

_DETAILS = ("min", "max", "properties")
#: Read-only properties whose values change without the client doing anything.
_VOLATILE = frozenset({DATE, AVAILABLE_SPACE})


class NodeRoutes:
    """The ``nodes/`` resource over ``store``; ``caller`` authenticates each request.

    ``service_url`` and ``mount_path`` are the endpoint's (to name the UWS contract in a
    refusal); ``max_document_bytes`` caps a node document, ``max_listing`` the children
    listed at once.
    """

    def __init__(
        self,
        *,
        store: SpaceStore,
        caller: Caller,
        service_url: str,
        mount_path: str,
        max_document_bytes: int,
        max_listing: int,
    ) -> None:
        self.store = store
        self.identity = store.identity
        self.names = store.names
        self._caller = caller
        self.service_url = service_url
        self.mount_path = mount_path
        self.max_document_bytes = max_document_bytes
        self.max_listing = max_listing

    def route(self, request: Request, tail: str) -> Response:
        """Answer a request on ``nodes/{tail}``."""
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


def _link_target(target: str | None) -> str:
    if not target:
        raise InvalidArgument("a LinkNode needs a target URI")
    if len(target) > 4096 or any(c.isspace() or ord(c) < 32 for c in target):
        raise InvalidArgument("the link target is not a URI (too long, or with spaces)")
    if "://" not in target and not target.startswith(("urn:", "mailto:")):
        raise InvalidArgument(f"the link target {target!r} is not an absolute URI")
    return target
