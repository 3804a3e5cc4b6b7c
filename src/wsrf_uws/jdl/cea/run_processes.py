"""Every process of one application run: found, counted, limited and killed, none escaping.

An application leads a session of its own, but what it starts need not stay there: a
child may call ``setsid`` and, once its parent has exited, belong to init, out of reach
of anything that looks for the run's group or descendants. So, for the duration of a run,
the process that runs it (the job's worker) is a *child subreaper*: such orphans come back
to it, and every process of the run stays its descendant, to be killed and reaped when the
run ends, however it ends.

The number of processes of a run is bounded three ways, whichever the system allows:

* a cgroup of the run's own with ``pids.max`` (:mod:`.cgroups`), where the service may make
  cgroups: the kernel refuses a fork beyond the limit, for root too;
* RLIMIT_NPROC, where the kernel applies it (not to root, nor with CAP_SYS_RESOURCE or
  CAP_SYS_ADMIN). It counts every process and thread of the real user, so it is set to
  what the user runs already plus the run's allowance: a bound on the run's growth;
* in any case, a count of the run's processes each time the sandbox polls: a run found
  above the limit is killed. Between two polls a fork storm can overshoot, which is why
  the kernel's limits come first; alone (root without cgroups) it is the fallback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import psutil

from .cgroups import RunCgroup
from .subreaper import child_subreaper

__all__ = ["RunProcesses"]

log = logging.getLogger(__name__)

# Capabilities (linux/capability.h) that exempt a process from RLIMIT_NPROC.
_CAP_SYS_ADMIN = 21
_CAP_SYS_RESOURCE = 24


class RunProcesses:
    """The processes of one application run; a context manager around starting it.

    Enter before starting the application, which gets :meth:`nproc_limit` and joins the
    cgroup through :meth:`cgroup_fd`; call :meth:`started` with it; leave when the run is
    over: everything of the run still there is killed and reaped, and the cgroup (if any)
    removed.
    """

    def __init__(self, *, max_processes: int | None, cgroup_parent: Path | None) -> None:
        self.max_processes = max_processes
        self.cgroup_parent = cgroup_parent
        self.cgroup: RunCgroup | None = None
        self.subreaper = False
        self._stack = ExitStack()
        self._me = psutil.Process()
        self._before: set[int] = set()
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RunProcesses:
        self.subreaper = self._stack.enter_context(child_subreaper())
        # Children the caller had before the run are not the run's (tests run the sandbox
        # in a process that has others).
        self._before = {child.pid for child in self._me.children()}
        if self.cgroup_parent is not None and self.max_processes is not None:
            try:
                self.cgroup = RunCgroup(self.cgroup_parent, self.max_processes)
            except OSError as exc:
                # It worked when the service started (find_pids_cgroup tried): the run
                # goes on, bounded by the count alone, rather than fail for the system.
                log.warning("cea: no cgroup for this run (%s); its processes are counted", exc)
            except BaseException:
                self._stack.close()
                raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.kill()
        finally:
            if self.cgroup is not None:
                self.cgroup.remove()
            self._stack.close()

    # -- starting -------------------------------------------------------------------------

    def cgroup_fd(self) -> int | None:
        """The file the application writes ``0`` to, to join the run's cgroup (or None)."""
        return None if self.cgroup is None else self.cgroup.procs_fd

    def nproc_limit(self) -> int | None:
        """The RLIMIT_NPROC for the application, or None where the kernel would ignore it."""
        if self.max_processes is None or not _nproc_applies():
            return None
        uid = os.getuid()
        tasks = 0
        for proc in psutil.process_iter(["uids", "num_threads"]):
            uids, threads = proc.info["uids"], proc.info["num_threads"]
            if uids is not None and uids.real == uid:
                tasks += threads or 1
        return tasks + self.max_processes

    def started(self, proc: subprocess.Popen[bytes]) -> None:
        """Record the application's own process."""
        self._proc = proc

    # -- while it runs ----------------------------------------------------------------------

    def live(self) -> list[psutil.Process]:
        """The run's processes that are not zombies: the application, its descendants, the
        orphans this process adopted and theirs, and whatever is in the run's cgroup."""
        parents: dict[int, list[psutil.Process]] = {}
        status: dict[int, str] = {}
        for proc in psutil.process_iter(["ppid", "status"]):
            parents.setdefault(proc.info["ppid"], []).append(proc)
            status[proc.pid] = proc.info["status"]
        roots = [c for c in parents.get(self._me.pid, []) if c.pid not in self._before]
        found: dict[int, psutil.Process] = {}
        pending = list(roots)
        while pending:
            proc = pending.pop()
            if proc.pid in found:
                continue
            found[proc.pid] = proc
            pending.extend(parents.get(proc.pid, []))
        if self.cgroup is not None:
            for pid in self.cgroup.members():
                if pid not in found and pid in status:
                    with contextlib.suppress(psutil.Error):
                        found[pid] = psutil.Process(pid)
        return [p for p in found.values() if status.get(p.pid) != psutil.STATUS_ZOMBIE]

    def over_limit(self) -> bool:
        """Whether the run has more live processes than it may."""
        if self.max_processes is None:
            return False
        if self.cgroup is not None:
            # The kernel holds the cgroup to the limit; its list is cheap to read, where
            # finding the run's processes reads every process of the system.
            return len(self.cgroup.members()) > self.max_processes
        return len(self.live()) > self.max_processes

    def refused_forks(self) -> int:
        """How many new processes the run's cgroup refused (0 without a cgroup)."""
        return 0 if self.cgroup is None else self.cgroup.refused_forks()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every live process of the run."""
        for proc in self.live():
            with contextlib.suppress(psutil.Error):
                proc.send_signal(sig)

    # -- ending -------------------------------------------------------------------------------

    def kill(self, *, give_up_after: float = 5.0) -> None:
        """SIGKILL every process of the run until none is left, and reap the adopted ones.

        Repeated, because a process that was forking as the signal went out may have
        produced a child the signal missed. A process stuck in an uninterruptible sleep
        ignores even SIGKILL; after ``give_up_after`` seconds it is left behind.
        """
        give_up = time.monotonic() + give_up_after
        pause = 0.005
        while True:
            survivors = self.live()
            if not survivors:
                break
            for proc in survivors:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signal.SIGKILL)
            self._reap()
            if time.monotonic() >= give_up:
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
        self._reap()

    def _reap(self) -> None:
        """Collect the exit status of adopted children that have ended (init would have)."""
        for child in self._me.children():
            if child.pid in self._before or self._is_application(child.pid):
                continue  # the caller's, or the application's (its Popen reaps it)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, os.WNOHANG)

    def _is_application(self, pid: int) -> bool:
        return self._proc is not None and self._proc.pid == pid


def _nproc_applies() -> bool:
    """Whether the kernel applies RLIMIT_NPROC to processes of this one's user."""
    if os.getuid() == 0:
        return False
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return True
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            effective = int(line.split()[1], 16)
            exempting = (1 << _CAP_SYS_ADMIN) | (1 << _CAP_SYS_RESOURCE)
            return not effective & exempting
    return True
