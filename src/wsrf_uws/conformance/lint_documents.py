"""Rules on the documents of a description: loading, encoding, DTDs, imports.

The WS-I Basic Profile 1.1 assertions on how a description is split into documents and
how they import one another (R2001-R2007, R2022, R2023, R4003, R4004), with the
project's own requirements that every document loads and none carries a DOCTYPE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from .lint_model import (
    WSDL,
    XSD,
    Check,
    Finding,
    Model,
    Rule,
    clark,
    local_name,
    namespace_of,
    xsd_children,
)

RESOLVABLE = Rule(
    "WU-RESOLVABLE",
    "wsrf-uws DESIGN §2 (every schema a WSDL imports is served too, so a client needs no "
    "internet); WSDL 1.1 §2.1.1 and XML Schema §4.2.3 (imports locate documents)",
    "every imported document can be fetched and is well-formed XML, and the root is a "
    "WSDL 1.1 definitions",
)
XML_VERSION = Rule(
    "BP-XML",
    "WS-I Basic Profile 1.1 R4003, R4004",
    "every document is XML 1.0, encoded in UTF-8 or UTF-16",
)
NO_DOCTYPE = Rule(
    "WU-NO-DOCTYPE",
    "wsrf-uws DESIGN §2 (published documents carry no DOCTYPE: some toolkits refuse DTDs); "
    "cf. WS-I Basic Profile 1.1 R1008 for messages",
    "no document has a DOCTYPE declaration",
)
IMPORTS = Rule(
    "BP-IMPORTS",
    "WS-I Basic Profile 1.1 R2001, R2002, R2003, R2004, R2005, R2007; XML Schema 1.0 "
    "§4.2.1, §4.2.3 (src-include, src-import)",
    "wsdl:import loads only WSDL (with a location, and the namespace the imported "
    "document defines); schemas are imported only with xs:import inside wsdl:types, "
    "and each xs:import/xs:include loads a schema of the namespace it names",
)
IMPORT_ORDER = Rule(
    "BP-IMPORT-ORDER",
    "WS-I Basic Profile 1.1 R2022, R2023",
    "wsdl:import elements come first, then wsdl:types, then everything else "
    "(wsdl:documentation aside)",
)

_XML_DECLARATION = re.compile(
    r"""<\?xml\s+version\s*=\s*["']([^"']*)["'](?:\s+encoding\s*=\s*["']([^"']*)["'])?"""
)
_UNICODE_ENCODINGS = {"utf-8", "utf-16", "utf-16le", "utf-16be"}


def _encoding_and_version(raw: bytes) -> tuple[str | None, str | None, str]:
    """The declared version and encoding of a document, and the encoding its bytes show."""
    if raw.startswith((b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        return None, None, "UCS-4"
    if raw.startswith(b"\xef\xbb\xbf"):
        head, detected = raw[3:400].decode("utf-8", "replace"), "UTF-8"
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        head, detected = raw[:400].decode("utf-16", "replace"), "UTF-16"
    elif raw.startswith(b"<\x00"):
        head, detected = raw[:400].decode("utf-16-le", "replace"), "UTF-16"
    elif raw.startswith(b"\x00<"):
        head, detected = raw[:400].decode("utf-16-be", "replace"), "UTF-16"
    else:
        head, detected = raw[:400].decode("latin-1"), "UTF-8"
    match = _XML_DECLARATION.match(head)
    if match is None:
        return None, None, detected
    return match.group(1), match.group(2), detected


def check_resolvable(model: Model) -> Iterator[Finding]:
    """Load problems; the root not being a WSDL; imports with no location to follow."""
    for problem in model.documents.problems:
        yield RESOLVABLE.finding(problem.document, problem.line, problem.message)
    root = model.documents.root
    if root is not None and not root.is_wsdl:
        yield RESOLVABLE.finding(
            root.url, root.root, f"the root element is {root.root.tag}, not a WSDL 1.1 definitions"
        )
    provided = model.schema_namespaces()
    for reference in model.documents.references:
        if reference.kind == "xs:import" and reference.target is None:
            namespace = reference.namespace or ""
            if namespace != XSD and namespace not in provided:
                yield RESOLVABLE.finding(
                    reference.source,
                    reference.element,
                    f"xs:import of namespace {namespace!r} has no schemaLocation and no "
                    "loaded schema defines that namespace",
                )


def check_xml(model: Model) -> Iterator[Finding]:
    """R4003, R4004: UTF-8 or UTF-16, XML 1.0."""
    for document in model.documents.documents.values():
        version, encoding, detected = _encoding_and_version(document.raw)
        if detected == "UCS-4":
            yield XML_VERSION.finding(document.url, 1, "is encoded in UCS-4 (UTF-32)")
        if version is not None and version != "1.0":
            yield XML_VERSION.finding(document.url, 1, f"declares XML version {version!r}")
        if encoding is not None and encoding.lower() not in _UNICODE_ENCODINGS:
            yield XML_VERSION.finding(document.url, 1, f"declares encoding {encoding!r}")


def check_doctype(model: Model) -> Iterator[Finding]:
    """No DOCTYPE in any document."""
    for document in model.documents.documents.values():
        doctype = getattr(document.root.getroottree().docinfo, "doctype", "")
        if doctype:
            offset = document.raw.find(b"<!DOCTYPE")
            line = document.raw.count(b"\n", 0, offset) + 1 if offset >= 0 else None
            yield NO_DOCTYPE.finding(document.url, line, f"has a DOCTYPE: {doctype}")


def check_imports(model: Model) -> Iterator[Finding]:
    """R2001-R2005, R2007, and the namespace of each xs:import/xs:include."""
    loaded = model.documents.documents
    for reference in model.documents.references:
        at = (reference.source, reference.element)
        target = loaded.get(reference.target) if reference.target else None
        if reference.kind == "wsdl:import":
            if reference.target is None:
                yield IMPORTS.finding(*at, "wsdl:import has no (or an empty) location (R2007)")
            if reference.namespace is None:
                yield IMPORTS.finding(*at, "wsdl:import has no namespace attribute")
            if target is None:
                continue
            if not target.is_wsdl:
                what = "a schema" if target.is_schema else f"a {target.root.tag} document"
                yield IMPORTS.finding(
                    *at,
                    f"wsdl:import of {reference.location!r} loads {what}, not a WSDL; schemas "
                    "are imported with xs:import inside wsdl:types (R2001, R2002)",
                )
            elif reference.namespace is not None and reference.namespace != target.root.get(
                "targetNamespace", ""
            ):
                yield IMPORTS.finding(
                    *at,
                    f"wsdl:import namespace {reference.namespace!r} differs from the "
                    f"targetNamespace {target.root.get('targetNamespace')!r} of "
                    f"{reference.target} (R2005)",
                )
            continue
        if target is None:
            continue
        if not target.is_schema:
            yield IMPORTS.finding(
                *at,
                f"{reference.kind} of {reference.location!r} loads a {target.root.tag} "
                "document, not an xs:schema (R2004)",
            )
            continue
        declared = target.root.get("targetNamespace")
        if reference.kind == "xs:import" and (reference.namespace or "") != (declared or ""):
            yield IMPORTS.finding(
                *at,
                f"xs:import of namespace {reference.namespace!r} loads {reference.target}, "
                f"whose targetNamespace is {declared!r}",
            )
        elif reference.kind != "xs:import" and declared is not None:
            includer = model.schema_of(reference.element)
            if includer is not None and declared != includer.namespace:
                yield IMPORTS.finding(
                    *at,
                    f"{reference.kind} of {reference.target} (targetNamespace {declared!r}) "
                    f"into a schema of namespace {includer.namespace!r}",
                )
    for document in model.wsdls:
        allowed = [
            schema
            for types in document.root.iterchildren(clark(WSDL, "types"))
            for schema in xsd_children(types, "schema")
        ]
        for statement in document.root.iter(clark(XSD, "import"), clark(XSD, "include")):
            parent = statement.getparent()
            if not any(parent is schema for schema in allowed):
                yield IMPORTS.finding(
                    document.url,
                    statement,
                    f"xs:{local_name(statement)} outside an xs:schema of wsdl:types (R2002, R2003)",
                )


def check_import_order(model: Model) -> Iterator[Finding]:
    """R2022, R2023: imports, then types, then the rest."""
    for document in model.wsdls:
        seen: list[str] = []
        for child in document.root.iterchildren(etree.Element):
            if namespace_of(child) != WSDL or local_name(child) == "documentation":
                continue
            kind = local_name(child)
            later = [k for k in seen if k != kind]
            if kind == "import" and later:
                yield IMPORT_ORDER.finding(
                    document.url, child, f"wsdl:import after wsdl:{later[0]} (R2022)"
                )
            elif kind == "types" and [k for k in later if k != "import"]:
                first = next(k for k in later if k != "import")
                yield IMPORT_ORDER.finding(
                    document.url, child, f"wsdl:types after wsdl:{first} (R2023)"
                )
            seen.append(kind)


#: The rules of this module and their checks, in report order.
CHECKS: tuple[tuple[Rule, Check], ...] = (
    (RESOLVABLE, check_resolvable),
    (XML_VERSION, check_xml),
    (NO_DOCTYPE, check_doctype),
    (IMPORTS, check_imports),
    (IMPORT_ORDER, check_import_order),
)
