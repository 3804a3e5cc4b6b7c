"""From Arrow columns to the values of their declared VOTable type, checked.

Shared by both serializations: casting (a value that does not fit is a ValueError naming the
column), times as MJD or ISO 8601 text, text checked against ``char`` (ASCII) or
``unicodeChar`` (UTF-16) and its arraysize, and numeric arrays (Arrow lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .votable_plans import NUMERIC_TYPES, CellError, ColumnPlan

#: MJD of the Unix epoch, 1970-01-01T00:00:00.
_MJD_UNIX_EPOCH = 40587.0
_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def plain_column(column: pa.Array) -> pa.Array:
    """One contiguous array of plain values (chunks combined, dictionaries decoded)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column


def null_mask(column: pa.Array) -> npt.NDArray[np.bool_] | None:
    """Which rows are null, or None when none is."""
    if column.null_count == 0:
        return None
    mask: npt.NDArray[np.bool_] = column.is_null().to_numpy(zero_copy_only=False)
    return mask


def cast_column(column: pa.Array, target: pa.DataType, plan: ColumnPlan) -> pa.Array:
    """The column as ``target`` values; a value that does not fit is a ValueError."""
    if column.type == target:
        return column
    try:
        return pc.cast(column, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise ValueError(
            f"{plan.where()}: cannot write Arrow {column.type} values as {plan.datatype}: {error}"
        ) from error


def _is_time(kind: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(kind) or pa.types.is_date(kind))


def _mjd(column: pa.Array) -> pa.Array:
    """Modified Julian Dates (float64) of timestamps or dates."""
    if pa.types.is_date(column.type):
        days = pc.cast(column, pa.date32()).cast(pa.int32())
        return pc.add(pc.cast(days, pa.float64()), _MJD_UNIX_EPOCH)
    ticks = pc.cast(column.cast(pa.timestamp(column.type.unit)), pa.int64())
    per_day = _PER_DAY[column.type.unit]
    # Whole days and the remainder apart, so that sub-second digits survive in the float.
    whole = pc.divide(ticks, per_day)
    part = pc.subtract(ticks, pc.multiply(whole, per_day))
    fraction = pc.divide(pc.cast(part, pa.float64()), float(per_day))
    return pc.add(pc.add(pc.cast(whole, pa.float64()), _MJD_UNIX_EPOCH), fraction)


def numbers_of(column: pa.Array, plan: ColumnPlan, target: pa.DataType) -> pa.Array:
    """The column as Arrow values of ``target`` (nulls kept)."""
    if _is_time(column.type):
        if not pa.types.is_floating(target):
            raise ValueError(
                f"{plan.where()}: timestamps are written as double (MJD) or char (ISO 8601)"
            )
        column = _mjd(column)
    return cast_column(column, target, plan)


def _iso(column: pa.Array) -> pa.Array:
    """ISO 8601 text of timestamps (UTC for zoned ones, with Z) or dates."""
    kind = column.type
    if pa.types.is_date(kind):
        return pc.strftime(pc.cast(column, pa.timestamp("s")), "%Y-%m-%d")
    zone = "Z" if kind.tz is not None else ""
    naive = column.cast(pa.timestamp(kind.unit))
    return pc.strftime(naive, f"%Y-%m-%dT%H:%M:%S{zone}")


def _strings(column: pa.Array, plan: ColumnPlan) -> pa.Array:
    """The column as a ``large_string`` array with nulls replaced by empty strings."""
    if _is_time(column.type):
        column = _iso(column)
    column = cast_column(column, pa.large_string(), plan)
    if column.null_count:
        column = column.fill_null("")
    return column


def _string_parts(column: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Offsets (from 0, one per row plus one) and UTF-8 bytes of a null-free large_string."""
    buffers = column.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=np.int64, count=len(column) + 1, offset=column.offset * 8
    )
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.empty(0, np.uint8)
    )
    start = int(offsets[0])
    return offsets - start, data[start : int(offsets[-1])]


def _check_ascii(
    data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], plan: ColumnPlan
) -> None:
    if data.size and int(data.max()) >= 0x80:
        first = int(np.argmax(data >= 0x80))
        row = int(np.searchsorted(offsets, first, side="right")) - 1
        raise CellError(
            plan,
            row,
            "holds non-ASCII text; VOTable char is ASCII only: declare the column unicodeChar",
        )


def _utf16_units(
    data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Offsets in UTF-16 code units matching UTF-8 byte ``offsets``.

    Each UTF-8 lead byte starts one unit, a four-byte sequence (beyond U+FFFF) two; the
    continuation bytes (10xxxxxx) none.
    """
    units = (data & 0xC0 != 0x80).astype(np.int64) + (data >= 0xF0)
    cumulative = np.zeros(data.size + 1, dtype=np.int64)
    np.cumsum(units, out=cumulative[1:])
    result: npt.NDArray[np.int64] = cumulative[offsets]
    return result


def _check_length(lengths: npt.NDArray[np.int64], plan: ColumnPlan, unit: str) -> None:
    if plan.size is None or not lengths.size:
        return
    longest = int(lengths.max())
    if longest > plan.size:
        row = int(np.argmax(lengths))
        raise CellError(
            plan, row, f"holds {longest} {unit}, more than arraysize {plan.info.arraysize!r} allows"
        )


@dataclass
class EncodedText:
    """Encoded text of a column: per-row element counts and the element bytes."""

    counts: npt.NDArray[np.int64]
    data: npt.NDArray[Any]
    """uint8 (char) or big-endian uint16 (unicodeChar)."""
    offsets: npt.NDArray[np.int64]
    """Element offsets (from 0), one per row plus one."""


def checked_text(
    column: pa.Array, plan: ColumnPlan
) -> tuple[pa.Array, npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The column as null-free ``large_string`` text, checked against its datatype and
    arraysize: the text, its byte offsets and UTF-8 bytes, and its offsets in characters
    (UTF-16 code units for unicodeChar)."""
    text = _strings(column, plan)
    offsets, data = _string_parts(text)
    if plan.datatype == "char":
        _check_ascii(data, offsets, plan)
        _check_length(np.diff(offsets), plan, "characters")
        return text, offsets, data, offsets
    units = _utf16_units(data, offsets)
    _check_length(np.diff(units), plan, "UTF-16 code units")
    return text, offsets, data, units


def encoded_text(column: pa.Array, plan: ColumnPlan) -> EncodedText:
    """The column's text, checked, as ASCII bytes (char) or UTF-16BE units (unicodeChar)."""
    _, _, data, elements = checked_text(column, plan)
    if plan.datatype == "char":
        return EncodedText(np.diff(elements), data, elements)
    encoded = data.tobytes().decode("utf-8").encode("utf-16-be")
    return EncodedText(np.diff(elements), np.frombuffer(encoded, dtype=">u2"), elements)


@dataclass
class EncodedArrays:
    """A column of numeric arrays: per-row element counts and the elements."""

    counts: npt.NDArray[np.int64]
    values: npt.NDArray[Any]
    """Native-endian, of the declared type; null lists contribute nothing."""


def encoded_arrays(column: pa.Array, plan: ColumnPlan) -> EncodedArrays:
    """The column's numeric arrays (Arrow lists), checked against the arraysize."""
    kind = column.type
    if not (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    ):
        raise ValueError(
            f"{plan.where()}: arraysize {plan.info.arraysize!r} needs Arrow list values, not {kind}"
        )
    target, _ = NUMERIC_TYPES[plan.datatype]
    counts = pc.list_value_length(column).fill_null(0).to_numpy(zero_copy_only=False)
    counts = counts.astype(np.int64)
    values = numbers_of(pc.list_flatten(column), plan, target)
    if values.null_count:
        if not pa.types.is_floating(target):
            raise ValueError(
                f"{plan.where()}: an array holds a null element; integer arrays cannot "
                "hold nulls (only whole cells can be null)"
            )
        values = values.fill_null(float("nan"))
    if plan.shape == "fixed":
        present = counts[valid_rows(column)]
        if present.size and (present != plan.size).any():
            row = int(np.argmax((counts != plan.size) & valid_rows(column)))
            raise CellError(
                plan,
                row,
                f"holds {int(counts[row])} elements; arraysize {plan.info.arraysize!r} needs "
                f"exactly {plan.size}",
            )
    else:
        _check_length(counts, plan, "elements")
    return EncodedArrays(counts, values.to_numpy(zero_copy_only=False))


def valid_rows(column: pa.Array) -> npt.NDArray[np.bool_]:
    """Which rows are not null."""
    mask = null_mask(column)
    return np.ones(len(column), dtype=bool) if mask is None else ~mask


def padded(
    data: npt.NDArray[Any], offsets: npt.NDArray[np.int64], width: int, fill: Any
) -> npt.NDArray[Any]:
    """Ragged rows (``data`` cut at ``offsets``) as an (n, width) array padded with ``fill``."""
    rows = len(offsets) - 1
    out = np.full((rows, width), fill, dtype=data.dtype)
    counts = np.diff(offsets)
    if data.size:
        starts = np.arange(rows, dtype=np.int64) * width - offsets[:-1]
        out.reshape(-1)[np.repeat(starts, counts) + np.arange(data.size)] = data
    return out
