"""HTTP byte ranges (RFC 9110 §14): which part of a file a ``Range`` header asks for.

Shared by the result downloads of the SOAP binding and the VOSpace endpoint. Only a
single ``bytes=`` range is honoured; anything else (several ranges, another unit, an
inverted range) is ignored, as RFC 9110 allows, and the whole file is sent. Positions
may have any number of digits: those longer than any file are read as "beyond the end".
"""

from __future__ import annotations

import re

_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)$", re.IGNORECASE)

#: Digits beyond which a position is larger than any file: such numbers are read as
#: this bound instead of being converted (Python refuses to convert more than 4300
#: digits, and a header may hold any number of them).
_MAX_DIGITS = 18
_BEYOND_ANY_FILE: int = 10**_MAX_DIGITS


def _position(digits: str) -> int:
    """The number ``digits`` spell, or a number larger than any file if it is that long."""
    significant = digits.lstrip("0")
    if len(significant) > _MAX_DIGITS:
        return _BEYOND_ANY_FILE
    return int(significant or "0")


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
        suffix = _position(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    first = _position(first_text)
    if last_text and _position(last_text) < first:
        return None  # not a valid range (RFC 9110 §14.1.1): ignore it
    last = min(_position(last_text), size - 1) if last_text else size - 1
    if first >= size:
        raise RangeNotSatisfiable
    return first, last
