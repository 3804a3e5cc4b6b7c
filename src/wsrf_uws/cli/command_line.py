"""The whole command line of ``wsrf-uws``: every command's parser, and the operator
commands run with the settings read (the client commands are
:mod:`wsrf_uws.client.commands`'s; :func:`wsrf_uws.cli.main` goes straight to them)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..admin.command import add_admin_command, run_admin
from ..client.commands import add_client_commands, run_client_command
from ..conformance.command import add_conformance_command, run_conformance
from ..core.cluster import NodeRole
from ..core.phases import Phase
from ..core.ports import StoreError
from ..core.registry import installed_contracts
from ..settings import Settings
from .guard import USAGE, fail, load_settings, one_line_warnings, version
from .operator import (
    add_contract_commands,
    cluster_command,
    contract_command,
    contracts_command,
    jobs_command,
    serve_command,
    worker_command,
)
from .settings_command import settings_command
from .users_command import add_users_command, users_command

__all__ = ["run"]

_LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
#: Commands that set up logging of their own (a service's log, an operator's record).
_LOGGING_COMMANDS = frozenset({"serve", "worker", "run-job", "admin"})


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The command line's parser; a contract's commands are in it only when ``argv`` names
    no built-in command (or asks for help), so other commands need not import contracts."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML configuration file")
    common.add_argument("--data", type=Path, dest="data_dir", help="data directory")

    parser = argparse.ArgumentParser(
        prog="wsrf-uws",
        description="Universal Worker Service over SOAP/WS-RF.",
        epilog="Results go to stdout, messages to stderr. Exit status: 0 done; 1 a fault or "
        "a job that did not complete; 2 a usage or configuration error; 3 no service there; "
        "4 wait --max-wait passed; 130 interrupted. See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"wsrf-uws {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", parents=[common], help="serve every installed contract on one port"
    )
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--public-url", dest="public_url", help="base URL clients use")
    serve.add_argument("--log-level", default="INFO", choices=_LOG_LEVELS)
    serve.add_argument(
        "--log-format", choices=["text", "json"], help="log lines (default: log_format, text)"
    )
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
    worker.add_argument("--log-level", default="INFO", choices=_LOG_LEVELS)
    worker.add_argument(
        "--log-format", choices=["text", "json"], help="log lines (default: log_format, text)"
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
    add_users_command(commands, common)
    settings = commands.add_parser(
        "settings", parents=[common], help="print the effective settings (TOML)"
    )
    settings.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    contracts = commands.add_parser(
        "contracts", parents=[common], help="list the installed contracts"
    )
    contracts.add_argument("--json", action="store_true", help="print JSON")
    add_client_commands(commands)
    add_conformance_command(commands)
    add_admin_command(commands, common)
    jobs = commands.add_parser(
        "jobs", parents=[common], help="list the job resources of the local store"
    )
    jobs.add_argument("--owner", help="only this owner's jobs")
    jobs.add_argument(
        "--phase", action="append", type=Phase, choices=list(Phase), help="repeatable"
    )
    jobs.add_argument("--last", type=int, help="only the N most recent")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    first = argv[0] if argv else ""
    if first in ("", "-h", "--help") or not (first.startswith("-") or first in commands.choices):
        add_contract_commands(commands, common, installed_contracts()[0])
    return parser


def run(arguments: list[str]) -> int:
    """Parse ``arguments`` and run the command they name; the exit status."""
    args = _parser(arguments).parse_args(arguments)
    client_status = run_client_command(args)  # submit, status, ...: no local settings needed
    if client_status is not None:
        return client_status
    if args.command == "conformance":  # judges a remote endpoint: no local settings needed
        return run_conformance(args)
    settings = load_settings(args)
    if settings is None:
        return USAGE
    if args.command not in _LOGGING_COMMANDS:
        one_line_warnings()
    try:
        return _dispatch(settings, args)
    except StoreError as exc:
        fail(str(exc))
        return USAGE


def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    """Run an operator command, with the settings read."""
    if args.command == "settings":
        return settings_command(settings, as_json=args.json)
    if args.command == "contracts":
        return contracts_command(settings, as_json=args.json)
    if getattr(args, "contract_command", None) is not None:
        return contract_command(settings, args)
    if args.command == "serve":
        return serve_command(settings, args)
    if args.command == "users":
        return users_command(settings, args)
    if args.command == "worker":
        return worker_command(settings, args)
    if args.command == "cluster":
        return cluster_command(settings, args)
    if args.command == "admin":
        return run_admin(settings, args)
    if args.command == "run-job":
        from ..run_job import main as run_job

        return run_job(settings, args.resource_id)
    return jobs_command(settings, args)
