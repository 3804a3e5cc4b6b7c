"""What the local executor sees of a job's process, however it was started.

A job's process is forked from its contract's warm parent (:class:`~.warm.WarmProcess`),
or started cold by :mod:`multiprocessing` (:class:`ColdProcess`): where no warm parent can
serve (a contract defined in a script's ``__main__``, a warm parent that could not be
started), or when the executor is asked for a :mod:`multiprocessing` start method.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from typing import Protocol

from ..core.ports import RunSpec
from .worker import run_job


class JobProcess(Protocol):
    """A job's running process: its pid, and a descriptor readable when it ends."""

    pid: int
    #: Readable when the process has ended (or may have: see :meth:`reap`).
    sentinel: int
    #: The exit code once known (negative: killed by that signal); None if unknown.
    exitcode: int | None

    def reap(self) -> bool:
        """Called when ``sentinel`` is readable: True if the process has ended; False if
        it runs on and ``sentinel`` is another descriptor now, to be waited for."""
        ...

    def close(self) -> None:
        """Release the process once it has ended (and been killed, if need be)."""
        ...


class ColdProcess:
    """A job process started by :mod:`multiprocessing`: a fresh interpreter (``spawn``),
    a fork of its fork server (``forkserver``) or of the service (``fork``)."""

    def __init__(self, context: SpawnContext, spec: RunSpec, conn: Connection, nice: int) -> None:
        self._process = context.Process(
            target=run_job, args=(spec, conn, nice), name=f"wsrf-uws-job-{spec.resource_id[:12]}"
        )
        self._process.start()
        self.pid: int = self._process.pid or 0
        self.sentinel: int = self._process.sentinel
        self.exitcode: int | None = None

    def reap(self) -> bool:
        return True

    def close(self) -> None:
        # Joined only now, after the executor has killed what the job left in its group:
        # until then, a process of ours is not reaped, and its pid cannot be reused.
        self._process.join()
        self.exitcode = self._process.exitcode
        self._process.close()
