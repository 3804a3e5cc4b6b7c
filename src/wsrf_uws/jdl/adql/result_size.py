"""How large a result a query may leave in its job's folder.

Rows are bounded by MAXREC, but not their width: a short query can select a long string
literal, or one column many times, on every row (a 30 kB query once wrote 2 GB before
its worker ran out of address space). The cached cursor and the VOTable written from it
are therefore each bounded in bytes; the run stops with :class:`ResultTooLarge` as soon
as either would grow beyond the bound, and what was written is removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ...vo.votable import ByteSink

__all__ = ["BoundedSink", "ResultTooLarge", "bounded_batches"]


class ResultTooLarge(Exception):
    """The result would take more bytes than the service keeps for one query."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the result is larger than the {max_bytes} bytes kept for a query")
        self.max_bytes = max_bytes


def bounded_batches(reader: pa.RecordBatchReader, *, max_bytes: int) -> pa.RecordBatchReader:
    """``reader``'s batches, raising :class:`ResultTooLarge` before passing on the batch
    that takes their total (Arrow's in-memory size, about the cursor file's) beyond
    ``max_bytes``."""

    def batches() -> Iterator[pa.RecordBatch]:
        total = 0
        for batch in reader:
            total += batch.nbytes
            if total > max_bytes:
                raise ResultTooLarge(max_bytes)
            yield batch

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


class BoundedSink:
    """A :class:`~.votable.ByteSink` that passes at most ``max_bytes`` on to ``out``,
    raising :class:`ResultTooLarge` (and writing nothing of it) for a write beyond."""

    def __init__(self, out: ByteSink, *, max_bytes: int) -> None:
        self._out = out
        self._max_bytes = max_bytes
        self.written = 0

    def write(self, data: Any, /) -> Any:
        """Write ``data``, unless it would take the total beyond the bound."""
        size = memoryview(data).nbytes
        if self.written + size > self._max_bytes:
            raise ResultTooLarge(self._max_bytes)
        self.written += size
        return self._out.write(data)
