"""The ``wsrf-uws`` command.

Operator commands: ``serve`` (run the service), ``settings`` (the effective
configuration), ``contracts`` (what is installed), ``applications`` (the ``cea``
contract's application library), ``catalog`` (build a catalogue for the ``adql``
contract), ``jobs`` (the resources in a data directory) and ``users`` (the users
file). Client commands (``submit``, ``status``, ``start``, ``resume``, ``extend``,
``destroy``, ``wsdl``) talk SOAP to a running service; see
:mod:`wsrf_uws.client.commands`.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from .client.commands import add_client_commands, run_client_command
from .conformance.command import add_conformance_command, run_conformance
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
    serve = commands.add_parser(
        "serve", parents=[common], help="serve every installed contract on one port"
    )
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--public-url", dest="public_url", help="base URL clients use")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    users = commands.add_parser("users", parents=[common], help="manage the users file")
    users.add_argument("action", choices=["add", "remove", "list"])
    users.add_argument("name", nargs="?")
    users.add_argument(
        "--digest",
        action="store_true",
        help="also keep the password reversibly so WS-Security PasswordDigest works",
    )
    commands.add_parser("settings", parents=[common], help="print the effective settings")
    commands.add_parser("contracts", parents=[common], help="list the installed contracts")
    applications = commands.add_parser(
        "applications",
        parents=[common],
        help="list the cea contract's applications and the descriptions it skips",
    )
    applications.add_argument(
        "--library", type=Path, help="read this folder instead of the configured library"
    )
    catalog = commands.add_parser(
        "catalog",
        parents=[common],
        help="build a DuckDB catalogue for the adql contract (Hipparcos 2, or synthetic)",
    )
    catalog.add_argument("kind", choices=["hipparcos", "synthetic"])
    catalog.add_argument("output", type=Path, help="the catalogue file to write (must not exist)")
    catalog.add_argument(
        "--rows", type=int, default=1_000_000, help="synthetic: rows (default 1 000 000)"
    )
    catalog.add_argument("--seed", type=int, help="synthetic: the random seed")
    add_client_commands(commands)
    add_conformance_command(commands)
    jobs = commands.add_parser("jobs", parents=[common], help="list the job resources")
    jobs.add_argument("--owner", help="only this owner's jobs")
    jobs.add_argument(
        "--phase", action="append", type=Phase, choices=list(Phase), help="repeatable"
    )
    jobs.add_argument("--last", type=int, help="only the N most recent")
    return parser


def _settings_command(settings: Settings) -> int:
    sections: dict[str, dict[str, object]] = {}
    for name, value in settings.model_dump(mode="json").items():
        if isinstance(value, dict):
            sections[name] = value  # printed after the plain values, as TOML tables
        else:
            print(f"{name} = {value!r}")
    for section, values in sections.items():
        print(f"\n[{section}]")
        for name, value in values.items():
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


def _applications_command(settings: Settings, args: argparse.Namespace) -> int:
    from .jdl.cea.contract import CeaContract
    from .jdl.cea.library import DescriptionError
    from .jdl.cea.listing import describe_library

    if args.library is not None:
        settings = settings.model_copy(
            update={"cea": settings.cea.model_copy(update={"library": args.library})}
        )
    try:
        library = CeaContract(settings).library
    except DescriptionError as exc:
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 2
    print(describe_library(library))
    return 1 if library.problems else 0


def _catalog_command(args: argparse.Namespace) -> int:
    from .jdl.adql.catalog import build_hipparcos, build_synthetic

    if args.output.exists():
        print(f"wsrf-uws: {args.output} exists; give a new file", file=sys.stderr)
        return 2
    if args.kind == "hipparcos":
        build_hipparcos(args.output)
        print(f"{args.output}: hipparcos.main (117955 rows)")
        return 0
    if args.rows < 1:
        print("wsrf-uws: --rows must be at least 1", file=sys.stderr)
        return 2

    def progress(stage: str, done: int, total: int) -> None:
        print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)

    options = {} if args.seed is None else {"seed": args.seed}
    build_synthetic(args.output, rows=args.rows, progress=progress, **options)
    print(
        f"{args.output}: synthetic.main ({args.rows} rows); serve it with "
        f"WSRF_UWS_ADQL__CATALOG={args.output}"
    )
    return 0


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


def _serve_command(settings: Settings, args: argparse.Namespace) -> int:
    from .server import serve

    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return serve(settings)
    except (ValueError, OSError) as exc:  # a wildcard bind without public URL, a port in use
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 2


def _users_command(settings: Settings, args: argparse.Namespace) -> int:
    from .soap.users import UsersFile, UsersFileError

    path = settings.users_file
    if path is None:
        print("wsrf-uws: set users_file (WSRF_UWS_USERS_FILE or the config file)", file=sys.stderr)
        return 2
    try:
        if args.action == "list":
            for name in UsersFile.load(path).names if path.exists() else []:
                print(name)
            return 0
        if not args.name:
            print(f"wsrf-uws: users {args.action} needs a user name", file=sys.stderr)
            return 2
        if args.action == "remove":
            UsersFile.remove(path, args.name)
            return 0
        password = getpass.getpass(f"password for {args.name}: ")
        if not password or password != getpass.getpass("again: "):
            print("wsrf-uws: the passwords are empty or differ", file=sys.stderr)
            return 1
        UsersFile.add(path, args.name, password, digest=args.digest)
        return 0
    except (UsersFileError, KeyError, ValueError) as exc:
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    client_status = run_client_command(args)  # submit, status, ...: no local settings needed
    if client_status is not None:
        return client_status
    if args.command == "conformance":  # judges a remote endpoint: no local settings needed
        return run_conformance(args)
    overrides = {
        key: getattr(args, key, None) for key in ("data_dir", "host", "port", "public_url")
    }
    try:
        settings = Settings.load(args.config, **overrides)
    except (ValidationError, FileNotFoundError) as exc:
        print(f"wsrf-uws: bad configuration: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "settings":
            return _settings_command(settings)
        if args.command == "contracts":
            return _contracts_command(settings)
        if args.command == "applications":
            return _applications_command(settings, args)
        if args.command == "catalog":
            return _catalog_command(args)
        if args.command == "serve":
            return _serve_command(settings, args)
        if args.command == "users":
            return _users_command(settings, args)
        return _jobs_command(settings, args)
    except StoreError as exc:
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
