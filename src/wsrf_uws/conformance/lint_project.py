"""The project's own WSDL rules (wsrf-uws DESIGN §2, issue 13): what code generators need.

Each rule comes from a failure met with a mainstream toolkit (JAX-WS/JAXB, .NET, gSOAP,
Axis): generated clients that do not compile, crash the generator, or send requests
the service cannot read. They hold for any UWS-over-WS-RF description, not only ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from .documents import source_line
from .lint_model import (
    SCHEMA_QNAME_ATTRIBUTES,
    SOAP11_BINDING,
    WSA,
    WSA_2004,
    WSAM,
    WSAW,
    WSDL,
    WSRF_PREFIX,
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
    min_occurs,
    namespace_of,
    resolve,
    xsd_children,
)

WRAPPED = Rule(
    "WU-WRAPPED",
    'wsrf-uws DESIGN §2 (message shapes: the "wrapped" document/literal convention)',
    "every operation outside WS-RF has one part 'parameters' whose element is named after "
    "the operation (and {operation}Response), each an anonymous complexType holding a "
    "sequence of elements only, not nillable",
)
ONE_WSA = Rule(
    "WU-ONE-WSA",
    "wsrf-uws DESIGN §2 (each WSDL declares exactly one WS-Addressing version)",
    "the WSDL and its schemas use either WS-Addressing 1.0 or the 2004/08 member "
    "submission, never both",
)
EPR_CHOICE = Rule(
    "WU-EPR-CHOICE",
    "wsrf-uws DESIGN §2, issue 13 (a choice of EPR types crashes JAXB/XJC and makes gSOAP "
    "import two addressing versions)",
    "no xs:choice offers a WS-Addressing EndpointReference (of either version)",
)
OPTIONAL_NIL = Rule(
    "WU-OPTIONAL-NIL",
    "wsrf-uws DESIGN §2 (InitialTerminationTime optional and not nillable), issue 13",
    "no element a request can carry is both optional (minOccurs=0) and nillable",
)
HREF = Rule(
    "WU-HREF",
    "wsrf-uws DESIGN §2 (result links are xlink:href, never a bare href)",
    "no schema declares an attribute 'href' in no namespace (SOAP 1.1 §5 reads it as a multi-ref)",
)
PREFIXES = Rule(
    "WU-PREFIX",
    "wsrf-uws DESIGN §2 (namespace prefixes are letters and digits only)",
    "every namespace prefix declared in every document matches ^[A-Za-z][A-Za-z0-9]*$",
)
TYPE_NAMES = Rule(
    "WU-TYPE-NAMES",
    "wsrf-uws DESIGN §2 (type names are unique across all the schemas one WSDL imports)",
    "global named types, and global elements with an anonymous complexType, have names "
    "that stay distinct case-insensitively without non-alphanumerics",
)
ADDRESSING = Rule(
    "WU-ADDRESSING",
    "wsrf-uws DESIGN §2 (wsaw:UsingAddressing and a wsam:Action on every input, output and fault)",
    "every binding carries UsingAddressing and every portType input, output and fault an "
    "Action attribute",
)

#: WS-Addressing namespaces by the version they belong to.
_WSA_FAMILIES = {
    WSA: "WS-Addressing 1.0",
    WSAW: "WS-Addressing 1.0",
    WSAM: "WS-Addressing 1.0",
    WSA_2004: "WS-Addressing 2004/08",
}
_USING_ADDRESSING = (clark(WSAW, "UsingAddressing"), clark(WSA_2004, "UsingAddressing"))
_ACTIONS = (clark(WSAM, "Action"), clark(WSAW, "Action"), clark(WSA_2004, "Action"))
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def _around(element: etree._Element) -> str:
    """Where ``element`` stands: the named constructs that enclose it."""
    parent = element.getparent()
    return "the schema" if parent is None else context_of(parent)


def _xsd(element: etree._Element, *names: str) -> bool:
    return namespace_of(element) == XSD and (not names or local_name(element) in names)


# -- WU-WRAPPED ----------------------------------------------------------------------


def _is_wsrf(model: Model, input_: etree._Element) -> bool:
    parts = model.parts(input_)
    name = model.part_element(parts[0]) if parts else None
    return name is not None and name.namespace.startswith(WSRF_PREFIX)


def check_wrapped(model: Model) -> Iterator[Finding]:
    """The wrapped convention for every operation outside the WS-RF namespaces."""
    for port_type, operation in model.port_type_operations():
        name = operation.get("name", "")
        url = port_type.document.url
        input_ = next(operation.iterchildren(clark(WSDL, "input")), None)
        if input_ is None or _is_wsrf(model, input_):
            continue
        for kind, wrapper_name in (("input", name), ("output", f"{name}Response")):
            io = next(operation.iterchildren(clark(WSDL, kind)), None)
            if io is None:
                continue
            where = f"the {kind} of operation '{name}'"
            parts = model.parts(io)
            if len(parts) != 1:
                yield WRAPPED.finding(url, io, f"{where} has {len(parts)} parts, not one")
                continue
            part = parts[0]
            if part.get("name") != "parameters":
                yield WRAPPED.finding(
                    model.url_of(part),
                    part,
                    f"the part of {where} is named '{part.get('name')}', not 'parameters'",
                )
            element_name = model.part_element(part)
            if element_name is None:
                yield WRAPPED.finding(
                    model.url_of(part), part, f"the part of {where} has no element"
                )
                continue
            if element_name.local != wrapper_name:
                yield WRAPPED.finding(
                    model.url_of(part),
                    part,
                    f"{where} is element {element_name}; the wrapper is named '{wrapper_name}'",
                )
            component = model.lookup("element", element_name)
            if component is not None:
                for problem in _wrapper_problems(component.element):
                    yield WRAPPED.finding(
                        component.schema.document.url,
                        component.element,
                        f"wrapper element {element_name} ({where}) {problem}",
                    )


def _wrapper_problems(declaration: etree._Element) -> Iterator[str]:
    """What keeps a global element from being a wrapper."""
    if declaration.get("type") is not None:
        yield f"has the named type '{declaration.get('type')}', not an anonymous complexType"
        return
    if is_true(declaration.get("nillable")):
        yield "is nillable"
    types = xsd_children(declaration, "complexType", "simpleType")
    if not types or local_name(types[0]) != "complexType":
        yield "has no anonymous complexType"
        return
    content = content_children(types[0])
    # An empty complexType is an empty sequence: generators map both to no parameters.
    if not content:
        return
    for child in content:
        if not _xsd(child, "sequence"):
            kind = local_name(child)
            reason = {
                "attribute": "an attribute",
                "attributeGroup": "an attribute group",
                "anyAttribute": "an attribute wildcard",
                "choice": "an xs:choice",
                "all": "an xs:all",
                "group": "a group reference",
                "complexContent": "a derived type (complexContent)",
                "simpleContent": "simple content",
            }.get(kind, f"xs:{kind}")
            yield f"has {reason}; its content must be one xs:sequence of elements"
    sequences = [c for c in content if _xsd(c, "sequence")]
    if len(sequences) > 1:
        yield "has more than one xs:sequence"
    for sequence in sequences[:1]:
        if sequence.get("minOccurs", "1") != "1" or sequence.get("maxOccurs", "1") != "1":
            yield "has a sequence with minOccurs/maxOccurs other than 1"
        for particle in content_children(sequence):
            if not _xsd(particle, "element"):
                what = (
                    "a wildcard (xs:any)" if _xsd(particle, "any") else f"xs:{local_name(particle)}"
                )
                yield f"has {what} in its sequence; only element particles are allowed"


# -- WU-ONE-WSA ----------------------------------------------------------------------


@dataclass
class _Usage:
    count: int
    url: str
    line: int | None
    how: str


def check_one_wsa(model: Model) -> Iterator[Finding]:
    """One WS-Addressing version across the WSDL and every loaded schema.

    A version is *used* where a document has an element or attribute in one of its
    namespaces, refers to one of its components by QName, imports its namespace, or
    is a schema of its namespace. A namespace declaration alone (``xmlns:wsa`` that
    nothing refers to) is not a use: it changes nothing a generator produces.
    """
    usages: dict[str, _Usage] = {}

    def use(namespace: str, url: str, element: etree._Element, how: str) -> None:
        family = _WSA_FAMILIES.get(namespace)
        if family is None:
            return
        if family in usages:
            usages[family].count += 1
        else:
            usages[family] = _Usage(1, url, source_line(element), how)

    for document in model.documents.documents.values():
        url = document.url
        for element in elements(document.root):
            use(namespace_of(element), url, element, f"element {element.tag}")
            for attribute, _ in element.items():
                attribute_namespace = etree.QName(attribute).namespace or ""
                use(attribute_namespace, url, element, f"attribute {attribute!s}")
            for attribute in _qname_attributes(element):
                for text in element.get(attribute, "").split():
                    name = resolve(element, text)
                    if name is not None:
                        use(name.namespace, url, element, f"reference {attribute}={text!r}")
            if local_name(element) in ("import", "schema") and namespace_of(element) in (
                XSD,
                WSDL,
            ):
                key = "namespace" if local_name(element) == "import" else "targetNamespace"
                use(element.get(key, ""), url, element, f"{local_name(element)} {key}")
    if len(usages) > 1:
        described = "; ".join(
            f"{family} ({u.count} uses, first {u.url}:{u.line}: {u.how})"
            for family, u in usages.items()
        )
        yield ONE_WSA.finding(
            model.documents.root_url, None, f"uses more than one WS-Addressing version: {described}"
        )


def _qname_attributes(element: etree._Element) -> list[str]:
    namespace = namespace_of(element)
    if namespace == XSD:
        return [a for a, _ in SCHEMA_QNAME_ATTRIBUTES.get(local_name(element), ())]
    if namespace == WSDL:
        return ["message", "type", "binding", "element"]
    if namespace == SOAP11_BINDING:
        return ["message"]
    return []


# -- WU-EPR-CHOICE -------------------------------------------------------------------


_EPR_ELEMENTS = {QName(WSA, "EndpointReference"), QName(WSA_2004, "EndpointReference")}
_EPR_TYPES = {QName(WSA, "EndpointReferenceType"), QName(WSA_2004, "EndpointReferenceType")}


def _group(model: Model, reference: etree._Element) -> etree._Element | None:
    """The ``xs:group`` a group reference names, if a loaded schema declares it."""
    schema = model.schema_of(reference)
    written = reference.get("ref")
    name = schema.resolve(reference, written) if schema and written else None
    group = model.lookup("group", name) if name else None
    return None if group is None else group.element


def _enter(definition: etree._Element | None, entered: list[etree._Element]) -> bool:
    """Whether to walk into a group or base type not yet walked on this path.

    Circular groups and derivations are invalid, but the lint reads untrusted documents
    and must not recurse forever on them.
    """
    if definition is None or any(definition is e for e in entered):
        return False
    entered.append(definition)
    return True


def _alternatives(
    model: Model, compositor: etree._Element, entered: list[etree._Element]
) -> Iterator[etree._Element]:
    """The element particles a choice offers, through nested compositors and groups."""
    for child in content_children(compositor):
        if _xsd(child, "element"):
            yield child
        elif _xsd(child, "sequence", "choice", "all"):
            yield from _alternatives(model, child, entered)
        elif _xsd(child, "group"):
            group = _group(model, child)
            if group is not None and _enter(group, entered):
                yield from _alternatives(model, group, entered)


def _is_epr(model: Model, particle: etree._Element) -> bool:
    schema = model.schema_of(particle)
    if schema is None:
        return False
    ref = particle.get("ref")
    if ref is not None and schema.resolve(particle, ref) in _EPR_ELEMENTS:
        return True
    declaration = model.element_declaration(particle)
    if declaration is None:
        return False
    element, declared_in = declaration
    written = element.get("type")
    return written is not None and declared_in.resolve(element, written) in _EPR_TYPES


def check_epr_choice(model: Model) -> Iterator[Finding]:
    """No choice between endpoint references."""
    for schema in model.schemas:
        for choice in schema.element.iter(clark(XSD, "choice")):
            offered = [p for p in _alternatives(model, choice, []) if _is_epr(model, p)]
            if offered:
                names = ", ".join(p.get("ref") or p.get("name") or "" for p in offered)
                yield EPR_CHOICE.finding(
                    schema.document.url,
                    choice,
                    f"xs:choice in {context_of(choice)} offers the endpoint reference "
                    f"{names}; give each addressing version its own document instead",
                )


# -- WU-OPTIONAL-NIL -------------------------------------------------------------------


def _particles(
    model: Model, content: etree._Element, optional: bool, entered: list[etree._Element]
) -> Iterator[tuple[etree._Element, bool]]:
    """The element particles of a content model, each with whether it may be left out.

    A particle is optional when its own minOccurs is 0 or an enclosing compositor's or
    group reference's is. The alternatives of a choice are not counted optional: a
    generator maps a choice to one field per alternative, and the OASIS
    SetTerminationTime gives a nil alternative a meaning on purpose. Content inherited
    by extension is walked too.
    """
    for child in content_children(content):
        if not _xsd(child):
            continue
        kind = local_name(child)
        if kind == "element":
            yield child, optional or min_occurs(child) == 0
        elif kind in ("sequence", "choice", "all"):
            yield from _particles(model, child, optional or min_occurs(child) == 0, entered)
        elif kind == "group":
            group = _group(model, child)
            if group is not None and _enter(group, entered):
                inner = optional or min_occurs(child) == 0
                yield from _particles(model, group, inner, entered)
        elif kind == "complexContent":
            yield from _particles(model, child, optional, entered)
        elif kind in ("extension", "restriction"):
            base = model.base_type(child) if kind == "extension" else None
            if base is not None and _enter(base, entered):
                yield from _particles(model, base, optional, entered)
            yield from _particles(model, child, optional, entered)


def _request_roots(model: Model) -> Iterator[tuple[str, str, QName]]:
    """(document, operation, element) for every element a request body or header carries."""
    for port_type, operation in model.port_type_operations():
        for input_ in operation.iterchildren(clark(WSDL, "input")):
            for part in model.parts(input_):
                name = model.part_element(part)
                if name is not None:
                    yield port_type.document.url, operation.get("name", ""), name
    for bound in model.operations():
        bound_input = bound.bound_io("input")
        if bound_input is None:
            continue
        for header in bound_input.iterchildren(clark(SOAP11_BINDING, "header")):
            message = model.wsdl_reference(header, "message")
            if message is None:
                continue
            for part in message.element.iterchildren(clark(WSDL, "part")):
                name = model.part_element(part)
                if part.get("name") == header.get("part") and name is not None:
                    yield bound.document, bound.name, name


def check_optional_nil(model: Model) -> Iterator[Finding]:
    """No optional and nillable element on the request side."""
    reported: list[etree._Element] = []
    visited: list[etree._Element] = []
    for _, operation, root_name in _request_roots(model):
        root = model.lookup("element", root_name)
        if root is None:
            continue
        queue: list[tuple[etree._Element, str]] = [(root.element, root_name.local)]
        while queue:
            declaration, path = queue.pop(0)
            definition = model.type_definition(declaration)
            if definition is None or not _xsd(definition, "complexType"):
                continue
            if any(definition is v for v in visited):
                continue
            visited.append(definition)
            for particle, optional in _particles(model, definition, False, []):
                for candidate in _declarations(model, particle):
                    name = candidate.get("name", "")
                    if (
                        optional
                        and is_true(candidate.get("nillable"))
                        and not any(particle is r for r in reported)
                    ):
                        reported.append(particle)
                        via = "" if candidate is particle else f" (global element '{name}')"
                        yield OPTIONAL_NIL.finding(
                            model.url_of(particle),
                            particle,
                            f"element '{particle.get('name') or particle.get('ref')}'{via} in "
                            f"{_around(particle)} is optional and "
                            f"nillable; operation '{operation}' sends it (path {path}/{name})",
                        )
                    queue.append((candidate, f"{path}/{name}"))


def _declarations(model: Model, particle: etree._Element) -> list[etree._Element]:
    """The declaration a particle stands for, and every element that may substitute it."""
    found = model.element_declaration(particle)
    if found is None:
        return []
    declaration, schema = found
    result = [declaration]
    if declaration.getparent() is schema.element:
        for substitute in model.substitutes.get(
            QName(schema.namespace, declaration.get("name", "")), []
        ):
            result.append(substitute.element)
    return result


# -- WU-HREF, WU-PREFIX, WU-TYPE-NAMES ---------------------------------------------------


def check_href(model: Model) -> Iterator[Finding]:
    """No attribute ``href`` in no namespace."""
    for schema in model.schemas:
        qualified_default = schema.element.get("attributeFormDefault") == "qualified"
        for attribute in schema.element.iter(clark(XSD, "attribute")):
            if attribute.get("name") != "href":
                continue
            is_global = attribute.getparent() is schema.element
            qualified = (
                is_global
                or attribute.get("form", "") == "qualified"
                or (attribute.get("form") is None and qualified_default)
            )
            if not qualified or not schema.namespace:
                yield HREF.finding(
                    schema.document.url,
                    attribute,
                    f"attribute 'href' in no namespace in {_around(attribute)}; "
                    "use xlink:href (ref to the XLink global attribute)",
                )


def check_prefixes(model: Model) -> Iterator[Finding]:
    """Prefixes of letters and digits, starting with a letter."""
    for document in model.documents.documents.values():
        reported: set[str] = set()
        for element in elements(document.root):
            parent = element.getparent()
            inherited = parent.nsmap if parent is not None else {}
            for prefix, uri in element.nsmap.items():
                if prefix is None or inherited.get(prefix) == uri or prefix in reported:
                    continue
                if not _PREFIX.fullmatch(prefix):
                    reported.add(prefix)
                    yield PREFIXES.finding(
                        document.url,
                        element,
                        f"namespace prefix '{prefix}' (for {uri}) is not letters and digits",
                    )


def _class_name(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def check_type_names(model: Model) -> Iterator[Finding]:
    """Names that become classes in one package do not clash."""
    seen: dict[str, tuple[str, QName, str, int | None]] = {}
    for (kind, name), components in model.components.items():
        if kind not in ("type", "element"):
            continue
        component = components[0]
        declaration = component.element
        if kind == "element" and (
            declaration.get("type") is not None or not xsd_children(declaration, "complexType")
        ):
            continue
        label = local_name(declaration)
        url, line = component.schema.document.url, source_line(declaration)
        key = _class_name(name.local)
        if key not in seen:
            seen[key] = (label, name, url, line)
            continue
        first_label, first_name, first_url, first_line = seen[key]
        yield TYPE_NAMES.finding(
            url,
            declaration,
            f"{label} {name} and {first_label} {first_name} ({first_url}:{first_line}) "
            f"clash as class names (both '{key}' compared without case and punctuation)",
        )


# -- WU-ADDRESSING ---------------------------------------------------------------------


def check_addressing(model: Model) -> Iterator[Finding]:
    """UsingAddressing on every binding, an Action on every input, output and fault."""
    for binding in model.bindings.values():
        if not any(True for _ in binding.element.iterchildren(*_USING_ADDRESSING)):
            yield ADDRESSING.finding(
                binding.document.url,
                binding.element,
                f"binding '{binding.element.get('name')}' has no UsingAddressing "
                f"({{{WSAW}}}UsingAddressing or {{{WSA_2004}}}UsingAddressing)",
            )
    for port_type, operation in model.port_type_operations():
        for io in operation.iterchildren(etree.Element):
            if namespace_of(io) != WSDL or local_name(io) not in ("input", "output", "fault"):
                continue
            if not any(io.get(attribute) for attribute in _ACTIONS):
                label = local_name(io) + (f" '{io.get('name')}'" if io.get("name") else "")
                yield ADDRESSING.finding(
                    port_type.document.url,
                    io,
                    f"{label} of operation '{operation.get('name')}' has no Action attribute "
                    "(wsam:Action)",
                )


#: The rules of this module and their checks, in report order.
CHECKS: tuple[tuple[Rule, Check], ...] = (
    (WRAPPED, check_wrapped),
    (ONE_WSA, check_one_wsa),
    (EPR_CHOICE, check_epr_choice),
    (OPTIONAL_NIL, check_optional_nil),
    (HREF, check_href),
    (PREFIXES, check_prefixes),
    (TYPE_NAMES, check_type_names),
    (ADDRESSING, check_addressing),
)
