"""The STC-S subset ADQL's ``REGION('...')`` takes here: Position, Circle, Box and Polygon.

Grammar (case-insensitive words, numbers in degrees)::

    Position [frame] lon lat
    Circle   [frame] lon lat radius
    Box      [frame] lon lat width height
    Polygon  [frame] lon1 lat1 lon2 lat2 lon3 lat3 ...

The frame may be ICRS (the catalogue's), or left out (UNKNOWNFrame counts as left out);
a reference position (BARYCENTER, GEOCENTER, TOPOCENTER, UNKNOWNRefPos) and the
SPHERICAL flavour may follow it and are ignored. Anything else (another frame, Union,
Intersection, Not, units, ...) is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Shape name: (number of numbers, or None for "an even number, at least six").
_SHAPES = {"POSITION": 2, "CIRCLE": 3, "BOX": 4, "POLYGON": None}
_FRAMES = {"ICRS", "UNKNOWNFRAME"}
_SKIPPED = {"BARYCENTER", "GEOCENTER", "TOPOCENTER", "UNKNOWNREFPOS", "SPHERICAL2", "SPHERICAL"}


@dataclass(frozen=True)
class StcsShape:
    """A parsed region: ``shape`` is POSITION, CIRCLE, BOX or POLYGON, with its numbers."""

    shape: str
    numbers: tuple[float, ...]


def parse_stcs(text: str) -> StcsShape:
    """The shape ``text`` describes; ValueError saying what is wrong otherwise."""
    words = text.split()
    if not words:
        raise ValueError("REGION needs an STC-S text such as 'Circle ICRS 10 20 1'")
    shape = words[0].upper()
    if shape not in _SHAPES:
        raise ValueError(
            f"REGION: the STC-S shape {words[0]!r} is not supported; use Position, Circle, "
            "Box or Polygon"
        )
    rest = words[1:]
    while rest and not _is_number(rest[0]):
        word = rest.pop(0).upper()
        if word in _FRAMES or word in _SKIPPED:
            continue
        raise ValueError(
            f"REGION: {word!r} is not supported here; positions are ICRS (write 'ICRS' or no frame)"
        )
    try:
        numbers = tuple(float(word) for word in rest)
    except ValueError:
        raise ValueError(f"REGION: {text!r} has words after its numbers") from None
    wanted = _SHAPES[shape]
    if wanted is None:
        if len(numbers) < 6 or len(numbers) % 2:
            raise ValueError("REGION: a Polygon takes at least three pairs of numbers")
    elif len(numbers) != wanted:
        raise ValueError(f"REGION: a {words[0]} takes {wanted} numbers, not {len(numbers)}")
    return StcsShape(shape, numbers)


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True
