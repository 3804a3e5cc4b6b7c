"""SOAP 1.1 header processing: which headers the service understands (``mustUnderstand``)."""

from __future__ import annotations

from lxml import etree

from ..wire.names import RESOURCE_ID
from ..wire.namespaces import SOAP11, WSA, WSA_2004, WSSE, WSU, q
from .faults import RequestError

#: The headers the service processes; any other header marked ``mustUnderstand="1"`` for
#: it is refused, as SOAP 1.1 §4.2.3 requires. (Replies always go back on the HTTP
#: connection, which is what an absent or anonymous ReplyTo asks for.)
_UNDERSTOOD = {
    q(namespace, name)
    for namespace in (WSA, WSA_2004)
    for name in ("To", "Action", "MessageID", "RelatesTo", "From", "ReplyTo", "FaultTo")
} | {RESOURCE_ID}
#: In a wsse:Security header the service processes only these (no signatures).
_UNDERSTOOD_SECURITY = {q(WSSE, "UsernameToken"), q(WSU, "Timestamp")}
_NEXT_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"


def check_must_understand(headers: list[etree._Element]) -> None:
    """Refuse the request if a header for this node must be understood and is not."""
    for header in headers:
        if not isinstance(header.tag, str):
            continue
        if header.get(q(SOAP11, "mustUnderstand"), "0").strip() not in ("1", "true"):
            continue
        if header.get(q(SOAP11, "actor"), _NEXT_ACTOR) != _NEXT_ACTOR:
            continue  # addressed to another node
        if header.tag in _UNDERSTOOD:
            continue
        if header.tag == q(WSSE, "Security") and all(
            child.tag in _UNDERSTOOD_SECURITY for child in header if isinstance(child.tag, str)
        ):
            continue
        raise RequestError(
            "must-understand",
            f"the header {header.tag} is marked mustUnderstand and this service does "
            "not process it (or not all of it)",
            faultcode="MustUnderstand",
        )
