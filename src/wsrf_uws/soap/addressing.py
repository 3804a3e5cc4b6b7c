"""WS-Addressing: reading request headers, writing reply headers and endpoint references.

WS-Addressing 1.0 is the standard form; the 2004/08 member submission, which older
WS-RF stacks speak, is understood too, and a client is answered in the version it
used. Reading is lenient where stacks differ in practice: ``IsReferenceParameter``
may be ``true``, ``1`` or absent, a MessageID may have any form, and a reference
parameter wrapped in ``wsa:ReferenceParameters`` (a common client mistake) is found
as well. Writing is strict: reference parameters go out only inside EPRs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lxml import etree

from ..wire.names import RESOURCE_ID
from ..wire.namespaces import CORE, SOAP11, WSA, WSA_2004, q

_SOAP_HEADER = q(SOAP11, "Header")
_WRAPPERS = {q(ns, name) for ns in (WSA, WSA_2004) for name in ("ReferenceParameters",)} | {
    q(WSA_2004, "ReferenceProperties")
}


@dataclass(frozen=True)
class Addressing:
    """The WS-Addressing headers of one request."""

    #: The addressing namespace the client used (1.0 when it used none).
    namespace: str = WSA
    to: str | None = None
    action: str | None = None
    message_id: str | None = None
    #: The resource identifier, from the ``uwscore:ResourceId`` reference parameter.
    resource_id: str | None = None


_WSA_NAMES = {
    q(ns, local): (ns, local)
    for ns in (WSA, WSA_2004)
    for local in ("To", "Action", "MessageID", "ReplyTo", "From", "FaultTo", "RelatesTo")
}


def read_addressing(headers: list[etree._Element]) -> Addressing:
    """The addressing headers among ``headers`` (SOAP header blocks, in order)."""
    found: dict[str, str] = {}
    namespace = None
    resource_id = None
    for header in headers:
        tag = header.tag
        if not isinstance(tag, str):
            continue  # a comment or processing instruction
        if tag == RESOURCE_ID:
            resource_id = _text(header)
        elif tag in _WSA_NAMES:
            header_namespace, local = _WSA_NAMES[tag]
            if namespace is None or header_namespace == WSA:
                namespace = header_namespace
            if local in ("To", "Action", "MessageID"):
                found[local] = _text(header)
        elif tag in _WRAPPERS:
            for child in header.iter(RESOURCE_ID):
                resource_id = _text(child)
    return Addressing(
        namespace=namespace or WSA,
        to=found.get("To"),
        action=found.get("Action"),
        message_id=found.get("MessageID"),
        resource_id=resource_id,
    )


def _text(element: etree._Element) -> str:
    if len(element):  # a value split by comments or wrapped in a child: take all its text
        return "".join(str(text) for text in element.itertext()).strip()
    return (element.text or "").strip()


def new_message_id() -> str:
    """A fresh ``urn:uuid:`` (version 4) MessageID."""
    # Formatted by hand: uuid.uuid4() costs several times more, on every reply.
    h = os.urandom(16).hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def reply_headers(request: Addressing, *, action: str) -> etree._Element:
    """A ``soap:Header`` with Action, a fresh MessageID and RelatesTo (the request's MessageID)."""
    ns = request.namespace
    header = etree.Element(_SOAP_HEADER, nsmap={"soap": SOAP11, "wsa": ns})
    if ns == WSA_2004:  # the member submission requires To; a reply goes to the requester
        etree.SubElement(header, q(ns, "To")).text = f"{WSA_2004}/role/anonymous"
    etree.SubElement(header, q(ns, "Action")).text = action
    etree.SubElement(header, q(ns, "MessageID")).text = new_message_id()
    if request.message_id:
        etree.SubElement(header, q(ns, "RelatesTo")).text = request.message_id
    return header


def endpoint_reference(
    address: str,
    resource_id: str | None = None,
    *,
    namespace: str = WSA,
    tag: str | None = None,
) -> etree._Element:
    """An EPR in the addressing ``namespace``: ``address`` plus, when given, the ResourceId.

    ``tag`` (Clark notation) names the element when it is not ``wsa:EndpointReference``,
    as for the ``wsrfbf:Originator`` of a fault.
    """
    epr = etree.Element(tag or q(namespace, "EndpointReference"), nsmap={"wsa": namespace})
    etree.SubElement(epr, q(namespace, "Address")).text = address
    if resource_id is not None:
        parameters = etree.SubElement(epr, q(namespace, "ReferenceParameters"))
        identifier = etree.SubElement(parameters, RESOURCE_ID, nsmap={"uwscore": CORE})
        identifier.text = resource_id
    return epr
