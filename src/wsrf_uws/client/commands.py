"""The client half of the ``wsrf-uws`` command: talk SOAP to a running service.

| command | what it does |
|---|---|
| ``submit CONTRACT JDL.xml [--start] [--wait] [--until TIME]`` | createJob; prints the ResourceId |
| ``status RESOURCE-ID [--xml]`` | phase, progress, times, results, error (``--xml``: the uws:job) |
| ``start`` / ``resume`` / ``destroy RESOURCE-ID`` | startJob / resumeJob / Destroy |
| ``extend RESOURCE-ID (--until TIME \\| --by DURATION)`` | SetTerminationTime |
| ``wsdl CONTRACT [--addressing 2004-08]`` | print the WSDL the service publishes |

Every command takes ``--url`` (the service's base URL or a contract endpoint; default
``$WSRF_UWS_URL``, else ``http://127.0.0.1:8080``); the resource commands take
``--contract`` (default ``$WSRF_UWS_CONTRACT``) unless the URL names the endpoint.
``--user`` (default ``$WSRF_UWS_USER``) sends credentials; the password comes from
``$WSRF_UWS_PASSWORD`` or a prompt, never from the command line. Exit status: 0 done,
1 a fault or a failed job, 2 a usage error.

The parser is built without importing the client (zeep, requests, lxml): ``wsrf-uws serve``
loads this module too.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..wire.times import format_utc
from .times import INFINITE, Infinite, parse_datetime, parse_duration

if TYPE_CHECKING:
    from .job import Job
    from .service import Service
    from .state import JobState

DEFAULT_URL = "http://127.0.0.1:8080"
_NEVER = ("never", "infinite")


class UsageError(Exception):
    """The command line cannot be carried out as given (exit status 2)."""


# -- the parser ------------------------------------------------------------------------------


def _termination(text: str) -> datetime | Infinite:
    if text.strip().lower() in _NEVER:
        return INFINITE
    try:
        return parse_datetime(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``submit``, ``status``, ``start``, ``resume``, ``destroy``, ``extend``, ``wsdl``."""
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "--url",
        help=f"service base URL or contract endpoint (default $WSRF_UWS_URL, else {DEFAULT_URL})",
    )
    connection.add_argument(
        "--user", help="user name (default $WSRF_UWS_USER); password from $WSRF_UWS_PASSWORD"
    )
    connection.add_argument(
        "--digest", action="store_true", help="send the password as a WS-Security digest"
    )
    connection.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for each HTTP answer"
    )
    resource = argparse.ArgumentParser(add_help=False, parents=[connection])
    resource.add_argument("resource_id", metavar="RESOURCE-ID")
    resource.add_argument(
        "--contract", help="contract name (default $WSRF_UWS_CONTRACT) unless --url names it"
    )
    until_help = "termination time, ISO 8601 (no zone: UTC), or 'never'"

    submit = commands.add_parser(
        "submit", parents=[connection], help="create a job (and start it, and wait for it)"
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

    status = commands.add_parser("status", parents=[resource], help="show a job's state")
    status.add_argument("--xml", action="store_true", help="print the UWS 1.1 uws:job document")
    commands.add_parser("start", parents=[resource], help="start a job (startJob)")
    commands.add_parser("resume", parents=[resource], help="resume a HELD job (resumeJob)")
    commands.add_parser("destroy", parents=[resource], help="destroy a job and its results")

    extend = commands.add_parser(
        "extend", parents=[resource], help="set a job's termination time (SetTerminationTime)"
    )
    when = extend.add_mutually_exclusive_group(required=True)
    when.add_argument("--until", type=_termination, help=until_help)
    when.add_argument(
        "--by",
        type=_duration,
        help="lifetime from now: ISO 8601 duration (PT2H) or seconds",
    )

    wsdl = commands.add_parser("wsdl", parents=[connection], help="print a contract's WSDL")
    wsdl.add_argument("contract", metavar="CONTRACT")
    wsdl.add_argument(
        "--addressing",
        choices=("1.0", "2004-08"),
        default="1.0",
        help="the WS-Addressing version the WSDL is for (default 1.0; 2004-08 for "
        "member-submission clients)",
    )


# -- running ---------------------------------------------------------------------------------


def run_client_command(args: argparse.Namespace) -> int | None:
    """Run a client command; return its exit status, or None if ``args.command`` is not one."""
    handler = _HANDLERS.get(getattr(args, "command", None) or "")
    if handler is None:
        return None
    from .errors import ClientError

    try:
        return handler(args)
    except UsageError as error:
        print(f"wsrf-uws: {error}", file=sys.stderr)
        return 2
    except ClientError as error:
        print(f"wsrf-uws: {_describe(error, args)}", file=sys.stderr)
        return 1


def _describe(error: Exception, args: argparse.Namespace) -> str:
    from .errors import InvalidJobDescription, UwsFault

    if isinstance(error, InvalidJobDescription):
        where = f"{args.jdl}:{error.line}: " if getattr(args, "jdl", None) and error.line else ""
        return f"invalid job description: {where}{error.reason}"
    if isinstance(error, UwsFault):
        return f"{type(error).__name__}: {error.description}"
    return str(error)


def _endpoint(args: argparse.Namespace, contract: str | None) -> str:
    from urllib.parse import urlsplit

    url = (args.url or os.environ.get("WSRF_UWS_URL") or DEFAULT_URL).rstrip("/")
    if "/uws/" in urlsplit(url).path:
        if contract and not url.endswith(f"/uws/{contract}"):
            raise UsageError(f"{url} is not the endpoint of the contract {contract}")
        return url
    if not contract:
        raise UsageError(
            "name the contract: --contract C, $WSRF_UWS_CONTRACT, or an --url ending in /uws/C"
        )
    return f"{url}/uws/{contract}"


def _credentials(args: argparse.Namespace) -> tuple[str | None, str | None]:
    user = args.user or os.environ.get("WSRF_UWS_USER")
    if not user:
        return None, None
    password = os.environ.get("WSRF_UWS_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise UsageError(f"set WSRF_UWS_PASSWORD to the password of {user}")
        password = getpass.getpass(f"password for {user}: ")
    return user, password


def _service(args: argparse.Namespace, contract: str | None) -> Service:
    from .service import Service

    user, password = _credentials(args)
    return Service(
        _endpoint(args, contract),
        username=user,
        password=password,
        digest=args.digest,
        timeout=args.timeout,
    )


def _job(args: argparse.Namespace) -> Job:
    contract = args.contract or os.environ.get("WSRF_UWS_CONTRACT")
    return _service(args, contract).job(args.resource_id)


def _submit(args: argparse.Namespace) -> int:
    from .progressbar import ProgressBar

    try:
        jdl = sys.stdin.buffer.read() if args.jdl == "-" else Path(args.jdl).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {args.jdl}: {error.strerror}") from None
    job = _service(args, args.contract).create(jdl, termination_time=args.until)
    print(job.resource_id, flush=True)
    if not (args.start or args.wait):
        return 0
    phase = job.start()
    if not args.wait:
        print(f"phase       {phase}")
        return 0
    bar = ProgressBar(sys.stderr)
    try:
        state = job.wait(progress=bar)
    except KeyboardInterrupt:
        bar.close()
        print(f"wsrf-uws: stopped waiting; job {job.resource_id} runs on", file=sys.stderr)
        return 130
    bar.close()
    _print_state(state, sys.stdout)
    return 0 if state.phase == "COMPLETED" else 1


def _status(args: argparse.Namespace) -> int:
    from lxml import etree

    from ..wire.elements import is_nil
    from ..wire.names import JOB_STATE, TERMINATION_TIME
    from .state import parse_job_state

    job = _job(args)
    if args.xml:
        document = etree.fromstring(etree.tostring(job.uws_job()))
        etree.cleanup_namespaces(document)
        sys.stdout.write(etree.tostring(document, pretty_print=True, encoding="unicode"))
        return 0
    found = {element.tag: element for element in job.properties(JOB_STATE, TERMINATION_TIME)}
    termination = found[TERMINATION_TIME]
    nil = is_nil(termination)
    print(f"resource    {job.resource_id}")
    _print_state(
        parse_job_state(found[JOB_STATE]),
        sys.stdout,
        terminates="never" if nil else _time(parse_datetime(termination.text or "")),
    )
    return 0


def _print_state(state: JobState, out: TextIO, *, terminates: str | None = None) -> None:
    """The lines ``status`` prints: phase, progress, times, estimate, error, results."""

    def line(key: str, value: object) -> None:
        out.write(f"{key:<11} {value}\n")

    line("phase", state.phase)
    if state.fraction is not None:
        line("progress", f"{state.fraction:.0%}")
    line("created", _time(state.creation_time))
    if state.start_time:
        line("started", _time(state.start_time))
    if state.end_time:
        line("ended", _time(state.end_time))
    if terminates is not None:
        line("terminates", terminates)
    if state.estimated_duration is not None:
        line("estimate", f"{state.estimated_duration.total_seconds():g} s")
    if state.error is not None:
        line("error", f"{state.error.type}: {state.error.message}")
    if state.note:
        line("note", state.note)
    for result in state.results:
        size = "" if result.size is None else f", {result.size} bytes"
        line("result", f"{result.name}  {result.href}  ({result.mime_type or '?'}{size})")


def _time(value: datetime) -> str:
    return format_utc(value.replace(microsecond=0))


def _phase_command(operation: Callable[[Job], str]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"phase       {operation(_job(args))}")
        return 0

    return run


def _destroy(args: argparse.Namespace) -> int:
    _job(args).destroy()
    return 0


def _extend(args: argparse.Namespace) -> int:
    change = _job(args).extend(until=args.until, by=args.by)
    ends = change.new_termination_time
    print(f"terminates  {'never' if ends is None else _time(ends)}")
    return 0


def _wsdl(args: argparse.Namespace) -> int:
    from .service import published_wsdl

    user, password = _credentials(args)
    document = published_wsdl(
        _endpoint(args, args.contract),
        username=user,
        password=password,
        timeout=args.timeout,
        addressing=args.addressing,
    )
    sys.stdout.write(document.decode("utf-8"))
    return 0


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "submit": _submit,
    "status": _status,
    "start": _phase_command(lambda job: job.start()),
    "resume": _phase_command(lambda job: job.resume()),
    "destroy": _destroy,
    "extend": _extend,
    "wsdl": _wsdl,
}
