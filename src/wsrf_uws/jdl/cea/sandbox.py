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
* may have a limited number of processes at once (:mod:`.run_processes`: a cgroup's
  pids.max where the service may make cgroups, RLIMIT_NPROC where the kernel applies
  it, and a count of the run's processes at each poll);
* writes its standard output and error through pipes into files, each up to a limit
  (:mod:`.captured_output`); past it the run is stopped;
* leaves nothing behind: the worker adopts the processes that leave the application's
  session (a child subreaper), and once the application has exited, however that
  happened, every process of the run is killed until none is left.

A production deployment should also run applications as a dedicated user, and give
the cgroups memory and CPU limits for the whole tree; this module is the part that
needs no configuration.

:func:`run_application` is meant to be called from a job's worker process. If the
wait is interrupted (the worker's ``JobInterrupted`` on SIGTERM, KeyboardInterrupt,
an exception from the progress callback), the application's group is stopped before
the exception goes on.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import psutil

from ...core.sizes import format_bytes
from .captured_output import CapturedOutput
from .progress_file import ProgressWatcher
from .run_processes import RunProcesses

__all__ = ["Exit", "Limits", "run_application", "scrubbed_environment"]

#: The search path an application gets unless its description declares another.
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

_EMPTY: Mapping[str, str] = MappingProxyType({})

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
    #: Processes (and threads, where the kernel counts) of the whole run at once.
    processes: int | None = None
    #: Bytes of standard output, and of standard error, each; the run is stopped beyond.
    output_bytes: int | None = None

    def __post_init__(self) -> None:
        names = ("cpu_seconds", "memory_bytes", "file_bytes", "wall_seconds")
        for name in (*names, "processes", "output_bytes"):
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
    #: The sandbox stopped the run at a limit other than the wall clock: "processes", or
    #: the stream that passed its size ("standard output", "standard error", ...).
    exceeded: str | None = None
    #: New processes the kernel refused the run at its process limit (a cgroup's count).
    refused_forks: int = 0

    @property
    def stopped(self) -> bool:
        """The sandbox stopped the run at one of its limits (wall clock, processes, output)."""
        return self.timed_out or self.exceeded is not None

    @property
    def succeeded(self) -> bool:
        """Exit status 0, and not stopped by the sandbox."""
        return self.returncode == 0 and not self.stopped

    def explain(self) -> str:
        """One human sentence, without subject: "exited with status 1", ..."""
        sentence = self._ending()
        if self.refused_forks and self.exceeded != "processes":
            sentence += (
                f" (the process limit of {self.limits.processes} refused it "
                f"{self.refused_forks} new process{'es' if self.refused_forks > 1 else ''})"
            )
        return sentence

    def _ending(self) -> str:
        limits = self.limits
        if self.exceeded == "processes":
            return f"was stopped for running more than {limits.processes} processes at once"
        if self.exceeded is not None:
            size = format_bytes(limits.output_bytes) if limits.output_bytes is not None else "?"
            return f"was stopped after writing more than {size} to its {self.exceeded}"
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
                f"{format_bytes(limits.file_bytes)} was reached"
            )
        if name in ("SIGSEGV", "SIGBUS", "SIGABRT") and limits.memory_bytes is not None:
            # Programs that do not check malloc crash when RLIMIT_AS makes it fail.
            return (
                f"was killed by {name} (the memory limit of "
                f"{format_bytes(limits.memory_bytes)} may have been reached)"
            )
        return f"was killed by {name}"


def _seconds(value: float) -> str:
    return f"{value:g} s"


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
    process_cgroup: Path | None = None,
) -> Exit:
    """Run ``argv`` in ``cwd`` under ``limits`` and wait for it; nothing of it survives.

    ``argv[0]`` must be the absolute path of an executable file (FileNotFoundError
    otherwise, before anything is started). Standard input is /dev/null; standard
    output and error are copied into the files ``stdout`` and ``stderr`` (truncated
    first), up to ``limits.output_bytes`` each.

    If ``progress_file`` and ``on_progress`` are given, the file's last line is read
    every ``poll_interval`` seconds: a fraction (``0.42``) or a percentage (``42%``),
    optionally followed by a message. ``on_progress(fraction, message)`` is called
    each time that changes; lines that cannot be read or parsed are ignored.

    ``process_cgroup`` is a cgroup folder (see :func:`.cgroups.find_pids_cgroup`) under
    which the run gets a cgroup of its own limited to ``limits.processes``.

    When the wall clock passes, or when anything interrupts the wait (the exception is
    re-raised afterwards), the run's processes get SIGTERM and, ``term_grace`` seconds
    later, SIGKILL. At the process or output limit they get SIGKILL at once.
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
    watcher = (
        ProgressWatcher(progress_file, on_progress)
        if progress_file is not None and on_progress is not None
        else None
    )

    output = CapturedOutput(stdout, stderr, max_bytes=limits.output_bytes)
    # Left in this order: every process of the run is killed before the copies of its
    # output are waited for (a survivor would hold a pipe open).
    with (
        output,
        RunProcesses(max_processes=limits.processes, cgroup_parent=process_cgroup) as processes,
    ):
        # Built before the fork: the child of a multi-threaded process may only run code
        # that takes no lock (no imports, no logging, almost no allocation).
        preexec = _preexec_function(
            _rlimit_settings(limits, processes.nproc_limit()), processes.cgroup_fd()
        )
        try:
            proc = subprocess.Popen(
                list(argv),
                shell=False,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output.stdout_fd,
                stderr=output.stderr_fd,
                close_fds=True,
                # The worker is a Python process, which ignores SIGPIPE and SIGXFSZ;
                # the application must get the default actions back.
                restore_signals=True,
                preexec_fn=preexec,
            )
        finally:
            output.started()
        processes.started(proc)
        # Its new session is a scheduling group of its own, at niceness 0 unless told:
        # the job's niceness would otherwise rank the application only within it.
        _set_session_nice(proc.pid, nice=os.nice(0))
        # setsid() in the child made it the leader of a new group named after its pid.
        run = _Run(proc, pgid=proc.pid, processes=processes, output=output)
        try:
            run.wait(
                limits=limits, watcher=watcher, poll_interval=poll_interval, term_grace=term_grace
            )
            if watcher is not None and run.exceeded is None:
                # The last lines may have been written just before the application exited.
                watcher.poll(final=True)
        except BaseException:
            run.stop(term_grace)
            _sweep_group(run.pgid)
            raise
        _sweep_group(run.pgid)
        refused = processes.refused_forks()

    returncode = proc.returncode
    signal_name = None
    if returncode is not None and returncode < 0:
        signal_name = _signal_name(-returncode)
    return Exit(
        returncode=returncode,
        signal_name=signal_name,
        timed_out=run.timed_out,
        elapsed=run.elapsed,
        limits=limits,
        exceeded=run.exceeded or output.exceeded,
        refused_forks=refused,
    )


class _Run:
    """Waiting for a started application, and stopping it."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        *,
        pgid: int,
        processes: RunProcesses,
        output: CapturedOutput,
    ) -> None:
        self.proc = proc
        self.pgid = pgid
        self.processes = processes
        self.output = output
        self.started = time.monotonic()
        self.elapsed = 0.0
        self.timed_out = False
        self.exceeded: str | None = None

    def wait(
        self,
        *,
        limits: Limits,
        watcher: ProgressWatcher | None,
        poll_interval: float,
        term_grace: float,
    ) -> None:
        """Until the application exits or passes a limit (then it is stopped)."""
        deadline = None if limits.wall_seconds is None else self.started + limits.wall_seconds
        while True:
            slice_ = poll_interval
            if deadline is not None:
                slice_ = min(slice_, max(0.0, deadline - time.monotonic()))
            try:
                self.proc.wait(slice_)
                break
            except subprocess.TimeoutExpired:
                pass
            if self.output.exceeded is not None:
                self.exceeded = self.output.exceeded
            elif self.processes.over_limit():
                self.exceeded = "processes"
            if self.exceeded is not None:
                self.stop(0.0)
                break
            if watcher is not None:
                watcher.poll(final=False)
            if deadline is not None and time.monotonic() >= deadline:
                self.timed_out = True
                self.stop(term_grace)
                break
        self.elapsed = time.monotonic() - self.started
        if self.exceeded is None and self.output.exceeded is not None:
            self.exceeded = self.output.exceeded  # passed as the application ended

    def stop(self, grace: float) -> None:
        """SIGTERM to the run, SIGKILL after ``grace`` if anything is left; reap the
        application."""
        if grace > 0:
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while (remaining := deadline - time.monotonic()) > 0:
                if self.proc.poll() is None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(min(remaining, 0.05))
                elif not (_group_alive(self.pgid) or self.processes.live()):
                    break
                else:
                    time.sleep(min(remaining, 0.02))
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(_REAP_TIMEOUT)
        self.elapsed = time.monotonic() - self.started

    def _signal(self, sig: int) -> None:
        _signal_group(self.pgid, sig)
        # The processes that left the application's session too.
        self.processes.signal(sig)


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


def _rlimit_settings(limits: Limits, nproc: int | None) -> tuple[tuple[int, tuple[int, int]], ...]:
    wanted = [(resource.RLIMIT_CORE, 0, 0)]
    if limits.cpu_seconds is not None:
        # A soft limit below the hard one: SIGXCPU first (a clear cause in the
        # outcome), SIGKILL a second later for an application that ignores it.
        wanted.append((resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1))
    if limits.memory_bytes is not None:
        wanted.append((resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes))
    if limits.file_bytes is not None:
        wanted.append((resource.RLIMIT_FSIZE, limits.file_bytes, limits.file_bytes))
    if nproc is not None:
        wanted.append((resource.RLIMIT_NPROC, nproc, nproc))
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


def _preexec_function(
    settings: tuple[tuple[int, tuple[int, int]], ...], cgroup_fd: int | None
) -> Callable[[], None]:
    # Bound here so the child looks nothing up in module globals.
    setsid = os.setsid
    setrlimit = resource.setrlimit
    write = os.write

    def preexec() -> None:
        setsid()
        if cgroup_fd is not None:
            # Joins the run's cgroup ("0" is the writer), before it can start anything.
            write(cgroup_fd, b"0")
        for which, pair in settings:
            setrlimit(which, pair)

    return preexec


def _set_session_nice(pid: int, *, nice: int) -> None:
    """The niceness of the scheduling group of the session ``pid`` leads, if above 0 and
    the kernel groups by session (as ``wsrf_uws.execution.scheduling_group`` does for
    job processes; a contract does not import the executor)."""
    if nice > 0:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")


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
