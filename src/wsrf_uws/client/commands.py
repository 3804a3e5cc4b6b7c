"""The client half of the ``wsrf-uws`` command: talk SOAP to a running service.

| command | what it does; what it prints on stdout |
|---|---|
| ``submit CONTRACT JDL.xml [--start] [--wait] [--until TIME]`` | createJob; the ResourceId |
| ``status RESOURCE-ID [--xml] [--json]`` | phase, progress, times, results, the contract's state |
| ``wait RESOURCE-ID [--max-wait S]`` | polls until the job ends (or is HELD); its state |
| ``list [--phase P] [--after TIME] [--last N]`` | listJobs: the caller's jobs, newest first |
| ``start`` / ``resume`` / ``abort RESOURCE-ID`` | startJob / resumeJob / abortJob; the phase |
| ``destroy RESOURCE-ID`` | Destroy (the results go too); nothing |
| ``extend RESOURCE-ID (--until TIME \\| --by DURATION)`` | SetTerminationTime; the new time |
| ``download RESOURCE-ID [NAME...] [-o DIR]`` | fetch results (resumed with Range); their paths |
| ``wsdl CONTRACT [--addressing 2004-08]`` | the WSDL the service publishes |

Every command takes ``--url``, ``--user``, ``--digest`` and ``--timeout`` (see
:mod:`wsrf_uws.client.connection`); every one that reads takes ``--json``. Messages and
progress go to stderr, so ``ID=$(wsrf-uws submit steps job.xml --start)`` is just the id.
Exit statuses: :mod:`wsrf_uws.client.exits`.

The parser is built without importing the client (zeep, requests, lxml): ``wsrf-uws serve``
loads this module too.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta

from ..wire.names import UWS_PHASES
from .connection import UsageError
from .exits import FAILED, UNREACHABLE, USAGE
from .times import INFINITE, Infinite, parse_datetime, parse_duration

_NEVER = ("never", "infinite")


def _termination(text: str) -> datetime | Infinite:
    if text.strip().lower() in _NEVER:
        return INFINITE
    try:
        return parse_datetime(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _time(text: str) -> datetime:
    try:
        return parse_datetime(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


#: The names of the client commands (what :func:`add_client_commands` adds).
CLIENT_COMMANDS = frozenset(
    {
        "submit",
        "status",
        "wait",
        "list",
        "start",
        "resume",
        "abort",
        "destroy",
        "extend",
        "download",
        "wsdl",
    }
)


def add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client commands (see the module docstring) to ``commands``."""
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "--url",
        help="service base URL or contract endpoint (default $WSRF_UWS_URL, else "
        "http://127.0.0.1:8080)",
    )
    connection.add_argument(
        "--user",
        help="user name (default $WSRF_UWS_USER); password from $WSRF_UWS_PASSWORD or a prompt",
    )
    connection.add_argument(
        "--digest", action="store_true", help="send the password as a WS-Security digest"
    )
    connection.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for each HTTP answer"
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")
    contract = argparse.ArgumentParser(add_help=False)
    contract.add_argument(
        "--contract", help="contract name (default $WSRF_UWS_CONTRACT) unless --url names it"
    )
    resource = argparse.ArgumentParser(add_help=False, parents=[connection, contract])
    resource.add_argument("resource_id", metavar="RESOURCE-ID")
    until_help = "termination time, ISO 8601 (no zone: UTC), or 'never'"

    submit = commands.add_parser(
        "submit",
        parents=[connection, as_json],
        help="create a job (and start it, and wait for it); prints its id",
    )
    submit.add_argument("contract", metavar="CONTRACT")
    submit.add_argument("jdl", metavar="JDL.xml", help="job description file ('-': stdin)")
    submit.add_argument("--start", action="store_true", help="start the job once created")
    submit.add_argument(
        "--wait",
        action="store_true",
        help="start the job, show its progress and wait until it ends (exit 1 unless COMPLETED)",
    )
    submit.add_argument("--until", type=_termination, help=until_help)

    status = commands.add_parser("status", parents=[resource, as_json], help="show a job's state")
    status.add_argument("--xml", action="store_true", help="print the UWS 1.1 uws:job document")

    wait = commands.add_parser(
        "wait", parents=[resource, as_json], help="wait until a job ends (or is HELD)"
    )
    wait.add_argument(
        "--max-wait", type=float, help="give up after so many seconds (exit status 4)"
    )
    wait.add_argument("--quiet", action="store_true", help="no progress bar")

    listing = commands.add_parser(
        "list", parents=[connection, contract, as_json], help="list my jobs (listJobs)"
    )
    listing.add_argument(
        "--phase",
        action="append",
        type=str.upper,
        choices=UWS_PHASES,
        help="only jobs in this phase (repeatable; default every phase but ARCHIVED)",
    )
    listing.add_argument("--after", type=_time, help="only jobs created after this time")
    listing.add_argument("--last", type=_positive, help="only the N most recent")

    for name, what in (
        ("start", "start a job (startJob)"),
        ("resume", "resume a HELD job (resumeJob)"),
        ("abort", "abort a job; its results so far are kept (abortJob)"),
    ):
        commands.add_parser(name, parents=[resource, as_json], help=f"{what}; prints the phase")
    commands.add_parser("destroy", parents=[resource], help="destroy a job and its results")

    extend = commands.add_parser(
        "extend",
        parents=[resource, as_json],
        help="change a job's termination time; prints the new one",
    )
    when = extend.add_mutually_exclusive_group(required=True)
    when.add_argument("--until", type=_termination, help=until_help)
    when.add_argument(
        "--by",
        type=_duration,
        help="added to the present termination time: ISO 8601 duration (PT2H) or seconds",
    )
    extend.add_argument(
        "--destroy-now",
        action="store_true",
        help="accept an --until in the past, which destroys the job at once",
    )

    download = commands.add_parser(
        "download", parents=[resource], help="download a job's results; prints their paths"
    )
    download.add_argument("names", metavar="NAME", nargs="*", help="results (default: all)")
    download.add_argument(
        "-o", "--output", default=".", help="folder to write them to (default: here)"
    )
    download.add_argument(
        "--restart", action="store_true", help="start over instead of resuming a .part file"
    )
    download.add_argument("--quiet", action="store_true", help="no progress bar")

    wsdl = commands.add_parser("wsdl", parents=[connection], help="print a contract's WSDL")
    wsdl.add_argument("contract", metavar="CONTRACT")
    wsdl.add_argument(
        "--addressing",
        choices=("1.0", "2004-08"),
        default="1.0",
        help="the WS-Addressing version the WSDL is for (default 1.0; 2004-08 for "
        "member-submission clients)",
    )


def run_client_command(args: argparse.Namespace) -> int | None:
    """Run a client command; return its exit status, or None if ``args.command`` is not one."""
    from .job_commands import HANDLERS

    handler = HANDLERS.get(getattr(args, "command", None) or "")
    if handler is None:
        return None
    from .errors import ClientError, ServiceUnavailable

    try:
        return handler(args)
    except UsageError as error:
        print(f"wsrf-uws: {error}", file=sys.stderr)
        return USAGE
    except ServiceUnavailable as error:
        print(f"wsrf-uws: {error}", file=sys.stderr)
        return UNREACHABLE
    except ClientError as error:
        print(f"wsrf-uws: {_describe(error, args)}", file=sys.stderr)
        return FAILED


def _describe(error: Exception, args: argparse.Namespace) -> str:
    from .errors import InvalidJobDescription, NotAuthenticated, UwsFault

    if isinstance(error, InvalidJobDescription):
        where = f"{args.jdl}:{error.line}: " if getattr(args, "jdl", None) and error.line else ""
        return f"invalid job description: {where}{error.reason}"
    if isinstance(error, NotAuthenticated) and not (
        getattr(args, "user", None) or os.environ.get("WSRF_UWS_USER")
    ):
        return f"{error.description} (give --user NAME, or set WSRF_UWS_USER)"
    if isinstance(error, UwsFault):
        return f"{type(error).__name__}: {error.description}"
    return str(error)
