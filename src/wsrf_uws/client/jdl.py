"""The job description a caller hands to ``createJob``, made ready to travel.

A JDL arrives as bytes, text or an lxml element. It is parsed with the service's own
hardened parser (:func:`wsrf_uws.wire.parsing.safe_parser`: no DTD, no entities, no
network) into a copy the client may move into a request without touching
the caller's tree, and the line its root element started on is kept, so a fault's line
number in the request can be turned back into a line of the caller's document.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from lxml import etree

from ..wire.elements import source_line
from ..wire.parsing import safe_parser
from .errors import InvalidJobDescription

_DECLARATION = re.compile(r"<\?xml[^>]*\?>")

JdlSource = bytes | str | etree._Element | etree._ElementTree


@dataclass(frozen=True)
class Jdl:
    """A job description element and the line of its caller's document it starts on."""

    root: etree._Element
    first_line: int


def read_jdl(source: JdlSource) -> Jdl:
    """The job description in ``source``; raise InvalidJobDescription if it is not XML."""
    if isinstance(source, etree._ElementTree):
        source = source.getroot()
    if isinstance(source, etree._Element):
        root = copy.deepcopy(source)
        root.tail = None
        return Jdl(root=root, first_line=source_line(source) or 1)
    if isinstance(source, str):
        # Text is already decoded: whatever encoding its declaration names no longer applies.
        declaration = _DECLARATION.match(source)
        data = source[declaration.end() if declaration else 0 :].encode("utf-8")
    else:
        data = source
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as error:
        fault = InvalidJobDescription(
            f"the job description is not well-formed XML: {error.msg}",
            code="Client",
            error_code="not-well-formed",
        )
        fault.line = error.lineno
        raise fault from None
    return Jdl(root=root, first_line=source_line(root) or 1)
