"""A contract that notices when one job runs twice at once, installed into cluster nodes.

``ledger`` is the ``steps`` contract (same schema and JDL) whose runs hold an exclusive
``flock`` on a file named after the job, in a folder every node of the test shares, for
as long as they run. The kernel releases the lock when the run's process ends, however
it ends (``kill -9`` of its worker included). A run that finds the lock taken is a
second run of the job while another is still alive somewhere in the cluster: it writes
``overlap`` into the ledger and fails. Every run also writes ``start`` and, if it gets
there, ``end`` lines (resource id, run count, process id), so a test can count runs.

The folder is ``WSRF_UWS_TEST_LEDGER`` in the environment of the worker nodes (their job
processes inherit it).
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from wsrf_uws.core.contract import JobContext
from wsrf_uws.core.errors import JobFailure
from wsrf_uws.jdl.steps.contract import StepsContract, StepsJob

LEDGER_VARIABLE = "WSRF_UWS_TEST_LEDGER"


class LedgerContract(StepsContract):
    """``ledger``: a ``steps`` job that holds a lock named after itself while it runs."""

    name = "ledger"

    def run(self, description: StepsJob, context: JobContext) -> None:
        folder = Path(os.environ[LEDGER_VARIABLE])
        lock = (folder / f"{context.resource_id}.lock").open("a")  # held until the process ends
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _write(folder, "overlap", context)
            raise JobFailure("another run of this job is still alive") from None
        _write(folder, "start", context)
        super().run(description, context)
        _write(folder, "end", context)


def _write(folder: Path, event: str, context: JobContext) -> None:
    # One short line per write to a file opened for appending: lines never interleave.
    line = f"{event} {context.resource_id} {context.run_count} {os.getpid()}\n"
    with (folder / "ledger.txt").open("a") as ledger:
        ledger.write(line)


@dataclass(frozen=True)
class Entry:
    """One line of the ledger."""

    event: str
    resource_id: str
    run_count: int
    pid: int


def read_ledger(folder: Path) -> list[Entry]:
    """Every line the runs wrote into the ledger in ``folder``."""
    path = folder / "ledger.txt"
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        event, resource_id, run_count, pid = line.split()
        entries.append(Entry(event, resource_id, int(run_count), int(pid)))
    return entries


def starts(entries: list[Entry]) -> Counter[str]:
    """How many runs of each job started."""
    return Counter(e.resource_id for e in entries if e.event == "start")


def ledger_environment(folder: Path) -> dict[str, str]:
    """Environment for cluster nodes serving ``steps`` and ``ledger``, the ledger in ``folder``.

    Writes a minimal installed distribution (``*.dist-info`` with ``entry_points.txt``)
    into ``folder``; the nodes find it on their ``PYTHONPATH``, as they would any
    contract package installed beside them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "ledger_contract-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ledger-contract\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[wsrf_uws.contracts]\nledger = cluster_contracts:LedgerContract\n", encoding="utf-8"
    )
    path = [str(folder), str(Path(__file__).resolve().parent)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return {
        "PYTHONPATH": os.pathsep.join(path),
        "WSRF_UWS_CONTRACTS": '["steps", "ledger"]',
        LEDGER_VARIABLE: str(folder),
    }
