"""``wsrf-uws conformance URL``: run the conformance kit against an endpoint.

Prints one line per check (``PASS|FAIL|SKIP  check-id  reason  [clause]``) as it
finishes, then ``N passed, M failed, K skipped``. Exit status: 0 when nothing failed,
1 when a check failed, 2 for a usage error. Passwords never appear on the command line:
they come from environment variables (``--password-env``, ``--other-password-env``).

The parser is built without importing the kit, so ``wsrf-uws`` starts fast for every
other command.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .options import Options
    from .report import CheckResult
    from .wire import Credentials

#: Environment variables holding the passwords (names, not secrets).
PASSWORD_ENV = "WSRF_UWS_PASSWORD"  # noqa: S105
OTHER_PASSWORD_ENV = "WSRF_UWS_OTHER_PASSWORD"  # noqa: S105


class UsageError(Exception):
    """The command line cannot be run as given (exit status 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The kit's options, on ``parser``."""
    parser.add_argument("url", nargs="?", help="the contract endpoint, e.g. http://host/uws/steps")
    parser.add_argument(
        "--contract", help="the contract's name (default: the URL's last path segment)"
    )
    parser.add_argument(
        "--jdl", type=Path, help="the lifecycle's job description (default: a built-in sample)"
    )
    parser.add_argument(
        "--restart-jdl",
        type=Path,
        help="an isolated job that runs for a few seconds, for the restart checks",
    )
    parser.add_argument(
        "--held-jdl",
        type=Path,
        help="a job that is not isolated and runs for a few seconds (HELD after a restart)",
    )
    parser.add_argument("--user", help=f"the first user (password from ${PASSWORD_ENV})")
    parser.add_argument(
        "--other-user", help=f"the second user (password from ${OTHER_PASSWORD_ENV})"
    )
    parser.add_argument(
        "--password-env",
        default=PASSWORD_ENV,
        metavar="VAR",
        help=f"environment variable holding --user's password (default {PASSWORD_ENV})",
    )
    parser.add_argument(
        "--other-password-env",
        default=OTHER_PASSWORD_ENV,
        metavar="VAR",
        help=f"environment variable holding --other-user's password (default {OTHER_PASSWORD_ENV})",
    )
    parser.add_argument(
        "--restart-command",
        metavar="CMD",
        help="a shell command that restarts the service (run while jobs are EXECUTING)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds a job may take to finish, or the service to come back (default 120)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds one HTTP request may take (default 30)",
    )
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML here")
    parser.add_argument(
        "--verbose", action="store_true", help="print every finding under a failed check"
    )
    parser.add_argument(
        "--list-checks", action="store_true", help="list the checks and their clauses, and exit"
    )


def add_conformance_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``conformance`` subcommand to ``wsrf-uws``."""
    parser = commands.add_parser(
        "conformance",
        help="check any UWS-over-WS-RF endpoint against the pattern and DESIGN §2",
        description=__doc__.split("\n\n")[0],
    )
    add_arguments(parser)


def _credentials(user: str | None, variable: str) -> Credentials | None:
    from .wire import Credentials

    if user is None:
        return None
    password = os.environ.get(variable)
    if password is None:
        raise UsageError(f"set ${variable} to the password of {user!r}")
    return Credentials(user, password)


def _document(path: Path | None) -> bytes | None:
    from .wire import WireError, parse_xml

    if path is None:
        return None
    try:
        data = path.read_bytes()
        parse_xml(data, what=str(path))
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except WireError as error:
        raise UsageError(str(error)) from None
    return data


def options_from(args: argparse.Namespace) -> Options:
    """The kit's :class:`~.options.Options` from parsed arguments; UsageError if unusable."""
    from .options import Options, default_contract

    url = (args.url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"give the contract endpoint as an http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise UsageError("give the endpoint URL without a query (the kit adds ?wsdl itself)")
    contract = args.contract or default_contract(url)
    if not contract:
        raise UsageError("the URL names no contract: add --contract NAME")
    if args.other_user is not None and args.user is None:
        raise UsageError("--other-user needs --user")
    if args.timeout <= 0 or args.request_timeout <= 0:
        raise UsageError("timeouts must be positive")
    return Options(
        url=url.rstrip("/"),
        contract=contract,
        jdl=_document(args.jdl),
        restart_jdl=_document(args.restart_jdl),
        held_jdl=_document(args.held_jdl),
        user=_credentials(args.user, args.password_env),
        other_user=_credentials(args.other_user, args.other_password_env),
        restart_command=args.restart_command,
        timeout=args.timeout,
        request_timeout=args.request_timeout,
    )


def _list_checks(out: TextIO) -> int:
    from .kit import all_checks

    for check in all_checks():
        out.write(f"{check.id}  [{check.clause}]\n    {check.summary}\n")
    return 0


def run_conformance(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run the kit as ``args`` ask; the exit status."""
    out = out or sys.stdout
    if args.list_checks:
        return _list_checks(out)
    try:
        options = options_from(args)
    except UsageError as error:
        print(f"wsrf-uws conformance: {error}", file=sys.stderr)
        return 2
    from .kit import all_checks, run_kit
    from .report import exit_status, format_line, summary, write_junit

    width = max(len(check.id) for check in all_checks())
    out.write(f"wsrf-uws conformance: {options.url} (contract {options.contract})\n")
    out.flush()

    def show(result: CheckResult) -> None:
        out.write(format_line(result, width=width) + "\n")
        if args.verbose and result.details:
            out.writelines(f"      {line}\n" for line in result.details.splitlines())
        out.flush()

    results = run_kit(options, on_result=show)
    out.write(summary(results) + "\n")
    if args.junit is not None:
        properties = {"url": options.url, "contract": options.contract}
        try:
            write_junit(args.junit, results, properties=properties)
        except OSError as error:
            print(f"wsrf-uws conformance: cannot write {args.junit}: {error}", file=sys.stderr)
            return 2
    return exit_status(results)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wsrf_uws.conformance.command URL ...``: the same as ``wsrf-uws conformance``."""
    parser = argparse.ArgumentParser(prog="wsrf-uws conformance", description=__doc__)
    add_arguments(parser)
    return run_conformance(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
