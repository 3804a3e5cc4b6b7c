"""What an adql spare runs before its job comes: a rehearsal of a run.

A spare (:mod:`wsrf_uws.execution.spares`) is forked from the contract's warm parent, and
the first write to each page of the parent's memory (a Python object's reference count
is a write) costs it a page fault and a copy: about 1,000 of them for a tiny query's run,
4 ms of its 11 ms of processor time here. The rehearsal runs a small query of the
catalogue's own ``tap_schema`` through the same steps as a job's run (cached in a cursor
file, then written as a VOTable) in a temporary folder, so that those faults are taken
before the job comes (:meth:`~.contract.AdqlContract.rehearse_run`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import psutil

from ...core.atomic import atomic_writer, write_atomic
from ...core.model import ProgressStep, Result
from ...vo.columns import ColumnInfo
from .jdl import AdqlJob
from .query import TranslatedQuery

_ADQL = (
    "SELECT TOP 3 column_index, CAST(column_index AS DOUBLE) AS position, column_name "
    "FROM tap_schema.columns ORDER BY column_index"
)
_SQL = (
    "SELECT column_index, CAST(column_index AS DOUBLE) AS position, column_name "
    "FROM tap_schema.columns ORDER BY column_index LIMIT 3"
)
_COLUMNS = tuple(ColumnInfo(name, "") for name in ("column_index", "position", "column_name"))

#: The rehearsal's job: integers, doubles and text, and one row more than its MAXREC (an
#: overflow), as a job's query may have.
REHEARSAL_JOB = AdqlJob(
    query=_ADQL,
    translated=TranslatedQuery(
        adql=_ADQL, sql=_SQL, maxrec=2, tables=("tap_schema.columns",), columns=_COLUMNS
    ),
    columns=_COLUMNS,
    maxrec=2,
)


#: Where the rehearsal's folder goes when it can: a memory file system, where the fsyncs a
#: run's atomic writes make cost nothing (on a disk each waits behind the service's own
#: commits, milliseconds that a job arriving meanwhile would wait for too).
MEMORY_FOLDER = "/dev/shm"  # noqa: S108 (mkdtemp makes a private folder of its own there)


#: How a rehearsal's folder is named: with the pid of the spare that made it.
FOLDER_PREFIX = "wsrf-uws-adql-rehearsal-"


def rehearsal_parent() -> str | None:
    """The folder to make the rehearsal's folder in: :data:`MEMORY_FOLDER` if this
    process may write there, else None (the system's temporary folder)."""
    return MEMORY_FOLDER if os.access(MEMORY_FOLDER, os.W_OK | os.X_OK) else None


@contextmanager
def rehearsal_folder() -> Iterator[Path]:
    """A new folder for this spare's rehearsal, removed at the end.

    A spare killed while it rehearses (the service stopping, an abort of the job that
    waits for it) cannot remove its folder, and a memory file system is not emptied
    until the machine restarts: each rehearsal first removes the folders of spares that
    are gone (named with their pid, and this user's).
    """
    parent = Path(rehearsal_parent() or tempfile.gettempdir())
    for left in parent.glob(f"{FOLDER_PREFIX}*-*"):
        pid = left.name[len(FOLDER_PREFIX) :].split("-", 1)[0]
        with suppress(OSError):
            if (
                pid.isdigit()
                and left.stat().st_uid == os.getuid()
                and not psutil.pid_exists(int(pid))
            ):
                shutil.rmtree(left, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=parent) as made:
        yield Path(made)


class RehearsalContext:
    """A :class:`~wsrf_uws.core.contract.JobContext` over a temporary folder, whose
    reports go nowhere; its results are written as a job's are (atomically)."""

    resource_id = "rehearsal"
    run_count = 1
    termination_time: datetime | None = None
    prepared: Any = None

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.jdl_state: dict[str, Any] = {}

    def progress(
        self, fraction: float | None = None, *, steps: tuple[ProgressStep, ...] | None = None
    ) -> None:
        """Nothing: nobody watches a rehearsal."""

    def set_state(self, state: dict[str, Any]) -> None:
        """Checked as a job's state is (JSON), and kept here only."""
        json.dumps(state)
        self.jdl_state = dict(state)

    def add_result(self, result: Result) -> None:
        """Nothing: a rehearsal's results are never announced."""

    def write_result(self, name: str, data: bytes, *, mime_type: str) -> Result:
        """Write ``data`` as the file ``name`` in the folder."""
        write_atomic(self.workdir / name, data)
        return Result(name, name, mime_type, len(data))

    def open_result(self, name: str, *, mime_type: str) -> AbstractContextManager[IO[bytes]]:
        """A file that becomes ``name`` in the folder when the block ends cleanly."""
        return atomic_writer(self.workdir / name)
