"""The ``wsrf-uws`` command.

Operator commands: ``serve`` (run the service), ``settings`` (the effective
configuration, as TOML), ``contracts`` (what is installed), ``jobs`` (the resources in a
data directory), ``users`` (the users file), ``admin`` (bulk actions on jobs), and those
the installed contracts add (:meth:`~wsrf_uws.core.contract.Contract.cli_commands`),
which are looked up only when the command named is none of the others
(:mod:`.command_line`). Client commands (``submit``, ``status``, ``list``, ``wait``,
``download``, ...) talk SOAP to a running service (:mod:`wsrf_uws.client.commands`); they
are parsed and run without loading the service's settings, stores or contracts, so a
script that calls them in a loop pays for the client alone.

Results go to stdout, everything else (messages, progress) to stderr; a mistake of the
user's is one line on stderr and an exit status, never a traceback (:mod:`.guard`). The
exit statuses are in docs/cli.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .guard import guarded, version

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    return guarded(lambda: _run(arguments))


def _run(arguments: list[str]) -> int:
    from ..client.commands import CLIENT_COMMANDS, add_client_commands, run_client_command

    if arguments and arguments[0] in CLIENT_COMMANDS:
        parser = argparse.ArgumentParser(prog="wsrf-uws")
        parser.add_argument("--version", action="version", version=f"wsrf-uws {version()}")
        add_client_commands(parser.add_subparsers(dest="command", required=True))
        status = run_client_command(parser.parse_args(arguments))
        assert status is not None
        return status
    from .command_line import run

    return run(arguments)
