"""HTTP byte ranges (RFC 9110 §14): which part of a file a ``Range`` header asks for.

Shared by the result downloads of the SOAP binding and the VOSpace endpoint. Only a
single ``bytes=`` range is honoured; anything else (several ranges, another unit, an
inverted range) is ignored, as RFC 9110 allows, and the whole file is sent.
"""

from __future__ import annotations

import re

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$", re.IGNORECASE)


class RangeNotSatisfiable(Exception):
    """The requested range lies outside the file."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``Range`` header, or None for the whole file.

    Raises :class:`RangeNotSatisfiable` when the range lies outside the file.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: RFC 9110 allows the whole file
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None  # "bytes=-" names no range: not a valid range, ignore it
    if not first_text:
        if not last_text or int(last_text) == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - int(last_text)), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # not a valid range (RFC 9110 §14.1.1): ignore it
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size:
        raise RangeNotSatisfiable
    return first, last
