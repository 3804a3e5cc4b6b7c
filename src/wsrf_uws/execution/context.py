"""The :class:`~wsrf_uws.core.contract.JobContext` a job sees inside a worker process.

Reports go to the service over the worker's connection; the service writes them to
the store. Result files are written atomically into the job's folder.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from ..core.model import Progress, ProgressStep, Result, check_result_name
from ..store.files import atomic_writer, write_atomic
from .base import RunSpec


class WorkerContext:
    """The job's view of the service while it runs."""

    def __init__(self, spec: RunSpec, conn: Connection) -> None:
        self.resource_id = spec.resource_id
        self.workdir: Path = spec.workdir
        self.jdl_state: dict[str, Any] = dict(spec.jdl_state)
        self.run_count = spec.run_count
        self.termination_time = spec.termination_time
        self._conn = conn
        self._lock = threading.Lock()

    def _send(self, *message: Any) -> None:
        with self._lock:
            self._conn.send(message)

    def progress(
        self, fraction: float | None = None, *, steps: tuple[ProgressStep, ...] | None = None
    ) -> None:
        """Report the fraction complete (0..1) and, optionally, the named steps."""
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction complete must lie in [0, 1], not {fraction}")
        self._send("progress", Progress(fraction=fraction, steps=tuple(steps or ())))

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace the contract state; it must be JSON-serializable."""
        json.dumps(state)
        self.jdl_state = dict(state)
        self._send("state", self.jdl_state)

    def add_result(self, result: Result) -> None:
        """Announce a result; a local one must be a file in the job's folder."""
        check_result_name(result.name)
        if result.is_local:
            path = (self.workdir / result.location).resolve()
            if self.workdir.resolve() not in path.parents or not path.is_file():
                raise ValueError(f"result {result.name!r}: no file {result.location!r} in workdir")
            if result.size is None:
                result = Result(result.name, result.location, result.mime_type, path.stat().st_size)
        self._send("result", result)

    def write_result(self, name: str, data: bytes, *, mime_type: str) -> Result:
        """Write ``data`` as the file result ``name`` and announce it."""
        check_result_name(name)
        write_atomic(self.workdir / name, data)
        result = Result(name, name, mime_type, len(data))
        self._send("result", result)
        return result

    @contextmanager
    def open_result(self, name: str, *, mime_type: str) -> Iterator[IO[bytes]]:
        """A file that becomes result ``name`` when the block ends cleanly."""
        check_result_name(name)
        path = self.workdir / name
        with atomic_writer(path) as stream:
            yield stream
        self._send("result", Result(name, name, mime_type, path.stat().st_size))
