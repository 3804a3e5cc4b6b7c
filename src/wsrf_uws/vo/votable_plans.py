"""How each column of a VOTable is written: its datatype and shape, from its ColumnInfo.

A :class:`ColumnPlan` is made once per column, before anything is written, so that metadata
problems (an unsupported datatype or arraysize) are found first; a :class:`CellError` is a
value of one row that its plan cannot write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from .columns import ColumnInfo

#: VOTable numeric datatype -> (Arrow type to cast to, big-endian numpy type).
NUMERIC_TYPES: dict[str, tuple[pa.DataType, str]] = {
    "unsignedByte": (pa.uint8(), ">u1"),
    "short": (pa.int16(), ">i2"),
    "int": (pa.int32(), ">i4"),
    "long": (pa.int64(), ">i8"),
    "float": (pa.float32(), ">f4"),
    "double": (pa.float64(), ">f8"),
}
TEXT_TYPES = ("char", "unicodeChar")
_SUPPORTED = ("boolean", *NUMERIC_TYPES, *TEXT_TYPES)
_ARRAYSIZE = re.compile(r"(?P<size>[1-9][0-9]*)?(?P<variable>\*)?")

_Shape = Literal["scalar", "fixed", "variable"]


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is encoded: its datatype and shape from the ColumnInfo."""

    index: int
    info: ColumnInfo
    shape: _Shape
    size: int | None
    """Fixed: the length; variable: the bound, or None."""

    @property
    def datatype(self) -> str:
        return self.info.datatype

    def where(self) -> str:
        return f"column {self.index} ({self.info.name!r}, {self.datatype})"


def plan_column(index: int, info: ColumnInfo) -> ColumnPlan:
    """The plan of column ``index``; a ValueError naming it when it cannot be written."""
    where = f"column {index} ({info.name!r})"
    if info.datatype not in _SUPPORTED:
        raise ValueError(
            f"{where}: datatype {info.datatype!r} is not supported; use one of "
            f"{', '.join(_SUPPORTED)}"
        )
    arraysize = info.arraysize
    if arraysize is None or (arraysize == "1" and info.datatype not in TEXT_TYPES):
        shape: _Shape = "fixed" if info.datatype in TEXT_TYPES else "scalar"
        return ColumnPlan(index, info, shape, 1 if shape == "fixed" else None)
    match = _ARRAYSIZE.fullmatch(arraysize)
    if match is None or not arraysize:
        raise ValueError(
            f'{where}: arraysize {arraysize!r} is not supported; use "N", "N*" or "*" '
            "(one dimension, N >= 1)"
        )
    if info.datatype == "boolean":
        raise ValueError(f"{where}: arrays of boolean are not supported")
    size = int(match["size"]) if match["size"] else None
    if match["variable"]:
        return ColumnPlan(index, info, "variable", size)
    return ColumnPlan(index, info, "fixed", size)


class CellError(ValueError):
    """A value that cannot be written; its row is counted from the start of its chunk."""

    def __init__(self, plan: ColumnPlan, row: int, problem: str) -> None:
        super().__init__(f"{plan.where()}: row {row} (of its chunk) {problem}")
        self.plan, self.row, self.problem = plan, row, problem

    def located(self, first_row: int) -> ValueError:
        """The same error, the row counted from the start of the table."""
        return ValueError(f"{self.plan.where()}: row {first_row + self.row} {self.problem}")
