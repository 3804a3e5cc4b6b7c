"""``wsrf-uws users add|remove|list``: edit the users file the service reads (``users_file``).

A password is asked on the terminal (twice), or read from the first line of standard
input with ``--password-stdin`` (for scripts: ``printf '%s\\n' "$PW" | wsrf-uws users add
alice --password-stdin``); it is never an argument, which other users could read in the
process list.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from ..settings import Settings
from .guard import DONE, FAILED, USAGE, fail


def add_users_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``users`` to the command line."""
    users = commands.add_parser("users", parents=[common], help="manage the users file")
    users.add_argument("action", choices=["add", "remove", "list"])
    users.add_argument("name", nargs="?")
    users.add_argument(
        "--digest",
        action="store_true",
        help="also keep the password reversibly so WS-Security PasswordDigest works",
    )
    users.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (no prompt)",
    )
    users.add_argument("--json", action="store_true", help="list: print JSON")


def users_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``users ACTION``."""
    from ..accounts import UsersFile, UsersFileError

    path = settings.users_file
    if path is None:
        fail(
            'no users file is configured: put users_file = "users" in a configuration '
            "file and pass it (--config FILE; the path is relative to that file), or set "
            "WSRF_UWS_USERS_FILE=/path/to/users; then give `serve` the same"
        )
        return USAGE
    try:
        if args.action == "list":
            names = UsersFile.load(path).names if path.exists() else []
            if args.json:
                print(json.dumps(list(names)))
            else:
                for name in names:
                    print(name)
            return DONE
        if not args.name:
            fail(f"users {args.action} needs a user name")
            return USAGE
        if args.action == "remove":
            UsersFile.remove(path, args.name)
            return DONE
        password = _new_password(args.name, from_stdin=args.password_stdin)
        if password is None:
            return USAGE
        UsersFile.add(path, args.name, password, digest=args.digest)
        print(f"wsrf-uws: {args.name} is in {path}", file=sys.stderr)
        return DONE
    except KeyError as exc:
        fail(f"users_file {path} has no user {exc.args[0]!r}")
        return FAILED
    except (UsersFileError, ValueError, OSError) as exc:
        fail(f"users_file {path}: {exc}")
        return FAILED


def _new_password(name: str, *, from_stdin: bool) -> str | None:
    """The new password of ``name``: from stdin's first line, or asked twice on the
    terminal; None (after saying why) when there is none to be had."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            fail("no password on standard input")
            return None
        return password
    if not sys.stdin.isatty():
        fail("standard input is not a terminal: give the password with --password-stdin")
        return None
    try:
        password = getpass.getpass(f"password for {name}: ")
        again = getpass.getpass("again: ")
    except EOFError:
        print(file=sys.stderr)
        fail("no password given")
        return None
    if not password or password != again:
        fail("the passwords are empty or differ")
        return None
    return password
