"""The ``wsrf-uws`` subcommand the contract ``checksum`` adds: ``checksum-digest FILE``.

It prints the digest a job would report for a local file, under the same settings, so an
operator can check a published checksum without a running service.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from wsrf_uws.core.contract import CliCommand, ContractEnvironment

from .settings import ChecksumSettings


def digest_command() -> CliCommand:
    """The ``checksum-digest`` command."""
    return CliCommand(
        "checksum-digest",
        "print the digest the checksum contract would give a local file",
        _digest,
        _arguments,
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the file to digest")
    parser.add_argument("--algorithm", help="a digest algorithm the service offers")


def _digest(args: argparse.Namespace, environment: ContractEnvironment) -> int:
    settings: ChecksumSettings = environment.settings
    algorithm = args.algorithm or settings.default_algorithm
    if algorithm not in settings.algorithms:
        print(
            f"algorithm {algorithm!r} is not offered; choose one of "
            f"{', '.join(settings.algorithms)}",
            file=sys.stderr,
        )
        return 2
    path: Path = args.file
    size = path.stat().st_size
    if size > settings.max_input_bytes:
        print(
            f"{path} has {size} bytes; the service takes at most {settings.max_input_bytes}",
            file=sys.stderr,
        )
        return 1
    print(f"{hashlib.new(algorithm, path.read_bytes()).hexdigest()}  {path.name}")
    return 0
