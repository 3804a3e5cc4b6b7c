"""What the benchmarks share: presets for their options, percentiles and plain-text tables."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any


def apply_preset(args: argparse.Namespace, preset: Mapping[str, Any]) -> argparse.Namespace:
    """Fill every option left unset (None) on the command line from ``preset``."""
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def percentile(ordered: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def table(headers: list[str], rows: list[list[str]]) -> str:
    """An aligned plain-text table; the first column left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])]
        padded += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])
