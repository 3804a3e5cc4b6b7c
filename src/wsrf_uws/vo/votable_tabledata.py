"""The TABLEDATA serialization: rows as TR/TD elements of XML-escaped text."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .votable_plans import NUMERIC_TYPES, TEXT_TYPES, CellError, ColumnPlan
from .votable_values import cast_column, checked_text, encoded_arrays, numbers_of, plain_column

_XML_INVALID_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"


def _large(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def tabledata_rows(plans: list[ColumnPlan], batch: pa.RecordBatch) -> Any:
    """The rows of ``batch`` as TR/TD elements."""
    cells = [
        _cells(plan, plain_column(column))
        for plan, column in zip(plans, batch.columns, strict=True)
    ]
    parts: list[Any] = [_large("<TR><TD>")]
    for i, column in enumerate(cells):
        parts += [column, _large("</TD><TD>" if i < len(cells) - 1 else "</TD></TR>\n")]
    joined = pc.binary_join_element_wise(*parts, _large(""))
    offsets = np.frombuffer(
        joined.buffers()[1], dtype=np.int64, count=len(joined) + 1, offset=joined.offset * 8
    )
    return (
        memoryview(joined.buffers()[2])[int(offsets[0]) : int(offsets[-1])] if len(joined) else b""
    )


def _cells(plan: ColumnPlan, column: pa.Array) -> pa.Array:
    """The text of each cell of a column (large_string, empty for a null)."""
    if plan.datatype == "boolean":
        cells = pc.if_else(cast_column(column, pa.bool_(), plan), "T", "F")
    elif plan.datatype in TEXT_TYPES:
        cells = _escaped(checked_text(column, plan)[0], plan)
    elif plan.shape == "scalar":
        cells = _number_text(numbers_of(column, plan, NUMERIC_TYPES[plan.datatype][0]))
    else:
        array = encoded_arrays(column, plan)
        offsets = np.zeros(len(array.counts) + 1, dtype=np.int32)
        np.cumsum(array.counts, out=offsets[1:])
        values = _number_text(pa.array(array.values))
        cells = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), _large(" "))
    # Nulls stayed null through the conversions (null lists became empty ones).
    cells = cast_column(cells, pa.large_string(), plan)
    return cells.fill_null("") if cells.null_count else cells


def _number_text(numbers: pa.Array) -> pa.Array:
    text = pc.cast(numbers, pa.large_string())
    if not pa.types.is_floating(numbers.type):
        return text
    # Arrow writes nan and inf; VOTable spells them NaN, +Inf and -Inf.
    text = pc.if_else(pc.is_nan(numbers), "NaN", text)
    infinite = pc.is_inf(numbers)
    if pc.any(infinite).as_py():
        text = pc.if_else(infinite, pc.if_else(pc.greater(numbers, 0), "+Inf", "-Inf"), text)
    return text


def _escaped(text: pa.Array, plan: ColumnPlan) -> pa.Array:
    invalid = pc.match_substring_regex(text, _XML_INVALID_PATTERN)
    if pc.any(invalid).as_py():
        row = pc.index(invalid, True).as_py()
        raise CellError(
            plan, row, "holds a control character XML 1.0 cannot carry; write it as BINARY2"
        )
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):
        text = pc.replace_substring(text, raw, escaped)
    return text
