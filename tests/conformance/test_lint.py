"""The WSDL lint: every rule fails on a broken WSDL, and every published WSDL passes.

The per-rule tests start from a small, good, self-contained description
(``lint_fixtures/``: a wrapped operation, two WS-RF operations, a header, a fault,
UsingAddressing and Actions), apply one targeted mutation, and check that exactly the
rule meant fires. They load the documents through an in-memory fetch, so they need no
server. The last tests lint what a real service publishes, over loopback.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from lxml import etree

from wsrf_uws.conformance import documents
from wsrf_uws.conformance.documents import DocumentSet, fetch_url, load, normalize_url
from wsrf_uws.conformance.lint import RULES, Finding, lint, lint_url, main
from wsrf_uws.testing.server import RunningServer, running_server

FIXTURES = Path(__file__).parent / "lint_fixtures"
BASE = "http://lint.test/contract/"
ROOT = BASE + "service.wsdl"
REPOSITORY = Path(__file__).parents[2]

NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
    "xs": "http://www.w3.org/2001/XMLSchema",
}

Files = dict[str, bytes]
Edit = Callable[[Files], None]


def fixture_files() -> Files:
    """The good description, file name → bytes."""
    return {path.name: path.read_bytes() for path in FIXTURES.iterdir() if path.is_file()}


def serve_from(files: Files) -> Callable[[str], bytes]:
    """A fetch that serves ``files`` under :data:`BASE` and nothing else."""

    def fetch(url: str) -> bytes:
        name = url.removeprefix(BASE)
        if url == name or name not in files:
            raise FileNotFoundError(f"404 {url}")
        return files[name]

    return fetch


def lint_files(files: Files) -> list[Finding]:
    return lint_url(ROOT, fetch=serve_from(files))


# -- mutations ---------------------------------------------------------------------------


def text(file: str, old: str, new: str) -> Edit:
    """Replace the one occurrence of ``old`` in ``file``."""

    def apply(files: Files) -> None:
        content = files[file].decode("utf-8")
        assert content.count(old) == 1, f"{old!r} is not in {file} exactly once"
        files[file] = content.replace(old, new).encode("utf-8")

    return apply


def xml(file: str, path: str, change: Callable[[etree._Element], None]) -> Edit:
    """Apply ``change`` to the one element of ``file`` that the XPath ``path`` selects."""

    def apply(files: Files) -> None:
        root = etree.fromstring(files[file])
        found = root.xpath(path, namespaces=NS)
        assert isinstance(found, list) and len(found) == 1, f"{path} in {file}: {found!r}"
        element = found[0]
        assert isinstance(element, etree._Element)
        change(element)
        files[file] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    return apply


def new_file(file: str, content: str) -> Edit:
    def apply(files: Files) -> None:
        files[file] = content.encode("utf-8")

    return apply


def set_attribute(name: str, value: str) -> Callable[[etree._Element], None]:
    return lambda element: element.set(name, value)


def delete_attribute(name: str) -> Callable[[etree._Element], None]:
    def change(element: etree._Element) -> None:
        del element.attrib[name]

    return change


def remove(element: etree._Element) -> None:
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)


def append(fragment: str) -> Callable[[etree._Element], None]:
    """Append ``fragment`` (with its own namespace declarations) to the element."""
    return lambda element: element.append(etree.fromstring(fragment))


def retag(tag: str) -> Callable[[etree._Element], None]:
    def change(element: etree._Element) -> None:
        element.tag = tag

    return change


XS = 'xmlns:xs="http://www.w3.org/2001/XMLSchema"'
WSDL = 'xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"'
SERVICE_TYPES_IMPORT = (
    '<xs:import namespace="urn:example:contract" schemaLocation="contract.xsd"/>\n'
    "    </xs:schema>\n  </wsdl:types>"
)
WSDL_IMPORT = '<wsdl:import namespace="urn:example:common" location="common.wsdl"/>'
BINDING_OP = "//wsdl:binding/wsdl:operation[@name='{}']"
PORT_TYPE_OP = "//wsdl:portType/wsdl:operation[@name='{}']"
CREATE_THING_TYPE = "/xs:schema/xs:element[@name='createThing']/xs:complexType"


def with_types_import(namespace: str, location: str | None) -> Edit:
    """An extra xs:import in the types of service.wsdl."""
    where = f' schemaLocation="{location}"' if location is not None else ""
    return text(
        "service.wsdl",
        SERVICE_TYPES_IMPORT,
        f'<xs:import namespace="{namespace}"{where}/>\n      ' + SERVICE_TYPES_IMPORT,
    )


@dataclass(frozen=True)
class Mutation:
    """One way to break the good description, and the rule that must catch it."""

    id: str
    rule: str
    #: A fragment every finding's message must contain.
    expect: str
    edits: tuple[Edit, ...]


def mutation(id: str, rule: str, expect: str, *edits: Edit) -> Mutation:
    return Mutation(id, rule, expect, edits)


MUTATIONS = [
    # -- documents ----------------------------------------------------------------------
    mutation(
        "missing-schema",
        "WU-RESOLVABLE",
        "cannot fetch http://lint.test/contract/missing.xsd",
        with_types_import("urn:example:unused", "missing.xsd"),
    ),
    mutation(
        "malformed-schema",
        "WU-RESOLVABLE",
        "not well-formed XML",
        with_types_import("urn:example:broken", "broken.xsd"),
        new_file("broken.xsd", f"<xs:schema {XS} targetNamespace='urn:example:broken'>"),
    ),
    mutation(
        "import-without-location",
        "WU-RESOLVABLE",
        "has no schemaLocation",
        with_types_import("urn:example:nowhere", None),
    ),
    mutation(
        "root-not-wsdl",
        "WU-RESOLVABLE",
        "not a WSDL 1.1 definitions",
        new_file("service.wsdl", "<html><body>Not found</body></html>"),
    ),
    mutation(
        "encoding-latin1",
        "BP-XML",
        "declares encoding 'ISO-8859-1'",
        text("contract.xsd", 'encoding="UTF-8"', 'encoding="ISO-8859-1"'),
    ),
    mutation(
        "xml-1.1",
        "BP-XML",
        "declares XML version '1.1'",
        text("rl.xsd", 'version="1.0"', 'version="1.1"'),
    ),
    mutation(
        "doctype",
        "WU-NO-DOCTYPE",
        "has a DOCTYPE",
        text("contract.xsd", "?>\n", "?>\n<!DOCTYPE xs:schema>\n"),
    ),
    # -- imports ------------------------------------------------------------------------
    mutation(
        "wsdl-import-namespace",
        "BP-IMPORTS",
        "R2005",
        text(
            "service.wsdl",
            WSDL_IMPORT,
            WSDL_IMPORT + '\n  <wsdl:import namespace="urn:example:other" location="common.wsdl"/>',
        ),
    ),
    mutation(
        "wsdl-import-empty-location",
        "BP-IMPORTS",
        "R2007",
        text(
            "service.wsdl",
            WSDL_IMPORT,
            WSDL_IMPORT + '\n  <wsdl:import namespace="urn:example:common" location=""/>',
        ),
    ),
    mutation(
        "wsdl-import-of-schema",
        "BP-IMPORTS",
        "R2001",
        text(
            "service.wsdl",
            WSDL_IMPORT,
            WSDL_IMPORT
            + '\n  <wsdl:import namespace="urn:example:contract" location="contract.xsd"/>',
        ),
    ),
    mutation(
        "schema-import-outside-types",
        "BP-IMPORTS",
        "R2003",
        text(
            "service.wsdl",
            "</wsdl:types>",
            "</wsdl:types>\n"
            '  <xs:import namespace="urn:example:contract" schemaLocation="contract.xsd"/>',
        ),
    ),
    mutation(
        "schema-import-of-wsdl",
        "BP-IMPORTS",
        "R2004",
        with_types_import("urn:example:common", "common.wsdl"),
    ),
    mutation(
        "schema-import-namespace",
        "BP-IMPORTS",
        "whose targetNamespace is 'urn:example:contract'",
        with_types_import("urn:example:wrong", "contract.xsd"),
    ),
    mutation(
        "import-after-types",
        "BP-IMPORT-ORDER",
        "R2022",
        text("service.wsdl", WSDL_IMPORT, ""),
        text("service.wsdl", "</wsdl:types>", "</wsdl:types>\n  " + WSDL_IMPORT),
    ),
    mutation(
        "types-after-message",
        "BP-IMPORT-ORDER",
        "R2023",
        text("service.wsdl", WSDL_IMPORT, WSDL_IMPORT + '\n  <wsdl:message name="Early"/>'),
    ),
    mutation(
        "required-extension",
        "BP-REQUIRED-EXT",
        'has wsdl:required="true"',
        text("service.wsdl", 'wsdl:required="false"', 'wsdl:required="true"'),
    ),
    # -- QName references -----------------------------------------------------------------
    mutation(
        "undeclared-prefix",
        "BP-QNAMES",
        "undeclared prefix",
        text("service.wsdl", 'binding="tns:ThingBinding"', 'binding="nope:ThingBinding"'),
    ),
    mutation(
        "unknown-binding",
        "BP-QNAMES",
        "no loaded WSDL defines binding {urn:example:service}NoSuchBinding",
        text("service.wsdl", 'binding="tns:ThingBinding"', 'binding="tns:NoSuchBinding"'),
    ),
    mutation(
        "wsdl-namespace-not-imported",
        "BP-QNAMES",
        "R2101",
        text("service.wsdl", 'binding="tns:ThingBinding"', 'binding="c:ThingBinding"'),
    ),
    mutation(
        "part-namespace-not-imported",
        "BP-QNAMES",
        "R2102",
        text(
            "service.wsdl",
            "<wsdl:portType",
            '<wsdl:message name="Unused" xmlns:wsa="http://www.w3.org/2005/08/addressing">\n'
            '    <wsdl:part name="epr" element="wsa:EndpointReference"/>\n'
            "  </wsdl:message>\n  <wsdl:portType",
        ),
    ),
    mutation(
        "schema-namespace-not-imported",
        "BP-QNAMES",
        "R2102",
        text(
            "rl.xsd",
            "</xs:schema>",
            '<xs:element name="Extra" type="wsa:EndpointReferenceType"'
            ' xmlns:wsa="http://www.w3.org/2005/08/addressing"/>\n</xs:schema>',
        ),
    ),
    mutation(
        "schema-unknown-type",
        "BP-QNAMES",
        "no loaded schema declares type {urn:example:contract}NoSuchType",
        text("contract.xsd", 'type="c:SpecType"', 'type="c:NoSuchType"'),
    ),
    mutation(
        "types-schema-without-namespace",
        "BP-SCHEMA-TNS",
        "R2105",
        text(
            "service.wsdl",
            "</xs:schema>\n  </wsdl:types>",
            '</xs:schema>\n    <xs:schema><xs:element name="Local" type="xs:string"/></xs:schema>'
            "\n  </wsdl:types>",
        ),
    ),
    # -- arrays -------------------------------------------------------------------------
    mutation(
        "soapenc-array",
        "BP-ARRAYS",
        "R2110",
        new_file(
            "soapenc.xsd",
            f'<xs:schema {XS} targetNamespace="http://schemas.xmlsoap.org/soap/encoding/">'
            '<xs:complexType name="Array"><xs:sequence>'
            '<xs:any minOccurs="0" maxOccurs="unbounded"/></xs:sequence></xs:complexType>'
            "</xs:schema>",
        ),
        text(
            "contract.xsd",
            "</xs:schema>",
            '<xs:import namespace="http://schemas.xmlsoap.org/soap/encoding/"'
            ' schemaLocation="soapenc.xsd"/>\n'
            '<xs:complexType name="Sizes"'
            ' xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/">'
            '<xs:complexContent><xs:restriction base="soapenc:Array"/></xs:complexContent>'
            "</xs:complexType>\n</xs:schema>",
        ),
    ),
    mutation(
        "wsdl-array-type",
        "BP-ARRAYS",
        "R2111",
        xml(
            "contract.xsd",
            "/xs:schema/xs:complexType[@name='ResultType']",
            append(
                f'<xs:attribute {XS} {WSDL} name="sizes" type="xs:string"'
                ' wsdl:arrayType="xs:int[]"/>'
            ),
        ),
    ),
    mutation(
        "array-of-name",
        "BP-ARRAYS",
        "R2112",
        text(
            "contract.xsd",
            "</xs:schema>",
            '<xs:element name="ArrayOfSpec" type="c:SpecType"/>\n</xs:schema>',
        ),
    ),
    # -- messages and parts -----------------------------------------------------------------
    mutation(
        "two-body-parts",
        "BP-BODY-PARTS",
        "R2210",
        xml(
            "common.wsdl",
            "//wsdl:message[@name='DestroyRequest']",
            append(f'<wsdl:part {WSDL} name="extra" element="rl:Destroy"/>'),
        ),
    ),
    mutation(
        "body-lists-two-parts",
        "BP-BODY-PARTS",
        "R2201",
        xml(
            "common.wsdl",
            "//wsdl:message[@name='DestroyRequest']",
            append(f'<wsdl:part {WSDL} name="extra" element="rl:Destroy"/>'),
        ),
        xml(
            "service.wsdl",
            BINDING_OP.format("Destroy") + "/wsdl:input/soap:body",
            set_attribute("parts", "DestroyRequest extra"),
        ),
    ),
    mutation(
        "body-lists-unknown-part",
        "BP-BODY-PARTS",
        "lists part 'nosuch'",
        xml(
            "service.wsdl",
            BINDING_OP.format("Destroy") + "/wsdl:input/soap:body",
            set_attribute("parts", "nosuch"),
        ),
    ),
    mutation(
        "body-part-with-type",
        "BP-PART-ELEMENT",
        "R2204",
        text("common.wsdl", 'element="rl:DestroyResponse"', 'type="xs:anyType"'),
    ),
    mutation(
        "fault-part-with-type",
        "BP-PART-ELEMENT",
        "R2205",
        text("common.wsdl", 'element="c:ThingFault"', 'type="c:ThingFaultType"'),
    ),
    mutation(
        "header-part-with-type",
        "BP-PART-ELEMENT",
        "R2205",
        text("common.wsdl", 'element="c:ResourceId"', 'type="xs:string"'),
    ),
    mutation(
        "part-element-undeclared",
        "BP-PART-ELEMENT",
        "R2206",
        text("common.wsdl", 'element="rl:DestroyResponse"', 'element="rl:NoSuchElement"'),
    ),
    mutation(
        "part-element-and-type",
        "BP-PART-ELEMENT",
        "R2306",
        text(
            "common.wsdl",
            'element="rl:DestroyResponse"',
            'element="rl:DestroyResponse" type="xs:anyType"',
        ),
    ),
    # -- operations and bindings -------------------------------------------------------------
    mutation(
        "solicit-response",
        "BP-OPERATIONS",
        "R2303",
        xml("service.wsdl", PORT_TYPE_OP.format("Destroy") + "/wsdl:output", remove),
        xml(
            "service.wsdl",
            PORT_TYPE_OP.format("Destroy"),
            append(
                f'<wsdl:output {WSDL} message="cm:DestroyResponse"'
                ' xmlns:cm="urn:example:common"'
                ' xmlns:wsam="http://www.w3.org/2007/05/addressing/metadata"'
                ' wsam:Action="urn:example:DestroyResponse"/>'
            ),
        ),
        xml("service.wsdl", PORT_TYPE_OP.format("Destroy") + "/wsdl:input", remove),
        xml(
            "service.wsdl",
            PORT_TYPE_OP.format("Destroy"),
            append(
                f'<wsdl:input {WSDL} message="cm:DestroyRequest" xmlns:cm="urn:example:common"'
                ' xmlns:wsam="http://www.w3.org/2007/05/addressing/metadata"'
                ' wsam:Action="urn:example:Destroy"/>'
            ),
        ),
    ),
    mutation(
        "overloaded-operation",
        "BP-OPERATIONS",
        "R2304",
        xml(
            "service.wsdl",
            PORT_TYPE_OP.format("Destroy"),
            lambda op: op.addnext(copy.deepcopy(op)),
        ),
    ),
    mutation(
        "soap12-binding",
        "BP-SOAP11",
        "is a SOAP 1.2 binding",
        xml(
            "service.wsdl",
            "//wsdl:binding/soap:binding",
            retag("{http://schemas.xmlsoap.org/wsdl/soap12/}binding"),
        ),
    ),
    mutation(
        "no-soap-binding",
        "BP-SOAP11",
        "has no soap:binding",
        xml("service.wsdl", "//wsdl:binding/soap:binding", remove),
    ),
    mutation(
        "transport-missing",
        "BP-SOAP11",
        "R2701",
        xml("service.wsdl", "//wsdl:binding/soap:binding", delete_attribute("transport")),
    ),
    mutation(
        "transport-smtp",
        "BP-SOAP11",
        "R2702",
        xml(
            "service.wsdl",
            "//wsdl:binding/soap:binding",
            set_attribute("transport", "http://example.org/smtp"),
        ),
    ),
    mutation(
        "rpc-style",
        "BP-DOC-LITERAL",
        "R2705",
        xml(
            "service.wsdl",
            BINDING_OP.format("SetTerminationTime") + "/soap:operation",
            set_attribute("style", "rpc"),
        ),
    ),
    mutation(
        "encoded-body",
        "BP-DOC-LITERAL",
        "R2706",
        xml(
            "service.wsdl",
            BINDING_OP.format("createThing") + "/wsdl:input/soap:body",
            set_attribute("use", "encoded"),
        ),
    ),
    mutation(
        "encoded-fault",
        "BP-DOC-LITERAL",
        "R2723",
        xml(
            "service.wsdl",
            BINDING_OP.format("createThing") + "/wsdl:fault/soap:fault",
            set_attribute("use", "encoded"),
        ),
    ),
    mutation(
        "same-signature",
        "BP-SIGNATURES",
        "R2710",
        text("common.wsdl", 'element="rl:SetTerminationTime"', 'element="rl:Destroy"'),
    ),
    mutation(
        "body-namespace",
        "BP-NO-NAMESPACE-ATTR",
        "R2716",
        xml(
            "service.wsdl",
            BINDING_OP.format("createThing") + "/wsdl:input/soap:body",
            set_attribute("namespace", "urn:example:service"),
        ),
    ),
    mutation(
        "unbound-operation",
        "BP-BINDING-OPS",
        "does not bind operation 'SetTerminationTime'",
        xml("service.wsdl", BINDING_OP.format("SetTerminationTime"), remove),
    ),
    mutation(
        "extra-bound-operation",
        "BP-BINDING-OPS",
        "binds operation 'Extra'",
        xml(
            "service.wsdl",
            BINDING_OP.format("SetTerminationTime"),
            lambda op: op.addnext(etree.fromstring(f'<wsdl:operation {WSDL} name="Extra"/>')),
        ),
    ),
    mutation(
        "soap-fault-without-name",
        "BP-FAULTS",
        "R2721",
        xml(
            "service.wsdl",
            BINDING_OP.format("createThing") + "/wsdl:fault/soap:fault",
            delete_attribute("name"),
        ),
    ),
    mutation(
        "soap-fault-other-name",
        "BP-FAULTS",
        "R2754",
        xml(
            "service.wsdl",
            BINDING_OP.format("createThing") + "/wsdl:fault/soap:fault",
            set_attribute("name", "OtherFault"),
        ),
    ),
    mutation(
        "soap-fault-parts",
        "BP-FAULTS",
        "R2726",
        xml(
            "service.wsdl",
            BINDING_OP.format("createThing") + "/wsdl:fault/soap:fault",
            set_attribute("parts", "ThingFault"),
        ),
    ),
    mutation(
        "fault-not-bound",
        "BP-FAULTS",
        "R2740",
        xml("service.wsdl", BINDING_OP.format("Destroy") + "/wsdl:fault", remove),
    ),
    mutation(
        "fault-bound-not-declared",
        "BP-FAULTS",
        "does not declare",
        xml(
            "service.wsdl",
            BINDING_OP.format("createThing"),
            append(
                f'<wsdl:fault {WSDL} name="Unknown">'
                '<soap:fault xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"'
                ' name="Unknown" use="literal"/></wsdl:fault>'
            ),
        ),
    ),
    mutation(
        "fault-message-two-parts",
        "BP-FAULTS",
        "WSDL 1.1 §3.6",
        xml(
            "common.wsdl",
            "//wsdl:message[@name='ThingFault']",
            append(f'<wsdl:part {WSDL} name="more" element="c:ThingFault"/>'),
        ),
    ),
    # -- the project's rules -------------------------------------------------------------------
    mutation(
        "wrapped-part-name",
        "WU-WRAPPED",
        "named 'params', not 'parameters'",
        xml(
            "service.wsdl",
            "//wsdl:message[@name='createThingRequest']/wsdl:part",
            set_attribute("name", "params"),
        ),
    ),
    mutation(
        "wrapped-element-name",
        "WU-WRAPPED",
        "the wrapper is named 'createThing'",
        text("contract.xsd", '<xs:element name="createThing">', '<xs:element name="makeThing">'),
        text("service.wsdl", 'element="c:createThing"', 'element="c:makeThing"'),
    ),
    mutation(
        "wrapped-response-name",
        "WU-WRAPPED",
        "the wrapper is named 'createThingResponse'",
        text(
            "contract.xsd",
            '<xs:element name="createThingResponse">',
            '<xs:element name="createThingResult">',
        ),
        text("service.wsdl", 'element="c:createThingResponse"', 'element="c:createThingResult"'),
    ),
    mutation(
        "wrapped-named-type",
        "WU-WRAPPED",
        "has the named type 'c:SpecType'",
        xml("contract.xsd", CREATE_THING_TYPE, remove),
        xml(
            "contract.xsd",
            "/xs:schema/xs:element[@name='createThing']",
            set_attribute("type", "c:SpecType"),
        ),
    ),
    mutation(
        "wrapped-attribute",
        "WU-WRAPPED",
        "has an attribute",
        xml(
            "contract.xsd",
            CREATE_THING_TYPE,
            append(f'<xs:attribute {XS} name="mode" type="xs:string"/>'),
        ),
    ),
    mutation(
        "wrapped-choice",
        "WU-WRAPPED",
        "has an xs:choice",
        xml(
            "contract.xsd",
            CREATE_THING_TYPE + "/xs:sequence",
            retag("{http://www.w3.org/2001/XMLSchema}choice"),
        ),
    ),
    mutation(
        "wrapped-wildcard",
        "WU-WRAPPED",
        "a wildcard (xs:any)",
        xml(
            "contract.xsd",
            CREATE_THING_TYPE + "/xs:sequence",
            append(f'<xs:any {XS} namespace="##other" processContents="lax" minOccurs="0"/>'),
        ),
    ),
    mutation(
        "wrapped-nillable",
        "WU-WRAPPED",
        "is nillable",
        xml(
            "contract.xsd",
            "/xs:schema/xs:element[@name='createThingResponse']",
            set_attribute("nillable", "true"),
        ),
    ),
    mutation(
        "wsa-2004-action",
        "WU-ONE-WSA",
        "WS-Addressing 2004/08 (1 uses",
        text(
            "service.wsdl",
            'wsam:Action="urn:example:createThing"',
            'xmlns:wsa04="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
            ' wsa04:Action="urn:example:createThing"',
        ),
    ),
    mutation(
        "wsa-2004-schema",
        "WU-ONE-WSA",
        "WS-Addressing 2004/08",
        new_file(
            "addressing-2004.xsd",
            f"<xs:schema {XS}"
            ' targetNamespace="http://schemas.xmlsoap.org/ws/2004/08/addressing">'
            '<xs:element name="Action" type="xs:anyURI"/></xs:schema>',
        ),
        text(
            "contract.xsd",
            '<xs:import namespace="http://www.w3.org/1999/xlink"',
            '<xs:import namespace="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
            ' schemaLocation="addressing-2004.xsd"/>\n'
            '  <xs:import namespace="http://www.w3.org/1999/xlink"',
        ),
    ),
    mutation(
        "epr-choice-ref",
        "WU-EPR-CHOICE",
        "offers the endpoint reference wsa:EndpointReference",
        text(
            "contract.xsd",
            "</xs:schema>",
            '<xs:complexType name="Holder"><xs:choice>'
            '<xs:element ref="wsa:EndpointReference"/>'
            '<xs:element name="none" type="xs:string"/>'
            "</xs:choice></xs:complexType>\n</xs:schema>",
        ),
    ),
    mutation(
        "epr-choice-type",
        "WU-EPR-CHOICE",
        "offers the endpoint reference epr",
        text(
            "contract.xsd",
            "</xs:schema>",
            '<xs:complexType name="Holder"><xs:choice>'
            '<xs:element name="epr" type="wsa:EndpointReferenceType"/>'
            '<xs:element name="none" type="xs:string"/>'
            "</xs:choice></xs:complexType>\n</xs:schema>",
        ),
    ),
    mutation(
        "optional-nil-global",
        "WU-OPTIONAL-NIL",
        "element 'c:Lifetime' (global element 'Lifetime')",
        text(
            "contract.xsd",
            '<xs:element name="Lifetime" type="xs:duration"/>',
            '<xs:element name="Lifetime" type="xs:duration" nillable="true"/>',
        ),
    ),
    mutation(
        "optional-nil-deep",
        "WU-OPTIONAL-NIL",
        "path createThing/spec/label",
        text(
            "contract.xsd",
            '<xs:element name="label" type="xs:string" minOccurs="0"/>',
            '<xs:element name="label" type="xs:string" minOccurs="0" nillable="true"/>',
        ),
    ),
    mutation(
        "optional-nil-compositor",
        "WU-OPTIONAL-NIL",
        "element 'size'",
        text(
            "contract.xsd",
            '<xs:complexType name="SpecType">\n    <xs:sequence>',
            '<xs:complexType name="SpecType">\n    <xs:sequence minOccurs="0">',
        ),
        text(
            "contract.xsd",
            '<xs:element name="size" type="xs:positiveInteger"/>',
            '<xs:element name="size" type="xs:positiveInteger" nillable="true"/>',
        ),
    ),
    mutation(
        "bare-href",
        "WU-HREF",
        "attribute 'href' in no namespace in complexType 'ResultType'",
        text(
            "contract.xsd",
            '<xs:attribute ref="xlink:href"/>',
            '<xs:attribute name="href" type="xs:anyURI"/>',
        ),
    ),
    mutation(
        "prefix-with-hyphen",
        "WU-PREFIX",
        "namespace prefix 'my-ns'",
        text(
            "contract.xsd",
            'xmlns:c="urn:example:contract"',
            'xmlns:c="urn:example:contract" xmlns:my-ns="urn:example:unused"',
        ),
    ),
    mutation(
        "prefix-with-underscore",
        "WU-PREFIX",
        "namespace prefix 'svc_1'",
        text(
            "service.wsdl",
            '<wsdl:service name="ThingService">',
            '<wsdl:service name="ThingService" xmlns:svc_1="urn:example:unused">',
        ),
    ),
    mutation(
        "type-name-clash",
        "WU-TYPE-NAMES",
        "complexType {urn:example:contract}ThingFaultType",
        text(
            "rl.xsd",
            "</xs:schema>",
            '<xs:complexType name="Thing_FaultType"><xs:sequence/></xs:complexType>\n</xs:schema>',
        ),
    ),
    mutation(
        "element-class-clash",
        "WU-TYPE-NAMES",
        "element {urn:example:contract}createThing",
        text(
            "rl.xsd",
            "</xs:schema>",
            '<xs:simpleType name="creatething"><xs:restriction base="xs:string"/>'
            "</xs:simpleType>\n</xs:schema>",
        ),
    ),
    mutation(
        "no-using-addressing",
        "WU-ADDRESSING",
        "has no UsingAddressing",
        text("service.wsdl", '<wsaw:UsingAddressing wsdl:required="false"/>', ""),
    ),
    mutation(
        "fault-without-action",
        "WU-ADDRESSING",
        "fault 'ThingFault' of operation 'Destroy' has no Action",
        text("service.wsdl", ' wsam:Action="urn:example:Destroy/fault"', ""),
    ),
]


def test_the_good_fixture_passes_every_rule() -> None:
    findings = lint_files(fixture_files())
    assert findings == [], "\n".join(map(str, findings))


@pytest.mark.parametrize("broken", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_a_broken_wsdl_fails_exactly_its_rule(broken: Mutation) -> None:
    files = fixture_files()
    for edit in broken.edits:
        edit(files)
    findings = lint_files(files)
    report = "\n".join(map(str, findings))
    assert findings, f"{broken.rule} did not fire"
    assert {f.rule for f in findings} == {broken.rule}, report
    assert any(broken.expect in f.message for f in findings), report


def test_every_rule_is_proven_to_fail() -> None:
    assert [rule.id for rule in RULES if rule.id not in {m.rule for m in MUTATIONS}] == []


def test_rules_have_unique_ids_and_name_their_clauses() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.summary and rule.clause
        if rule.id.startswith("BP-"):
            assert "WS-I Basic Profile 1.1 R" in rule.clause, rule
        else:
            assert "wsrf-uws DESIGN §2" in rule.clause, rule


# -- precision: what the project's rules deliberately accept ---------------------------------

TOLERATED = [
    mutation(
        "unused-wsa-2004-declaration",
        "WU-ONE-WSA",
        "",
        text(
            "contract.xsd",
            'xmlns:c="urn:example:contract"',
            'xmlns:c="urn:example:contract"'
            ' xmlns:wsa04="http://schemas.xmlsoap.org/ws/2004/08/addressing"',
        ),
    ),
    mutation(
        "qualified-local-href",
        "WU-HREF",
        "",
        xml(
            "contract.xsd",
            "/xs:schema/xs:complexType[@name='ThingFaultType']",
            append(f'<xs:attribute {XS} name="href" form="qualified" type="xs:anyURI"/>'),
        ),
    ),
    mutation(
        "optional-nil-in-a-response",
        "WU-OPTIONAL-NIL",
        "",
        xml(
            "contract.xsd",
            "/xs:schema/xs:element[@name='createThingResponse']/xs:complexType/xs:sequence",
            append(
                f'<xs:element {XS} name="quote" type="xs:dateTime" minOccurs="0" nillable="true"/>'
            ),
        ),
    ),
    mutation(
        "soap-address-port-extension",
        "BP-REQUIRED-EXT",
        "",
        text(
            "service.wsdl",
            '<soap:address location="http://example.org/thing"/>',
            '<soap:address location="http://example.org/thing" wsdl:required="true"/>',
        ),
    ),
]


@pytest.mark.parametrize("accepted", TOLERATED, ids=[m.id for m in TOLERATED])
def test_what_a_rule_deliberately_accepts(accepted: Mutation) -> None:
    files = fixture_files()
    for edit in accepted.edits:
        edit(files)
    findings = lint_files(files)
    assert findings == [], "\n".join(map(str, findings))


# -- loading ------------------------------------------------------------------------------------


def test_load_follows_every_import_relative_to_its_document() -> None:
    loaded = load(ROOT, fetch=serve_from(fixture_files()))
    assert list(loaded.documents) == [
        BASE + name
        for name in (
            "service.wsdl",
            "common.wsdl",
            "contract.xsd",
            "rl.xsd",
            "addressing.xsd",
            "xlink.xsd",
        )
    ]
    assert loaded.problems == ()
    kinds = sorted({reference.kind for reference in loaded.references})
    assert kinds == ["wsdl:import", "xs:import"]


def test_load_resolves_locations_against_the_importing_document() -> None:
    files = {
        "wsdl/a.wsdl": (
            f'<wsdl:definitions {WSDL} targetNamespace="urn:a">'
            '<wsdl:import namespace="urn:b" location="../more/b.wsdl"/></wsdl:definitions>'
        ).encode(),
        "more/b.wsdl": (
            f'<wsdl:definitions {WSDL} {XS} targetNamespace="urn:b"><wsdl:types>'
            '<xs:schema targetNamespace="urn:b"><xs:include schemaLocation="parts/c.xsd"/>'
            "</xs:schema></wsdl:types></wsdl:definitions>"
        ).encode(),
        "more/parts/c.xsd": f"<xs:schema {XS}/>".encode(),
    }
    loaded = load(BASE + "wsdl/a.wsdl", fetch=serve_from(files))
    assert list(loaded.documents) == [BASE + name for name in files]


def test_a_document_that_cannot_be_loaded_is_a_finding_not_an_error() -> None:
    loaded = load("http://lint.test/nowhere.wsdl", fetch=serve_from({}))
    assert loaded.root is None
    assert [str(f) for f in lint(loaded)] == [
        "WU-RESOLVABLE http://lint.test/nowhere.wsdl cannot fetch "
        "http://lint.test/nowhere.wsdl: 404 http://lint.test/nowhere.wsdl"
    ]


def test_the_loader_reads_no_external_entity() -> None:
    wsdl = (
        '<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
        f'<wsdl:definitions {WSDL} targetNamespace="urn:x">'
        "<wsdl:documentation>&e;</wsdl:documentation></wsdl:definitions>"
    ).encode()
    loaded = load(BASE + "d.wsdl", fetch=serve_from({"d.wsdl": wsdl}))
    root = loaded.root
    assert root is not None
    assert "root:" not in etree.tostring(root.root, encoding="unicode")
    assert [(f.rule, f.line) for f in lint(loaded)] == [("WU-NO-DOCTYPE", 2)]


def test_the_default_fetch_reads_paths_and_file_urls_and_refuses_other_schemes() -> None:
    path = FIXTURES / "xlink.xsd"
    assert fetch_url(str(path)) == path.read_bytes()
    assert fetch_url(path.as_uri()) == path.read_bytes()
    assert normalize_url(str(path)) == path.resolve().as_uri()
    with pytest.raises(ValueError, match="unsupported URL scheme 'ftp'"):
        fetch_url("ftp://example.org/x.wsdl")


def test_the_default_fetch_refuses_a_document_over_the_size_cap(tmp_path: Path) -> None:
    huge = tmp_path / "huge.wsdl"
    huge.write_bytes(b" " * (documents.MAX_DOCUMENT_BYTES + 1))
    with pytest.raises(ValueError, match="larger than"):
        fetch_url(str(huge))


def test_an_endless_import_chain_stops_at_the_document_cap() -> None:
    def endless(url: str) -> bytes:
        number = int(url.rpartition("=")[2]) if "=" in url else 0
        return (
            f'<xs:schema {XS} targetNamespace="urn:n{number}">'
            f'<xs:import namespace="urn:n{number + 1}" schemaLocation="s?n={number + 1}"/>'
            "</xs:schema>"
        ).encode()

    loaded = load(BASE + "s", fetch=endless)
    assert len(loaded.documents) == documents.MAX_DOCUMENTS
    assert [p.message.split(";")[0] for p in loaded.problems] == [
        f"more than {documents.MAX_DOCUMENTS} documents"
    ]


def test_the_command_prints_findings_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, content in fixture_files().items():
        (tmp_path / name).write_bytes(content)
    assert main([str(tmp_path / "service.wsdl")]) == 0
    assert capsys.readouterr().out == ""
    contract = tmp_path / "contract.xsd"
    contract.write_text(
        contract.read_text().replace(
            'xmlns:c="urn:example:contract"',
            'xmlns:c="urn:example:contract" xmlns:c-1="urn:example:unused"',
        )
    )
    line = etree.parse(str(contract)).getroot().sourceline
    assert main([str(tmp_path / "service.wsdl")]) == 1
    assert capsys.readouterr().out == (
        f"WU-PREFIX {contract.as_uri()}:{line} namespace prefix 'c-1' "
        "(for urn:example:unused) is not letters and digits\n"
    )


# -- what the project publishes ---------------------------------------------------------------

CONTRACTS = sorted(ep.name for ep in entry_points(group="wsrf_uws.contracts"))
VARIANTS = {"wsa-1.0": "?wsdl", "wsa-2004-08": "?wsdl&addressing=2004-08"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("lint-server")) as running:
        yield running


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("contract", CONTRACTS)
def test_every_served_wsdl_has_no_findings(
    server: RunningServer, contract: str, variant: str
) -> None:
    findings = lint_url(server.url(contract) + VARIANTS[variant])
    assert findings == [], "\n".join(map(str, findings))


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (REPOSITORY / "wsdl").glob("*.wsdl") if p.name != "wsrf-uws-common.wsdl"),
    ids=lambda p: p.name,
)
def test_every_committed_wsdl_has_no_findings(path: Path) -> None:
    findings = lint_url(str(path))
    assert findings == [], "\n".join(map(str, findings))


def test_a_served_wsdl_loads_every_document_over_http(server: RunningServer) -> None:
    loaded: DocumentSet = load(server.url("steps") + "?wsdl")
    assert loaded.problems == ()
    assert all(url.startswith(server.base_url) for url in loaded.documents)
    assert len(loaded.documents) > 5
