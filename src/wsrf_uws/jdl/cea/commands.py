"""``wsrf-uws applications``: the contract ``cea``'s application library, as its provider sees it.

Every application with its parameters, then the descriptions that were skipped and why
(exit status 1 if any was). The contract declares the command
(:meth:`CeaContract.cli_commands`); the ``wsrf-uws`` command line offers it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ...core.contract import CliCommand, ContractEnvironment
from .library import DEMO_LIBRARY, DescriptionError, Library
from .listing import describe_library
from .settings import CeaSettings


def load_library(options: CeaSettings) -> Library:
    """The library ``options`` name (the demonstration one by default).

    Executables named without a path are searched in ``search_path``, then the service's
    ``PATH``. Raises :class:`DescriptionError` if the folder cannot be read.
    """
    path = os.environ.get("PATH", os.defpath)
    search = [*options.search_path, *(Path(p) for p in path.split(os.pathsep) if p)]
    return Library.load(options.library or DEMO_LIBRARY, search_path=search)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--library", type=Path, help="read this folder instead of the configured library"
    )


def _list_applications(args: argparse.Namespace, environment: ContractEnvironment) -> int:
    options: CeaSettings = environment.settings
    if args.library is not None:
        options = options.model_copy(update={"library": args.library})
    try:
        library = load_library(options)
    except DescriptionError as exc:
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 2
    print(describe_library(library))
    return 1 if library.problems else 0


APPLICATIONS_COMMAND = CliCommand(
    name="applications",
    help="list the cea contract's applications and the descriptions it skips",
    run=_list_applications,
    arguments=_arguments,
)
