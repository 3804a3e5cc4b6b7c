"""The BINARY2 serialization: rows as null flags and big-endian values, then base64."""

from __future__ import annotations

import binascii
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .votable_plans import NUMERIC_TYPES, TEXT_TYPES, ColumnPlan
from .votable_values import (
    cast_column,
    encoded_arrays,
    encoded_text,
    null_mask,
    numbers_of,
    padded,
    plain_column,
    valid_rows,
)


class Binary2Encoder:
    """Encodes chunks of rows as BINARY2 row streams (before base64).

    Each row is its null-flag bytes (one bit per column, most significant first) followed
    by each column's value: fixed-width values big-endian, variable-length ones as a 4-byte
    big-endian element count and the elements. Runs of fixed-width columns are built as
    one numpy structured array; when variable-length columns exist the runs and columns
    are interleaved row by row with Arrow's element-wise binary join.
    """

    def __init__(self, plans: list[ColumnPlan]) -> None:
        self.plans = plans
        self.flag_bytes = (len(plans) + 7) // 8

    def encode(self, batch: pa.RecordBatch) -> Any:
        rows = batch.num_rows
        flags = np.zeros((rows, self.flag_bytes), dtype=np.uint8)
        # Segments in row order: a run of fixed-width fields, or one variable-length column.
        segments: list[list[tuple[np.dtype[Any], npt.NDArray[Any]]] | pa.Array] = [
            [(np.dtype((np.uint8, (self.flag_bytes,))), flags)]
        ]
        for plan, column in zip(self.plans, batch.columns, strict=True):
            column = plain_column(column)
            mask = null_mask(column)
            if mask is not None:
                flags[:, plan.index // 8] |= mask.view(np.uint8) * np.uint8(0x80 >> plan.index % 8)
            if plan.shape == "variable":
                segments.append(self._variable(column, plan))
            else:
                if not isinstance(segments[-1], list):
                    segments.append([])
                segments[-1].append(self._fixed(column, plan, mask))
        if len(segments) == 1:
            return self._records(segments[0], rows).view(np.uint8)
        parts = [
            _fixed_binary(self._records(s, rows)) if isinstance(s, list) else s for s in segments
        ]
        joined = pc.binary_join_element_wise(*parts, _NO_BYTES)
        offsets = np.frombuffer(
            joined.buffers()[1], dtype=np.int64, count=rows + 1, offset=joined.offset * 8
        )
        return memoryview(joined.buffers()[2])[int(offsets[0]) : int(offsets[-1])]

    @staticmethod
    def _records(
        fields: list[tuple[np.dtype[Any], npt.NDArray[Any]]], rows: int
    ) -> npt.NDArray[Any]:
        dtype = np.dtype([(f"f{i}", kind) for i, (kind, _) in enumerate(fields)])
        records = np.empty(rows, dtype=dtype)
        for i, (_, values) in enumerate(fields):
            records[f"f{i}"] = values
        return records

    def _fixed(
        self, column: pa.Array, plan: ColumnPlan, mask: npt.NDArray[np.bool_] | None
    ) -> tuple[np.dtype[Any], npt.NDArray[Any]]:
        """The numpy field type and values of a fixed-width column."""
        if plan.datatype == "boolean":
            truth = (
                cast_column(column, pa.bool_(), plan)
                .fill_null(False)
                .to_numpy(zero_copy_only=False)
            )
            values = np.where(truth, np.uint8(ord("T")), np.uint8(ord("F")))
            if mask is not None:
                values[mask] = ord("?")
            return np.dtype(np.uint8), values
        if plan.datatype in TEXT_TYPES:
            text = encoded_text(column, plan)
            size = plan.size or 1
            return np.dtype((text.data.dtype, (size,))), padded(text.data, text.offsets, size, 0)
        target, big_endian = NUMERIC_TYPES[plan.datatype]
        if plan.shape == "fixed":
            array = encoded_arrays(column, plan)
            size = plan.size or 1
            fill = np.nan if pa.types.is_floating(target) else 0
            values = np.full((len(column), size), fill, dtype=array.values.dtype)
            values[valid_rows(column)] = array.values.reshape(-1, size)
            return np.dtype((big_endian, (size,))), values
        numbers = numbers_of(column, plan, target)
        if numbers.null_count:
            numbers = numbers.fill_null(float("nan") if pa.types.is_floating(target) else 0)
        return np.dtype(big_endian), numbers.to_numpy(zero_copy_only=False)

    def _variable(self, column: pa.Array, plan: ColumnPlan) -> pa.Array:
        """Per row: the 4-byte element count, then the elements, as a large_binary array."""
        if plan.datatype in TEXT_TYPES:
            text = encoded_text(column, plan)
            counts, data, item = text.counts, text.data, text.data.dtype.itemsize
        else:
            array = encoded_arrays(column, plan)
            _, big_endian = NUMERIC_TYPES[plan.datatype]
            counts, data, item = (
                array.counts,
                array.values.astype(big_endian),
                np.dtype(big_endian).itemsize,
            )
        byte_offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts * item, out=byte_offsets[1:])
        elements = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(),
            len(counts),
            [
                None,
                pa.py_buffer(byte_offsets),
                pa.py_buffer(np.ascontiguousarray(data).view(np.uint8)),
            ],
        )
        prefix = _fixed_binary(counts.astype(">u4"))
        return pc.binary_join_element_wise(prefix, elements, _NO_BYTES)


#: The separator of the element-wise joins (typed: the kernels do not mix widths).
_NO_BYTES = pa.scalar(b"", pa.large_binary())


def _fixed_binary(values: npt.NDArray[Any]) -> pa.Array:
    """Each element of ``values`` (its bytes) as one value of a large_binary array."""
    width = values.dtype.itemsize
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(np.ascontiguousarray(values))]
    )
    return fixed.cast(pa.large_binary())


class Base64Lines:
    """Base64 of a byte stream fed in pieces, in lines of 76 characters.

    Only whole 57-byte groups are encoded as they come; the rest waits for the next piece,
    so the stream has no padding in the middle.
    """

    GROUP = 57

    def __init__(self) -> None:
        self._carry = b""

    def encode(self, data: Any) -> list[Any]:
        view = memoryview(data).cast("B")
        parts: list[Any] = []
        if self._carry:
            head = self._carry + bytes(view[: self.GROUP - len(self._carry)])
            view = view[self.GROUP - len(self._carry) :]
            if len(head) < self.GROUP:
                self._carry = head
                return parts
            parts.append(binascii.b2a_base64(head))
        whole = len(view) - len(view) % self.GROUP
        if whole:
            parts.append(self._lines(view[:whole]))
        self._carry = bytes(view[whole:])
        return parts

    def finish(self) -> bytes:
        carry, self._carry = self._carry, b""
        return binascii.b2a_base64(carry) if carry else b""

    @staticmethod
    def _lines(view: memoryview) -> npt.NDArray[np.uint8]:
        encoded = np.frombuffer(binascii.b2a_base64(view, newline=False), dtype=np.uint8)
        lines = np.empty((encoded.size // 76, 77), dtype=np.uint8)
        lines[:, :76] = encoded.reshape(-1, 76)
        lines[:, 76] = ord("\n")
        return lines
