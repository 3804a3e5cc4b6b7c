"""The XML documents of the VOSpace 2.1 REST binding: nodes and transfers in, nodes,
transfers and transfer jobs out.

What goes out is built element by element in the order the VOSpace 2.1 schema
(``VOSpace-2.1.xsd``) and the UWS 1.1 schema fix, and the tests hold it against those
genuine schemas. What comes in is untrusted: it is parsed by
:func:`wsrf_uws.core.xmldoc.parse_document` (no entities, no DTD, no network, any DOCTYPE
refused) after the caller has capped its size, and read leniently where clients
differ harmlessly (the CADC client puts ``node`` in the default namespace; the
standard's own examples sometimes leave children unqualified).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from lxml import etree

from ...core.errors import InvalidJobDescriptionError
from ...core.xmldoc import parse_document
from ...wire.namespaces import UWS, XLINK, XSI, q
from ...wire.times import format_utc
from .errors import InvalidArgument, InvalidURI, TypeNotSupported

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"

#: The version attribute of VOSpace 2.1 documents (their namespace still says v2.0).
VOSPACE_VERSION = "2.1"
ANY_VIEW = "ivo://ivoa.net/vospace/core#anyview"
DEFAULT_VIEW = "ivo://ivoa.net/vospace/core#defaultview"

_NIL = q(XSI, "nil")
_TYPE = q(XSI, "type")


_v = partial(q, VOS)


# -- outgoing -------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyValue:
    """One property as written in a node document."""

    uri: str
    value: str
    read_only: bool = False


@dataclass(frozen=True)
class NodeRepresentation:
    """Everything a node document says about one node (computed by the REST layer)."""

    uri: str
    #: ``ContainerNode``, ``DataNode``, ``UnstructuredDataNode`` or ``LinkNode``.
    xsi_type: str
    properties: tuple[PropertyValue, ...] = ()
    #: Data and container nodes: the busy flag; None for links.
    busy: bool | None = None
    #: Link nodes: the target URI.
    target: str | None = None
    #: Whether to write accepts/provides/capabilities (data and container nodes).
    views: bool = True
    #: Container nodes: the children listed (None: an empty list).
    children: tuple[NodeRepresentation, ...] = field(default_factory=tuple)

    @property
    def is_container(self) -> bool:
        return self.xsi_type == "ContainerNode"


def _node_element(
    node: NodeRepresentation, tag: str, nsmap: dict[str, str] | None
) -> etree._Element:
    element = etree.Element(tag, nsmap=nsmap)
    element.set("uri", node.uri)
    element.set(_TYPE, f"vos:{node.xsi_type}")
    if node.busy is not None:
        element.set("busy", "true" if node.busy else "false")
    if node.properties:
        properties = etree.SubElement(element, _v("properties"))
        for prop in node.properties:
            written = etree.SubElement(properties, _v("property"), uri=prop.uri)
            if prop.read_only:
                written.set("readOnly", "true")
            written.text = prop.value
    if node.xsi_type == "LinkNode":
        etree.SubElement(element, _v("target")).text = node.target or ""
        return element
    if node.views:
        accepts = etree.SubElement(element, _v("accepts"))
        provides = etree.SubElement(element, _v("provides"))
        if not node.is_container:
            etree.SubElement(accepts, _v("view"), uri=ANY_VIEW)
            etree.SubElement(provides, _v("view"), uri=DEFAULT_VIEW)
        etree.SubElement(element, _v("capabilities"))
    if node.is_container:
        # The schema requires the list on every ContainerNode, listed children included.
        listing = etree.SubElement(element, _v("nodes"))
        for child in node.children:
            listing.append(_node_element(child, _v("node"), None))
    return element


def node_document(node: NodeRepresentation) -> bytes:
    """``<vos:node>`` for ``node`` (with its children, if a container)."""
    root = _node_element(node, _v("node"), {"vos": VOS, "xsi": XSI})
    root.set("version", VOSPACE_VERSION)
    return _serialize(root)


@dataclass(frozen=True)
class ProtocolEndpoint:
    """One protocol of a transfer answer."""

    uri: str
    endpoint: str | None = None
    security_method: str | None = None


def transfer_document(
    *,
    target: str,
    direction: str,
    view: str | None,
    protocols: Sequence[ProtocolEndpoint],
) -> bytes:
    """``<vos:transfer>`` as the service answers it (no protocols: the transfer failed)."""
    return _serialize(
        _transfer_element(target=target, direction=direction, view=view, protocols=protocols)
    )


def _transfer_element(
    *, target: str, direction: str, view: str | None, protocols: Sequence[ProtocolEndpoint]
) -> etree._Element:
    root = etree.Element(_v("transfer"), nsmap={"vos": VOS})
    root.set("version", VOSPACE_VERSION)
    etree.SubElement(root, _v("target")).text = target
    etree.SubElement(root, _v("direction")).text = direction
    if view is not None:
        etree.SubElement(root, _v("view"), uri=view)
    for protocol in protocols:
        element = etree.SubElement(root, _v("protocol"), uri=protocol.uri)
        if protocol.endpoint is not None:
            etree.SubElement(element, _v("endpoint")).text = protocol.endpoint
        if protocol.security_method is not None:
            etree.SubElement(element, _v("securityMethod"), uri=protocol.security_method)
    return root


@dataclass(frozen=True)
class TransferJob:
    """What a UWS job document of a transfer says."""

    job_id: str
    owner: str | None
    phase: str
    created: datetime
    destruction: datetime
    details_url: str
    error: str | None
    target: str
    direction: str
    view: str | None


def job_document(job: TransferJob) -> bytes:
    """``<uws:job>`` (UWS 1.1) of a transfer; its jobInfo holds the transfer request."""
    root = etree.Element(q(UWS, "job"), nsmap={"uws": UWS, "xlink": XLINK, "xsi": XSI})
    root.set("version", "1.1")

    def add(name: str, text: str | None) -> etree._Element:
        element = etree.SubElement(root, q(UWS, name))
        if text is None:
            element.set(_NIL, "true")
        else:
            element.text = text
        return element

    add("jobId", job.job_id)
    add("ownerId", job.owner)
    add("phase", job.phase)
    add("creationTime", format_utc(job.created))
    add("startTime", format_utc(job.created))
    add("endTime", format_utc(job.created))
    add("executionDuration", "0")
    add("destruction", format_utc(job.destruction))
    results = etree.SubElement(root, q(UWS, "results"))
    if job.error is None:
        etree.SubElement(
            results,
            q(UWS, "result"),
            {"id": "transferDetails", q(XLINK, "href"): job.details_url},
        )
    else:
        summary = etree.SubElement(root, q(UWS, "errorSummary"), type="fatal", hasDetail="true")
        etree.SubElement(summary, q(UWS, "message")).text = job.error
    info = etree.SubElement(root, q(UWS, "jobInfo"))
    info.append(
        _transfer_element(target=job.target, direction=job.direction, view=job.view, protocols=())
    )
    return _serialize(root)


def results_document(details_url: str | None) -> bytes:
    """``<uws:results>`` of a transfer job."""
    root = etree.Element(q(UWS, "results"), nsmap={"uws": UWS, "xlink": XLINK})
    if details_url is not None:
        etree.SubElement(
            root, q(UWS, "result"), {"id": "transferDetails", q(XLINK, "href"): details_url}
        )
    return _serialize(root)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# -- incoming -------------------------------------------------------------------------


def _parse(document: bytes, *, what: str) -> etree._Element:
    try:
        return parse_document(document)
    except InvalidJobDescriptionError as error:
        raise InvalidArgument(
            f"the {what} document is not acceptable XML: {error.reason}"
        ) from None


def _is(element: etree._Element, name: str) -> bool:
    """Whether ``element`` is ``name`` in the VOSpace namespace or in none."""
    if not isinstance(element.tag, str):
        return False
    qname = etree.QName(element)
    return qname.localname == name and qname.namespace in (VOS, None)


def _children(element: etree._Element, name: str) -> Iterable[etree._Element]:
    return (child for child in element if _is(child, name))


@dataclass(frozen=True)
class NodeRequest:
    """A node document from a client (createNode or setNode)."""

    uri: str
    #: The xsi:type without prefix (``Node`` when the document gives none).
    xsi_type: str
    #: (uri, value); value None asks to delete the property (xsi:nil="true").
    properties: tuple[tuple[str, str | None], ...]
    target: str | None


def parse_node(document: bytes) -> NodeRequest:
    """Read a client's node document; raises InvalidArgument, InvalidURI (no uri) or
    TypeNotSupported (an xsi:type outside VOSpace)."""
    root = _parse(document, what="node")
    if not _is(root, "node"):
        raise InvalidArgument(f"the document's root is {root.tag}, not vos:node")
    uri = root.get("uri")
    if not uri:
        raise InvalidURI("the node document has no uri attribute")
    xsi_type = _type_name(root)
    seen: set[str] = set()
    properties: list[tuple[str, str | None]] = []
    for container in _children(root, "properties"):
        for prop in _children(container, "property"):
            prop_uri = (prop.get("uri") or "").strip()
            if not prop_uri:
                raise InvalidArgument("a property has no uri attribute")
            if prop_uri in seen:
                raise InvalidArgument(f"the property {prop_uri} appears twice")
            seen.add(prop_uri)
            nil = (prop.get(_NIL) or "").strip() in ("true", "1")
            properties.append((prop_uri, None if nil else (prop.text or "")))
    targets = list(_children(root, "target"))
    if len(targets) > 1:
        raise InvalidArgument("a LinkNode has exactly one target")
    target = (targets[0].text or "").strip() if targets else None
    return NodeRequest(
        uri=uri.strip(), xsi_type=xsi_type, properties=tuple(properties), target=target
    )


def _type_name(root: etree._Element) -> str:
    value = (root.get(_TYPE) or "").strip()
    if not value:
        return "Node"
    prefix, _, local = value.rpartition(":")
    namespace = root.nsmap.get(prefix or None)
    if namespace != VOS:
        raise TypeNotSupported(f"xsi:type {value!r} is not a VOSpace node type")
    return local


@dataclass(frozen=True)
class ProtocolRequest:
    """One protocol a client asks for, with the security methods it names for it."""

    uri: str
    security_methods: tuple[str, ...]


@dataclass(frozen=True)
class TransferRequest:
    """A ``vos:transfer`` document from a client."""

    targets: tuple[str, ...]
    direction: str
    view: str | None
    protocols: tuple[ProtocolRequest, ...]
    #: ``vos:param`` values by URI (e.g. core#length, the size of an upload).
    params: dict[str, str]


def parse_transfer(document: bytes) -> TransferRequest:
    """Read a client's transfer document; raises InvalidArgument when it is not one."""
    root = _parse(document, what="transfer")
    if not _is(root, "transfer"):
        raise InvalidArgument(f"the document's root is {root.tag}, not vos:transfer")
    targets = tuple((t.text or "").strip() for t in _children(root, "target"))
    if not targets or not all(targets):
        raise InvalidArgument("the transfer names no target")
    directions = [(d.text or "").strip() for d in _children(root, "direction")]
    if len(directions) != 1 or not directions[0]:
        raise InvalidArgument("the transfer needs exactly one direction")
    views = [v.get("uri") for v in _children(root, "view")]
    if len(views) > 1:
        raise InvalidArgument("the transfer names more than one view")
    protocols = tuple(
        ProtocolRequest(
            uri=(p.get("uri") or "").strip(),
            security_methods=tuple(
                (s.get("uri") or "").strip() for s in _children(p, "securityMethod")
            ),
        )
        for p in _children(root, "protocol")
    )
    params = {
        (p.get("uri") or "").strip(): (p.text or "").strip() for p in _children(root, "param")
    }
    return TransferRequest(
        targets=targets,
        direction=directions[0],
        view=views[0] if views else None,
        protocols=protocols,
        params=params,
    )
