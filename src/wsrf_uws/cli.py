"""The ``wsrf-uws`` command.

Operator commands available now: ``settings`` (the effective configuration),
``contracts`` (what is installed) and ``jobs`` (the resources in a data directory).
``serve`` and the client commands arrive with the SOAP binding.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from .core.clock import format_utc
from .core.phases import Phase
from .core.registry import ContractRegistry
from .settings import Settings
from .store.base import StoreError
from .store.sqlite import SQLiteJobStore


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML configuration file")
    common.add_argument("--data", type=Path, dest="data_dir", help="data directory")

    parser = argparse.ArgumentParser(
        prog="wsrf-uws", description="Universal Worker Service over SOAP/WS-RF."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("settings", parents=[common], help="print the effective settings")
    commands.add_parser("contracts", parents=[common], help="list the installed contracts")
    jobs = commands.add_parser("jobs", parents=[common], help="list the job resources")
    jobs.add_argument("--owner", help="only this owner's jobs")
    jobs.add_argument(
        "--phase", action="append", type=Phase, choices=list(Phase), help="repeatable"
    )
    jobs.add_argument("--last", type=int, help="only the N most recent")
    return parser


def _settings_command(settings: Settings) -> int:
    for name, value in settings.model_dump(mode="json").items():
        print(f"{name} = {value!r}")
    return 0


def _contracts_command(settings: Settings) -> int:
    registry = ContractRegistry.from_entry_points(settings, enabled=settings.contracts)
    for contract in registry:
        kind = "isolated" if contract.isolated else "not isolated"
        print(f"{contract.name:<10} {contract.namespace:<28} {kind}")
    for name, reason in sorted(registry.failures.items()):
        print(f"{name:<10} FAILED: {reason}")
    if not len(registry) and not registry.failures:
        print("no contracts installed")
    return 1 if registry.failures else 0


def _jobs_command(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.store_path.exists():
        print(f"no store at {settings.store_path}", file=sys.stderr)
        return 1
    store = SQLiteJobStore(settings.store_path)
    try:
        jobs = store.list_jobs(owner=args.owner, phases=args.phase, last=args.last)
    finally:
        store.close()
    for job in jobs:
        ends = format_utc(job.termination_time) if job.termination_time else "never"
        print(
            f"{job.resource_id}  {job.contract:<8} {job.owner:<12} {job.phase:<9} "
            f"created {format_utc(job.creation_time)}  terminates {ends}"
        )
    print(f"{len(jobs)} job(s)", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load(args.config, data_dir=args.data_dir)
    except (ValidationError, FileNotFoundError) as exc:
        print(f"wsrf-uws: bad configuration: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "settings":
            return _settings_command(settings)
        if args.command == "contracts":
            return _contracts_command(settings)
        return _jobs_command(settings, args)
    except StoreError as exc:
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
