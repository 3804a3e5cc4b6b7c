"""``/tap/tables``: the VOSI tables of the catalogue, as TAP_SCHEMA describes them.

The documents are the contract's (:mod:`wsrf_uws.jdl.adql.vosi_tables`, also at
``/uws/adql/tables``) with what TAP clients compare against ``TAP_SCHEMA.columns``: the
``indexed`` flag (VODataService ``flag``) on each table's HEALPix index column, which
TAP_SCHEMA marks indexed, and a column named by an ADQL reserved word written delimited
(``"size"``), as in ``TAP_SCHEMA.columns`` and as a query must write it; and the foreign
keys ``TAP_SCHEMA.keys`` lists (TAP_SCHEMA's own: a catalogue's tables declare none).
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from ..jdl.adql.reserved_words import adql_name
from ..jdl.adql.tap_schema import SCHEMA, SELF_KEYS, CatalogMetadata, TableInfo, target_column
from ..jdl.adql.vosi_tables import MEDIA_TYPE, table_element, tableset
from ..vo.cached_documents import Document, document_key


def documents(metadata: CatalogMetadata) -> Mapping[str, Document]:
    """Every document of ``/tap/tables``, by :func:`document_key`."""
    full = _serialized(_flagged(tableset(metadata), metadata))
    found = {
        document_key(""): full,
        document_key("", [("detail", "max")]): full,
        document_key("", [("detail", "min")]): _serialized(tableset(metadata, columns=False)),
    }
    for table in metadata.tables.values():
        element = table_element(table)
        _flag_table(element, table)
        found[document_key(table.name)] = _serialized(element)
    return found


def _flagged(root: etree._Element, metadata: CatalogMetadata) -> etree._Element:
    for element in root.iter("table"):
        table = metadata.tables.get((element.findtext("name") or "").lower())
        if table is not None:
            _flag_table(element, table)
    return root


def _flag_table(element: etree._Element, table: TableInfo) -> None:
    for column in element.iter("column"):
        name = column.find("name")
        if name is None or name.text is None:
            continue
        if table.healpix_column is not None and name.text.lower() == table.healpix_column.lower():
            etree.SubElement(column, "flag").text = "indexed"
        name.text = adql_name(name.text)
    for _key_id, from_table, target_table, from_column in SELF_KEYS:
        if table.name.lower() == f"{SCHEMA}.{from_table}":
            key = etree.SubElement(element, "foreignKey")
            etree.SubElement(key, "targetTable").text = f"{SCHEMA}.{target_table}"
            pair = etree.SubElement(key, "fkColumn")
            etree.SubElement(pair, "fromColumn").text = from_column
            etree.SubElement(pair, "targetColumn").text = target_column(from_column)


def _serialized(root: etree._Element) -> Document:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Document(body, MEDIA_TYPE)
