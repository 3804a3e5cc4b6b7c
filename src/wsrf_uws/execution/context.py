"""The :class:`~wsrf_uws.core.contract.JobContext` a job sees inside a worker process.

Reports go to the service over the worker's connection; the service writes them to
the store. Result files are written atomically into the job's folder. Progress is
sent at most :data:`PROGRESS_REPORTS_PER_SECOND` times a second, always the latest:
a job that reports in a tight loop costs the service no more than one that does not.
"""

from __future__ import annotations

import _thread
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from ..core.atomic import atomic_writer, write_atomic
from ..core.model import Progress, ProgressStep, Result, check_result_name
from ..core.ports import RunSpec
from .messages import JobReport, ProgressReport, ResultReport, StateReport

#: The most progress reports a job sends to the service per second.
PROGRESS_REPORTS_PER_SECOND = 10


class WorkerContext:
    """The job's view of the service while it runs.

    Call :meth:`flush` when the job ends, so its last progress report is sent.
    """

    def __init__(self, spec: RunSpec, conn: Connection, *, prepared: Any = None) -> None:
        self.resource_id = spec.resource_id
        #: What the contract's ``prepare_run`` returned in this (spare) process, or None.
        self.prepared = prepared
        self.workdir: Path = spec.workdir
        self.jdl_state: dict[str, Any] = dict(spec.jdl_state)
        #: The state the service has, as JSON: a state that reads the same is not sent.
        self._state_json = json.dumps(spec.jdl_state)
        self.run_count = spec.run_count
        self.termination_time = spec.termination_time
        self._conn = conn
        self._lock = threading.Lock()
        #: A progress report not sent yet (a later one replaces it), and when it may go.
        self._pending: Progress | None = None
        self._next_progress = 0.0
        self._due = threading.Condition(self._lock)
        self._sender_started = False
        self._closed = False

    def _send(self, report: JobReport) -> None:
        with self._lock:
            self._conn.send(report)

    def progress(
        self, fraction: float | None = None, *, steps: tuple[ProgressStep, ...] | None = None
    ) -> None:
        """Report the fraction complete (0..1) and, optionally, the named steps.

        Sent at once unless a report went less than 1/PROGRESS_REPORTS_PER_SECOND s ago;
        then it is sent when that time is up, unless a later report replaces it first.
        """
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction complete must lie in [0, 1], not {fraction}")
        report = Progress(fraction=fraction, steps=tuple(steps or ()))
        with self._lock:
            self._pending = report
            if time.monotonic() >= self._next_progress:
                self._send_pending()
            elif not self._sender_started:
                # Not threading.Thread: its start() waits until the new thread runs, about
                # 1 ms on a busy machine, which a tiny query's second report would add to
                # the job's latency. This thread needs no handshake, and nothing joins it.
                _thread.start_new_thread(self._send_when_due, ())
                self._sender_started = True
            else:
                self._due.notify()

    def flush(self) -> None:
        """Send a progress report still held back, and stop holding any."""
        with self._lock:
            self._closed = True
            self._send_pending()
            self._due.notify()

    def _send_pending(self) -> None:
        # Called with the lock held.
        if self._pending is not None:
            report, self._pending = self._pending, None
            self._next_progress = time.monotonic() + 1 / PROGRESS_REPORTS_PER_SECOND
            self._conn.send(ProgressReport(report))

    def _send_when_due(self) -> None:
        with self._lock:
            while not self._closed:
                wait = self._next_progress - time.monotonic()
                if self._pending is not None and wait <= 0:
                    self._send_pending()
                else:
                    self._due.wait(wait if self._pending is not None else None)

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the contract state; it must be JSON-serializable.

        A state whose JSON is the service's already is not sent: a run that first sets
        the state it was created with (as ``adql`` does) costs the service no store
        write. The comparison is of the JSON, not of the objects, so a state changed in
        place (a list appended to) and set again is sent.
        """
        text = json.dumps(state)
        if text == self._state_json:
            return
        self._state_json = text
        self.jdl_state = json.loads(text)
        self._send(StateReport(self.jdl_state))

    def add_result(self, result: Result) -> None:
        """Announce a result; a local one must be a file in the job's folder."""
        check_result_name(result.name)
        if result.is_local:
            path = (self.workdir / result.location).resolve()
            if self.workdir.resolve() not in path.parents or not path.is_file():
                raise ValueError(f"result {result.name!r}: no file {result.location!r} in workdir")
            if result.size is None:
                result = Result(result.name, result.location, result.mime_type, path.stat().st_size)
        self._send(ResultReport(result))

    def write_result(self, name: str, data: bytes, *, mime_type: str) -> Result:
        """Write ``data`` as the file result ``name`` and announce it."""
        check_result_name(name)
        write_atomic(self.workdir / name, data)
        result = Result(name, name, mime_type, len(data))
        self._send(ResultReport(result))
        return result

    @contextmanager
    def open_result(self, name: str, *, mime_type: str) -> Iterator[IO[bytes]]:
        """A file that becomes result ``name`` when the block ends cleanly."""
        check_result_name(name)
        path = self.workdir / name
        with atomic_writer(path) as stream:
            yield stream
        self._send(ResultReport(Result(name, name, mime_type, path.stat().st_size)))
