"""Safe parsing and validation of job-description documents.

Every JDL document arrives from an untrusted client. It is parsed with entity
resolution, network access and DTD loading switched off, and a document that
carries a DOCTYPE at all is refused: nothing in a JDL needs one.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from lxml import etree

from .errors import InvalidJobDescriptionError


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


def parse_document(document: bytes) -> etree._Element:
    """Parse ``document`` and return its root element.

    Raises :class:`InvalidJobDescriptionError` with the line and column of a syntax
    error, or when the document declares a DOCTYPE.
    """
    if not document.strip():
        raise InvalidJobDescriptionError("the document is empty")
    try:
        root = etree.fromstring(document, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidJobDescriptionError(str(exc.msg), line=exc.lineno, column=exc.offset) from None
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise InvalidJobDescriptionError("a DOCTYPE declaration is not allowed", line=1)
    return root


def load_schema(path: Path) -> etree.XMLSchema:
    """Load an XSD from a local file; imports resolve relative to it and never over the network."""
    tree = etree.parse(str(path), safe_parser())
    return etree.XMLSchema(tree)


# An XMLSchema answers valid/invalid safely from several threads, but keeps one error log
# that every call clears and refills: read in parallel, one request's fault would quote
# another's document. Validation is short, so one lock for all schemas is enough.
_VALIDATION = threading.Lock()


def first_error(element: etree._Element, schema: etree.XMLSchema) -> Any | None:
    """The first error of ``element`` against ``schema`` (an lxml log entry), or None if valid."""
    with _VALIDATION:
        if schema.validate(element):
            return None
        log: Any = schema.error_log  # lxml-stubs do not declare the log iterable
        return next(iter(log), None) or _UNKNOWN_ERROR


class _UnknownError:
    message = "the document does not match the schema"
    line = None
    column = None


_UNKNOWN_ERROR = _UnknownError()


def validate(element: etree._Element, schema: etree.XMLSchema) -> None:
    """Validate ``element`` against ``schema``, raising the first error with its line."""
    error = first_error(element, schema)
    if error is not None:
        raise InvalidJobDescriptionError(
            str(error.message), line=error.line, column=error.column or None
        )


def source_line(element: etree._Element) -> int | None:
    """The line ``element`` starts on in the text it was parsed from (None if it was built)."""
    line: Any = element.sourceline  # lxml-stubs mistype it
    return line if isinstance(line, int) and line > 0 else None


def local_name(element: etree._Element) -> str:
    """``{namespace}name`` of an element, as a plain string."""
    return etree.QName(element).text
