"""``wsrf-uws catalog``: build a DuckDB catalogue for the contract ``adql``.

Hipparcos 2 (the default catalogue), or a synthetic one of any size for tests and
benchmarks. The contract declares the command (:meth:`AdqlContract.cli_commands`); the
``wsrf-uws`` command line offers it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ...core.contract import CliCommand, ContractEnvironment


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["hipparcos", "synthetic"])
    parser.add_argument("output", type=Path, help="the catalogue file to write (must not exist)")
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="synthetic: rows (default 1 000 000)"
    )
    parser.add_argument("--seed", type=int, help="synthetic: the random seed")


def _build_catalog(args: argparse.Namespace, environment: ContractEnvironment) -> int:
    from .catalog import build_hipparcos, build_synthetic  # DuckDB: not for other commands

    output: Path = args.output
    if output.exists():
        print(f"wsrf-uws: {output} exists; give a new file", file=sys.stderr)
        return 2
    if args.kind == "hipparcos":
        build_hipparcos(output)
        print(f"{output}: hipparcos.main (117955 rows)")
        return 0
    if args.rows < 1:
        print("wsrf-uws: --rows must be at least 1", file=sys.stderr)
        return 2

    def progress(stage: str, done: int, total: int) -> None:
        print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)

    options = {} if args.seed is None else {"seed": args.seed}
    build_synthetic(output, rows=args.rows, progress=progress, **options)
    print(
        f"{output}: synthetic.main ({args.rows} rows); serve it with "
        f"WSRF_UWS_ADQL__CATALOG={output}"
    )
    return 0


CATALOG_COMMAND = CliCommand(
    name="catalog",
    help="build a DuckDB catalogue for the adql contract (Hipparcos 2, or synthetic)",
    run=_build_catalog,
    arguments=_arguments,
)
