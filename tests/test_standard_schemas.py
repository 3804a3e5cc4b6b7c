"""The project's own schemas for the standard namespaces (schemas/*.xsd).

They are served to SOAP clients with the WSDL, so they must compile offline, without DTDs, in
both lxml (libxml2) and xmlschema, and they must agree with the standards' genuine schemas
(read-only copies in ../shared/schemas, judged by ../shared/tools/validate_xml.py): every
instance below is checked against both, and the declarations themselves are compared.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree
from xmlschema.validators import XsdGroup

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
SHARED_TOOLS = Path(__file__).resolve().parents[2] / "shared" / "tools"

XS = "http://www.w3.org/2001/XMLSchema"
XML = "http://www.w3.org/XML/1998/namespace"
XLINK = "http://www.w3.org/1999/xlink"
WSA = "http://www.w3.org/2005/08/addressing"
WSA04 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
BF = "http://docs.oasis-open.org/wsrf/bf-2"
R = "http://docs.oasis-open.org/wsrf/r-2"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
RL = "http://docs.oasis-open.org/wsrf/rl-2"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"

OURS = {
    XML: "xml.xsd",
    XLINK: "xlink.xsd",
    WSA: "ws-addr.xsd",
    WSA04: "ws-addr-2004-08.xsd",
    BF: "wsrf-bf-2.xsd",
    R: "wsrf-r-2.xsd",
    RP: "wsrf-rp-2.xsd",
    RL: "wsrf-rl-2.xsd",
    UWS: "uws-1.1.xsd",
}
# Every schema file of the folder (the standard ones above and the project's own) must
# parse and compile offline.
ALL_FILES = sorted(p.name for p in SCHEMAS.glob("*.xsd")) or sorted(OURS.values())
# Namespaces where we declare only part of what the genuine schema declares.
SUBSET_ONLY = {XML, XLINK, RP, WSA04}

HARDENED = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


# ------------------------------------------------------------------ instance corpus

NS = (
    f'xmlns:wsa="{WSA}" xmlns:wsa04="{WSA04}" xmlns:wsrfbf="{BF}" xmlns:wsrfr="{R}" '
    f'xmlns:wsrfrp="{RP}" '
    f'xmlns:wsrfrl="{RL}" xmlns:uws="{UWS}" xmlns:xlink="{XLINK}" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:uwscore="urn:wsrf-uws:core:v1"'
)
RESOURCE_ID = (
    '<uwscore:ResourceId xmlns:uwscore="urn:wsrf-uws:core:v1" '
    'wsa:IsReferenceParameter="true">abc</uwscore:ResourceId>'
)
EPR_CONTENT = f"""
  <wsa:Address>http://localhost:8080/wsrf-uws/services/Job</wsa:Address>
  <wsa:ReferenceParameters>{RESOURCE_ID}</wsa:ReferenceParameters>"""
# The same job in the 2004/08 member submission's namespace (what a 2004/08 caller gets).
EPR04_CONTENT = """
  <wsa04:Address>http://localhost:8080/wsrf-uws/services/Job</wsa04:Address>
  <wsa04:ReferenceParameters>
    <uwscore:ResourceId xmlns:uwscore="urn:wsrf-uws:core:v1">abc</uwscore:ResourceId>
  </wsa04:ReferenceParameters>"""


def doc(root: str, content: str = "", attrs: str = "") -> str:
    """A root element with every namespace of the corpus declared on it."""
    return f"<{root} {NS} {attrs}>{content}</{root}>"


def fault(root: str, extra: str = "") -> str:
    return doc(
        root,
        f"""{extra}
  <wsrfbf:Timestamp>2024-05-01T12:00:00Z</wsrfbf:Timestamp>
  <wsrfbf:Originator>{EPR_CONTENT}</wsrfbf:Originator>
  <wsrfbf:ErrorCode dialect="urn:wsrf-uws:errors">JOB_NOT_FOUND</wsrfbf:ErrorCode>
  <wsrfbf:Description>No job with id abc.</wsrfbf:Description>
  <wsrfbf:Description xml:lang="fr">Aucune tâche abc.</wsrfbf:Description>""",
    )


UWS_FULL_JOB = doc(
    "uws:job",
    """
  <uws:jobId>abc</uws:jobId>
  <uws:runId>my-run</uws:runId>
  <uws:ownerId xsi:nil="true"/>
  <uws:phase>ERROR</uws:phase>
  <uws:quote>2024-05-01T12:10:00Z</uws:quote>
  <uws:creationTime>2024-05-01T12:00:00Z</uws:creationTime>
  <uws:startTime>2024-05-01T12:00:05Z</uws:startTime>
  <uws:endTime>2024-05-01T12:00:09.5Z</uws:endTime>
  <uws:executionDuration>600</uws:executionDuration>
  <uws:destruction>2024-05-08T12:00:00Z</uws:destruction>
  <uws:parameters>
    <uws:parameter id="steps">3</uws:parameter>
    <uws:parameter id="input" byReference="true">http://example.org/in.fits</uws:parameter>
    <uws:parameter id="body" isPost="true"/>
  </uws:parameters>
  <uws:results>
    <uws:result id="log" xlink:href="http://localhost:8080/jobs/abc/log"
                xlink:type="simple" size="1024" mime-type="text/plain"/>
    <uws:result id="partial" xlink:href="http://localhost:8080/jobs/abc/partial"/>
  </uws:results>
  <uws:errorSummary type="fatal" hasDetail="true">
    <uws:message>step 2 failed</uws:message>
  </uws:errorSummary>
  <uws:jobInfo>
    <uwscore:ExitCode>3</uwscore:ExitCode>
    <note>anything goes here</note>
  </uws:jobInfo>""",
    attrs='version="1.1"',
)

UWS_MINIMAL_JOB = doc(
    "uws:job",
    """
  <uws:jobId>j1</uws:jobId>
  <uws:ownerId>ivo://example.org/users#alice</uws:ownerId>
  <uws:phase>PENDING</uws:phase>
  <uws:startTime xsi:nil="true"/>
  <uws:endTime xsi:nil="true"/>
  <uws:executionDuration>0</uws:executionDuration>
  <uws:destruction xsi:nil="true"/>
  <uws:results/>""",
)

SCHEDULED_TERMINATION_RP = """
  <wsrfrl:ScheduledResourceTerminationRP>
    <wsrfrl:CurrentTime>2024-05-01T12:00:00Z</wsrfrl:CurrentTime>
    <wsrfrl:TerminationTime xsi:nil="true"/>
  </wsrfrl:ScheduledResourceTerminationRP>"""

VALID = {
    # WS-Addressing
    "wsa-epr": doc("wsa:EndpointReference", EPR_CONTENT + "\n  <wsa:Metadata/>"),
    "wsa-epr-address-only": doc(
        "wsa:EndpointReference", "<wsa:Address>http://localhost/Job</wsa:Address>"
    ),
    "wsa-to": doc("wsa:To", "http://localhost:8080/wsrf-uws/services/Job"),
    "wsa-action": doc(
        "wsa:Action",
        "http://docs.oasis-open.org/wsrf/rlw-2/ImmediateResourceTermination/DestroyRequest",
    ),
    "wsa-message-id": doc("wsa:MessageID", "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"),
    "wsa-relates-to": doc("wsa:RelatesTo", "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"),
    "wsa-relates-to-typed": doc(
        "wsa:RelatesTo",
        "urn:uuid:1",
        attrs='RelationshipType="http://www.w3.org/2005/08/addressing/reply"',
    ),
    "wsa-reply-to": doc(
        "wsa:ReplyTo", "<wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address>"
    ),
    "wsa-from": doc("wsa:From", "<wsa:Address>http://client.example.org/</wsa:Address>"),
    "wsa-fault-to": doc("wsa:FaultTo", EPR_CONTENT),
    "wsa-problem-header-qname": doc("wsa:ProblemHeaderQName", "wsa:Action"),
    "wsa-problem-action": doc(
        "wsa:ProblemAction",
        "<wsa:Action>urn:nope</wsa:Action><wsa:SoapAction>urn:x</wsa:SoapAction>",
    ),
    "wsa-retry-after": doc("wsa:RetryAfter", "5000"),
    # WS-Addressing member submission (2004/08)
    "wsa04-epr": doc("wsa04:EndpointReference", EPR04_CONTENT),
    "wsa04-epr-address-only": doc(
        "wsa04:EndpointReference", "<wsa04:Address>http://localhost/Job</wsa04:Address>"
    ),
    "wsa04-epr-full": doc(
        "wsa04:EndpointReference",
        """
  <wsa04:Address>http://localhost/Job</wsa04:Address>
  <wsa04:ReferenceProperties><uwscore:ResourceId>abc</uwscore:ResourceId></wsa04:ReferenceProperties>
  <wsa04:ReferenceParameters/>
  <wsa04:PortType>uwscore:JobPortType</wsa04:PortType>
  <wsa04:ServiceName PortName="JobPort">uwscore:JobService</wsa04:ServiceName>
  <x:note xmlns:x="urn:example">an extension element</x:note>""",
        attrs='xml:lang="en"',
    ),
    "wsa04-to": doc("wsa04:To", "http://localhost:8080/wsrf-uws/services/Job"),
    "wsa04-action": doc("wsa04:Action", "urn:wsrf-uws:steps:v1/createJobResponse"),
    "wsa04-message-id": doc("wsa04:MessageID", "uuid:0f8fad5b-d9cb-469f-a165-70867728950e"),
    "wsa04-relates-to": doc("wsa04:RelatesTo", "uuid:0f8fad5b-d9cb-469f-a165-70867728950e"),
    "wsa04-relates-to-typed": doc(
        "wsa04:RelatesTo", "uuid:1", attrs='RelationshipType="wsa04:Reply"'
    ),
    "wsa04-reply-to": doc(
        "wsa04:ReplyTo",
        "<wsa04:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
        "</wsa04:Address>",
    ),
    "wsa04-from": doc("wsa04:From", "<wsa04:Address>http://client.example.org/</wsa04:Address>"),
    "wsa04-fault-to": doc("wsa04:FaultTo", EPR04_CONTENT),
    # WS-ResourceProperties
    "rp-get-document": doc("wsrfrp:GetResourcePropertyDocument"),
    "rp-get-document-response": doc(
        "wsrfrp:GetResourcePropertyDocumentResponse", SCHEDULED_TERMINATION_RP
    ),
    "rp-get": doc("wsrfrp:GetResourceProperty", "wsrfrl:TerminationTime"),
    "rp-get-response": doc(
        "wsrfrp:GetResourcePropertyResponse", '<wsrfrl:TerminationTime xsi:nil="true"/>'
    ),
    "rp-get-response-empty": doc("wsrfrp:GetResourcePropertyResponse"),
    "rp-get-multiple": doc(
        "wsrfrp:GetMultipleResourceProperties",
        "<wsrfrp:ResourceProperty>wsrfrl:CurrentTime</wsrfrp:ResourceProperty>"
        "<wsrfrp:ResourceProperty>uws:job</wsrfrp:ResourceProperty>",
    ),
    "rp-get-multiple-response": doc(
        "wsrfrp:GetMultipleResourcePropertiesResponse",
        "<wsrfrl:CurrentTime>2024-05-01T12:00:00Z</wsrfrl:CurrentTime>" + UWS_MINIMAL_JOB,
    ),
    # WS-ResourceLifetime
    "rl-current-time": doc("wsrfrl:CurrentTime", "2024-05-01T12:00:00Z"),
    "rl-termination-time": doc("wsrfrl:TerminationTime", "2024-05-08T12:00:00+02:00"),
    "rl-termination-time-nil": doc("wsrfrl:TerminationTime", attrs='xsi:nil="true"'),
    "rl-scheduled-termination-rp": SCHEDULED_TERMINATION_RP.replace(
        "<wsrfrl:ScheduledResourceTerminationRP>",
        f"<wsrfrl:ScheduledResourceTerminationRP {NS}>",
    ),
    "rl-destroy": doc("wsrfrl:Destroy"),
    "rl-destroy-response": doc("wsrfrl:DestroyResponse"),
    "rl-set-time": doc(
        "wsrfrl:SetTerminationTime",
        "<wsrfrl:RequestedTerminationTime>2024-05-08T12:00:00Z</wsrfrl:RequestedTerminationTime>",
    ),
    "rl-set-time-nil": doc(
        "wsrfrl:SetTerminationTime",
        '<wsrfrl:RequestedTerminationTime xsi:nil="true"/>',
    ),
    "rl-set-duration": doc(
        "wsrfrl:SetTerminationTime",
        "<wsrfrl:RequestedLifetimeDuration>P1DT2H</wsrfrl:RequestedLifetimeDuration>",
    ),
    "rl-set-response": doc(
        "wsrfrl:SetTerminationTimeResponse",
        "<wsrfrl:NewTerminationTime>2024-05-08T12:00:00Z</wsrfrl:NewTerminationTime>"
        "<wsrfrl:CurrentTime>2024-05-01T12:00:00Z</wsrfrl:CurrentTime>",
    ),
    "rl-set-response-nil": doc(
        "wsrfrl:SetTerminationTimeResponse",
        '<wsrfrl:NewTerminationTime xsi:nil="true"/>'
        "<wsrfrl:CurrentTime>2024-05-01T12:00:00Z</wsrfrl:CurrentTime>",
    ),
    "rl-termination-notification": doc(
        "wsrfrl:TerminationNotification",
        "<wsrfrl:TerminationTime>2024-05-08T12:00:00Z</wsrfrl:TerminationTime>"
        "<wsrfrl:TerminationReason>destruction time reached</wsrfrl:TerminationReason>",
    ),
    # Faults
    "bf-base-fault": fault("wsrfbf:BaseFault"),
    "r-resource-unknown": fault("wsrfr:ResourceUnknownFault"),
    "r-resource-unavailable": fault(
        "wsrfr:ResourceUnavailableFault", extra="<uwscore:Detail>store locked</uwscore:Detail>"
    ),
    "rp-invalid-qname": fault("wsrfrp:InvalidResourcePropertyQNameFault"),
    "rl-not-destroyed": fault("wsrfrl:ResourceNotDestroyedFault"),
    "rl-unable-to-set": fault("wsrfrl:UnableToSetTerminationTimeFault"),
    "rl-change-rejected": fault("wsrfrl:TerminationTimeChangeRejectedFault"),
    # UWS 1.1
    "uws-job-full": UWS_FULL_JOB,
    "uws-job-minimal": UWS_MINIMAL_JOB,
    "uws-jobs": doc(
        "uws:jobs",
        """
  <uws:jobref id="abc" xlink:href="http://localhost:8080/jobs/abc">
    <uws:phase>EXECUTING</uws:phase>
    <uws:runId>my-run</uws:runId>
    <uws:ownerId xsi:nil="true"/>
    <uws:creationTime>2024-05-01T12:00:00Z</uws:creationTime>
  </uws:jobref>
  <uws:jobref id="j1" xlink:type="simple" xlink:href="http://localhost:8080/jobs/j1">
    <uws:phase>ARCHIVED</uws:phase>
  </uws:jobref>""",
        attrs='version="1.1"',
    ),
    "uws-jobs-empty": doc("uws:jobs"),
    "uws-parameters": doc("uws:parameters", '<uws:parameter id="x">1</uws:parameter>'),
    "uws-results": doc("uws:results", '<uws:result id="r" xlink:href="http://h/r"/>'),
}

# The fault with a cause: FaultCause holds one fault from another namespace.
VALID["bf-fault-with-cause"] = fault("wsrfrl:ResourceNotDestroyedFault").replace(
    "</wsrfrl:ResourceNotDestroyedFault>",
    "<wsrfbf:FaultCause>"
    + fault("wsrfr:ResourceUnavailableFault")
    + "</wsrfbf:FaultCause></wsrfrl:ResourceNotDestroyedFault>",
)

INVALID = {
    "fault-without-timestamp": re.sub(
        r"<wsrfbf:Timestamp>.*?</wsrfbf:Timestamp>", "", fault("wsrfr:ResourceUnknownFault")
    ),
    "fault-error-code-without-dialect": fault("wsrfbf:BaseFault").replace(
        ' dialect="urn:wsrf-uws:errors"', ""
    ),
    "set-termination-time-both-choices": doc(
        "wsrfrl:SetTerminationTime",
        "<wsrfrl:RequestedTerminationTime>2024-05-08T12:00:00Z</wsrfrl:RequestedTerminationTime>"
        "<wsrfrl:RequestedLifetimeDuration>P1D</wsrfrl:RequestedLifetimeDuration>",
    ),
    "uws-job-bad-phase": UWS_MINIMAL_JOB.replace("PENDING", "RUNNING"),
    "uws-job-without-results": UWS_MINIMAL_JOB.replace("<uws:results/>", ""),
    "get-resource-property-with-child": doc(
        "wsrfrp:GetResourceProperty",
        "<wsrfrl:CurrentTime>2024-05-01T12:00:00Z</wsrfrl:CurrentTime>",
    ),
    "epr-without-address": doc(
        "wsa:EndpointReference", f"<wsa:ReferenceParameters>{RESOURCE_ID}</wsa:ReferenceParameters>"
    ),
    "wsa04-epr-without-address": doc(
        "wsa04:EndpointReference",
        "<wsa04:ReferenceParameters/><wsa04:PortType>a:b</wsa04:PortType>",
    ),
    # Metadata is WS-Addressing 1.0; the submission's EPR has no such child.
    "wsa04-epr-with-metadata": doc(
        "wsa04:EndpointReference", "<wsa04:Address>http://h/</wsa04:Address><wsa04:Metadata/>"
    ),
    # RelationshipType is a QName in the submission, not a URI.
    "wsa04-relates-to-uri-relationship": doc(
        "wsa04:RelatesTo",
        "uuid:1",
        attrs='RelationshipType="http://www.w3.org/2005/08/addressing/reply"',
    ),
}


# ------------------------------------------------------------------ helpers and fixtures


def parse(text: str) -> etree._Element:
    return etree.fromstring(text.encode(), HARDENED)


def namespace_of(element: etree._Element) -> str:
    return etree.QName(element).namespace or ""


@pytest.fixture(scope="module")
def lxml_all() -> etree.XMLSchema:
    """All our schemas at once (libxml2 takes one schema; strict wildcards need them all)."""
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{name}"/>' for ns, name in OURS.items()
    )
    driver = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    tree = etree.fromstring(driver.encode(), HARDENED, base_url=(SCHEMAS / "_all.xsd").as_uri())
    return etree.XMLSchema(tree)


@pytest.fixture(scope="module")
def xmlschema_ours() -> dict[str, xmlschema.XMLSchema]:
    """Our schema for each namespace; other namespaces are loaded from our files on demand."""
    locations = [(ns, str(SCHEMAS / name)) for ns, name in OURS.items()]
    return {
        ns: xmlschema.XMLSchema(
            str(SCHEMAS / name), locations=locations, allow="local", defuse="always"
        )
        for ns, name in OURS.items()
    }


@pytest.fixture(scope="module")
def genuine() -> Any:
    """validate_xml.Validator over the genuine schemas (skips when ../shared is absent)."""
    if not (SHARED_TOOLS / "validate_xml.py").is_file():
        pytest.skip(f"genuine schemas not available ({SHARED_TOOLS} is absent)")
    sys.path.insert(0, str(SHARED_TOOLS))
    try:
        from validate_xml import Validator  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(SHARED_TOOLS))
    return Validator()


# ------------------------------------------------------------------ the schema files


def test_every_standard_schema_is_there() -> None:
    present = {p.name for p in SCHEMAS.glob("*.xsd")}
    assert sorted(set(OURS.values()) - present) == []


@pytest.mark.parametrize("name", ALL_FILES)
def test_file_is_plain_xml_without_doctype(name: str) -> None:
    path = SCHEMAS / name
    tree = etree.parse(str(path), HARDENED)
    assert "<!DOCTYPE" not in path.read_text(encoding="utf-8")
    assert tree.docinfo.doctype == ""
    for ref in tree.getroot().iter(f"{{{XS}}}import", f"{{{XS}}}include"):
        location = ref.get("schemaLocation")
        assert location is not None and "/" not in location and ":" not in location, location
        assert (SCHEMAS / location).is_file(), location


@pytest.mark.parametrize("name", sorted(OURS.values()))
def test_standard_file_header_and_imports(name: str) -> None:
    tree = etree.parse(str(SCHEMAS / name), HARDENED)
    before_root = list(tree.getroot().itersiblings(preceding=True))
    first = before_root[-1] if before_root else None
    assert isinstance(first, etree._Comment)
    header = " ".join(first.text.split())
    assert "Written for wsrf-uws from the" in header
    assert "declares the subset wsrf-uws uses; not" in header
    assert "own file" in header

    root = tree.getroot()
    assert root.get("targetNamespace") in OURS
    assert OURS[root.get("targetNamespace")] == name
    for imp in root.iter(f"{{{XS}}}import"):
        assert imp.get("schemaLocation") == OURS[imp.get("namespace")]


@pytest.mark.parametrize("name", ALL_FILES)
def test_file_compiles_with_lxml(name: str) -> None:
    etree.XMLSchema(etree.parse(str(SCHEMAS / name), HARDENED))


@pytest.mark.parametrize("name", ALL_FILES)
def test_file_compiles_with_xmlschema(name: str) -> None:
    xmlschema.XMLSchema(str(SCHEMAS / name), allow="local", defuse="always")


# ------------------------------------------------------------------ instances


@pytest.mark.parametrize("key", sorted(VALID))
def test_valid_instance_against_ours(
    key: str, lxml_all: etree.XMLSchema, xmlschema_ours: dict[str, xmlschema.XMLSchema]
) -> None:
    element = parse(VALID[key])
    assert lxml_all.validate(element), lxml_all.error_log
    errors = list(xmlschema_ours[namespace_of(element)].iter_errors(VALID[key]))
    assert errors == [], [str(e.reason) for e in errors]


@pytest.mark.parametrize("key", sorted(VALID))
def test_valid_instance_against_genuine(key: str, genuine: Any) -> None:
    assert genuine.errors(parse(VALID[key])) == []


@pytest.mark.parametrize("key", sorted(INVALID))
def test_invalid_instance_rejected_by_ours(
    key: str, lxml_all: etree.XMLSchema, xmlschema_ours: dict[str, xmlschema.XMLSchema]
) -> None:
    element = parse(INVALID[key])
    assert not lxml_all.validate(element)
    assert not xmlschema_ours[namespace_of(element)].is_valid(INVALID[key])


@pytest.mark.parametrize("key", sorted(INVALID))
def test_invalid_instance_rejected_by_genuine_too(key: str, genuine: Any) -> None:
    assert genuine.errors(parse(INVALID[key]))


# ------------------------------------------------------------------ declarations compared


def _type_ref(t: Any) -> Any:
    """A named type by its name, an anonymous one by its shape."""
    return t.name if t.name else _type_shape(t)


def _particle_shape(p: Any) -> Any:
    occurs = (p.min_occurs, p.max_occurs)
    if isinstance(p, xmlschema.XsdElement):
        if p.ref is not None:
            return ("ref", p.name, occurs)
        return ("element", p.name, occurs, p.nillable, p.default, p.fixed, _type_ref(p.type))
    if isinstance(p, XsdGroup):
        return (p.model, occurs, tuple(_particle_shape(c) for c in p))
    return ("any", sorted(p.namespace), p.process_contents, occurs)


def _attributes_shape(attributes: Any) -> Any:
    out = []
    for key, a in attributes.items():
        if key is None:
            out.append(("anyAttribute", sorted(a.namespace), a.process_contents))
        else:
            out.append(("attribute", a.name, a.use, a.default, a.fixed, _type_ref(a.type)))
    return sorted(out, key=repr)


def _type_shape(t: Any) -> Any:
    if t.is_simple():
        base = getattr(t, "base_type", None)
        return (
            "simple",
            base.name if base is not None else None,
            tuple(t.enumeration or ()),
            tuple(sorted(repr(_type_ref(m)) for m in getattr(t, "member_types", ()))),
            getattr(t, "min_length", None),
        )
    content = t.content
    is_group = isinstance(content, XsdGroup)
    content_shape = _particle_shape(content) if is_group else _type_ref(content)
    return (
        "complex",
        t.mixed,
        t.derivation,
        t.base_type.name if t.base_type is not None else None,
        content_shape,
        _attributes_shape(t.attributes),
        t.abstract,
        t.block,
        t.final,
    )


def _element_shape(e: Any) -> Any:
    return (e.nillable, e.abstract, e.block, e.final, e.default, e.fixed, _type_ref(e.type))


def _declarations(schema: xmlschema.XMLSchema) -> dict[tuple[str, str], Any]:
    """Every global declaration of the schema's own namespace, by kind and name."""
    out: dict[tuple[str, str], Any] = {}
    for name, e in schema.elements.items():
        out["element", name] = _element_shape(e)
    for name, t in schema.types.items():
        out["type", name] = _type_shape(t)
    for name, a in schema.attributes.items():
        out["attribute", name] = (a.default, a.fixed, _type_ref(a.type))
    for name, g in schema.attribute_groups.items():
        out["attributeGroup", name] = _attributes_shape(g)
    for name, g in schema.groups.items():
        out["group", name] = _particle_shape(g)
    return out


def _genuine_schema(genuine: Any, ns: str) -> xmlschema.XMLSchema:
    if ns in (XML, XLINK):  # shipped inside xmlschema; the Validator only maps them
        return xmlschema.XMLSchema(genuine.locations[ns], allow="local")
    return genuine.schema(ns)


@pytest.mark.parametrize("ns", sorted(OURS))
def test_declarations_match_genuine(ns: str, genuine: Any) -> None:
    ours = _declarations(xmlschema.XMLSchema(str(SCHEMAS / OURS[ns]), allow="local"))
    theirs = _declarations(_genuine_schema(genuine, ns))

    missing_in_genuine = sorted(set(ours) - set(theirs))
    assert missing_in_genuine == []
    if ns not in SUBSET_ONLY:
        assert sorted(set(theirs) - set(ours)) == []
    for key in sorted(ours):
        assert ours[key] == theirs[key], key


# ------------------------------------------------------------------ createJob replies

STEPS_NS = "urn:wsrf-uws:steps:v1"


def create_job_response(content: str) -> str:
    """A steps createJobResponse (the EPR in an anonymous wrapper) holding ``content``."""
    return doc("steps:createJobResponse", content, attrs=f'xmlns:steps="{STEPS_NS}"')


def compiled_project_set(addressing: str) -> etree.XMLSchema:
    """The project's compiled schema set as published for ``addressing``, plus steps'."""
    from wsrf_uws.jdl.steps.contract import StepsContract
    from wsrf_uws.published import AddressingVersion, compile_schemas

    path = StepsContract().schema_path
    assert path is not None
    return compile_schemas({STEPS_NS: path}, addressing=AddressingVersion(addressing))


@pytest.fixture(scope="module")
def project_set() -> etree.XMLSchema:
    """The project's schema set, as the server validates with it, plus the steps one."""
    return compiled_project_set("1.0")


@pytest.fixture(scope="module")
def project_set_2004() -> etree.XMLSchema:
    """The same set as published for 2004/08 clients (``?wsdl&addressing=2004-08``)."""
    return compiled_project_set("2004-08")


def test_every_standard_file_is_published() -> None:
    from wsrf_uws.published import SCHEMA_FILES

    assert {ns: name for ns, name in SCHEMA_FILES.items() if ns in OURS} == OURS


def test_create_job_response_with_a_1_0_epr_is_valid(project_set: etree.XMLSchema) -> None:
    epr = doc("wsa:EndpointReference", EPR_CONTENT)
    assert project_set.validate(parse(create_job_response(epr))), project_set.error_log


def test_create_job_response_with_a_2004_08_epr_is_valid_in_its_variant(
    project_set: etree.XMLSchema, project_set_2004: etree.XMLSchema
) -> None:
    """DESIGN §2: a 2004/08 caller gets its EPR in the 2004/08 namespace, which the
    ``addressing=2004-08`` documents declare (and only they: one version per WSDL)."""
    epr = doc("wsa04:EndpointReference", EPR04_CONTENT)
    assert project_set_2004.validate(parse(create_job_response(epr))), project_set_2004.error_log
    assert not project_set.validate(parse(create_job_response(epr)))
    epr_1_0 = doc("wsa:EndpointReference", EPR_CONTENT)
    assert not project_set_2004.validate(parse(create_job_response(epr_1_0)))


@pytest.mark.parametrize("content", ["", "both"])
def test_create_job_response_holds_exactly_one_epr(
    content: str, project_set: etree.XMLSchema
) -> None:
    if content == "both":
        content = doc("wsa:EndpointReference", EPR_CONTENT) + doc(
            "wsa04:EndpointReference", EPR04_CONTENT
        )
    assert not project_set.validate(parse(create_job_response(content)))
