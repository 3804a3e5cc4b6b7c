"""The operator's commands of ``wsrf-uws`` on this machine: ``serve``, ``worker``,
``cluster``, ``contracts``, ``jobs`` and the commands contracts add."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.cluster import ClusterStore
from ..core.contract import CliCommand, Contract, ContractSettingsError
from ..core.ports import StoreError
from ..observability.log_format import configure_logging
from ..runtime import contract_registry, job_store
from ..settings import Settings
from ..wire.times import format_utc
from .guard import DONE, FAILED, USAGE, fail


def add_contract_commands(
    commands: Any, common: argparse.ArgumentParser, classes: dict[str, type[Contract]]
) -> None:
    """A subcommand for each command an installed contract declares (if its name is free)."""
    for name, contract_class in sorted(classes.items()):
        for command in contract_class.cli_commands():
            if command.name in commands.choices:
                fail(
                    f"the command {command.name!r} of contract {name!r} is left out: "
                    "the name is taken"
                )
                continue
            parser = commands.add_parser(command.name, parents=[common], help=command.help)
            if command.arguments is not None:
                command.arguments(parser)
            parser.set_defaults(contract_command=(contract_class, command))


def contracts_command(settings: Settings, *, as_json: bool) -> int:
    """The contracts installed, and those that failed to load (exit 1 if any did)."""
    registry = contract_registry(settings)
    if as_json:
        listing = [
            {"name": c.name, "namespace": c.namespace, "isolated": c.isolated} for c in registry
        ]
        failed = dict(sorted(registry.failures.items()))
        print(json.dumps({"contracts": listing, "failed": failed}, indent=2))
    else:
        for contract in registry:
            kind = "isolated" if contract.isolated else "not isolated"
            print(f"{contract.name:<10} {contract.namespace:<28} {kind}")
        for name, reason in sorted(registry.failures.items()):
            print(f"{name:<10} FAILED: {reason}")
        if not len(registry) and not registry.failures:
            print("no contracts installed", file=sys.stderr)
    return FAILED if registry.failures else DONE


def contract_command(settings: Settings, args: argparse.Namespace) -> int:
    """A command a contract declares, with the contract's environment."""
    contract_class: type[Contract]
    command: CliCommand
    contract_class, command = args.contract_command
    try:
        environment = settings.contract_environment(
            contract_class.name, contract_class.settings_model
        )
    except ContractSettingsError as exc:
        fail(f"bad configuration: {exc}")
        return USAGE
    return command.run(args, environment)


def jobs_command(settings: Settings, args: argparse.Namespace) -> int:
    """The jobs of the local store (``--owner``, ``--phase``, ``--last``), newest first."""
    if not settings.database_url.get_secret_value() and not settings.store_path.exists():
        fail(f"no store at {settings.store_path}")
        return FAILED
    try:
        store = job_store(settings)
        try:
            jobs = store.list_jobs(owner=args.owner, phases=args.phase, last=args.last)
        finally:
            store.close()
    except StoreError as exc:
        fail(str(exc))
        return USAGE
    if args.json:
        rows = [
            {
                "resource_id": job.resource_id,
                "contract": job.contract,
                "owner": job.owner,
                "phase": str(job.phase),
                "creation_time": format_utc(job.creation_time),
                "termination_time": (
                    format_utc(job.termination_time) if job.termination_time else None
                ),
            }
            for job in jobs
        ]
        print(json.dumps(rows, indent=2))
        return DONE
    for job in jobs:
        ends = format_utc(job.termination_time) if job.termination_time else "never"
        print(
            f"{job.resource_id}  {job.contract:<8} {job.owner:<12} {job.phase:<9} "
            f"created {format_utc(job.creation_time)}  terminates {ends}"
        )
    print(f"{len(jobs)} job(s)", file=sys.stderr)
    return DONE


def serve_command(settings: Settings, args: argparse.Namespace) -> int:
    """Serve every installed contract until stopped."""
    from ..server import serve

    users = settings.users_file
    if users is not None and not users.is_file():
        fail(f"users_file {users} does not exist (make it with: wsrf-uws users add NAME)")
        return USAGE
    configure_logging(level=args.log_level, log_format=settings.log_format)
    try:
        return serve(settings, role=args.role, node=args.node)
    except (ValueError, OSError, StoreError) as exc:  # a wildcard bind without public URL, ...
        fail(str(exc))
        return USAGE


def worker_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run jobs for the cluster of ``database_url``."""
    from ..worker_node import run_worker

    if args.slots is not None and args.slots < 1:
        fail("--slots must be at least 1")
        return USAGE
    configure_logging(level=args.log_level, log_format=settings.log_format)
    try:
        return run_worker(settings, node=args.node, slots=args.slots)
    except (ValueError, StoreError) as exc:
        fail(str(exc))
        return USAGE


def cluster_command(settings: Settings, args: argparse.Namespace) -> int:
    """The nodes sharing ``database_url``."""
    from ..cluster_status import print_status

    try:
        store = job_store(settings)
    except StoreError as exc:
        fail(str(exc))
        return USAGE
    try:
        if not isinstance(store, ClusterStore):
            fail(
                "no cluster: the store is the SQLite file of one process "
                "(set database_url to share a PostgreSQL store)"
            )
            return USAGE
        print_status(store.status(), as_json=args.json, ttl=settings.cluster.heartbeat_ttl)
        return DONE
    finally:
        store.close()
