"""The XML of a VOTable around its rows: the head (RESOURCE, INFOs, FIELDs) and the tail;
and the error document of a TAP service (:func:`error_votable`), which has no rows.

Text and attribute values are escaped here; characters XML 1.0 cannot carry are a
ValueError naming what held them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from .columns import ColumnInfo

Serialization = Literal["BINARY2", "TABLEDATA"]

#: VOTable 1.4 keeps the 1.3 namespace.
VOTABLE_NAMESPACE = "http://www.ivoa.net/xml/VOTable/v1.3"
VOTABLE_VERSION = "1.4"

INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
ESCAPE_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ESCAPE_ATTRIBUTE = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def _checked(value: str, what: str) -> str:
    bad = INVALID_XML.search(value)
    if bad:
        raise ValueError(
            f"{what} {value!r} holds U+{ord(bad.group()):04X}, which XML 1.0 cannot carry"
        )
    return value


def _text(value: str, what: str) -> str:
    return _checked(value, what).translate(ESCAPE_TEXT)


def _attribute(value: str, what: str) -> str:
    return _checked(value, what).translate(_ESCAPE_ATTRIBUTE)


def _field(info: ColumnInfo) -> str:
    where = f"column {info.name!r}"
    attributes = [("name", info.name), ("datatype", info.datatype)]
    attributes += [
        (name, value)
        for name, value in (
            ("arraysize", info.arraysize),
            ("unit", info.unit),
            ("ucd", info.ucd),
            ("utype", info.utype),
            ("xtype", info.xtype),
        )
        if value is not None
    ]
    text = " ".join(
        f'{name}="{_attribute(value, f"{where} {name}")}"' for name, value in attributes
    )
    if info.description is None:
        return f"<FIELD {text}/>"
    description = _text(info.description, f"{where} description")
    return f"<FIELD {text}><DESCRIPTION>{description}</DESCRIPTION></FIELD>"


def _info(name: str, value: str, content: str | None) -> str:
    attributes = f'name="{_attribute(name, "INFO name")}" value="{_attribute(value, "INFO value")}"'
    if content is None:
        return f"<INFO {attributes}/>"
    return f"<INFO {attributes}>{_text(content, f'INFO {name!r} content')}</INFO>"


def document_head(
    columns: list[ColumnInfo],
    *,
    serialization: Serialization,
    query_status: str,
    infos: Sequence[tuple[str, str, str | None]],
    description: str | None,
    resource_name: str | None,
) -> str:
    """The document up to the first row: VOTABLE, RESOURCE, INFOs, TABLE, FIELDs, DATA."""
    name = "" if resource_name is None else f' name="{_attribute(resource_name, "resource name")}"'
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<VOTABLE version="{VOTABLE_VERSION}" xmlns="{VOTABLE_NAMESPACE}">',
        f'<RESOURCE type="results"{name}>',
    ]
    if description is not None:
        lines.append(f"<DESCRIPTION>{_text(description, 'description')}</DESCRIPTION>")
    lines.append(_info("QUERY_STATUS", query_status, None))
    lines += [_info(*info) for info in infos]
    lines.append("<TABLE>")
    lines += [_field(info) for info in columns]
    if serialization == "BINARY2":
        lines.append('<DATA><BINARY2><STREAM encoding="base64">')
    else:
        lines.append("<DATA><TABLEDATA>")
    return "\n".join(lines) + "\n"


def document_tail(serialization: Serialization, *, overflow: bool) -> str:
    """The document after the last row, with the OVERFLOW INFO when truncated."""
    data = "</STREAM></BINARY2>" if serialization == "BINARY2" else "</TABLEDATA>"
    lines = [f"{data}</DATA>", "</TABLE>"]
    if overflow:
        lines.append(_info("QUERY_STATUS", "OVERFLOW", None))
    lines += ["</RESOURCE>", "</VOTABLE>"]
    return "\n".join(lines) + "\n"


def error_votable(message: str) -> bytes:
    """A TAP error document: a results RESOURCE whose QUERY_STATUS is ERROR, no table.

    pyvo raises ``DALQueryError`` with ``message`` on reading it.
    """
    # An error report must not fail: characters XML cannot carry become U+FFFD.
    text = INVALID_XML.sub("\ufffd", message).translate(ESCAPE_TEXT)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<VOTABLE version="{VOTABLE_VERSION}" '
        f'xmlns="{VOTABLE_NAMESPACE}">\n<RESOURCE type="results">\n'
        f'<INFO name="QUERY_STATUS" value="ERROR">{text}</INFO>\n'
        "</RESOURCE>\n</VOTABLE>\n"
    ).encode()
