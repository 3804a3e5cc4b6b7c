"""Reading parsed elements: their names, where they came from, whether they are nil."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .namespaces import XSI, q


def local_name(element: etree._Element) -> str:
    """``{namespace}name`` of an element, as a plain string."""
    return etree.QName(element).text


def source_line(element: etree._Element) -> int | None:
    """The line ``element`` starts on in the text it was parsed from (None if it was built)."""
    line: Any = element.sourceline  # lxml-stubs mistype it
    return line if isinstance(line, int) and line > 0 else None


def is_nil(element: etree._Element) -> bool:
    """Whether ``element`` carries ``xsi:nil="true"``."""
    return element.get(q(XSI, "nil"), "").strip() in ("true", "1")
