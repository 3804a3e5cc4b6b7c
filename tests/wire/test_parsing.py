"""Safe parsing of XML from somebody else (wsrf_uws.wire.parsing and wire.elements)."""

from __future__ import annotations

import pytest
from lxml import etree

from wsrf_uws.wire.elements import is_nil, local_name, source_line
from wsrf_uws.wire.parsing import XmlDocumentError, parse_xml

DOCTYPE_REFUSED = "a DOCTYPE declaration is not allowed"


def test_a_document_is_parsed_and_its_elements_know_their_lines() -> None:
    root = parse_xml(b'<a xmlns="urn:x">\n  <b/>\n</a>')
    assert local_name(root) == "{urn:x}a"
    assert source_line(root[0]) == 2
    assert source_line(etree.Element("built")) is None


@pytest.mark.parametrize(
    ("document", "reason", "line"),
    [
        (b"   ", "the document is empty", None),
        (b"<a>\n<b>\n</a>", "Opening and ending tag mismatch", 3),
        (b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', DOCTYPE_REFUSED, 1),
        (b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>', DOCTYPE_REFUSED, 1),
    ],
)
def test_malformed_or_doctype_documents_are_refused_with_their_line(
    document: bytes, reason: str, line: int | None
) -> None:
    with pytest.raises(XmlDocumentError) as info:
        parse_xml(document)
    assert reason in info.value.reason
    assert info.value.line == line


def test_an_undeclared_entity_is_an_error_not_a_lookup() -> None:
    # Without a DOCTYPE an entity cannot even be declared; an undeclared one is an error,
    # never a lookup.
    with pytest.raises(XmlDocumentError):
        parse_xml(b"<a>&secret;</a>")


@pytest.mark.parametrize(("value", "nil"), [("true", True), (" 1 ", True), ("false", False)])
def test_nil_is_read_from_xsi_nil(value: str, nil: bool) -> None:
    element = parse_xml(
        f'<t xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="{value}"/>'.encode()
    )
    assert is_nil(element) is nil
    assert is_nil(parse_xml(b"<t/>")) is False
