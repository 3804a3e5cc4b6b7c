"""The catalogue's TAP_SCHEMA as a VOSI tables document, for clients to discover the tables.

``GET {public-url}/uws/adql/tables`` answers ``vosi:tableset`` (VOSI 1.1 §3.4, a
VODataService 1.1 ``TableSet``): every schema the catalogue describes, its tables and
their columns, with the datatype, unit, UCD, utype and description TAP_SCHEMA gives.
``?detail=min`` leaves the columns out; ``/tables/{schema.table}`` answers one
``vosi:table`` with its columns. The documents are public and built once, from the
description the catalogue carries (:mod:`.tap_schema`), by
:class:`~wsrf_uws.vo.cached_documents.CachedDocuments`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lxml import etree

from ...vo.cached_documents import CachedDocuments, Document, document_key
from ...vo.columns import ColumnInfo
from ...wire.namespaces import XSI, q
from .tap_schema import CatalogMetadata, TableInfo

VOSI_TABLES = "http://www.ivoa.net/xml/VOSITables/v1.0"
VODATASERVICE = "http://www.ivoa.net/xml/VODataService/v1.1"
MEDIA_TYPE = "text/xml; charset=utf-8"
#: Where the contract serves the documents.
ROUTE = "/uws/adql/tables"

_NSMAP = {"vosi": VOSI_TABLES, "vs": VODATASERVICE, "xsi": XSI}


def tableset(metadata: CatalogMetadata, *, columns: bool = True) -> etree._Element:
    """``vosi:tableset`` of every schema and table (``columns``: with their columns)."""
    root = etree.Element(q(VOSI_TABLES, "tableset"), nsmap=_NSMAP)
    by_schema: dict[str, list[TableInfo]] = {name: [] for name in metadata.schemas}
    for table in metadata.tables.values():
        by_schema.setdefault(table.schema_name, []).append(table)
    for schema_name, tables in by_schema.items():
        schema = etree.SubElement(root, "schema")
        etree.SubElement(schema, "name").text = schema_name
        _optional(schema, "description", metadata.schemas.get(schema_name))
        for table in tables:
            schema.append(table_element(table, columns=columns, tag="table"))
    return root


def table_element(
    table: TableInfo, *, columns: bool = True, tag: str | None = None
) -> etree._Element:
    """One table (``vosi:table``, or an unqualified ``tag`` inside a tableset)."""
    element = (
        etree.Element(q(VOSI_TABLES, "table"), nsmap=_NSMAP) if tag is None else etree.Element(tag)
    )
    element.set("type", "table")
    etree.SubElement(element, "name").text = table.name
    _optional(element, "description", table.description)
    _optional(element, "utype", table.utype)
    if columns:
        for column in table.columns:
            element.append(_column(column))
    return element


def _column(column: ColumnInfo) -> etree._Element:
    element = etree.Element("column")
    etree.SubElement(element, "name").text = column.name
    _optional(element, "description", column.description)
    _optional(element, "unit", column.unit)
    _optional(element, "ucd", column.ucd)
    _optional(element, "utype", column.utype)
    data_type = etree.SubElement(element, "dataType")
    data_type.set(q(XSI, "type"), "vs:VOTableType")
    if column.arraysize:
        data_type.set("arraysize", column.arraysize)
    if column.xtype:
        data_type.set("extendedType", column.xtype)
    data_type.text = column.datatype
    return element


def _optional(parent: etree._Element, tag: str, text: str | None) -> None:
    if text:
        etree.SubElement(parent, tag).text = text


def _serialize(root: etree._Element) -> Document:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Document(body, MEDIA_TYPE)


def documents(metadata: CatalogMetadata) -> Mapping[str, Document]:
    """Every document of the route, by :func:`~wsrf_uws.vo.cached_documents.document_key`."""
    full = _serialize(tableset(metadata))
    found = {
        document_key(""): full,
        document_key("", [("detail", "max")]): full,
        document_key("", [("detail", "min")]): _serialize(tableset(metadata, columns=False)),
    }
    for table in metadata.tables.values():
        found[document_key(table.name)] = _serialize(table_element(table))
    return found


def tables_route(metadata: Callable[[], CatalogMetadata]) -> CachedDocuments:
    """The WSGI application of :data:`ROUTE`; ``metadata()`` is asked at the first request
    (opening the catalogue, which the service may build on first use)."""
    return CachedDocuments(prefix=ROUTE, build=lambda: documents(metadata()))
