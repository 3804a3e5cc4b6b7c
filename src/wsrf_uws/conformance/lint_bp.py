"""WS-I Basic Profile 1.1 rules on references and schemas of a SOAP 1.1 doc/literal WSDL.

QName references (R2101, R2102), wsdl:required extensions (R2026), schemas in
wsdl:types (R2105) and SOAP-encoded arrays (R2110-R2112). The rules on messages and
bindings are in :mod:`.lint_bindings`, those on documents in :mod:`.lint_documents`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from .documents import source_line
from .lint_model import (
    SCHEMA_QNAME_ATTRIBUTES,
    SOAP11_BINDING,
    SOAP_ENCODING,
    WSDL,
    XSD,
    Check,
    Finding,
    Model,
    QName,
    Rule,
    clark,
    content_children,
    context_of,
    elements,
    is_true,
    local_name,
    namespace_of,
    resolve,
    xsd_children,
)

REQUIRED_EXTENSIONS = Rule(
    "BP-REQUIRED-EXT",
    "WS-I Basic Profile 1.1 R2026",
    "no extension element on a binding, portType, message, types or import has "
    'wsdl:required="true"',
)
QNAMES = Rule(
    "BP-QNAMES",
    "WS-I Basic Profile 1.1 R2101, R2102; XML Schema 1.0 §3.15.3 (src-resolve)",
    "every QName reference uses a declared prefix, a namespace the referring document "
    "defines or imports, and names a component that a loaded document defines",
)
SCHEMA_NAMESPACE = Rule(
    "BP-SCHEMA-TNS",
    "WS-I Basic Profile 1.1 R2105",
    "every xs:schema in wsdl:types has a targetNamespace unless it holds only imports "
    "and annotations",
)
ARRAYS = Rule(
    "BP-ARRAYS",
    "WS-I Basic Profile 1.1 R2110, R2111, R2112",
    "no type derives from soapenc:Array, no wsdl:arrayType attribute, no ArrayOfXXX names",
)


def check_required_extensions(model: Model) -> Iterator[Finding]:
    """R2026: no wsdl:required="true" extension on the constructs the Profile names."""
    constructs = [clark(WSDL, n) for n in ("binding", "portType", "message", "types", "import")]
    for document in model.wsdls:
        for construct in document.root.iterchildren(*constructs):
            for element in elements(construct):
                if namespace_of(element) in (WSDL, XSD) or _inside_schema(element):
                    continue
                if is_true(element.get(clark(WSDL, "required"))):
                    yield REQUIRED_EXTENSIONS.finding(
                        document.url,
                        element,
                        f"extension element {element.tag} in wsdl:{local_name(construct)} "
                        f"'{construct.get('name', '')}' has wsdl:required=\"true\"",
                    )


def _inside_schema(element: etree._Element) -> bool:
    return any(a.tag == clark(XSD, "schema") for a in element.iterancestors())


def check_qnames(model: Model) -> Iterator[Finding]:
    """R2101, R2102 in WSDL documents, and the same rule inside every schema."""
    yield from _wsdl_qnames(model)
    yield from _schema_qnames(model)


#: QName-valued WSDL attributes: (element tag, attribute, what the name refers to).
_WSDL_REFERENCES = (
    (clark(WSDL, "binding"), "type", "portType"),
    (clark(WSDL, "port"), "binding", "binding"),
    (clark(WSDL, "input"), "message", "message"),
    (clark(WSDL, "output"), "message", "message"),
    (clark(WSDL, "fault"), "message", "message"),
    (clark(SOAP11_BINDING, "header"), "message", "message"),
    (clark(SOAP11_BINDING, "headerfault"), "message", "message"),
    (clark(WSDL, "part"), "element", "element"),
    (clark(WSDL, "part"), "type", "type"),
)
_RESOURCE_PROPERTIES = clark("http://docs.oasis-open.org/wsrf/rp-2", "ResourceProperties")


def _wsdl_qnames(model: Model) -> Iterator[Finding]:
    wsdl_tables = {
        "portType": model.port_types,
        "binding": model.bindings,
        "message": model.messages,
    }
    for document in model.wsdls:
        root = document.root
        wsdl_namespaces = {root.get("targetNamespace", "")} | {
            i.get("namespace", "") for i in root.iterchildren(clark(WSDL, "import"))
        }
        schema_namespaces = {XSD}
        for types in root.iterchildren(clark(WSDL, "types")):
            for schema in xsd_children(types, "schema"):
                schema_namespaces.add(schema.get("targetNamespace", ""))
                schema_namespaces |= {
                    i.get("namespace", "") for i in xsd_children(schema, "import")
                }
        references: list[tuple[etree._Element, str, str]] = []
        for tag, attribute, kind in _WSDL_REFERENCES:
            for element in root.iter(tag):
                if element.get(attribute) is not None and not _inside_schema(element):
                    references.append((element, attribute, kind))
        for element in root.iter(clark(WSDL, "portType")):
            if element.get(_RESOURCE_PROPERTIES) is not None:
                references.append((element, _RESOURCE_PROPERTIES, "element"))
        references.sort(key=lambda r: source_line(r[0]) or 0)
        for element, attribute, kind in references:
            written = element.get(attribute, "")
            label = f"{local_name(element)} {etree.QName(attribute).localname}={written!r}"
            name = resolve(element, written)
            if name is None:
                yield QNAMES.finding(document.url, element, f"{label}: undeclared prefix")
                continue
            if kind in wsdl_tables:
                if name.namespace not in wsdl_namespaces:
                    yield QNAMES.finding(
                        document.url,
                        element,
                        f"{label}: namespace {name.namespace!r} is neither this WSDL's "
                        "targetNamespace nor wsdl:imported by it (R2101)",
                    )
                elif name not in wsdl_tables[kind]:
                    yield QNAMES.finding(
                        document.url, element, f"{label}: no loaded WSDL defines {kind} {name}"
                    )
                continue
            if name.namespace not in schema_namespaces:
                yield QNAMES.finding(
                    document.url,
                    element,
                    f"{label}: namespace {name.namespace!r} is neither the targetNamespace of "
                    "a schema in this WSDL's types nor imported by one (R2102)",
                )
            elif kind == "type" and name.namespace != XSD and not model.lookup("type", name):
                yield QNAMES.finding(
                    document.url, element, f"{label}: no loaded schema declares type {name}"
                )
            elif attribute == _RESOURCE_PROPERTIES and not model.lookup("element", name):
                yield QNAMES.finding(
                    document.url, element, f"{label}: no loaded schema declares element {name}"
                )


def _schema_qnames(model: Model) -> Iterator[Finding]:
    for schema in model.schemas:
        url = schema.document.url
        for element in elements(schema.element):
            if namespace_of(element) != XSD:
                continue
            for attribute, kind in SCHEMA_QNAME_ATTRIBUTES.get(local_name(element), ()):
                written = element.get(attribute)
                if written is None:
                    continue
                for text in written.split():
                    label = f"{_describe(element)} {attribute}={text!r}"
                    name = schema.resolve(element, text)
                    if name is None:
                        yield QNAMES.finding(url, element, f"{label}: undeclared prefix")
                    elif not schema.may_reference(name.namespace):
                        yield QNAMES.finding(
                            url,
                            element,
                            f"{label}: namespace {name.namespace!r} is neither the schema's "
                            "targetNamespace nor imported by it (R2102)",
                        )
                    elif (
                        kind != "identity"
                        and name.namespace != XSD
                        and model.lookup(kind, name) is None
                    ):
                        yield QNAMES.finding(
                            url, element, f"{label}: no loaded schema declares {kind} {name}"
                        )


def _describe(element: etree._Element) -> str:
    """``xs:element 'name'`` / ``xs:extension`` and the construct around it."""
    name = element.get("name")
    own = f"xs:{local_name(element)}" + (f" '{name}'" if name else "")
    parent = element.getparent()
    if parent is None or name:
        return own
    return f"{own} in {context_of(parent)}"


def check_schema_namespace(model: Model) -> Iterator[Finding]:
    """R2105: a types schema without targetNamespace holds only imports and annotations."""
    for document in model.wsdls:
        for types in document.root.iterchildren(clark(WSDL, "types")):
            for schema in xsd_children(types, "schema"):
                if schema.get("targetNamespace"):
                    continue
                others = [c for c in content_children(schema) if c.tag != clark(XSD, "import")]
                if others:
                    yield SCHEMA_NAMESPACE.finding(
                        document.url,
                        schema,
                        "xs:schema in wsdl:types has no targetNamespace but declares "
                        f"{_describe(others[0])} (R2105)",
                    )


def check_arrays(model: Model) -> Iterator[Finding]:
    """R2110-R2112: no SOAP-encoded arrays."""
    soap_array = QName(SOAP_ENCODING, "Array")
    array_type = clark(WSDL, "arrayType")
    for schema in model.schemas:
        url = schema.document.url
        for element in elements(schema.element):
            if element.get(array_type) is not None:
                yield ARRAYS.finding(
                    url, element, f"{_describe(element)} has a wsdl:arrayType (R2111)"
                )
            if element.tag in (clark(XSD, "extension"), clark(XSD, "restriction")):
                base = element.get("base")
                if base is not None and schema.resolve(element, base) == soap_array:
                    yield ARRAYS.finding(
                        url,
                        element,
                        f"{_describe(element)} derives from soapenc:Array (R2110)",
                    )
        for component in xsd_children(schema.element, "complexType", "element"):
            name = component.get("name", "")
            if re.match(r"ArrayOf[A-Z_0-9]", name):
                yield ARRAYS.finding(
                    url,
                    component,
                    f"global {local_name(component)} '{name}' is named ArrayOfXXX (R2112)",
                )


#: The rules of this module and their checks, in report order.
CHECKS: tuple[tuple[Rule, Check], ...] = (
    (REQUIRED_EXTENSIONS, check_required_extensions),
    (QNAMES, check_qnames),
    (SCHEMA_NAMESPACE, check_schema_namespace),
    (ARRAYS, check_arrays),
)
