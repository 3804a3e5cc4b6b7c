"""VOSI for the VOSpace endpoint (capabilities, availability) and the registry stand-in.

Capabilities list each feature a VOSpace client looks up, as ``vs:ParamHTTP``
interfaces: one without a security method (anonymous) and one with HTTP Basic
(``ivo://ivoa.net/sso#BasicAA``). The CADC client (cadcutils) reads the interfaces in
order and keeps the anonymous one only when it comes first, so it does; a client with
credentials then picks the Basic one, a client without picks the anonymous one.

:class:`ResourceCaps` answers what a registry would: the line
``ivo://{authority}/{service} = {capabilities URL}`` that the CADC client reads from
``https://{registry}/reg/resource-caps`` to find a service from its ``vos://``
identifier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from lxml import etree

from ...wire.namespaces import XSI, q
from ...wire.times import format_utc
from .names import ServiceIdentity

VOSI_CAPABILITIES = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VOSI_AVAILABILITY = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VR = "http://www.ivoa.net/xml/VOResource/v1.0"
VS = "http://www.ivoa.net/xml/VODataService/v1.1"

BASIC_AA = "ivo://ivoa.net/sso#BasicAA"

#: (standardID, path under the service) of every capability, in the order listed.
CAPABILITIES: tuple[tuple[str, str], ...] = (
    ("ivo://ivoa.net/std/VOSI#capabilities", "capabilities"),
    ("ivo://ivoa.net/std/VOSI#availability", "availability"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#nodes", "nodes"),
    ("ivo://ivoa.net/std/VOSpace#sync-2.1", "synctrans"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#sync", "synctrans"),
    ("ivo://ivoa.net/std/VOSpace/v2.0#transfers", "transfers"),
    # CADC's prototype: GET {files}/{path} answers a data node's bytes.
    ("ivo://ivoa.net/std/VOSpace#files-proto", "files"),
)
#: The capabilities that need no credentials whatever the configuration.
_PUBLIC = frozenset(
    {"ivo://ivoa.net/std/VOSI#capabilities", "ivo://ivoa.net/std/VOSI#availability"}
)


def capabilities_document(service_url: str, *, anonymous: bool = True, basic: bool = True) -> bytes:
    """``<vosi:capabilities>`` for the service at ``service_url`` (ending ``/vospace``).

    ``anonymous`` and ``basic`` say which interfaces to list for the VOSpace features.
    """
    root = etree.Element(
        q(VOSI_CAPABILITIES, "capabilities"),
        nsmap={"vosi": VOSI_CAPABILITIES, "vr": VR, "vs": VS, "xsi": XSI},
    )
    for standard_id, path in CAPABILITIES:
        capability = etree.SubElement(root, "capability", standardID=standard_id)
        url = f"{service_url}/{path}"
        public = standard_id in _PUBLIC
        if anonymous or public:
            _interface(capability, url, security_method=None)
        if basic and not public:
            _interface(capability, url, security_method=BASIC_AA)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _interface(capability: etree._Element, url: str, *, security_method: str | None) -> None:
    interface = etree.SubElement(capability, "interface", role="std")
    interface.set(q(XSI, "type"), "vs:ParamHTTP")
    etree.SubElement(interface, "accessURL", use="base").text = url
    if security_method is not None:
        etree.SubElement(interface, "securityMethod", standardID=security_method)


def availability_document(*, available: bool, up_since: datetime, note: str | None = None) -> bytes:
    """``<vosi:availability>``."""
    root = etree.Element(q(VOSI_AVAILABILITY, "availability"), nsmap={"vosi": VOSI_AVAILABILITY})
    etree.SubElement(root, q(VOSI_AVAILABILITY, "available")).text = (
        "true" if available else "false"
    )
    if available:
        etree.SubElement(root, q(VOSI_AVAILABILITY, "upSince")).text = format_utc(up_since)
    if note:
        etree.SubElement(root, q(VOSI_AVAILABILITY, "note")).text = note
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class ResourceCaps:
    """WSGI app answering ``GET /reg/resource-caps`` with the line that maps the VOSpace
    service's registry identifier to its capabilities URL (``text/plain``)."""

    def __init__(
        self,
        base_url: str,
        authority: str,
        *,
        service_id: str = "vospace",
        mount_path: str = "/vospace",
        path: str = "/reg/resource-caps",
    ) -> None:
        self.identity = ServiceIdentity(authority, service_id)
        self.path = path
        self.text = (
            f"# wsrf-uws registry stand-in: resource identifier = capabilities URL\n"
            f"{self.identity.ivo_id} = {base_url.rstrip('/')}{mount_path}/capabilities\n"
        ).encode()

    def __call__(
        self, environ: Mapping[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        if str(environ.get("PATH_INFO", "")) != self.path:
            body = b"NodeNotFound no such resource\n"
            start_response("404 Not Found", _plain(body))
            return [body]
        if method not in ("GET", "HEAD"):
            body = b"OperationNotSupported only GET and HEAD are allowed here\n"
            start_response("405 Method Not Allowed", [*_plain(body), ("Allow", "GET, HEAD")])
            return [body]
        start_response("200 OK", _plain(self.text))
        return [] if method == "HEAD" else [self.text]


def _plain(body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "text/plain; charset=UTF-8"), ("Content-Length", str(len(body)))]
