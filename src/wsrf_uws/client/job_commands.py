"""What each client command does (the parser is in :mod:`wsrf_uws.client.commands`).

Each handler prints its result on stdout, a bare value when it is one (an id, a phase,
a time) so that ``$(...)`` captures exactly that, or lines or JSON when it is a record;
messages and progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import connection
from .connection import UsageError
from .exits import DONE, FAILED, INTERRUPTED, TIMED_OUT
from .output import (
    listing_document,
    listing_line,
    state_document,
    when,
    write_json,
    write_state,
)

if TYPE_CHECKING:
    from .job import Job
    from .service import Service
    from .state import JobState


def _submit(args: argparse.Namespace) -> int:
    try:
        jdl = sys.stdin.buffer.read() if args.jdl == "-" else Path(args.jdl).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {args.jdl}: {error.strerror}") from None
    job = connection.service(args, args.contract).create(jdl, termination_time=args.until)
    if not args.json:
        print(job.resource_id, flush=True)
    if not (args.start or args.wait):
        if args.json:
            write_json({"resource_id": job.resource_id, "phase": "PENDING"}, sys.stdout)
        return DONE
    phase = job.start()
    if not args.wait:
        if args.json:
            write_json({"resource_id": job.resource_id, "phase": phase}, sys.stdout)
        else:
            print(f"wsrf-uws: job {job.resource_id} is {phase}", file=sys.stderr)
        return DONE
    state = _wait(job, max_wait=None, quiet=False)
    if state is None:
        return INTERRUPTED
    if args.json:
        write_json(state_document(state, resource_id=job.resource_id), sys.stdout)
    else:
        write_state(state, sys.stderr, contract=True)
    return DONE if state.phase == "COMPLETED" else FAILED


def _wait(job: Job, *, max_wait: float | None, quiet: bool) -> JobState | None:
    """Wait for ``job`` with a progress bar on stderr; None if Ctrl-C stopped the wait."""
    from .progressbar import ProgressBar

    bar = None if quiet else ProgressBar(sys.stderr)
    try:
        return job.wait(timeout=max_wait, progress=bar)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()  # the message goes below the bar, not into it
        print(f"wsrf-uws: stopped waiting; job {job.resource_id} runs on", file=sys.stderr)
        return None
    finally:
        if bar is not None:
            bar.close()


def _wait_command(args: argparse.Namespace) -> int:
    job = connection.job(args)
    try:
        state = _wait(job, max_wait=args.max_wait, quiet=args.quiet)
    except TimeoutError as error:
        print(f"wsrf-uws: {error}", file=sys.stderr)
        return TIMED_OUT
    if state is None:
        return INTERRUPTED
    if args.json:
        write_json(state_document(state, resource_id=job.resource_id), sys.stdout)
    else:
        print(f"resource    {job.resource_id}")
        write_state(state, sys.stdout, contract=True)
    return DONE if state.phase == "COMPLETED" else FAILED


def _status(args: argparse.Namespace) -> int:
    from lxml import etree

    from ..wire.elements import is_nil
    from ..wire.names import JOB_STATE, TERMINATION_TIME
    from .errors import ResourceUnknown
    from .state import parse_job_state
    from .times import parse_datetime

    named = connection.contract_of(args)
    service = connection.service(args, named)
    job = service.job(args.resource_id)
    if args.xml:
        document = etree.fromstring(etree.tostring(job.uws_job()))
        etree.cleanup_namespaces(document)
        sys.stdout.write(etree.tostring(document, pretty_print=True, encoding="unicode"))
        return DONE
    try:
        found = {element.tag: element for element in job.properties(JOB_STATE, TERMINATION_TIME)}
    except ResourceUnknown:
        if named:
            _name_its_contract(service, job.resource_id, named)
        raise
    termination = found[TERMINATION_TIME]
    ends = None if is_nil(termination) else parse_datetime(termination.text or "")
    state = parse_job_state(found[JOB_STATE])
    if args.json:
        write_json(state_document(state, resource_id=job.resource_id, terminates=ends), sys.stdout)
        return DONE
    print(f"resource    {job.resource_id}")
    write_state(state, sys.stdout, terminates=when(ends) or "never", contract=True)
    return DONE


def _name_its_contract(service: Service, resource_id: str, named: str) -> None:
    """Refuse (UsageError) with the right ``--contract`` when the job the endpoint of
    ``named`` does not know is one of the caller's jobs of another contract (a resource
    is known only at its own contract's endpoint); return when it is not."""
    found = next((e for e in service.list_jobs() if e.resource_id == resource_id), None)
    if found is not None and found.contract and found.contract != named:
        raise UsageError(
            f"job {resource_id} is a {found.contract} job, not {named}: "
            f"use --contract {found.contract}"
        )


def _list(args: argparse.Namespace) -> int:
    named = connection.contract_of(args)
    service = connection.service(args, connection.any_contract(args) or None)
    listings = service.list_jobs(phases=args.phase or (), after=args.after, last=args.last)
    shown = [job for job in listings if not named or job.contract in ("", named)]
    if args.json:
        write_json([listing_document(job) for job in shown], sys.stdout)
    else:
        for job in shown:
            print(listing_line(job))
        print(f"{len(shown)} job(s)", file=sys.stderr)
    if listings.truncated:
        print(
            "wsrf-uws: the service listed only its most recent jobs; ask --last or --after "
            "for others",
            file=sys.stderr,
        )
    return DONE


def _phase_command(operation: Callable[[Job], str]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        job = connection.job(args)
        phase = operation(job)
        if args.json:
            write_json({"resource_id": job.resource_id, "phase": phase}, sys.stdout)
        else:
            print(phase)
        return DONE

    return run


def _destroy(args: argparse.Namespace) -> int:
    connection.job(args).destroy()
    return DONE


def _extend(args: argparse.Namespace) -> int:
    until = args.until
    if isinstance(until, datetime) and until <= datetime.now(UTC) and not args.destroy_now:
        raise UsageError(
            f"--until {when(until)} is in the past, which destroys the job at once; "
            "add --destroy-now if that is what you want (or use destroy)"
        )
    job = connection.job(args)
    change = job.extend(until=until, by=args.by)
    ends = change.new_termination_time
    if args.json:
        write_json(
            {
                "resource_id": job.resource_id,
                "termination_time": when(ends),
                "current_time": when(change.current_time),
            },
            sys.stdout,
        )
    else:
        print(when(ends) or "never")
    return DONE


def _download(args: argparse.Namespace) -> int:
    from .errors import ResultUnavailable
    from .progressbar import DownloadBar

    job = connection.job(args)
    state = job.state
    names = list(args.names) or [result.name for result in state.results]
    if not names:
        print(f"wsrf-uws: job {job.resource_id} has no results ({state.phase})", file=sys.stderr)
        return DONE
    unknown = [name for name in names if state.result(name) is None]
    if unknown:
        raise ResultUnavailable(f"job {job.resource_id} has no result {unknown[0]!r}")
    folder = Path(args.output)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot make {folder}: {error.strerror}") from None
    for name in names:
        if Path(name).name != name or name in (".", ".."):
            raise UsageError(f"the result name {name!r} is not a plain file name")
        bar = None if args.quiet else DownloadBar(sys.stderr, name)
        try:
            job.download(name, folder / name, resume=not args.restart, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        print(folder / name, flush=True)
    return DONE


def _wsdl(args: argparse.Namespace) -> int:
    from .service import published_wsdl

    user, password = connection.credentials(args)
    document = published_wsdl(
        connection.endpoint(args, args.contract),
        username=user,
        password=password,
        timeout=args.timeout,
        addressing=args.addressing,
    )
    sys.stdout.write(document.decode("utf-8"))
    return DONE


#: The handler of each client command, by name.
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "submit": _submit,
    "status": _status,
    "wait": _wait_command,
    "list": _list,
    "start": _phase_command(lambda job: job.start()),
    "resume": _phase_command(lambda job: job.resume()),
    "abort": _phase_command(lambda job: job.abort()),
    "destroy": _destroy,
    "extend": _extend,
    "download": _download,
    "wsdl": _wsdl,
}
