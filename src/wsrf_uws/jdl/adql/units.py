"""``IN_UNIT(value, 'unit')``: a value converted to another unit, by a factor fixed at translation.

The value's own unit is known from the catalogue metadata (TAP_SCHEMA ``unit``) when the
value is a column, or from an IN_UNIT inside it; the factor between the two units comes
from astropy's VOUnit parser (with its generic parser as a fallback for the units
catalogues write loosely, like ``mas/yr``). Units that are not convertible (``mag`` to
``deg``), an unknown unit, or a value whose unit is not known, are refused.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=256)
def conversion_factor(source: str, target: str) -> float:
    """The factor turning a value in ``source`` units into ``target`` units.

    Raises ValueError saying which unit is unknown or that they do not convert.
    """
    from astropy import units as u

    def parsed(text: str) -> u.UnitBase:
        for parse_format in ("vounit", None):
            try:
                return u.Unit(text, format=parse_format)
            except ValueError:
                continue
        raise ValueError(f"IN_UNIT: {text!r} is not a unit this service knows (VOUnits)")

    start, end = parsed(source), parsed(target)
    try:
        return float(start.to(end))
    except u.UnitConversionError:
        raise ValueError(f"IN_UNIT: {source!r} cannot be converted to {target!r}") from None
