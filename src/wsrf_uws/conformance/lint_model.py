"""What the WSDL lint's rules are made of: rules, findings, and an index of the description.

:class:`Model` indexes a loaded :class:`~.documents.DocumentSet` once for every rule: the
WSDL components (messages, portTypes, bindings) and the schema components (global
elements, types, attributes, groups) by QName, each schema with its effective target
namespace and imports, and the QName resolution the two languages share. Rules only read
it. The lint keeps its own copy of the standards' namespace names, so it judges any
server, the project's included, by the standards and not by the project's constants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from lxml import etree

from .documents import Document, DocumentSet, source_line

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP11_BINDING = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING = "http://schemas.xmlsoap.org/wsdl/soap12/"
SOAP_HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"
SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XML = "http://www.w3.org/XML/1998/namespace"

#: WS-Addressing 1.0: core, WSDL binding (2006/05) and metadata (2007/05).
WSA = "http://www.w3.org/2005/08/addressing"
WSAW = "http://www.w3.org/2006/05/addressing/wsdl"
WSAM = "http://www.w3.org/2007/05/addressing/metadata"
#: WS-Addressing member submission (2004/08).
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"

#: Every OASIS WS-ResourceFramework namespace starts so.
WSRF_PREFIX = "http://docs.oasis-open.org/wsrf/"


def clark(namespace: str, local: str) -> str:
    """``{namespace}local``, the form lxml uses for tags and attribute names."""
    return f"{{{namespace}}}{local}"


class QName(NamedTuple):
    """A resolved qualified name; ``namespace`` is ``""`` for no namespace."""

    namespace: str
    local: str

    def __str__(self) -> str:
        return clark(self.namespace, self.local) if self.namespace else self.local


@dataclass(frozen=True)
class Rule:
    """One lint rule: what a conforming description does, and where that is required."""

    #: Stable identifier, e.g. ``BP-DOC-LITERAL`` or ``WU-EPR-CHOICE``.
    id: str
    #: The source of the rule, naming every assertion it covers.
    clause: str
    #: One line: what a conforming WSDL does.
    summary: str

    def finding(self, document: str, where: etree._Element | int | None, message: str) -> Finding:
        """A :class:`Finding` of this rule at ``where`` (an element, or a line)."""
        line = source_line(where) if isinstance(where, etree._Element) else where
        return Finding(rule=self.id, document=document, line=line, message=message)


#: A rule's check: every finding of the rule on a description.
Check = Callable[["Model"], Iterator["Finding"]]


@dataclass(frozen=True)
class Finding:
    """One place where a description breaks a rule."""

    #: :attr:`Rule.id` of the rule broken.
    rule: str
    #: URL of the offending document.
    document: str
    #: Source line, when known.
    line: int | None
    #: What is wrong, naming the element, type, prefix or operation at fault.
    message: str

    def __str__(self) -> str:
        where = self.document if self.line is None else f"{self.document}:{self.line}"
        return f"{self.rule} {where} {self.message}"


def local_name(element: etree._Element) -> str:
    """The local part of an element's tag."""
    return etree.QName(element).localname


def namespace_of(element: etree._Element) -> str:
    """The namespace of an element's tag (``""`` for none)."""
    return etree.QName(element).namespace or ""


def elements(root: etree._Element) -> Iterator[etree._Element]:
    """Every element under and including ``root`` (no comments or processing instructions)."""
    return root.iter(etree.Element)


def xsd_children(element: etree._Element, *names: str) -> list[etree._Element]:
    """The XML Schema children of ``element`` with the given local names (all if none)."""
    tags = [clark(XSD, name) for name in names] if names else [clark(XSD, "*")]
    return list(element.iterchildren(*tags))


def content_children(element: etree._Element) -> list[etree._Element]:
    """The element children of a schema component, without ``xs:annotation``."""
    return [
        child
        for child in element.iterchildren(etree.Element)
        if child.tag != clark(XSD, "annotation")
    ]


def is_true(value: str | None) -> bool:
    """An ``xs:boolean`` attribute value that means true."""
    return value is not None and value.strip() in ("true", "1")


def min_occurs(particle: etree._Element) -> int:
    """``minOccurs`` of a particle (1 when absent or unreadable)."""
    try:
        return int(particle.get("minOccurs", "1"))
    except ValueError:
        return 1


def resolve(element: etree._Element, text: str) -> QName | None:
    """The QName ``text`` written in an attribute of ``element``; None if its prefix is undeclared.

    An unprefixed name takes the default namespace in scope, as WSDL 1.1 and XML Schema
    both say for QName-valued attributes.
    """
    text = text.strip()
    prefix, _, local = text.rpartition(":")
    if prefix == "xml":
        return QName(XML, local)
    namespace = element.nsmap.get(prefix or None)
    if namespace is None:
        return None if prefix else QName("", local)
    return QName(namespace, local)


def describe(element: etree._Element) -> str:
    """A short name for a schema or WSDL construct: ``complexType 'JobType'``, ``xs:choice``."""
    name = element.get("name") or element.get("ref")
    kind = local_name(element)
    return f"{kind} '{name}'" if name else kind


def context_of(element: etree._Element) -> str:
    """The nearest named construct around ``element``: where in a schema a particle stands."""
    current: etree._Element | None = element
    names: list[str] = []
    while current is not None and local_name(current) not in ("schema", "definitions"):
        if current.get("name"):
            names.append(describe(current))
        current = current.getparent()
    return " in ".join(names) if names else "the schema"


@dataclass(frozen=True)
class Schema:
    """One ``xs:schema``: a schema document, or one inside a WSDL's ``types``."""

    element: etree._Element
    document: Document
    #: ``targetNamespace`` as written (None when absent).
    declared_namespace: str | None
    #: The namespace its components are in: the declared one, or the includer's for a
    #: schema without one that is included (a "chameleon" include), else ``""``.
    namespace: str
    #: Namespaces its ``xs:import`` children import (``""`` for an import of no namespace).
    imported: frozenset[str]

    @property
    def chameleon(self) -> bool:
        """Whether the schema takes its namespace from the schema that includes it."""
        return self.declared_namespace is None and self.namespace != ""

    def resolve(self, element: etree._Element, text: str) -> QName | None:
        """A QName written in this schema, with a chameleon's no-namespace names moved."""
        name = resolve(element, text)
        if name is not None and name.namespace == "" and self.chameleon:
            return QName(self.namespace, name.local)
        return name

    def may_reference(self, namespace: str) -> bool:
        """Whether components of ``namespace`` may be referred to from this schema."""
        own = self.declared_namespace or ""
        return namespace in (own, self.namespace, XSD) or namespace in self.imported


@dataclass(frozen=True)
class Component:
    """A global schema component: ``element``, ``attribute``, ``type``, ``group``, ..."""

    kind: str
    name: QName
    element: etree._Element
    schema: Schema


@dataclass(frozen=True)
class Located:
    """A WSDL component and the document it is in."""

    element: etree._Element
    document: Document


#: Global schema component kinds by the local name of their declaration.
_COMPONENT_KINDS = {
    "element": "element",
    "attribute": "attribute",
    "complexType": "type",
    "simpleType": "type",
    "group": "group",
    "attributeGroup": "attributeGroup",
}

#: QName-valued attributes of XML Schema, by the local name of the element holding them.
SCHEMA_QNAME_ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "element": (("ref", "element"), ("type", "type"), ("substitutionGroup", "element")),
    "attribute": (("ref", "attribute"), ("type", "type")),
    "group": (("ref", "group"),),
    "attributeGroup": (("ref", "attributeGroup"),),
    "extension": (("base", "type"),),
    "restriction": (("base", "type"),),
    "list": (("itemType", "type"),),
    "union": (("memberTypes", "type"),),  # a list of QNames
    "keyref": (("refer", "identity"),),
}


class Model:
    """An index of a loaded description, shared by every rule."""

    def __init__(self, documents: DocumentSet) -> None:
        self.documents = documents
        #: Position of each document in load order (findings are reported in it).
        self.order = {url: index for index, url in enumerate(documents.documents)}
        self.wsdls = [d for d in documents.documents.values() if d.is_wsdl]
        self._url_by_root = {id(d.root): d.url for d in documents.documents.values()}
        self.schemas = self._schemas()
        self._schema_by_element = {id(s.element): s for s in self.schemas}
        self.components: dict[tuple[str, QName], list[Component]] = {}
        for schema in self.schemas:
            for child in schema.element.iterchildren(etree.Element):
                kind = _COMPONENT_KINDS.get(local_name(child))
                name = child.get("name")
                if kind is None or namespace_of(child) != XSD or name is None:
                    continue
                qname = QName(schema.namespace, name)
                self.components.setdefault((kind, qname), []).append(
                    Component(kind, qname, child, schema)
                )
        self.messages = self._wsdl_components("message")
        self.port_types = self._wsdl_components("portType")
        self.bindings = self._wsdl_components("binding")
        # Elements that may stand in for a head element (substitution groups).
        self.substitutes: dict[QName, list[Component]] = {}
        for (kind, _), found in self.components.items():
            if kind != "element":
                continue
            for component in found:
                head = component.element.get("substitutionGroup")
                head_name = component.schema.resolve(component.element, head) if head else None
                if head_name is not None:
                    self.substitutes.setdefault(head_name, []).append(component)

    def url_of(self, element: etree._Element) -> str:
        """URL of the document an element is in."""
        root = element.getroottree().getroot()
        return self._url_by_root.get(id(root), self.documents.root_url)

    # -- schemas ---------------------------------------------------------------------

    def _schemas(self) -> list[Schema]:
        found: list[tuple[etree._Element, Document]] = []
        for document in self.documents.documents.values():
            if document.is_schema:
                found.append((document.root, document))
            elif document.is_wsdl:
                for types in document.root.iterchildren(clark(WSDL, "types")):
                    found.extend((s, document) for s in xsd_children(types, "schema"))
        # A schema without a targetNamespace that another schema includes takes the
        # includer's namespace; follow includes until nothing changes (chains are short).
        namespaces = {id(e): e.get("targetNamespace") for e, _ in found}
        by_url = {d.url: e for e, d in found if d.is_schema}
        changed = True
        while changed:
            changed = False
            for reference in self.documents.references:
                if reference.kind == "xs:import" or reference.target not in by_url:
                    continue
                included = by_url[reference.target]
                includer = _enclosing_schema(reference.element)
                inherited = namespaces.get(id(includer)) if includer is not None else None
                if namespaces[id(included)] is None and inherited is not None:
                    namespaces[id(included)] = inherited
                    changed = True
        return [
            Schema(
                element=element,
                document=document,
                declared_namespace=element.get("targetNamespace"),
                namespace=namespaces[id(element)] or "",
                imported=frozenset(i.get("namespace", "") for i in xsd_children(element, "import")),
            )
            for element, document in found
        ]

    def schema_of(self, element: etree._Element) -> Schema | None:
        """The schema an element stands in."""
        enclosing = _enclosing_schema(element)
        return None if enclosing is None else self._schema_by_element.get(id(enclosing))

    def lookup(self, kind: str, name: QName) -> Component | None:
        """The global component of ``kind`` named ``name``, if a loaded schema declares it."""
        found = self.components.get((kind, name))
        return found[0] if found else None

    def schema_namespaces(self) -> set[str]:
        """Every namespace some loaded schema declares components in."""
        return {s.namespace for s in self.schemas}

    def element_declaration(self, particle: etree._Element) -> tuple[etree._Element, Schema] | None:
        """The declaration behind an element particle: itself, or the global one it refers to."""
        schema = self.schema_of(particle)
        if schema is None:
            return None
        ref = particle.get("ref")
        if ref is None:
            return particle, schema
        name = schema.resolve(particle, ref)
        component = self.lookup("element", name) if name is not None else None
        return None if component is None else (component.element, component.schema)

    def type_definition(self, declaration: etree._Element) -> etree._Element | None:
        """The complex or simple type of an element or attribute declaration, if known.

        The anonymous type inside the declaration, or the global type it names; None for
        a built-in or undeclared type.
        """
        for child in xsd_children(declaration, "complexType", "simpleType"):
            return child
        schema = self.schema_of(declaration)
        written = declaration.get("type")
        if schema is None or written is None:
            return None
        name = schema.resolve(declaration, written)
        component = self.lookup("type", name) if name is not None else None
        return None if component is None else component.element

    def base_type(self, derivation: etree._Element) -> etree._Element | None:
        """The global type an ``xs:extension`` or ``xs:restriction`` derives from, if declared."""
        schema = self.schema_of(derivation)
        written = derivation.get("base")
        if schema is None or written is None:
            return None
        name = schema.resolve(derivation, written)
        component = self.lookup("type", name) if name is not None else None
        return None if component is None else component.element

    # -- WSDL --------------------------------------------------------------------------

    def _wsdl_components(self, local: str) -> dict[QName, Located]:
        found: dict[QName, Located] = {}
        for document in self.wsdls:
            namespace = document.root.get("targetNamespace", "")
            for child in document.root.iterchildren(clark(WSDL, local)):
                name = child.get("name")
                if name is not None:
                    found.setdefault(QName(namespace, name), Located(child, document))
        return found

    def wsdl_reference(self, element: etree._Element, attribute: str) -> Located | None:
        """The message, portType or binding an attribute of ``element`` names, if defined."""
        table = {"message": self.messages, "type": self.port_types, "binding": self.bindings}
        written = element.get(attribute)
        name = resolve(element, written) if written is not None else None
        return None if name is None else table[attribute].get(name)

    def port_type_of(self, binding: etree._Element) -> Located | None:
        """The portType a binding binds."""
        return self.wsdl_reference(binding, "type")

    def message_of(self, io: etree._Element) -> Located | None:
        """The message of a portType operation's ``input``, ``output`` or ``fault``."""
        return self.wsdl_reference(io, "message")

    def parts(self, io: etree._Element) -> list[etree._Element]:
        """The parts of the message of ``io`` (empty if the message is unknown)."""
        message = self.message_of(io)
        return [] if message is None else list(message.element.iterchildren(clark(WSDL, "part")))

    def part_element(self, part: etree._Element) -> QName | None:
        """The QName a part's ``element`` attribute names, if it has one."""
        written = part.get("element")
        return resolve(part, written) if written is not None else None

    def operations(self) -> Iterator[BoundOperation]:
        """Every operation of every binding, with its portType operation (if found)."""
        for binding in self.bindings.values():
            port_type = self.port_type_of(binding.element)
            abstract: dict[str | None, etree._Element] = {}
            if port_type is not None:
                for operation in port_type.element.iterchildren(clark(WSDL, "operation")):
                    abstract.setdefault(operation.get("name"), operation)
            for bound in binding.element.iterchildren(clark(WSDL, "operation")):
                yield BoundOperation(
                    binding=binding,
                    bound=bound,
                    abstract=abstract.get(bound.get("name")),
                    style=self.style(binding.element, bound),
                )

    @staticmethod
    def style(binding: etree._Element, bound: etree._Element) -> str:
        """The SOAP style of a bound operation: its own, else its binding's, else document."""
        for operation in bound.iterchildren(clark(SOAP11_BINDING, "operation")):
            if operation.get("style"):
                return operation.get("style", "document")
        for soap_binding in binding.iterchildren(clark(SOAP11_BINDING, "binding")):
            return soap_binding.get("style", "document")
        return "document"

    def port_type_operations(self) -> Iterator[tuple[Located, etree._Element]]:
        """Every operation of every portType, with the portType."""
        for port_type in self.port_types.values():
            for operation in port_type.element.iterchildren(clark(WSDL, "operation")):
                yield port_type, operation


@dataclass(frozen=True)
class BoundOperation:
    """An operation of a binding and the portType operation it binds."""

    binding: Located
    #: The ``wsdl:operation`` inside the binding.
    bound: etree._Element
    #: The ``wsdl:operation`` of the portType with the same name (None if there is none).
    abstract: etree._Element | None
    #: ``document`` or ``rpc``.
    style: str

    @property
    def name(self) -> str:
        """The operation name."""
        return self.bound.get("name", "")

    @property
    def document(self) -> str:
        """URL of the WSDL holding the binding."""
        return self.binding.document.url

    def io(self, kind: str) -> etree._Element | None:
        """The portType operation's ``input`` or ``output``."""
        if self.abstract is None:
            return None
        return next(self.abstract.iterchildren(clark(WSDL, kind)), None)

    def bound_io(self, kind: str) -> etree._Element | None:
        """The binding operation's ``input`` or ``output``."""
        return next(self.bound.iterchildren(clark(WSDL, kind)), None)


def _enclosing_schema(element: etree._Element) -> etree._Element | None:
    current: etree._Element | None = element
    while current is not None and current.tag != clark(XSD, "schema"):
        current = current.getparent()
    return current
