"""The warm parent's own program: import a contract's modules once, then fork job processes.

A warm parent is a fresh interpreter (started by :class:`~.warm.WarmParent`, never forked
from the threaded service) that imports the modules a contract's jobs need and then does
nothing but fork: each job process starts with those modules already imported, in a few
milliseconds instead of the hundreds an interpreter takes to import astropy, DuckDB or
pyarrow.

Fork-safety: a process forked while another of its threads holds a lock inherits the lock
held, forever. So the warm parent runs one thread, and holds nothing open but what it
needs to serve its service. Each module is imported alone and then checked: a module that
leaves a thread running (once the libraries' own fork handlers have had their turn, see
:func:`_threads`) or a descriptor open (a database connection, a log file) is reported to
the service and the warm parent ends; the service starts another without that module,
whose jobs then import it themselves (a cold start). A module that fails to import is
reported and skipped. One library is told not to start a thread at import:
pyarrow's allocator (jemalloc, ``background_thread``), through its own environment
variable, unless the service's environment sets that variable itself.

Talking to the service, over the Unix socket it passed (``control``):

- while booting, the warm parent writes one JSON object per line: ``{"importing": M}``
  before each module, then ``{"imported": M}``, ``{"failed": M, "reason": ...}`` or
  ``{"refused": M, "reason": ...}`` (it ends after that one), and finally
  ``{"ready": PID}``;
- then the service sends one byte per job with two descriptors attached: the job's
  connection and the write end of a *status pipe*. The warm parent forks; into the status
  pipe it writes the job process's pid at once and its wait status when it has reaped it.
  It reaps on SIGCHLD, so no child is ever left a zombie and no timer runs.

End of file on the socket means the service is gone, and the warm parent exits (its jobs
notice the service's end on their own connections). In the job process, the first two
messages on its connection say how to run: the service's ``sys.path``, working folder,
``sys.argv`` and niceness (:func:`job_setup`), then the
:class:`~wsrf_uws.core.ports.RunSpec` (unpickled there, where a module not preloaded is
imported), and :func:`~.worker.run_job` takes over. A *spare* gets a
:class:`~.spare_process.SpareOrder` in place of the spec, prepares, and then gets its spec.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Iterable
from multiprocessing.connection import Connection
from typing import Any, NoReturn

#: How a pid and a wait status travel on a status pipe (8 bytes, written at once).
STATUS = struct.Struct("q")

#: The environment variable of pyarrow's bundled jemalloc, and the value that keeps it from
#: starting its background thread (a process forked while it runs inherits its locks).
ARROW_MALLOC_CONF = "JE_ARROW_MALLOC_CONF"
ARROW_NO_THREAD = "background_thread:false"

#: Exit status of a warm parent that refused a module (the service restarts it without).
EXIT_REFUSED = 3


def main(argv: list[str]) -> NoReturn:
    """Run a warm parent: ``argv[0]`` is its plan, in JSON (see :class:`~.warm.WarmParent`)."""
    plan = json.loads(argv[0])
    sys.path[:] = plan["sys_path"]
    control = socket.socket(fileno=plan["control"])
    # Ctrl-C in a terminal reaches the whole group: the service decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _preload(control, plan["modules"])
        for name in plan.get("unset", ()):
            os.environ.pop(name, None)  # read by the libraries already; jobs see the service's
        gc.collect()
        # Everything imported so far lives as long as the jobs: the collector leaves it
        # alone, so a job's collections do not copy the pages it shares with its parent.
        gc.freeze()
        _say(control, {"ready": os.getpid()})
    except OSError:
        os._exit(0)  # the service went away while this process was starting
    _serve(control)


# -- booting -------------------------------------------------------------------------------


def _preload(control: socket.socket, modules: Iterable[str]) -> None:
    known_fds = _open_descriptors()
    for name in modules:
        _say(control, {"importing": name})
        try:
            importlib.import_module(name)
        except BaseException as exc:  # any failure is reported, not fatal
            _say(control, {"failed": name, "reason": f"{type(exc).__name__}: {exc}"})
            continue
        reason = _unsafe(known_fds)
        if reason:
            _say(control, {"refused": name, "reason": reason})
            os._exit(EXIT_REFUSED)
        _say(control, {"imported": name})


def _unsafe(known_fds: set[int]) -> str:
    """Why this process may no longer fork safely, or "" if it may."""
    threads = _threads()
    if len(threads) > 1 or threading.active_count() > 1:
        return f"it starts threads at import ({', '.join(threads)})"
    opened = _open_descriptors() - known_fds
    if opened:
        return f"it leaves descriptors open at import ({', '.join(map(_describe_fd, opened))})"
    return ""


def _threads() -> list[str]:
    """The names of this process's threads, after the libraries' fork handlers ran once.

    Libraries that start thread pools at import (OpenBLAS, under numpy and scipy) stop
    them before each fork (``pthread_atfork``) and start them again only when next used,
    which a warm parent never does: a throw-away fork lets them do so, and the threads that
    remain are the ones that would be running at each job's fork.
    """
    if len(_thread_ids()) > 1:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    names = []
    for tid in _thread_ids():
        try:
            with open(f"/proc/self/task/{tid}/comm") as comm:
                names.append(comm.read().strip())
        except OSError:
            continue
    return names


def _thread_ids() -> list[str]:
    try:
        return os.listdir("/proc/self/task")
    except OSError:  # no /proc: Python's own threads are all that can be counted
        return ["main"] * threading.active_count()


def _open_descriptors() -> set[int]:
    try:
        listing = os.listdir("/proc/self/fd")
    except OSError:
        return set()
    return {int(fd) for fd in listing if _is_open(int(fd))}  # minus listdir's own


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _describe_fd(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return str(fd)


def _say(control: socket.socket, message: dict[str, Any]) -> None:
    control.sendall(json.dumps(message).encode() + b"\n")


# -- forking ------------------------------------------------------------------------------


def _serve(control: socket.socket) -> NoReturn:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    # The handler does nothing: the signal's byte on the wake-up pipe is what matters.
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    running: dict[int, int] = {}  # job pid -> the write end of its status pipe
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(wake_r, selectors.EVENT_READ, "children")
    own = [control.fileno(), wake_r, wake_w]
    while True:
        for key, _ in selector.select():
            if key.data == "children":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
                _reap(running)
                continue
            try:
                data, fds, _, _ = socket.recv_fds(control, 1, 2)
            except OSError:
                data, fds = b"", []
            if not data:
                os._exit(0)  # the service is gone
            if len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                continue
            job_fd, status_fd = fds
            pid = os.fork()
            if pid == 0:
                for fd in [*own, status_fd, *running.values()]:
                    os.close(fd)
                _job(job_fd)
            os.close(job_fd)
            with contextlib.suppress(OSError):  # the service gave up on this one
                os.write(status_fd, STATUS.pack(pid))
            running[pid] = status_fd


def _reap(running: dict[int, int]) -> None:
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status_fd = running.pop(pid, None)
        if status_fd is not None:
            with contextlib.suppress(OSError):
                os.write(status_fd, STATUS.pack(status))
            os.close(status_fd)


# -- in the job process --------------------------------------------------------------------


def _job(job_fd: int) -> NoReturn:
    """A forked job process: undo what was the warm parent's, then run the job."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _reseed()
    conn = Connection(job_fd)
    status = 0
    try:
        from .messages import RunFailed
        from .spare_process import SpareOrder, prepare_spare
        from .worker import run_job

        prepared: Any = None
        try:
            setup = conn.recv()
            sys.path[:] = setup["sys_path"]
            sys.argv[:] = setup["argv"]
            if os.getcwd() != setup["cwd"]:
                os.chdir(setup["cwd"])
            nice = setup["nice"]
            spec = conn.recv()  # imports what the warm parent did not
            if isinstance(spec, SpareOrder):  # a spare: prepare, then wait for the job
                prepared, spec = prepare_spare(spec, conn)
                nice = 0  # applied by the spare already
        except BaseException as exc:  # reported to the service
            with contextlib.suppress(OSError, ValueError):
                conn.send(
                    RunFailed(
                        f"the job could not be started: {type(exc).__name__}: {exc}",
                        detail=traceback.format_exc(),
                    )
                )
            status = 1
        else:
            run_job(spec, conn, nice, prepared=prepared, own_session=False)
    except BaseException:  # the process ends here whatever happened
        traceback.print_exc()
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)


def job_setup(*, nice: int) -> dict[str, Any]:
    """The first message to a job process forked from a warm parent: what of the service's
    process it takes on (``sys.path``, working folder, ``sys.argv``) and its niceness."""
    return {"sys_path": sys.path, "cwd": os.getcwd(), "argv": sys.argv, "nice": nice}


def _reseed() -> None:
    """Give the job random generators of its own: every job process starts from the
    warm parent's memory, and with it from its generators' state. Python's ``random`` is
    reseeded at each fork by itself; numpy's global generator is not."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        with contextlib.suppress(Exception):
            numpy_random.seed()


if __name__ == "__main__":
    main(sys.argv[1:])
