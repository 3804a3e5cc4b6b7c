"""The VOSI documents of the TAP service: ``capabilities`` and ``availability``.

``capabilities`` (VOSI 1.1 §3.2) declares the TAP 1.1 capability with its TAPRegExt
description (ADQL 2.0 and 2.1 with the geometry functions this service translates, the
output formats, inline uploads, the row and upload limits, the execution duration) and
the three VOSI endpoints. It is built once, from the contract's settings, and served by
:class:`~wsrf_uws.vo.cached_documents.CachedDocuments`. ``availability`` (§3.1) says the
service is up; it is built per request, so it cannot be cached.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ..vo.cached_documents import Document
from ..wire.namespaces import XSI, q
from .formats import DECLARED

VOSI_CAPABILITIES = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VOSI_AVAILABILITY = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VORESOURCE = "http://www.ivoa.net/xml/VOResource/v1.0"
VODATASERVICE = "http://www.ivoa.net/xml/VODataService/v1.1"
TAPREGEXT = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
MEDIA_TYPE = "text/xml; charset=utf-8"

_GEOMETRY: tuple[str, ...] = (
    "POINT",
    "CIRCLE",
    "BOX",
    "POLYGON",
    "CONTAINS",
    "INTERSECTS",
    "DISTANCE",
    "AREA",
    "COORD1",
    "COORD2",
    "COORDSYS",
    "CENTROID",
    "REGION",
)
ADQL = "ivo://ivoa.net/std/ADQL"
TAPREGEXT_ID = "ivo://ivoa.net/std/TAPRegExt"
_ADQL_FEATURES = f"{TAPREGEXT_ID}#features-adqlgeo"


@dataclass(frozen=True)
class ServiceLimits:
    """What the capabilities declare about the service's limits."""

    default_maxrec: int
    max_maxrec: int
    max_upload_bytes: int
    #: Seconds a job keeps its results (its lifetime), by default and at most.
    retention_seconds: int
    max_retention_seconds: int
    #: Seconds a job may run, by default and at most (None: no limit).
    execution_seconds: int | None
    max_execution_seconds: int | None
    #: Whether uploads by URL are taken (``[adql] fetch_allow`` is not empty).
    upload_by_url: bool = False


def capabilities(base_url: str, limits: ServiceLimits) -> Document:
    """``vosi:capabilities`` of the TAP service at ``base_url`` (``{public-url}/tap``)."""
    nsmap = {
        "vosi": VOSI_CAPABILITIES,
        "vr": VORESOURCE,
        "vs": VODATASERVICE,
        "tr": TAPREGEXT,
        "xsi": XSI,
    }
    root = etree.Element(q(VOSI_CAPABILITIES, "capabilities"), nsmap=nsmap)
    tap = etree.SubElement(root, "capability", standardID="ivo://ivoa.net/std/TAP")
    tap.set(q(XSI, "type"), "tr:TableAccess")
    _interface(tap, f"{base_url}", standard=True)
    language = etree.SubElement(tap, "language")
    etree.SubElement(language, "name").text = "ADQL"
    for version in ("2.0", "2.1"):
        etree.SubElement(language, "version", {"ivo-id": f"{ADQL}#v{version}"}).text = version
    etree.SubElement(
        language, "description"
    ).text = "ADQL with the geometry functions on ICRS positions in degrees"
    features = etree.SubElement(language, "languageFeatures", type=_ADQL_FEATURES)
    for name in _GEOMETRY:
        etree.SubElement(etree.SubElement(features, "feature"), "form").text = name
    for media_type, aliases, format_id in DECLARED:
        output = etree.SubElement(tap, "outputFormat")
        if format_id:
            output.set("ivo-id", format_id)
        etree.SubElement(output, "mime").text = media_type
        for alias in aliases:
            etree.SubElement(output, "alias").text = alias
    etree.SubElement(tap, "uploadMethod", {"ivo-id": f"{TAPREGEXT_ID}#upload-inline"})
    if limits.upload_by_url:
        etree.SubElement(tap, "uploadMethod", {"ivo-id": f"{TAPREGEXT_ID}#upload-http"})
    _limit(tap, "retentionPeriod", limits.retention_seconds, limits.max_retention_seconds)
    _limit(tap, "executionDuration", limits.execution_seconds, limits.max_execution_seconds)
    _limit(tap, "outputLimit", limits.default_maxrec, limits.max_maxrec, unit="row")
    hard = etree.SubElement(tap, "uploadLimit")
    etree.SubElement(hard, "hard", unit="byte").text = str(limits.max_upload_bytes)
    for name in ("capabilities", "availability", "tables"):
        capability = etree.SubElement(
            root, "capability", standardID=f"ivo://ivoa.net/std/VOSI#{name}"
        )
        _interface(capability, f"{base_url}/{name}", standard=False)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Document(body, MEDIA_TYPE)


def _interface(capability: etree._Element, url: str, *, standard: bool) -> None:
    interface = etree.SubElement(capability, "interface")
    interface.set(q(XSI, "type"), "vs:ParamHTTP")
    if standard:
        interface.set("role", "std")
        interface.set("version", "1.1")
    etree.SubElement(interface, "accessURL", use="base").text = url


def _limit(
    capability: etree._Element,
    tag: str,
    default: int | None,
    hard: int | None,
    *,
    unit: str | None = None,
) -> None:
    if default is None and hard is None:
        return
    element = etree.SubElement(capability, tag)
    for name, value in (("default", default), ("hard", hard)):
        if value is None:
            continue
        child = etree.SubElement(element, name)
        if unit:
            child.set("unit", unit)
        child.text = str(value)


def availability(*, available: bool, note: str) -> bytes:
    """``vosi:availability``: whether the service takes queries now, and a note why."""
    root = etree.Element(q(VOSI_AVAILABILITY, "availability"), nsmap={"vosi": VOSI_AVAILABILITY})
    etree.SubElement(root, q(VOSI_AVAILABILITY, "available")).text = str(available).lower()
    etree.SubElement(root, q(VOSI_AVAILABILITY, "note")).text = note
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
