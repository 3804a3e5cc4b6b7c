"""Running one application process for a job, as safely as an unprivileged process can.

The applications are command lines the service provider describes; a client only
chooses parameter values. Those values must never become code, and one bad or
greedy run must not hurt the service or outlive its job. So an application:

* is started by ``execve`` of an absolute path, never through a shell: arguments
  holding ``;``, ``$(...)``, backquotes or ``>`` reach it literally;
* gets a scrubbed environment (:func:`scrubbed_environment`): nothing of the
  service's own (credentials, ``WSRF_UWS_*`` settings) leaks into it;
* starts a session of its own, so it leads a process group and everything it starts
  can be signalled at once without touching the worker that runs the job;
* runs under resource limits: RLIMIT_CPU (SIGXCPU at the soft limit, SIGKILL one
  second later at the hard limit), RLIMIT_AS (allocations fail), RLIMIT_FSIZE
  (SIGXFSZ, or EFBIG where the signal is ignored) and RLIMIT_CORE = 0 (no core
  dumps filling the disk). The limits apply to each process of the run separately;
* runs under a wall clock: when it passes, the group gets SIGTERM, then SIGKILL;
* leaves nothing behind: once the application has exited, however that happened,
  its process group is killed until it is empty.

RLIMIT_NPROC is not set: it counts every process of the *user*, the service's own
included, so it only makes sense with a dedicated uid. A production deployment
should run applications as a dedicated user and inside a cgroup (memory, pids and
CPU accounting for the whole tree); this module is the part that needs no privileges.

:func:`run_application` is meant to be called from a job's worker process. If the
wait is interrupted (the worker's ``JobInterrupted`` on SIGTERM, KeyboardInterrupt,
an exception from the progress callback), the application's group is stopped before
the exception goes on.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

import psutil

__all__ = ["Exit", "Limits", "run_application", "scrubbed_environment"]

#: The search path an application gets unless its description declares another.
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

_EMPTY: Mapping[str, str] = MappingProxyType({})

# Only the end of a progress file is read: an application may append forever.
_PROGRESS_TAIL = 4096
# How long to wait for the killed application itself to be reaped, and how long to
# keep killing what is left of its group, before giving up (a process stuck in an
# uninterruptible sleep ignores even SIGKILL; waiting forever would hang the job).
_REAP_TIMEOUT = 5.0
_SWEEP_CAP = 5.0

_MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Resource limits for one application run; None = no limit."""

    #: RLIMIT_CPU, in seconds (soft = value, hard = value + 1, so SIGXCPU arrives first).
    cpu_seconds: int | None = None
    #: RLIMIT_AS: the address space, in bytes.
    memory_bytes: int | None = None
    #: RLIMIT_FSIZE: the largest file the application may write, in bytes.
    file_bytes: int | None = None
    #: Wall clock, in seconds; the group is killed when it passes.
    wall_seconds: float | None = None

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "memory_bytes", "file_bytes", "wall_seconds"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, not {value!r}")


@dataclass(frozen=True)
class Exit:
    """How an application run ended."""

    #: As Popen gives it (negative = killed by signal); None if it could not be reaped.
    returncode: int | None
    #: "SIGXCPU", "SIGKILL", ... when killed by a signal, else None.
    signal_name: str | None
    #: The wall clock limit passed and the sandbox killed the group.
    timed_out: bool
    #: Seconds from the start of the application until it was reaped.
    elapsed: float
    limits: Limits

    @property
    def succeeded(self) -> bool:
        """Exit status 0, within the wall clock limit."""
        return self.returncode == 0 and not self.timed_out

    def explain(self) -> str:
        """One human sentence, without subject: "exited with status 1", ..."""
        limits = self.limits
        if self.timed_out:
            wall = _seconds(limits.wall_seconds) if limits.wall_seconds is not None else "?"
            return f"was stopped after the wall-clock limit of {wall}"
        if self.returncode is None:
            return "did not end, even after SIGKILL"
        if self.returncode >= 0:
            return f"exited with status {self.returncode}"
        name = self.signal_name or f"signal {-self.returncode}"
        if name == "SIGXCPU" and limits.cpu_seconds is not None:
            return (
                f"was killed by SIGXCPU: the CPU time limit of "
                f"{_seconds(limits.cpu_seconds)} was reached"
            )
        if name == "SIGXFSZ" and limits.file_bytes is not None:
            return (
                f"was killed by SIGXFSZ: the file size limit of "
                f"{_size(limits.file_bytes)} was reached"
            )
        if name in ("SIGSEGV", "SIGBUS", "SIGABRT") and limits.memory_bytes is not None:
            # Programs that do not check malloc crash when RLIMIT_AS makes it fail.
            return (
                f"was killed by {name} (the memory limit of "
                f"{_size(limits.memory_bytes)} may have been reached)"
            )
        return f"was killed by {name}"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _size(value: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", _MIB), ("KiB", 1 << 10)):
        if value >= factor:
            if value % factor == 0:
                return f"{value // factor} {unit}"
            return f"{value / factor:.1f} {unit}"
    return f"{value} bytes"


def scrubbed_environment(workdir: Path, extra: Mapping[str, str] = _EMPTY) -> dict[str, str]:
    """The whole environment an application gets.

    PATH=/usr/local/bin:/usr/bin:/bin, HOME and TMPDIR = ``workdir``, LANG and LC_ALL =
    C.UTF-8, plus ``extra`` (declared by the provider; may override PATH). Nothing
    from the service's own environment leaks: it may hold credentials and settings.
    """
    home = str(Path(workdir).absolute())
    env = {
        "PATH": DEFAULT_PATH,
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    for name, value in extra.items():
        # Caught here with a clear message rather than by Popen after the fork.
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise ValueError(f"invalid environment variable {name!r}")
        env[name] = value
    return env


def run_application(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    limits: Limits,
    stdout: Path,
    stderr: Path,
    progress_file: Path | None = None,
    on_progress: Callable[[float, str | None], None] | None = None,
    poll_interval: float = 0.2,
    term_grace: float = 1.0,
) -> Exit:
    """Run ``argv`` in ``cwd`` under ``limits`` and wait for it; nothing of it survives.

    ``argv[0]`` must be the absolute path of an executable file (FileNotFoundError
    otherwise, before anything is started). Standard input is /dev/null; standard
    output and error go to the files ``stdout`` and ``stderr`` (truncated first).

    If ``progress_file`` and ``on_progress`` are given, the file's last line is read
    every ``poll_interval`` seconds: a fraction (``0.42``) or a percentage (``42%``),
    optionally followed by a message. ``on_progress(fraction, message)`` is called
    each time that changes; lines that cannot be read or parsed are ignored.

    When the wall clock passes, or when anything interrupts the wait (the exception is
    re-raised afterwards), the process group gets SIGTERM and, ``term_grace`` seconds
    later, SIGKILL.
    """
    if isinstance(argv, str | bytes):
        raise TypeError("argv must be a sequence of arguments, not one string")
    if not argv:
        raise ValueError("argv is empty")
    _check_executable(argv[0])
    if poll_interval <= 0:
        raise ValueError("poll_interval must be positive")
    if term_grace < 0:
        raise ValueError("term_grace must not be negative")

    # Built before the fork: the child of a multi-threaded process may only run code
    # that takes no lock (no imports, no logging, almost no allocation).
    preexec = _preexec_function(_rlimit_settings(limits))
    watcher = (
        _ProgressWatcher(progress_file, on_progress)
        if progress_file is not None and on_progress is not None
        else None
    )

    with contextlib.ExitStack() as files:
        out: BinaryIO = files.enter_context(open(stdout, "wb"))
        # One file for both streams must be opened once, or each would overwrite the other.
        err = out if Path(stderr) == Path(stdout) else files.enter_context(open(stderr, "wb"))
        proc = subprocess.Popen(
            list(argv),
            shell=False,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            close_fds=True,
            # The worker is a Python process, which ignores SIGPIPE and SIGXFSZ;
            # the application must get the default actions back.
            restore_signals=True,
            preexec_fn=preexec,
        )
    started = time.monotonic()
    # setsid() in the child made it the leader of a new group named after its pid.
    pgid = proc.pid
    deadline = None if limits.wall_seconds is None else started + limits.wall_seconds
    timed_out = False
    try:
        while True:
            slice_ = poll_interval
            if deadline is not None:
                slice_ = min(slice_, max(0.0, deadline - time.monotonic()))
            try:
                proc.wait(slice_)
                break
            except subprocess.TimeoutExpired:
                pass
            if watcher is not None:
                watcher.poll(final=False)
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                _stop_group(proc, pgid, term_grace)
                break
        elapsed = time.monotonic() - started
        if watcher is not None:
            # The last lines may have been written just before the application exited.
            watcher.poll(final=True)
    except BaseException:
        _stop_group(proc, pgid, term_grace)
        _sweep_group(pgid)
        raise
    _sweep_group(pgid)

    returncode = proc.returncode
    signal_name = None
    if returncode is not None and returncode < 0:
        signal_name = _signal_name(-returncode)
    return Exit(
        returncode=returncode,
        signal_name=signal_name,
        timed_out=timed_out,
        elapsed=elapsed,
        limits=limits,
    )


def _check_executable(program: str) -> None:
    # Resolving a bare name through PATH would let the environment choose the program.
    if not os.path.isabs(program):
        raise FileNotFoundError(f"the executable must be an absolute path, not {program!r}")
    if not os.path.isfile(program):
        raise FileNotFoundError(f"no executable file {program!r}")
    if not os.access(program, os.X_OK):
        raise FileNotFoundError(f"{program!r} is not executable")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _rlimit_settings(limits: Limits) -> tuple[tuple[int, tuple[int, int]], ...]:
    wanted = [(resource.RLIMIT_CORE, 0, 0)]
    if limits.cpu_seconds is not None:
        # A soft limit below the hard one: SIGXCPU first (a clear cause in the
        # outcome), SIGKILL a second later for an application that ignores it.
        wanted.append((resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1))
    if limits.memory_bytes is not None:
        wanted.append((resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes))
    if limits.file_bytes is not None:
        wanted.append((resource.RLIMIT_FSIZE, limits.file_bytes, limits.file_bytes))
    settings = []
    for which, soft, hard in wanted:
        # Raising a hard limit needs privileges: stay within the worker's own, or
        # setrlimit would fail in the child and the run with it.
        current = resource.getrlimit(which)[1]
        if current != resource.RLIM_INFINITY:
            hard = min(hard, current)
            soft = min(soft, hard)
        settings.append((which, (soft, hard)))
    return tuple(settings)


def _preexec_function(settings: tuple[tuple[int, tuple[int, int]], ...]) -> Callable[[], None]:
    # Bound here so the child looks nothing up in module globals.
    setsid = os.setsid
    setrlimit = resource.setrlimit

    def preexec() -> None:
        setsid()
        for which, pair in settings:
            setrlimit(which, pair)

    return preexec


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False if there is no group (left) to signal."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # Only members we may not signal are left (a set-uid program): as good as gone
        # for us, and a dedicated uid is the way to rule that out.
        return False
    return True


def _has_live_member(pgid: int) -> bool:
    """Whether a process of the group is still running (zombies do not count).

    Orphans of the application are re-parented to init, which may be slow to reap
    them; as zombies they stay in the group but can no longer do anything.
    """
    for proc in psutil.process_iter(["status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if os.getpgid(proc.pid) == pgid:
                return True
        except OSError:
            continue
    return False


def _group_alive(pgid: int) -> bool:
    return _signal_group(pgid, 0) and _has_live_member(pgid)


def _stop_group(proc: subprocess.Popen[bytes], pgid: int, grace: float) -> None:
    """SIGTERM to the group, SIGKILL after ``grace`` if anything is left; reap ``proc``."""
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while (remaining := deadline - time.monotonic()) > 0:
        if proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(min(remaining, 0.05))
        elif not _group_alive(pgid):
            return
        else:
            time.sleep(min(remaining, 0.02))
    _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(_REAP_TIMEOUT)


def _sweep_group(pgid: int) -> None:
    """SIGKILL the group until nothing of it runs (at most about :data:`_SWEEP_CAP` s).

    Repeated, because a member that was forking while the signal went out may have
    produced a child the signal missed.
    """
    give_up = time.monotonic() + _SWEEP_CAP
    pause = 0.005
    while _signal_group(pgid, signal.SIGKILL) and _has_live_member(pgid):
        if time.monotonic() >= give_up:
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


class _ProgressWatcher:
    """Reads an application's progress file and reports each change."""

    def __init__(self, path: Path, callback: Callable[[float, str | None], None]) -> None:
        self._path = path
        self._callback = callback
        self._reported: tuple[float, str | None] | None = None
        self._unterminated: str | None = None

    def poll(self, *, final: bool) -> None:
        line = self._last_line(final=final)
        if line is None:
            return
        parsed = _parse_progress(line)
        if parsed is None or parsed == self._reported:
            return
        self._reported = parsed
        self._callback(*parsed)

    def _last_line(self, *, final: bool) -> str | None:
        data, partial_start = _read_tail(self._path)
        if data is None:
            return None
        *complete, tail = data.decode("utf-8", errors="replace").split("\n")
        if partial_start:
            if not complete:
                return None  # a single line longer than the tail: nothing usable
            complete = complete[1:]
        tail = tail.strip()
        if tail:
            # A line without its newline may still be being written ("5" of "50%"):
            # trust it once it is seen unchanged twice, or once the application is done.
            if final or tail == self._unterminated:
                return tail
            self._unterminated = tail
        else:
            self._unterminated = None
        for line in reversed(complete):
            if line.strip():
                return line.strip()
        return None


def _read_tail(path: Path) -> tuple[bytes | None, bool]:
    """The last bytes of ``path`` and whether they start inside the file; never raises."""
    try:
        # Non-blocking, so a FIFO cannot hang the job; no symlink, so the file is the
        # application's own and not, say, a device it points to.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return None, False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, False
        size = os.lseek(fd, 0, os.SEEK_END)
        start = max(0, size - _PROGRESS_TAIL)
        return os.pread(fd, _PROGRESS_TAIL, start), start > 0
    except OSError:
        return None, False
    finally:
        os.close(fd)


def _parse_progress(line: str) -> tuple[float, str | None] | None:
    """``(fraction, message)`` from ``0.42 message`` or ``42% message``; None if garbage."""
    parts = line.split(None, 1)
    if not parts:
        return None
    token = parts[0]
    rest = parts[1] if len(parts) > 1 else ""
    try:
        value = float(token[:-1]) / 100 if token.endswith("%") else float(token)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    message = rest.strip() or None
    return min(1.0, max(0.0, value)), message
