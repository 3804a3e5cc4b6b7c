"""Parsing and validation of job-description documents.

Every JDL document arrives from an untrusted client: it is parsed with
:func:`wsrf_uws.wire.parsing.parse_xml` (no entities, no DTD, no network, no DOCTYPE)
and checked against its contract's schema; every problem becomes an
:class:`InvalidJobDescriptionError` that names the line.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from lxml import etree

from ..wire.parsing import XmlDocumentError, parse_xml, safe_parser
from .errors import InvalidJobDescriptionError


def parse_document(document: bytes) -> etree._Element:
    """Parse a job-description ``document`` safely and return its root element.

    Raises :class:`InvalidJobDescriptionError` with the line and column of a syntax
    error, or when the document is empty or declares a DOCTYPE.
    """
    try:
        return parse_xml(document)
    except XmlDocumentError as exc:
        raise InvalidJobDescriptionError(exc.reason, line=exc.line, column=exc.column) from None


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
