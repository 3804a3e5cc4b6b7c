"""The output columns of an ADQL query: each gets a unique name (its alias, the column it
is, its function's name, else ``expr``), and what is known of its metadata: a catalogue
column's own, or the static result type of a geometry or aggregate function.
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from ...vo.columns import ColumnInfo
from .allow_list import FUNCTIONS
from .name_scopes import Output


def output_info(output: Output) -> ColumnInfo:
    """The description of an output column: its metadata (if traced) under its name."""
    if output.info is None:
        return ColumnInfo(name=output.name, datatype="")
    return replace(output.info, name=output.name)


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``...: the first not in ``used`` (any case); added
    to it."""
    candidate, number = name, 1
    while candidate.lower() in used:
        number += 1
        candidate = f"{name}_{number}"
    used.add(candidate.lower())
    return candidate


def default_name(value: exp.Expr) -> str:
    """The name of an output column nothing names: its function's, else ``expr``."""
    while isinstance(value, exp.Paren):
        value = value.this
    if isinstance(value, exp.Anonymous):
        return value.name.lower()
    if isinstance(value, exp.Func):
        known = FUNCTIONS.get(type(value))
        return (known[0] if known else value.sql_name()).lower()
    return "expr"


#: What the result of a geometry or aggregate function is, where it is known statically.
COMPUTED: dict[str, dict[str, str]] = {
    "DISTANCE": {"datatype": "double", "unit": "deg", "ucd": "pos.angDistance"},
    "COORD1": {"datatype": "double", "unit": "deg", "ucd": "pos.eq.ra"},
    "COORD2": {"datatype": "double", "unit": "deg", "ucd": "pos.eq.dec"},
    "AREA": {"datatype": "double", "unit": "deg**2", "ucd": "phys.angArea"},
    "POINT": {"datatype": "double", "arraysize": "2", "unit": "deg", "xtype": "point"},
    "CIRCLE": {"datatype": "double", "arraysize": "3", "unit": "deg", "xtype": "circle"},
    "POLYGON": {"datatype": "double", "arraysize": "*", "unit": "deg", "xtype": "polygon"},
    "BOX": {"datatype": "double", "arraysize": "*", "unit": "deg", "xtype": "polygon"},
    "CENTROID": {"datatype": "double", "arraysize": "2", "unit": "deg", "xtype": "point"},
    "CONTAINS": {"datatype": "int"},
    "INTERSECTS": {"datatype": "int"},
    "COUNT": {"datatype": "long", "ucd": "meta.number"},
}


def computed_info(value: exp.Expr) -> ColumnInfo | None:
    """Static metadata of a computed select item; the datatype may be left to DuckDB ("")."""
    while isinstance(value, exp.Paren):
        value = value.this
    if isinstance(value, exp.Anonymous) and value.name.upper() in ("IN_UNIT", "REGION"):
        return _computed_call(value)
    if isinstance(value, exp.Anonymous):
        known = COMPUTED.get(value.name.upper())
    elif isinstance(value, exp.Contains | exp.Count):
        known = COMPUTED.get(value.key.upper())
    elif isinstance(value, exp.Min | exp.Max | exp.Avg) and isinstance(value.this, exp.Column):
        info = value.this.meta.get("adql_info")
        if info is None:
            return None
        return ColumnInfo(name="", datatype="", unit=info.unit)
    else:
        known = None
    if known is None:
        return None
    return ColumnInfo(name="", **known)


def _computed_call(value: exp.Anonymous) -> ColumnInfo | None:
    """IN_UNIT's result has the unit asked for (and the column's UCD); REGION's the
    xtype of its shape."""
    arguments = value.expressions
    text = arguments[-1] if arguments else None
    if not (isinstance(text, exp.Literal) and text.is_string):
        return None
    if value.name.upper() == "IN_UNIT":
        inner = arguments[0].meta.get("adql_info") if arguments else None
        return ColumnInfo(name="", datatype="", unit=text.name, ucd=getattr(inner, "ucd", None))
    shape = (text.name.split() or [""])[0].upper()
    kind = {"POSITION": "POINT", "CIRCLE": "CIRCLE", "BOX": "BOX", "POLYGON": "POLYGON"}
    known = COMPUTED.get(kind.get(shape, ""))
    return ColumnInfo(name="", **known) if known else None
