"""Warm starts: job processes forked from a parent that has imported their contract already.

Starting a job's process used to cost what starting an interpreter and importing the
contract's modules costs (astropy, DuckDB, pyarrow: 150 to 700 ms on a small machine).
A :class:`WarmParent` is a process of one contract that has done those imports once and
forks a job process for each run (:mod:`.zygote` is its program): the job still runs in a
process of its own, the unit that an abort, an execution duration or a restart stops,
but it starts in a few milliseconds.

One warm parent per contract, started when its first job is claimed: a job's process holds
its contract's imports and no other contract's, so its address space (which its
``RLIMIT_AS`` limits) is what it would be had it imported them itself. The modules are
those :func:`preload_modules` names: the worker's, the contract's own, and those its
:attr:`~wsrf_uws.core.contract.Contract.preload` declares.

A module the warm parent cannot import, or must not keep (it starts a thread or leaves a
descriptor open at import, see :mod:`.zygote`), is reported once in the log and left to the
jobs, which import it when they start. A warm parent that ends (killed, crashed) is
replaced at once by a keeper thread that waits for its end on its socket; jobs it had
started run on (their end is then watched through a pidfd, their exit status unknown).
A warm parent that cannot be started at all (:data:`MAX_FAILED_BOOTS` times in a row)
gives up, and its contract's jobs start cold (:class:`~.local.LocalExecutor`).
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from ..core.contract import Contract
from .scheduling_group import set_session_nice
from .zygote import ARROW_MALLOC_CONF, ARROW_NO_THREAD, STATUS

log = logging.getLogger(__name__)

#: The module every job process needs: the worker's side of the executor.
WORKER_MODULE = "wsrf_uws.execution.worker"
#: Boots in a row that may fail before a warm parent gives up (its jobs then start cold).
MAX_FAILED_BOOTS = 3
#: A warm parent that ends sooner than this after it was ready counts as a failed boot.
SHORT_LIFE = 2.0
#: Seconds a booting warm parent may stay silent (a module importing for ever).
BOOT_TIMEOUT = 300.0
#: Seconds a warm parent may take to say it forked (it does nothing else).
FORK_TIMEOUT = 10.0

_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1])['sys_path']; "
    "from wsrf_uws.execution.zygote import main; main(sys.argv[1:])"
)


def preload_modules(contract: Contract) -> list[str]:
    """What a warm parent of ``contract`` imports: the worker, the contract's module, and
    the modules the contract declares (:attr:`~wsrf_uws.core.contract.Contract.preload`)."""
    modules = [WORKER_MODULE, type(contract).__module__, *contract.preload]
    return list(dict.fromkeys(modules))


def preload_plan(contracts: Iterable[Contract]) -> dict[str, list[str]]:
    """The modules of each contract's warm parent, by contract name (for the
    :class:`~.local.LocalExecutor`'s ``preload``), for the contracts that can have one."""
    return {c.name: preload_modules(c) for c in contracts if can_start_warm(c)}


def can_start_warm(contract: Contract) -> bool:
    """Whether ``contract``'s jobs can be forked from a warm parent: its class must be
    importable by name (a class of a script's ``__main__`` is not, in another process)."""
    return type(contract).__module__ != "__main__"


class WarmParentUnavailable(Exception):
    """The warm parent cannot fork now (it is booting, or it just ended)."""


class WarmState(enum.Enum):
    """Where a :class:`WarmParent` is: booting, ready to fork, or given up."""

    BOOTING = "booting"
    READY = "ready"
    FAILED = "failed"


class WarmParent:
    """The warm parent of one contract's jobs, and the thread that keeps one running.

    ``on_change`` is called (from the keeper thread) whenever the state changes, so the
    executor can start the jobs waiting for it. :meth:`fork` starts a job process.
    """

    def __init__(
        self,
        contract: str,
        modules: Sequence[str],
        *,
        nice: int = 0,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.contract = contract
        #: The job niceness: with it, the warm parent leads a session of its own whose
        #: scheduling group has that niceness, shared by the jobs it forks.
        self.nice = nice
        self.modules = list(modules)
        #: Modules not preloaded, and why (their jobs import them when they start).
        self.failures: dict[str, str] = {}
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = WarmState.BOOTING
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> WarmState:
        """Booting, ready, or given up."""
        return self._state

    @property
    def pid(self) -> int | None:
        """The pid of the current warm parent process (None while none runs)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def start(self) -> None:
        """Start the keeper thread, which boots the warm parent (returns at once)."""
        self._thread = threading.Thread(
            target=self._keep, name=f"wsrf-uws-warm-{self.contract}", daemon=True
        )
        self._thread.start()

    def fork(self, job: Connection) -> WarmProcess:
        """A new job process with ``job`` (the child's end of its connection) as its own.

        The caller keeps its own end, sends the job's setup and spec on it, and closes
        ``job``. Raises :class:`WarmParentUnavailable` when the warm parent is not ready
        (or ends meanwhile): try again when ``on_change`` says it is.
        """
        status_r, status_w = os.pipe()
        try:
            try:
                # Under the lock: the keeper closes the socket when the warm parent ends.
                with self._lock:
                    if self._state is not WarmState.READY or self._socket is None:
                        raise WarmParentUnavailable(
                            f"the warm parent of {self.contract} is {self._state.value}"
                        )
                    socket.send_fds(self._socket, [b"F"], [job.fileno(), status_w])
            except OSError as exc:
                raise WarmParentUnavailable(f"the warm parent of {self.contract}: {exc}") from exc
            finally:
                os.close(status_w)
            pid = _read_status(status_r, FORK_TIMEOUT)
            if pid is None:
                self._kill()  # ended, or stuck: the keeper starts another either way
                raise WarmParentUnavailable(f"the warm parent of {self.contract} did not fork")
        except BaseException:
            os.close(status_r)
            raise
        return WarmProcess(pid, status_r)

    def close(self) -> None:
        """Stop the warm parent and its keeper; jobs it started are not touched."""
        with self._lock:
            self._closing = True
            control, process = self._socket, self._process
        if control is not None:
            with contextlib.suppress(OSError):
                control.shutdown(socket.SHUT_RDWR)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        if process is not None:
            _stop(process)

    def _kill(self) -> None:
        process = self._process
        if process is not None:
            with contextlib.suppress(OSError):
                process.kill()

    # -- the keeper thread -------------------------------------------------------------

    def _keep(self) -> None:
        failed_boots = 0
        while not self._closing:
            ready_at = self._boot()
            if ready_at is None:
                if self._closing:
                    break
                failed_boots += 1
            else:
                self._set_state(WarmState.READY)
                self._wait_for_end()
                self._set_state(WarmState.BOOTING)
                if self._closing:
                    break
                process = self._process
                code = process.wait() if process is not None else None
                log.warning(
                    "the warm parent of %s (pid %s) ended (%s); starting another",
                    self.contract,
                    process.pid if process is not None else "?",
                    _describe(code),
                )
                failed_boots = failed_boots + 1 if time.monotonic() - ready_at < SHORT_LIFE else 0
            if failed_boots >= MAX_FAILED_BOOTS:
                log.error(
                    "the warm parent of %s could not be kept running (%d failed starts): "
                    "its jobs start cold from now on",
                    self.contract,
                    failed_boots,
                )
                self._set_state(WarmState.FAILED)
                break
        self._close_socket()

    def _boot(self) -> float | None:
        """Start a warm parent and read its reports until it is ready (when, monotonic)
        or ended (None). A module it refused is left out of the next one."""
        ours, theirs = socket.socketpair()
        modules = [m for m in self.modules if m not in self.failures]
        environment = dict(os.environ)
        unset = []
        if ARROW_MALLOC_CONF not in environment:
            environment[ARROW_MALLOC_CONF] = ARROW_NO_THREAD
            unset.append(ARROW_MALLOC_CONF)
        plan = {
            "sys_path": sys.path,
            "control": theirs.fileno(),
            "modules": modules,
            "unset": unset,
        }
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(plan)],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=self.nice > 0,
            )
            set_session_nice(process.pid, nice=self.nice)
        except OSError as exc:
            log.error("the warm parent of %s could not be started: %s", self.contract, exc)
            ours.close()
            theirs.close()
            return None
        finally:
            theirs.close()
        with self._lock:
            self._process = process
            self._socket = ours
            if self._closing:
                ours.shutdown(socket.SHUT_RDWR)
        importing: str | None = None
        refused = False
        reader = ours.makefile("rb")
        try:
            ours.settimeout(BOOT_TIMEOUT)
            for line in reader:
                report = json.loads(line)
                if "ready" in report:
                    ours.settimeout(None)
                    return time.monotonic()
                if "importing" in report:
                    importing = report["importing"]
                    continue
                importing = None
                module = report.get("failed") or report.get("refused")
                if module:
                    self._report(module, report["reason"])
                    refused = refused or "refused" in report
        except (OSError, ValueError) as exc:
            log.warning("the warm parent of %s: %s", self.contract, exc)
        finally:
            reader.close()
        code = _stop(process)
        self._close_socket()
        if self._closing:
            return None
        if importing is not None:
            self._report(importing, f"the warm parent ended importing it ({_describe(code)})")
        if refused or importing is not None:
            return self._boot()  # without the module: one fewer each time
        log.warning(
            "the warm parent of %s ended while starting (%s)", self.contract, _describe(code)
        )
        return None

    def _report(self, module: str, reason: str) -> None:
        if module not in self.failures:
            self.failures[module] = reason
            log.warning(
                "the warm parent of %s does not preload %s (%s): its jobs import it "
                "themselves when they start",
                self.contract,
                module,
                reason,
            )

    def _wait_for_end(self) -> None:
        """Block until the warm parent's socket closes: it ended, or :meth:`close`."""
        control = self._socket
        if control is None:
            return
        with contextlib.suppress(OSError):
            while control.recv(4096):
                pass  # a ready warm parent says nothing more

    def _set_state(self, state: WarmState) -> None:
        with self._lock:
            self._state = state
        self._on_change()

    def _close_socket(self) -> None:
        with self._lock:
            control, self._socket = self._socket, None
        if control is not None:
            control.close()


class WarmProcess:
    """A job process forked by a :class:`WarmParent`, as the executor sees it.

    ``sentinel`` becomes readable when the process ends: the warm parent then writes its
    wait status on the status pipe. If the warm parent ends first, the pipe closes with no
    status; the job runs on (re-parented), and the sentinel becomes a pidfd of the job,
    which says when it ends (its exit status is then unknown).
    """

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None
        self._status_fd: int | None = status_fd
        self._pidfd: int | None = _pidfd(pid)
        self.sentinel = status_fd

    def reap(self) -> bool:
        """Called when ``sentinel`` is readable: whether the process has ended (else the
        sentinel has changed, and is waited for again)."""
        if self._status_fd is not None:
            status = _read_status(self._status_fd, 0)
            os.close(self._status_fd)
            self._status_fd = None
            if status is not None:
                self.exitcode = os.waitstatus_to_exitcode(status)
                self._close_pidfd()
                return True
            if self._pidfd is not None and not _readable(self._pidfd):
                self.sentinel = self._pidfd  # its warm parent ended before it
                return False
        self._close_pidfd()
        return True

    def close(self) -> None:
        """Release the descriptors (when the run is over, whatever happened)."""
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        self._close_pidfd()

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


def _read_status(fd: int, timeout: float) -> int | None:
    """One pid or wait status from a status pipe, or None at its end (or after
    ``timeout`` seconds with nothing to read)."""
    if timeout and not _readable(fd, timeout):
        return None
    data = os.read(fd, STATUS.size)
    if len(data) < STATUS.size:
        return None
    value: int = STATUS.unpack(data)[0]
    return value


def _readable(fd: int, timeout: float = 0) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def _pidfd(pid: int) -> int | None:
    """A pidfd of ``pid`` (Linux 5.3 and later), to see a re-parented job's end."""
    opener: Any = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(pid)
    except OSError:
        return None
    return fd


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    """Wait a moment for ``process`` to end, then kill it; its exit status."""
    try:
        return process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _describe(code: int | None) -> str:
    if code is None:
        return "status unknown"
    if code < 0:
        return f"killed by signal {-code}"
    return f"exit status {code}"
