"""Where the published contract documents are: the project's ``schemas/`` and ``wsdl/``.

In a source checkout (and an editable install) they are the repository's top-level
folders; a built wheel carries them inside the package as ``wsrf_uws/published``.
Nothing here reaches the network: schemas are compiled from these local files.

The files are written for WS-Addressing 1.0. Every published document declares exactly
one WS-Addressing version (a schema set that offers both makes JAXB and gSOAP fail), so
member-submission (2004/08) clients get a variant of the same documents, derived here
by one mechanical rule: the 1.0 namespace is replaced by the 2004/08 one, and the 1.0
schema by the 2004/08 one. The rule holds because the project's schemas use only
``EndpointReference`` and ``EndpointReferenceType`` from WS-Addressing, which both
versions declare.
"""

from __future__ import annotations

import enum
import threading
from functools import cache
from pathlib import Path

from lxml import etree

from .wire.parsing import safe_parser

WSA_1_0 = "http://www.w3.org/2005/08/addressing"
WSA_2004_08 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"


class AddressingVersion(enum.Enum):
    """The WS-Addressing version a set of published documents is written for.

    The value is what clients put in the query string: ``?wsdl&addressing=2004-08``.
    """

    W3C = "1.0"
    MEMBER_SUBMISSION = "2004-08"

    @property
    def namespace(self) -> str:
        """The WS-Addressing namespace of this version."""
        return WSA_1_0 if self is AddressingVersion.W3C else WSA_2004_08

    @classmethod
    def of_namespace(cls, namespace: str) -> AddressingVersion:
        """The version whose namespace is ``namespace``."""
        return cls.MEMBER_SUBMISSION if namespace == WSA_2004_08 else cls.W3C


#: The namespaces of the project's schema set and the file declaring each.
SCHEMA_FILES = {
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
    "http://www.w3.org/1999/xlink": "xlink.xsd",
    "http://www.w3.org/2005/08/addressing": "ws-addr.xsd",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing": "ws-addr-2004-08.xsd",
    "http://docs.oasis-open.org/wsrf/bf-2": "wsrf-bf-2.xsd",
    "http://docs.oasis-open.org/wsrf/r-2": "wsrf-r-2.xsd",
    "http://docs.oasis-open.org/wsrf/rp-2": "wsrf-rp-2.xsd",
    "http://docs.oasis-open.org/wsrf/rl-2": "wsrf-rl-2.xsd",
    "http://www.ivoa.net/xml/UWS/v1.0": "uws-1.1.xsd",
    "urn:wsrf-uws:core:v1": "wsrf-uws-core.xsd",
}


@cache
def root() -> Path:
    """The folder holding ``schemas/`` and ``wsdl/``."""
    packaged = Path(__file__).with_name("published")
    if (packaged / "schemas").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "schemas").is_dir():
        return checkout
    raise FileNotFoundError("the published schemas are missing from this installation")


def schema_path(name: str) -> Path:
    """The project schema file ``name`` (a plain file name from :data:`SCHEMA_FILES`)."""
    return root() / "schemas" / name


def wsdl_path(name: str) -> Path:
    """The published WSDL document ``name``."""
    return root() / "wsdl" / name


def schema_files(addressing: AddressingVersion = AddressingVersion.W3C) -> dict[str, str]:
    """:data:`SCHEMA_FILES` as published for ``addressing``: without the other version's."""
    other = WSA_2004_08 if addressing is AddressingVersion.W3C else WSA_1_0
    return {ns: name for ns, name in SCHEMA_FILES.items() if ns != other}


def for_addressing(document: bytes, addressing: AddressingVersion) -> bytes:
    """A published document (schema or WSDL) as written for ``addressing``.

    Only the namespace in attribute values changes (declarations, ``xs:import``); the
    quotes keep other IRIs that start with the 1.0 namespace (``.../anonymous``) intact.
    """
    if addressing is AddressingVersion.W3C:
        return document
    for quote in (b'"', b"'"):
        document = document.replace(
            quote + WSA_1_0.encode() + quote, quote + WSA_2004_08.encode() + quote
        )
    return document


class _InMemory(etree.Resolver):
    """Resolves the driver's imports to documents held in memory."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        super().__init__()
        self.documents = documents

    # lxml-stubs leave out the context argument that lxml passes.
    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]
        document = self.documents.get(system_url)
        if document is None:
            return None
        return self.resolve_string(document, context, base_url=system_url)


def compile_schemas(
    extra: dict[str, Path] | None = None,
    *,
    addressing: AddressingVersion = AddressingVersion.W3C,
) -> etree.XMLSchema:
    """One validator for the project's schema set plus ``extra`` (namespace → file).

    A driver document imports every namespace from its document, so imports between
    the files resolve by namespace whatever ``schemaLocation`` they carry: a contract's
    schema imports the core one as ``wsrf-uws-core.xsd`` wherever the file sits. The
    documents are read as written for ``addressing``.
    """
    # One compilation at a time in a process: lxml finds the resolver of an import
    # through state shared between threads while libxml2 compiles without the GIL, so
    # two compilations at once could read each other's documents, and a contract's
    # schema came out without its own elements ("No matching global declaration").
    with _COMPILING:
        return _compile(extra, addressing=addressing)


#: Held while a schema set compiles (see :func:`compile_schemas`).
_COMPILING = threading.Lock()


def _compile(extra: dict[str, Path] | None, *, addressing: AddressingVersion) -> etree.XMLSchema:
    paths = {ns: schema_path(name) for ns, name in schema_files(addressing).items()}
    paths.update(extra or {})
    documents = {
        f"published:{ns}": for_addressing(path.read_bytes(), addressing)
        for ns, path in paths.items()
    }
    xs = "http://www.w3.org/2001/XMLSchema"
    driver = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs})
    for namespace in paths:
        etree.SubElement(
            driver, f"{{{xs}}}import", namespace=namespace, schemaLocation=f"published:{namespace}"
        )
    parser = safe_parser()
    parser.resolvers.add(_InMemory(documents))
    document = etree.fromstring(etree.tostring(driver), parser)
    return etree.XMLSchema(document)
