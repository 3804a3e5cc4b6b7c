"""Checking parameter values against their declared type and constraints.

Values come from clients (job descriptions, fetched files) and from providers
(defaults). Each check returns the value as the application will receive it or
raises :class:`ValueError` with a reason a client can act on; the caller adds the
parameter's name.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from urllib.parse import urlsplit

from lxml import etree

from ...wire.parsing import safe_parser
from .application import InputParameter, ParameterType

#: The longest text value accepted when the description sets no maxLength.
DEFAULT_MAX_LENGTH = 65536

_INTEGER = re.compile(r"[+-]?\d{1,30}")
_REAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_BOOLEANS = {"true": "true", "1": "true", "false": "false", "0": "false"}
# Control characters other than tab, newline and carriage return cannot be meant as text,
# and NUL cannot be passed in an argument vector at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FITS_START = b"SIMPLE  ="


def check_value(parameter: InputParameter, text: str) -> str:
    """``text`` checked against ``parameter``; returns the value the application receives."""
    kind = parameter.type
    if kind is ParameterType.INTEGER:
        value = _number(text, _INTEGER, "an integer")
        _check_range(parameter, int(value))
        return str(int(value))
    if kind is ParameterType.REAL:
        value = _number(text, _REAL, "a real number")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        _check_range(parameter, number)
        return value
    if kind is ParameterType.BOOLEAN:
        try:
            return _BOOLEANS[text.strip().lower()]
        except KeyError:
            raise ValueError(f"{text!r} is not a boolean (true, false, 1 or 0)") from None
    if kind is ParameterType.ANY_URI:
        value = text.strip()
        parts = urlsplit(value)
        if not parts.scheme or not (parts.netloc or parts.path) or " " in value:
            raise ValueError(f"{value!r} is not an absolute URI")
        return _checked_text(parameter, value)
    if kind is ParameterType.DATE_TIME:
        value = text.strip()
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date and time") from None
        return value
    return _checked_text(parameter, text)


def check_data(parameter: InputParameter, data: bytes) -> None:
    """Check the content of a FITS or VOTable value (other types: nothing to check)."""
    if parameter.type is ParameterType.FITS:
        if not data.startswith(_FITS_START):
            raise ValueError("the data is not a FITS file (it does not start with SIMPLE  =)")
    elif parameter.type is ParameterType.VOTABLE:
        try:
            root = etree.fromstring(data, safe_parser())
        except etree.XMLSyntaxError as exc:
            raise ValueError(f"the data is not a VOTable: {exc.msg}") from None
        if etree.QName(root).localname != "VOTABLE":
            raise ValueError(f"the data is not a VOTable (its root is {root.tag})")


def check_positional(parameter: InputParameter, value: str) -> None:
    """Refuse a positional text value the application could read as an option.

    Numbers may be negative; but a text such as ``-rf`` or ``--output=/etc/x`` in a
    position would change what the application does, not what it reads.
    """
    if (
        parameter.command_line.position is not None
        and not parameter.passed_as_file
        and parameter.type not in (ParameterType.INTEGER, ParameterType.REAL)
        and value.startswith("-")
    ):
        raise ValueError(f"{value!r} starts with '-' and would be read as an option")


def _number(text: str, pattern: re.Pattern[str], what: str) -> str:
    value = text.strip()
    if not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not {what}")
    return value


def _check_range(parameter: InputParameter, number: float) -> None:
    if parameter.minimum is not None and number < parameter.minimum:
        raise ValueError(f"{number:g} is below the minimum {parameter.minimum:g}")
    if parameter.maximum is not None and number > parameter.maximum:
        raise ValueError(f"{number:g} is above the maximum {parameter.maximum:g}")


def _checked_text(parameter: InputParameter, value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("the text contains control characters")
    limit = parameter.max_length or DEFAULT_MAX_LENGTH
    if len(value) > limit:
        raise ValueError(f"the text is {len(value)} characters long; the limit is {limit}")
    if parameter.options and value not in parameter.options:
        raise ValueError(f"{value!r} is not one of {', '.join(parameter.options)}")
    if parameter.pattern is not None and not re.fullmatch(parameter.pattern, value):
        raise ValueError(f"{value!r} does not match the pattern {parameter.pattern}")
    return value
