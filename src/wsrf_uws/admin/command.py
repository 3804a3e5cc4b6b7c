"""``wsrf-uws admin``: list jobs with filters, bulk ``abort``/``resume``/``destroy``/``rerun``,
``hold``/``release`` of the queue.

Each bulk action takes the filters of ``admin jobs``, changes nothing with ``--dry-run``
(it lists what it would change), and refuses, changing nothing, when more jobs match than
``--max`` (default 20). Stdout carries the ids changed (or the table, or JSON); messages
go to stderr; every action is logged with the operator (the OS user) and the jobs.
Exit status: 0 done, 1 refused (too many jobs), 2 bad usage or store.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from ..core.model import Job
from ..core.phases import Phase
from ..core.ports import JobStore
from ..runtime import job_store
from ..settings import Settings
from ..wire.times import format_utc
from .actions import ACTIONS, apply, hold_queue
from .selection import JobFilter, select_jobs

#: ``--max`` unless given: a bulk action touching more jobs must say so.
DEFAULT_MAX = 20


def add_admin_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``admin`` command and its subcommands, under ``commands`` (an argparse subparsers)."""
    admin = commands.add_parser(
        "admin", parents=[common], help="operator's bulk actions on the store's jobs"
    )
    actions = admin.add_subparsers(dest="admin_action", required=True)
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--owner", help="only this owner's jobs")
    filters.add_argument(
        "--phase", action="append", type=Phase, choices=list(Phase), help="repeatable"
    )
    filters.add_argument("--contract", help="only this contract's jobs")
    filters.add_argument("--created-after", type=_instant, help="ISO 8601, UTC if no zone")
    filters.add_argument("--created-before", type=_instant, help="ISO 8601, UTC if no zone")
    filters.add_argument("--error", dest="error_text", help="text the error message contains")
    filters.add_argument("--id", dest="resource_ids", action="append", help="repeatable")
    listing = actions.add_parser("jobs", parents=[common, filters], help="list the jobs")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for action in ACTIONS.values():
        bulk = actions.add_parser(
            action.name,
            parents=[common, filters],
            help=f"{action.name} the matching jobs ({', '.join(sorted(action.phases))})"
            if action.name != "destroy"
            else "destroy the matching jobs (they expire now; the service destroys them)",
        )
        bulk.add_argument("--dry-run", action="store_true", help="change nothing; list them")
        bulk.add_argument(
            "--max",
            type=int,
            default=DEFAULT_MAX,
            help=f"refuse if more jobs match (default {DEFAULT_MAX})",
        )
    actions.add_parser("hold", parents=[common], help="start no queued job until released")
    actions.add_parser("release", parents=[common], help="start queued jobs again")
    actions.add_parser("status", parents=[common], help="whether the queue is held")


def run_admin(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``admin``'s subcommand; returns the exit status."""
    _log_to_stderr()
    if not settings.database_url.get_secret_value() and not settings.store_path.exists():
        print(f"wsrf-uws: no store at {settings.store_path}", file=sys.stderr)
        return 2
    store = job_store(settings)
    try:
        return _run(store, args, who=getpass.getuser(), now=datetime.now(UTC))
    finally:
        store.close()


def _run(store: JobStore, args: argparse.Namespace, *, who: str, now: datetime) -> int:
    name = args.admin_action
    if name in ("hold", "release", "status"):
        state = store.operator_state() if name == "status" else None
        if state is None:
            state = hold_queue(store, hold=name == "hold", who=who, now=now)
        if state.hold is None:
            print("queue: running")
        else:
            print(f"queue: held by {state.hold.by} since {format_utc(state.hold.since)}")
        return 0
    where = JobFilter(
        owner=args.owner,
        phases=args.phase,
        contract=args.contract,
        created_after=args.created_after,
        created_before=args.created_before,
        error_text=args.error_text,
        resource_ids=args.resource_ids,
    )
    if name == "jobs":
        _print_jobs(select_jobs(store, where), as_json=args.json)
        return 0
    action = ACTIONS[name]
    jobs = select_jobs(store, where, phases=action.phases)
    if args.max is not None and len(jobs) > args.max:
        print(
            f"wsrf-uws: {len(jobs)} jobs match, more than --max {args.max}: nothing done "
            "(narrow the filters, or raise --max)",
            file=sys.stderr,
        )
        return 1
    if args.dry_run:
        for job in jobs:
            print(job.resource_id)
        print(f"would have {action.done} {len(jobs)} job(s) (dry run)", file=sys.stderr)
        return 0
    outcome = apply(action, store, jobs, who=who, now=now)
    for job in outcome.changed:
        print(job.resource_id)
    for resource_id, reason in outcome.skipped.items():
        print(f"{resource_id} left as it was: {reason}", file=sys.stderr)
    print(f"{action.done} {len(outcome.changed)} job(s)", file=sys.stderr)
    return 0


def _print_jobs(jobs: list[Job], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([_job_fields(job) for job in jobs], indent=1))
        return
    for job in jobs:
        error = f"  error: {job.error.message}" if job.error is not None else ""
        print(
            f"{job.resource_id}  {job.contract:<8} {job.owner:<12} {job.phase:<9} "
            f"created {format_utc(job.creation_time)}{error}"
        )
    print(f"{len(jobs)} job(s)", file=sys.stderr)


def _job_fields(job: Job) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return format_utc(value) if value is not None else None

    return {
        "resource_id": job.resource_id,
        "contract": job.contract,
        "owner": job.owner,
        "phase": job.phase.value,
        "created": when(job.creation_time),
        "started": when(job.start_time),
        "ended": when(job.end_time),
        "terminates": when(job.termination_time),
        "error": job.error.message if job.error is not None else None,
        "note": job.note,
    }


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _log_to_stderr() -> None:
    """The actions' log lines (who did what) on stderr, unless logging is set up already."""
    admin = logging.getLogger("wsrf_uws.admin")
    if not logging.getLogger().handlers and not admin.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        admin.addHandler(handler)
        admin.setLevel(logging.INFO)
