"""Byte counts written for people, in the messages of refusals and errors."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(count: int | float) -> str:
    """``count`` bytes for a person: "3 B", "512 KiB", "1 MiB", "1.5 GiB"."""
    if count < 0:
        raise ValueError(f"a byte count is not negative: {count}")
    unit = 0
    while unit + 1 < len(_UNITS) and count >= 1024 ** (unit + 1):
        unit += 1
    text = f"{count / 1024**unit:.1f}".removesuffix(".0")
    if text == "1024" and unit + 1 < len(_UNITS):  # 1023.96 MiB rounds up to the next unit
        text, unit = "1", unit + 1
    return f"{text} {_UNITS[unit]}"
