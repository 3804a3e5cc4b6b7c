"""Inside a worker process: run one job and report how it ended.

The process leads its own process group, so the executor can stop the job and
everything it started with one signal. A watchdog thread takes the whole group
down if the service process disappears (for instance after ``kill -9``), so no
work outlives the service that would restart it. The job's address space is
limited (RLIMIT_AS) as its :class:`~wsrf_uws.core.ports.RunSpec` says, so a job
that tries to use more memory fails alone instead of the machine swapping.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import resource
import signal
import threading
import traceback
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from ..core import descriptions
from ..core.errors import JobFailure
from ..core.ports import RunSpec
from .context import WorkerContext
from .messages import RunCompleted, RunEnd, RunFailed
from .processes import descendants, signal_tree
from .scheduling_group import lead_own_session

#: Seconds a job process gives the close of what its contract prepared, after its outcome.
CLOSE_SECONDS = 5.0


class JobInterrupted(BaseException):
    """Raised in the job's main thread when the executor asks it to stop (SIGTERM).

    A BaseException, so ``except Exception`` in contract code does not swallow it and
    ``finally`` blocks still run.
    """


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise JobInterrupted


def _watch_service(conn: Connection, finished: threading.Event) -> None:
    # The service never sends anything: EOF means its end of the connection is gone.
    try:
        while True:
            conn.recv()
    except (EOFError, OSError):
        pass
    if not finished.is_set():
        # Children in sessions of their own (an application in its sandbox) are not in
        # this group: take them by descent first, then the group with this process.
        for child in descendants(os.getpid()):
            signal_tree(child.pid, signal.SIGKILL, [child])  # a leader takes its group along
        os.killpg(0, signal.SIGKILL)


def enter_job_limits(nice: int, *, own_session: bool = True) -> None:
    """Add ``nice`` to this process's niceness and make it lead a process group of its
    own (once: a spare does this before preparing, its job does not again).

    With ``nice`` and ``own_session``, the group is a session of its own whose scheduling
    group has that niceness (:mod:`.scheduling_group`). A process forked from a warm
    parent passes ``own_session=False``: the warm parent leads such a session already
    (:class:`~.warm.WarmParent`), which its jobs share, so the group's niceness is set
    once per warm parent rather than once per job (which the kernel may refuse).
    """
    if nice:
        os.nice(nice)
    if os.getpgrp() != os.getpid():
        if nice and own_session:
            lead_own_session(nice=nice)
        else:
            os.setpgrp()


def limit_address_space(limit: int) -> None:
    """Limit this process (and what it starts) to ``limit`` bytes of address space.

    Only the soft limit is set: a job's own child processes may still be given other
    limits of their own (as ``cea`` gives each application run), which a hard limit
    below theirs would forbid. 0 leaves the limits as they are.
    """
    if limit <= 0:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def run_job(
    spec: RunSpec,
    conn: Connection,
    nice: int = 0,
    *,
    prepared: Any = None,
    own_session: bool = True,
) -> None:
    """Run one job in this process, the job's own: forked from its contract's warm parent
    (:mod:`.zygote`), or started cold as the target of a ``multiprocessing.Process``.

    ``nice`` is added to the process's niceness before anything else runs, so every
    process the job starts inherits it. ``prepared`` is what the contract's
    ``prepare_run`` returned in this process, a spare (:mod:`.spare_process`), which has
    applied the niceness and its own process group already.
    """
    enter_job_limits(nice, own_session=own_session)
    signal.signal(signal.SIGTERM, _interrupt)
    finished = threading.Event()
    context: WorkerContext | None = None
    message: RunEnd | None
    # A stop may come at any moment from here on, before the run or while its failure
    # is being told: it ends the run quietly wherever it lands.
    try:
        # Not threading.Thread, whose start() waits until the new thread runs (about
        # 1 ms of the job's latency on a busy machine); nothing joins this one.
        _thread.start_new_thread(_watch_service, (conn, finished))
        context = WorkerContext(spec, conn, prepared=prepared)
        message = _run(spec, context)
    except JobInterrupted:
        message = None
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    finished.set()
    if context is not None:
        with contextlib.suppress(OSError, ValueError):
            context.flush()  # the last progress report, before the outcome
    # Children the job left behind belong to the job: stop them before reporting.
    leftovers = descendants(os.getpid())
    if leftovers:
        signal_tree(os.getpid(), signal.SIGKILL, leftovers)
    if message is not None:
        with contextlib.suppress(OSError):
            conn.send(message)
    conn.close()
    close_prepared(prepared)


def close_prepared(prepared: Any) -> None:
    """Close what the contract prepared (if it can be closed): after the outcome is
    reported, so that it costs the job's latency nothing (or in a spare whose rehearsal
    failed).

    For at most :data:`CLOSE_SECONDS`: once the outcome is recorded the executor no
    longer enforces the run's limits, and the process must end (it keeps a slot until it
    does) even if the close hangs; ending the process frees what the close would have.
    """
    close = getattr(prepared, "close", None)
    if not callable(close):
        return

    def quietly() -> None:
        with contextlib.suppress(Exception):
            close()

    closing = threading.Thread(target=quietly, name="close-prepared", daemon=True)
    closing.start()
    closing.join(CLOSE_SECONDS)


def _run(spec: RunSpec, context: WorkerContext) -> RunEnd:
    """Run the job's contract; how the run ended (JobInterrupted passes through)."""
    try:
        limit_address_space(spec.memory_bytes)
        # Read at createJob: the JDL is read again only if nothing was kept.
        description = descriptions.restore(spec.contract, spec.description, spec.jdl)
        spec.contract.run(description, context)
        return RunCompleted()
    except JobFailure as exc:
        return RunFailed(exc.message, exc.transient)
    except MemoryError as exc:
        if spec.memory_bytes > 0:
            return RunFailed(f"the job exceeded its memory limit of {spec.memory_bytes} bytes")
        return RunFailed(f"MemoryError: {exc}", detail=traceback.format_exc())
    except JobInterrupted:
        raise
    except BaseException as exc:
        return RunFailed(f"{type(exc).__name__}: {exc}", detail=traceback.format_exc())
