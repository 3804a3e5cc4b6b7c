"""Safe parsing of XML that arrives from somebody else.

Documents are parsed with entity resolution, network access and DTD loading switched off,
and a document that carries a DOCTYPE at all is refused: nothing this service or its
clients exchange needs one.
"""

from __future__ import annotations

from lxml import etree


class XmlDocumentError(ValueError):
    """A document that is not well-formed, or that declares a DOCTYPE.

    ``line`` and ``column`` locate the problem in the text as received, when known.
    """

    def __init__(self, reason: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


def safe_parser() -> etree.XMLParser:
    """A parser that resolves no entities, loads no DTD and reaches no network."""
    # A parser per call: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def parse_xml(document: bytes) -> etree._Element:
    """Parse ``document`` with :func:`safe_parser` and return its root element.

    Raises :class:`XmlDocumentError` when the document is empty, not well-formed (with the
    line and column of the syntax error) or declares a DOCTYPE.
    """
    if not document.strip():
        raise XmlDocumentError("the document is empty")
    try:
        root = etree.fromstring(document, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlDocumentError(str(exc.msg), line=exc.lineno, column=exc.offset) from None
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise XmlDocumentError("a DOCTYPE declaration is not allowed", line=1)
    return root
