"""What a client is told about one column: the VOTable FIELD attributes.

Shared by the VOTable writer (:mod:`.votable`) and the contracts that describe tables: the
adql catalogue metadata and query translation, the image contract's ObsCore table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnInfo:
    """One column's VOTable description.

    ``datatype`` is a VOTable datatype (``boolean``, ``unsignedByte``, ``short``,
    ``int``, ``long``, ``float``, ``double``, ``char``, ``unicodeChar``); ``arraysize``
    is given for character strings (``"*"``, or ``"12"``, ``"12*"``).
    """

    name: str
    datatype: str
    arraysize: str | None = None
    unit: str | None = None
    ucd: str | None = None
    description: str | None = None
    utype: str | None = None
    xtype: str | None = None
