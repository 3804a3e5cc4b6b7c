"""The ``wsrf-uws`` command.

Operator commands: ``serve`` (run the service), ``settings`` (the effective
configuration), ``contracts`` (what is installed), ``jobs`` (the resources in a data
directory) and ``users`` (the users file), and those the installed contracts add
(:meth:`~wsrf_uws.core.contract.Contract.cli_commands`), which are looked up only when
the command named is none of the others. Client commands (``submit``, ``status``,
``start``, ``resume``, ``extend``, ``destroy``, ``wsdl``) talk SOAP to a running service;
see :mod:`wsrf_uws.client.commands`.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .client.commands import add_client_commands, run_client_command
from .conformance.command import add_conformance_command, run_conformance
from .core.cluster import ClusterStore, NodeRole
from .core.contract import CliCommand, Contract, ContractSettingsError
from .core.phases import Phase
from .core.ports import StoreError
from .core.registry import installed_contracts
from .runtime import contract_registry, job_store
from .settings import Settings
from .wire.times import format_utc


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The command line's parser; a contract's commands are in it only when ``argv`` names
    no built-in command (or asks for help), so other commands need not import contracts."""
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
    serve.add_argument(
        "--role",
        type=NodeRole,
        choices=[NodeRole.ALL, NodeRole.FRONTEND],
        default=NodeRole.ALL,
        help="all: answer clients and run jobs (default); frontend: answer clients only "
        "(needs database_url; workers run the jobs)",
    )
    serve.add_argument("--node", help="this node's name in the cluster (default: [cluster] node)")
    worker = commands.add_parser(
        "worker", parents=[common], help="run jobs for the cluster of database_url"
    )
    worker.add_argument("--slots", type=int, help="jobs run at once (default: slots)")
    worker.add_argument("--node", help="this node's name in the cluster (default: [cluster] node)")
    worker.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    cluster = commands.add_parser(
        "cluster", parents=[common], help="the nodes sharing database_url"
    )
    cluster.add_argument("action", choices=["status"])
    cluster.add_argument("--json", action="store_true", help="print JSON")
    run_job = commands.add_parser(
        "run-job", parents=[common], help="run one queued job here (what a Slurm job runs)"
    )
    run_job.add_argument("resource_id", help="the job's resource id")
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
    add_client_commands(commands)
    add_conformance_command(commands)
    jobs = commands.add_parser("jobs", parents=[common], help="list the job resources")
    jobs.add_argument("--owner", help="only this owner's jobs")
    jobs.add_argument(
        "--phase", action="append", type=Phase, choices=list(Phase), help="repeatable"
    )
    jobs.add_argument("--last", type=int, help="only the N most recent")
    if not argv or argv[0] not in commands.choices:
        _add_contract_commands(commands, common)
    return parser


def _add_contract_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """A subcommand for each command an installed contract declares (if its name is free)."""
    classes, _ = installed_contracts()
    for name, contract_class in sorted(classes.items()):
        for command in contract_class.cli_commands():
            if command.name in commands.choices:
                print(
                    f"wsrf-uws: the command {command.name!r} of contract {name!r} is left out: "
                    "the name is taken",
                    file=sys.stderr,
                )
                continue
            parser = commands.add_parser(command.name, parents=[common], help=command.help)
            if command.arguments is not None:
                command.arguments(parser)
            parser.set_defaults(contract_command=(contract_class, command))


def _settings_command(settings: Settings) -> int:
    """The service's settings, then each installed contract's section, as validated."""
    sections: dict[str, dict[str, object]] = {}
    contract_sections = settings.contract_sections
    for name, value in settings.model_dump(mode="json").items():
        if name in contract_sections:
            continue
        if isinstance(value, dict):
            sections[name] = value  # printed after the plain values, as TOML tables
        else:
            print(f"{name} = {value!r}")
    classes, _ = installed_contracts()
    for name, contract_class in sorted(classes.items()):
        model = contract_class.settings_model
        if model is None:
            continue
        try:
            values = settings.contract_settings(name, model)
        except ContractSettingsError as exc:
            print(f"wsrf-uws: bad configuration: {exc}", file=sys.stderr)
            return 2
        sections[name] = values.model_dump(mode="json")
    for name in sorted(set(contract_sections) - set(classes)):
        sections[name] = contract_sections[name]
        print(f"# [{name}] names no installed contract", file=sys.stderr)
    for section, values in sections.items():
        print(f"\n[{section}]")
        for name, value in values.items():
            print(f"{name} = {value!r}")
    return 0


def _contracts_command(settings: Settings) -> int:
    registry = contract_registry(settings)
    for contract in registry:
        kind = "isolated" if contract.isolated else "not isolated"
        print(f"{contract.name:<10} {contract.namespace:<28} {kind}")
    for name, reason in sorted(registry.failures.items()):
        print(f"{name:<10} FAILED: {reason}")
    if not len(registry) and not registry.failures:
        print("no contracts installed")
    return 1 if registry.failures else 0


def _contract_command(settings: Settings, args: argparse.Namespace) -> int:
    """A command a contract declares, with the contract's environment."""
    contract_class: type[Contract]
    command: CliCommand
    contract_class, command = args.contract_command
    try:
        environment = settings.contract_environment(
            contract_class.name, contract_class.settings_model
        )
    except ContractSettingsError as exc:
        print(f"wsrf-uws: bad configuration: {exc}", file=sys.stderr)
        return 2
    return command.run(args, environment)


def _jobs_command(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.database_url.get_secret_value() and not settings.store_path.exists():
        print(f"no store at {settings.store_path}", file=sys.stderr)
        return 1
    store = job_store(settings)
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
        return serve(settings, role=args.role, node=args.node)
    except (ValueError, OSError) as exc:  # a wildcard bind without public URL, a port in use
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 2


def _worker_command(settings: Settings, args: argparse.Namespace) -> int:
    from .worker_node import run_worker

    if args.slots is not None and args.slots < 1:
        print("wsrf-uws: --slots must be at least 1", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return run_worker(settings, node=args.node, slots=args.slots)
    except ValueError as exc:
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 2


def _cluster_command(settings: Settings, args: argparse.Namespace) -> int:
    from .cluster_status import print_status

    store = job_store(settings)
    try:
        if not isinstance(store, ClusterStore):
            print(
                "wsrf-uws: no cluster: the store is the SQLite file of one process "
                "(set database_url to share a PostgreSQL store)",
                file=sys.stderr,
            )
            return 2
        print_status(store.status(), as_json=args.json, ttl=settings.cluster.heartbeat_ttl)
        return 0
    finally:
        store.close()


def _users_command(settings: Settings, args: argparse.Namespace) -> int:
    from .accounts import UsersFile, UsersFileError

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
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser(arguments).parse_args(arguments)
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
        if getattr(args, "contract_command", None) is not None:
            return _contract_command(settings, args)
        if args.command == "serve":
            return _serve_command(settings, args)
        if args.command == "users":
            return _users_command(settings, args)
        if args.command == "worker":
            return _worker_command(settings, args)
        if args.command == "cluster":
            return _cluster_command(settings, args)
        if args.command == "run-job":
            from .run_job import main as run_job

            return run_job(settings, args.resource_id)
        return _jobs_command(settings, args)
    except StoreError as exc:
        print(f"wsrf-uws: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
