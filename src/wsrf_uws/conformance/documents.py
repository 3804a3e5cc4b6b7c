"""Loading a WSDL 1.1 description and every document it imports, transitively.

A client that reads a WSDL follows ``wsdl:import@location``, and ``xs:import`` /
``xs:include`` / ``xs:redefine`` ``@schemaLocation`` inside the WSDL's ``types`` and inside
every schema, each resolved against the URL of the document that holds it. The loader
does the same, so the lint sees exactly what a code generator sees. It keeps each
document's URL, its raw bytes (the encoding and XML-declaration checks read those) and
its parsed tree.

Every document comes from a server that is being judged, so parsing is hardened (no DTD,
no entities, no network: :func:`wsrf_uws.wire.parsing.safe_parser`) and the default fetch
caps size and time. A document that cannot be fetched or parsed does not stop the load:
it becomes a :class:`LoadProblem`, which the lint reports as a finding.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ..wire.parsing import safe_parser

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

#: Returns the bytes of the document at a URL, or raises.
Fetch = Callable[[str], bytes]

#: The largest document the default fetch accepts. Real WSDLs and schemas are at most a
#: few hundred kB; the cap keeps a broken or hostile server from exhausting memory.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
#: Seconds the default fetch waits for a server.
FETCH_TIMEOUT = 30.0
#: The most documents one description may pull in: a server that generates endless
#: import chains (``?xsd=1``, ``?xsd=2``, ...) must not keep the loader busy forever.
MAX_DOCUMENTS = 500

_WSDL_DEFINITIONS = f"{{{WSDL_NS}}}definitions"
_XSD_SCHEMA = f"{{{XSD_NS}}}schema"
#: Schema statements that load another schema document, by element tag.
_SCHEMA_REFERENCES = {
    f"{{{XSD_NS}}}import": "xs:import",
    f"{{{XSD_NS}}}include": "xs:include",
    f"{{{XSD_NS}}}redefine": "xs:redefine",
}


@dataclass(frozen=True)
class Document:
    """One loaded, well-formed document."""

    url: str
    raw: bytes
    root: etree._Element

    @property
    def is_wsdl(self) -> bool:
        """Whether this is a WSDL 1.1 ``definitions`` document."""
        return self.root.tag == _WSDL_DEFINITIONS

    @property
    def is_schema(self) -> bool:
        """Whether this is an XML Schema document."""
        return self.root.tag == _XSD_SCHEMA


@dataclass(frozen=True)
class Reference:
    """One import or include statement: where it stands and what it loads."""

    #: ``wsdl:import``, ``xs:import``, ``xs:include`` or ``xs:redefine``.
    kind: str
    #: URL of the document holding the statement.
    source: str
    element: etree._Element
    #: The ``namespace`` attribute (imports only; None when absent).
    namespace: str | None
    #: ``location`` / ``schemaLocation`` as written (None when absent).
    location: str | None
    #: The location resolved against ``source``; None when there is no location.
    target: str | None


@dataclass(frozen=True)
class LoadProblem:
    """A document that could not be loaded, reported where the reference to it stands."""

    document: str
    line: int | None
    message: str


@dataclass(frozen=True)
class DocumentSet:
    """A WSDL and everything it imports, as loaded from ``root_url``."""

    root_url: str
    #: Every well-formed document, by URL, in load order (the root first).
    documents: Mapping[str, Document]
    #: Every import/include statement met, in load order.
    references: tuple[Reference, ...]
    #: Documents that could not be fetched or parsed.
    problems: tuple[LoadProblem, ...]

    @property
    def root(self) -> Document | None:
        """The WSDL itself, unless it could not be loaded."""
        return self.documents.get(self.root_url)


def source_line(element: etree._Element) -> int | None:
    """The line an element starts on (lxml-stubs mistype ``sourceline``)."""
    line: int | None = element.sourceline  # type: ignore[assignment]
    return line


def _has_scheme(url: str) -> bool:
    # One letter is a Windows drive ("C:/..."), not a scheme.
    return len(urllib.parse.urlsplit(url).scheme) > 1


def normalize_url(url: str) -> str:
    """``url`` as the loader names documents: a URL; a local path becomes a ``file:`` URL.

    Relative locations only resolve reliably against absolute URLs (``urljoin`` loses
    leading ``..`` segments of a relative path), so a path is made absolute first.
    """
    if _has_scheme(url):
        return urllib.parse.urldefrag(url)[0]
    return Path(url).resolve().as_uri()


def fetch_url(url: str) -> bytes:
    """The default fetch: http(s) with a timeout and a size cap, and local files.

    ``file:`` URLs and plain paths are read from disk; any other scheme is refused.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower() if _has_scheme(url) else ""
    if scheme in ("http", "https"):
        # The scheme was checked: no file:, ftp: or custom handler can be reached here.
        accept = {"Accept": "text/xml, application/xml"}
        request = urllib.request.Request(url, headers=accept)  # noqa: S310
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
            body: bytes = response.read(MAX_DOCUMENT_BYTES + 1)
    elif scheme in ("file", ""):
        path = (
            Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
            if scheme
            else Path(url)
        )
        with path.open("rb") as file:
            body = file.read(MAX_DOCUMENT_BYTES + 1)
    else:
        raise ValueError(f"unsupported URL scheme {scheme!r}")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"larger than {MAX_DOCUMENT_BYTES} bytes")
    return body


def _references(document: Document) -> list[Reference]:
    """The statements of ``document`` that load other documents, in document order.

    In a WSDL: ``wsdl:import`` children of ``definitions`` and schema statements of the
    schemas in ``types``; in a schema: its own schema statements. Statements anywhere
    else are not followed (a client does not follow them either; the lint flags them).
    """
    root = document.root
    schemas: list[etree._Element] = []
    found: list[Reference] = []
    if document.is_wsdl:
        for child in root.iterchildren(f"{{{WSDL_NS}}}import"):
            found.append(_reference("wsdl:import", document.url, child, "location"))
        for types in root.iterchildren(f"{{{WSDL_NS}}}types"):
            schemas.extend(types.iterchildren(_XSD_SCHEMA))
    elif document.is_schema:
        schemas.append(root)
    for schema in schemas:
        for child in schema.iterchildren(*_SCHEMA_REFERENCES):
            kind = _SCHEMA_REFERENCES[str(child.tag)]
            found.append(_reference(kind, document.url, child, "schemaLocation"))
    return found


def _reference(kind: str, source: str, element: etree._Element, attribute: str) -> Reference:
    location = element.get(attribute)
    target = None
    if location is not None and location.strip():
        target = urllib.parse.urldefrag(urllib.parse.urljoin(source, location.strip()))[0]
    return Reference(
        kind=kind,
        source=source,
        element=element,
        namespace=element.get("namespace"),
        location=location,
        target=target,
    )


def _parse(url: str, raw: bytes) -> etree._Element:
    return etree.fromstring(raw, safe_parser(), base_url=url)


def load(url: str, *, fetch: Fetch | None = None) -> DocumentSet:
    """Load the WSDL at ``url`` and, transitively, every document it imports.

    ``url`` is an http(s) or ``file:`` URL, or a local path. ``fetch`` replaces the
    default :func:`fetch_url` (tests pass an in-memory one; it receives absolute URLs).
    Never raises for a bad document: problems are collected in the result.
    """
    fetch = fetch or fetch_url
    root_url = normalize_url(url)
    documents: dict[str, Document] = {}
    references: list[Reference] = []
    problems: list[LoadProblem] = []
    attempted: set[str] = set()
    # Each entry: the URL to load, and the statement that asked for it (None: the root).
    queue: list[tuple[str, Reference | None]] = [(root_url, None)]
    while queue:
        target, asked_by = queue.pop(0)
        if target in attempted:
            continue
        attempted.add(target)
        where, line, via = root_url, None, ""
        if asked_by is not None:
            where, line = asked_by.source, source_line(asked_by.element)
            via = f" (the {asked_by.kind} of {asked_by.location!r})"
        if len(attempted) > MAX_DOCUMENTS:
            problems.append(
                LoadProblem(where, line, f"more than {MAX_DOCUMENTS} documents; {target} skipped")
            )
            continue
        try:
            raw = fetch(target)
        except Exception as exc:  # any failure of any fetch is a finding, not a crash
            problems.append(LoadProblem(where, line, f"cannot fetch {target}{via}: {exc}"))
            continue
        try:
            root = _parse(target, raw)
        except etree.XMLSyntaxError as exc:
            problems.append(LoadProblem(target, exc.lineno, f"not well-formed XML: {exc.msg}"))
            continue
        document = Document(url=target, raw=raw, root=root)
        documents[target] = document
        for reference in _references(document):
            references.append(reference)
            if reference.target is not None:
                queue.append((reference.target, reference))
    return DocumentSet(
        root_url=root_url,
        documents=documents,
        references=tuple(references),
        problems=tuple(problems),
    )
