"""WS-Addressing: reading request headers, writing reply headers and endpoint references.

WS-Addressing 1.0 is the standard form; the 2004/08 member submission, which older
WS-RF stacks speak, is understood too, and a client is answered in the version it
used. Reading is lenient where stacks differ in practice: ``IsReferenceParameter``
may be ``true``, ``1`` or absent, a MessageID may have any form, and a reference
parameter wrapped in ``wsa:ReferenceParameters`` (a common client mistake) is found
as well. Writing is strict: reference parameters go out only inside EPRs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lxml import etree

from .namespaces import CORE, WSA, WSA_2004, q

RESOURCE_ID = q(CORE, "ResourceId")
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
    #: The resource identifier, from the ``uws-core:ResourceId`` reference parameter.
    resource_id: str | None = None

    @property
    def submission(self) -> bool:
        """Whether the client spoke the 2004/08 member submission."""
        return self.namespace == WSA_2004


def read_addressing(headers: list[etree._Element]) -> Addressing:
    """The addressing headers among ``headers`` (SOAP header blocks, in order)."""
    found: dict[str, str] = {}
    namespace = None
    resource_id = None
    for header in headers:
        if not isinstance(header.tag, str):
            continue  # a comment or processing instruction
        name = etree.QName(header)
        if header.tag == RESOURCE_ID:
            resource_id = (header.text or "").strip()
        elif header.tag in _WRAPPERS:
            for child in header.iter(RESOURCE_ID):
                resource_id = (child.text or "").strip()
        elif name.namespace in (WSA, WSA_2004):
            if namespace is None or name.namespace == WSA:
                namespace = name.namespace
            if name.localname in ("To", "Action", "MessageID"):
                found[name.localname] = _uri_text(header)
    return Addressing(
        namespace=namespace or WSA,
        to=found.get("To"),
        action=found.get("Action"),
        message_id=found.get("MessageID"),
        resource_id=resource_id,
    )


def _uri_text(header: etree._Element) -> str:
    # 2004/08 wraps nothing, 1.0 neither; but a header may carry its value in a child
    # (ReplyTo-style) in a misbehaving stack, so fall back to the whole text.
    return "".join(str(text) for text in header.itertext()).strip()


def reply_headers(request: Addressing, *, action: str) -> list[etree._Element]:
    """Action, a fresh MessageID and RelatesTo (the request's MessageID) for a reply."""
    ns = request.namespace
    nsmap = {"wsa": ns}
    headers = []
    for name, value in (("Action", action), ("MessageID", f"urn:uuid:{uuid.uuid4()}")):
        element = etree.Element(q(ns, name), nsmap=nsmap)
        element.text = value
        headers.append(element)
    if request.message_id:
        relates = etree.Element(q(ns, "RelatesTo"), nsmap=nsmap)
        relates.text = request.message_id
        headers.append(relates)
    return headers


def endpoint_reference(
    address: str,
    resource_id: str | None = None,
    *,
    namespace: str = WSA,
    tag: str = "EndpointReference",
) -> etree._Element:
    """An EPR: ``address`` plus, when given, the ResourceId reference parameter."""
    epr = etree.Element(q(namespace, tag), nsmap={"wsa": namespace})
    etree.SubElement(epr, q(namespace, "Address")).text = address
    if resource_id is not None:
        parameters = etree.SubElement(epr, q(namespace, "ReferenceParameters"))
        identifier = etree.SubElement(parameters, RESOURCE_ID, nsmap={"uws-core": CORE})
        identifier.text = resource_id
    return epr
