"""What keeps a user's mistake to one line: exit statuses, the settings read with their
errors named, and a closed pipe taken quietly.

A traceback is for a bug of ours. A wrong flag, a malformed configuration file, a bad
``WSRF_UWS_*`` value, a service that is not there: each is one ``wsrf-uws: ...`` line on
stderr and an exit status (:data:`FAILED`, :data:`USAGE`). ``wsrf-uws list | head -1``
closes stdout early; that ends the command quietly, as it does for ``cat``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tomllib
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

from ..client.exits import BROKEN_PIPE, DONE, FAILED, INTERRUPTED, USAGE

__all__ = [
    "BROKEN_PIPE",
    "DONE",
    "FAILED",
    "INTERRUPTED",
    "USAGE",
    "guarded",
    "load_settings",
    "one_line_warnings",
]
if TYPE_CHECKING:
    from ..settings import Settings


def version() -> str:
    """The installed version of wsrf-uws."""
    try:
        return package_version("wsrf-uws")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def fail(message: str) -> None:
    """Write ``wsrf-uws: message`` on stderr."""
    print(f"wsrf-uws: {message}", file=sys.stderr)


def guarded(command: Callable[[], int]) -> int:
    """Run ``command``; a closed stdout or Ctrl-C ends it with an exit status, quietly."""
    try:
        status = command()
        sys.stdout.flush()  # a pipe closed early shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        fail("interrupted")
        return INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind stdout (tests)
        pass


class _OneLine(logging.Formatter):
    """``wsrf-uws: message``, without the traceback a library logged with it."""

    def format(self, record: logging.LogRecord) -> str:
        return f"wsrf-uws: {record.getMessage()}"


def one_line_warnings() -> None:
    """Show the warnings libraries log (a contract that fails to load, ...) as one line
    each on stderr, for a command that is no service: its user wants what, not where."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def load_settings(args: argparse.Namespace) -> Settings | None:
    """The settings from ``--config``, the environment and the flags; None (after saying
    why, naming the setting) when they are not valid."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from ..settings import Settings

    overrides = {
        key: getattr(args, key, None)
        for key in ("data_dir", "host", "port", "public_url", "log_format")
    }
    try:
        return Settings.load(args.config, **overrides)
    except ValidationError as error:
        fail(f"bad configuration: {describe_validation(error)}")
    except tomllib.TOMLDecodeError as error:
        fail(f"bad configuration: {args.config} is not valid TOML: {error}")
    except SettingsError as error:  # a WSRF_UWS_* value that is not valid JSON, ...
        cause = f": {error.__cause__}" if error.__cause__ else ""
        fail(f"bad configuration: {error}{cause}")
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        fail(f"bad configuration: {error}")
    return None


def describe_validation(error: Any) -> str:
    """A pydantic ValidationError as ``setting: problem; ...`` on one line."""
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        given = problem.get("input")
        shown = "" if isinstance(given, dict | list) or given is None else f" (given {given!r})"
        problems.append(f"{where}: {message}{shown}" if where else f"{message}{shown}")
    return "; ".join(problems)
