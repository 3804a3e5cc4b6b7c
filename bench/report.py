"""What the benchmarks share: presets for their options, percentiles, plain-text tables,
the environment a run reports, and the JSON file its figures go to."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
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


def environment(*packages: str, **extra: Any) -> dict[str, Any]:
    """What a run's figures depend on: Python, the versions of ``packages`` (distribution
    names), ``extra`` facts, the CPU count and the platform."""
    return {
        "python": sys.version.split()[0],
        **extra,
        **{package: version(package) for package in packages},
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def write_figures(path: Path, figures: Mapping[str, Any]) -> None:
    """Write a run's figures to ``path`` as JSON, and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nfigures written to {path}")
