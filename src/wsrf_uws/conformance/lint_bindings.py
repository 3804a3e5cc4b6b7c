"""WS-I Basic Profile 1.1 rules on the messages, portTypes and bindings of a WSDL.

Each rule covers the Profile's assertions (R-numbers in its clause) that apply to a
document/literal SOAP 1.1 description; closely related assertions share one rule.
R2705 is narrowed: the Profile allows rpc-literal, DESIGN §2 asks for document-literal.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from .lint_model import (
    SOAP11_BINDING,
    SOAP12_BINDING,
    SOAP_HTTP_TRANSPORT,
    WSDL,
    BoundOperation,
    Check,
    Finding,
    Located,
    Model,
    QName,
    Rule,
    clark,
    local_name,
)

BODY_PARTS = Rule(
    "BP-BODY-PARTS",
    "WS-I Basic Profile 1.1 R2201, R2210",
    "every document-literal soap:body binds at most one part",
)
PART_ELEMENTS = Rule(
    "BP-PART-ELEMENT",
    "WS-I Basic Profile 1.1 R2204, R2205, R2206, R2306",
    "parts bound to body, header and fault use element (never type, never both), "
    "naming a global element a loaded schema declares",
)
OPERATIONS = Rule(
    "BP-OPERATIONS",
    "WS-I Basic Profile 1.1 R2303, R2304",
    "portType operations are one-way or request-response, with distinct names",
)
SOAP11 = Rule(
    "BP-SOAP11",
    "WS-I Basic Profile 1.1 R2401, R2701, R2702",
    "every binding is a SOAP 1.1 binding (no SOAP 1.2 binding) with transport "
    f"{SOAP_HTTP_TRANSPORT}",
)
DOCUMENT_LITERAL = Rule(
    "BP-DOC-LITERAL",
    "WS-I Basic Profile 1.1 R2705 (narrowed to document style by wsrf-uws DESIGN §2), R2706, R2723",
    'every operation is style="document"; every soap:body, header, headerfault and fault '
    'is use="literal"',
)
SIGNATURES = Rule(
    "BP-SIGNATURES",
    "WS-I Basic Profile 1.1 R2710",
    "the operations of a binding have distinct wire signatures (input body element QNames)",
)
NO_NAMESPACE_ATTRIBUTE = Rule(
    "BP-NO-NAMESPACE-ATTR",
    "WS-I Basic Profile 1.1 R2716",
    "no soap:body, header, headerfault or fault of a document-literal binding has a "
    "namespace attribute",
)
BINDING_OPERATIONS = Rule(
    "BP-BINDING-OPS",
    "WS-I Basic Profile 1.1 R2718",
    "every binding has exactly the operations of its portType",
)
FAULTS = Rule(
    "BP-FAULTS",
    "WS-I Basic Profile 1.1 R2721, R2754, R2726, R2740, R2741; WSDL 1.1 §3.6 (a fault "
    "message has a single part)",
    "every portType fault is bound by a soap:fault whose name equals its wsdl:fault's, "
    "with no parts attribute; every fault message has one part",
)


def _soap11(element: etree._Element, local: str) -> list[etree._Element]:
    return list(element.iterchildren(clark(SOAP11_BINDING, local)))


def _body_parts(model: Model, operation: BoundOperation, kind: str) -> list[etree._Element]:
    """The parts of an operation's input or output that its soap:body binds."""
    io, bound_io = operation.io(kind), operation.bound_io(kind)
    if io is None or bound_io is None:
        return []
    parts = model.parts(io)
    for body in _soap11(bound_io, "body"):
        listed = body.get("parts")
        if listed is not None:
            names = listed.split()
            return [p for p in parts if p.get("name") in names]
    return parts


def check_body_parts(model: Model) -> Iterator[Finding]:
    """R2201, R2210: a document-literal body binds zero or one part."""
    for operation in model.operations():
        if operation.style != "document":
            continue
        for kind in ("input", "output"):
            io, bound_io = operation.io(kind), operation.bound_io(kind)
            if io is None or bound_io is None:
                continue
            parts = model.parts(io)
            part_names = {p.get("name") for p in parts}
            for body in _soap11(bound_io, "body"):
                listed = body.get("parts")
                where = f"{kind} of operation '{operation.name}'"
                if listed is not None:
                    names = listed.split()
                    if len(names) > 1:
                        yield BODY_PARTS.finding(
                            operation.document,
                            body,
                            f"soap:body of the {where} lists {len(names)} parts (R2201)",
                        )
                    for name in names:
                        if name not in part_names:
                            yield BODY_PARTS.finding(
                                operation.document,
                                body,
                                f"soap:body of the {where} lists part '{name}', which its "
                                "message does not have",
                            )
                elif len(parts) > 1:
                    yield BODY_PARTS.finding(
                        operation.document,
                        body,
                        f"the message of the {where} has {len(parts)} parts and soap:body "
                        "names none (R2210)",
                    )


def check_part_elements(model: Model) -> Iterator[Finding]:
    """R2204, R2205, R2206, R2306."""
    for message in model.messages.values():
        for part in message.element.iterchildren(clark(WSDL, "part")):
            label = f"part '{part.get('name')}' of message '{message.element.get('name')}'"
            if part.get("element") is not None and part.get("type") is not None:
                yield PART_ELEMENTS.finding(
                    message.document.url, part, f"{label} has both element and type (R2306)"
                )
            name = model.part_element(part)
            if name is not None and model.lookup("element", name) is None:
                yield PART_ELEMENTS.finding(
                    message.document.url,
                    part,
                    f"{label} refers to element {name}, which no loaded schema declares "
                    "as a global element (R2206)",
                )
    for operation in model.operations():
        if operation.style != "document":
            continue
        for kind in ("input", "output"):
            for part in _body_parts(model, operation, kind):
                if part.get("element") is None:
                    yield PART_ELEMENTS.finding(
                        model.url_of(part),
                        part,
                        f"part '{part.get('name')}' of the {kind} of operation "
                        f"'{operation.name}' is bound to soap:body but has no element "
                        "attribute (R2204)",
                    )
        bound_parts: list[tuple[etree._Element, str]] = []
        for kind in ("input", "output"):
            bound_io = operation.bound_io(kind)
            if bound_io is None:
                continue
            for header in [
                *_soap11(bound_io, "header"),
                *bound_io.iter(clark(SOAP11_BINDING, "headerfault")),
            ]:
                header_message = model.wsdl_reference(header, "message")
                if header_message is None:
                    continue
                for part in header_message.element.iterchildren(clark(WSDL, "part")):
                    if part.get("name") == header.get("part"):
                        bound_parts.append((part, f"soap:{local_name(header)}"))
        if operation.abstract is not None:
            for fault in operation.abstract.iterchildren(clark(WSDL, "fault")):
                bound_parts += [(part, "a fault") for part in model.parts(fault)]
        for part, use in bound_parts:
            if part.get("element") is None:
                yield PART_ELEMENTS.finding(
                    model.url_of(part),
                    part,
                    f"part '{part.get('name')}' of message '{_message_name(part)}' "
                    f"is bound to {use} of operation '{operation.name}' but has no element "
                    "attribute (R2205)",
                )


def _message_name(part: etree._Element) -> str:
    message = part.getparent()
    return "" if message is None else message.get("name", "")


def check_operations(model: Model) -> Iterator[Finding]:
    """R2303, R2304: no solicit-response or notification; distinct operation names."""
    for port_type in model.port_types.values():
        seen: set[str] = set()
        url = port_type.document.url
        for operation in port_type.element.iterchildren(clark(WSDL, "operation")):
            name = operation.get("name", "")
            if name in seen:
                yield OPERATIONS.finding(
                    url,
                    operation,
                    f"portType '{port_type.element.get('name')}' has two operations named "
                    f"'{name}' (R2304)",
                )
            seen.add(name)
            ios = [
                local_name(c)
                for c in operation.iterchildren(clark(WSDL, "input"), clark(WSDL, "output"))
            ]
            if ios and ios[0] == "output":
                kind = "solicit-response" if "input" in ios else "notification"
                yield OPERATIONS.finding(
                    url, operation, f"operation '{name}' is a {kind} operation (R2303)"
                )


def check_soap11(model: Model) -> Iterator[Finding]:
    """R2401, R2701, R2702: SOAP 1.1 over HTTP."""
    for binding in model.bindings.values():
        url, element = binding.document.url, binding.element
        name = element.get("name")
        if list(element.iterchildren(clark(SOAP12_BINDING, "binding"))):
            yield SOAP11.finding(url, element, f"binding '{name}' is a SOAP 1.2 binding (R2401)")
            continue
        soap_bindings = _soap11(element, "binding")
        if not soap_bindings:
            yield SOAP11.finding(
                url, element, f"binding '{name}' has no soap:binding (SOAP 1.1) (R2401)"
            )
            continue
        transport = soap_bindings[0].get("transport")
        if transport is None:
            yield SOAP11.finding(
                url, soap_bindings[0], f"soap:binding of '{name}' has no transport (R2701)"
            )
        elif transport.strip() != SOAP_HTTP_TRANSPORT:
            yield SOAP11.finding(
                url,
                soap_bindings[0],
                f"soap:binding of '{name}' has transport {transport!r}, not "
                f"{SOAP_HTTP_TRANSPORT} (R2702)",
            )


_SOAP_USES = ("body", "header", "headerfault", "fault")


def _soap_uses(bound: etree._Element) -> Iterator[etree._Element]:
    return bound.iter(*(clark(SOAP11_BINDING, n) for n in _SOAP_USES))


def check_document_literal(model: Model) -> Iterator[Finding]:
    """R2705 (document only), R2706, R2723."""
    for operation in model.operations():
        if operation.style != "document":
            yield DOCUMENT_LITERAL.finding(
                operation.document,
                operation.bound,
                f"operation '{operation.name}' has style {operation.style!r} (R2705)",
            )
        for element in _soap_uses(operation.bound):
            use = element.get("use")
            if use is not None and use.strip() != "literal":
                rule = "R2723" if local_name(element) == "fault" else "R2706"
                yield DOCUMENT_LITERAL.finding(
                    operation.document,
                    element,
                    f"soap:{local_name(element)} of operation '{operation.name}' has "
                    f"use={use!r} ({rule})",
                )


def check_signatures(model: Model) -> Iterator[Finding]:
    """R2710: distinct input body elements per binding."""
    seen: dict[tuple[str, tuple[QName | str | None, ...]], str] = {}
    for operation in model.operations():
        if operation.style == "document":
            parts = _body_parts(model, operation, "input")
            signature: tuple[QName | str | None, ...] = tuple(model.part_element(p) for p in parts)
        else:
            # rpc: the body's child is a wrapper named after the operation.
            bound_input = operation.bound_io("input")
            bodies = _soap11(bound_input, "body") if bound_input is not None else []
            namespace = bodies[0].get("namespace", "") if bodies else ""
            signature = (QName(namespace, operation.name),)
        key = (operation.binding.element.get("name", ""), signature)
        if key in seen and seen[key] != operation.name:
            shown = ", ".join(str(s) for s in signature) or "an empty body"
            yield SIGNATURES.finding(
                operation.document,
                operation.bound,
                f"operations '{seen[key]}' and '{operation.name}' of binding '{key[0]}' both "
                f"take {shown} (R2710)",
            )
        seen.setdefault(key, operation.name)


def check_no_namespace_attribute(model: Model) -> Iterator[Finding]:
    """R2716: no namespace attribute in a document-literal binding."""
    for operation in model.operations():
        if operation.style != "document":
            continue
        for element in _soap_uses(operation.bound):
            if element.get("namespace") is not None:
                yield NO_NAMESPACE_ATTRIBUTE.finding(
                    operation.document,
                    element,
                    f"soap:{local_name(element)} of operation '{operation.name}' has a "
                    "namespace attribute (R2716)",
                )


def check_binding_operations(model: Model) -> Iterator[Finding]:
    """R2718: the binding's operations are the portType's."""
    for binding in model.bindings.values():
        port_type = model.port_type_of(binding.element)
        if port_type is None:
            continue  # BP-QNAMES reports the unresolved type
        name = binding.element.get("name")
        bound = [o.get("name", "") for o in binding.element.iterchildren(clark(WSDL, "operation"))]
        declared = [
            o.get("name", "") for o in port_type.element.iterchildren(clark(WSDL, "operation"))
        ]
        for missing in [o for o in declared if o not in bound]:
            yield BINDING_OPERATIONS.finding(
                binding.document.url,
                binding.element,
                f"binding '{name}' does not bind operation '{missing}' of portType "
                f"'{port_type.element.get('name')}' (R2718)",
            )
        for extra in [o for o in bound if o not in declared]:
            yield BINDING_OPERATIONS.finding(
                binding.document.url,
                binding.element,
                f"binding '{name}' binds operation '{extra}', which portType "
                f"'{port_type.element.get('name')}' does not have (R2718)",
            )


def check_faults(model: Model) -> Iterator[Finding]:
    """R2721, R2754, R2726, R2740, R2741, and single-part fault messages."""
    fault_messages: dict[int, Located] = {}
    for _, abstract in model.port_type_operations():
        for fault in abstract.iterchildren(clark(WSDL, "fault")):
            message = model.message_of(fault)
            if message is not None:
                fault_messages.setdefault(id(message.element), message)
    for message in fault_messages.values():
        parts = list(message.element.iterchildren(clark(WSDL, "part")))
        if len(parts) != 1:
            yield FAULTS.finding(
                message.document.url,
                message.element,
                f"fault message '{message.element.get('name')}' has {len(parts)} parts, "
                "not one (WSDL 1.1 §3.6)",
            )
    for operation in model.operations():
        url = operation.document
        declared: list[str] = []
        if operation.abstract is not None:
            declared = [
                f.get("name", "") for f in operation.abstract.iterchildren(clark(WSDL, "fault"))
            ]
        bound: list[str] = []
        for fault in operation.bound.iterchildren(clark(WSDL, "fault")):
            name = fault.get("name", "")
            bound.append(name)
            where = f"wsdl:fault '{name}' of operation '{operation.name}'"
            if name not in declared and operation.abstract is not None:
                yield FAULTS.finding(
                    url, fault, f"{where} binds a fault its portType operation does not declare"
                )
            soap_faults = _soap11(fault, "fault")
            if not soap_faults:
                yield FAULTS.finding(url, fault, f"{where} has no soap:fault (R2740)")
            for soap_fault in soap_faults:
                if soap_fault.get("name") is None:
                    yield FAULTS.finding(
                        url, soap_fault, f"soap:fault of {where} has no name (R2721)"
                    )
                elif soap_fault.get("name") != name:
                    yield FAULTS.finding(
                        url,
                        soap_fault,
                        f"soap:fault name '{soap_fault.get('name')}' differs from its {where} "
                        "(R2754)",
                    )
                if soap_fault.get("parts") is not None:
                    yield FAULTS.finding(
                        url, soap_fault, f"soap:fault of {where} has a parts attribute (R2726)"
                    )
        for name in declared:
            if name not in bound:
                yield FAULTS.finding(
                    url,
                    operation.bound,
                    f"fault '{name}' of operation '{operation.name}' is not bound by binding "
                    f"'{operation.binding.element.get('name')}' (R2740, R2741)",
                )


#: The rules of this module and their checks, in report order.

#: The rules of this module and their checks, in report order.
CHECKS: tuple[tuple[Rule, Check], ...] = (
    (BODY_PARTS, check_body_parts),
    (PART_ELEMENTS, check_part_elements),
    (OPERATIONS, check_operations),
    (SOAP11, check_soap11),
    (DOCUMENT_LITERAL, check_document_literal),
    (SIGNATURES, check_signatures),
    (NO_NAMESPACE_ATTRIBUTE, check_no_namespace_attribute),
    (BINDING_OPERATIONS, check_binding_operations),
    (FAULTS, check_faults),
)
