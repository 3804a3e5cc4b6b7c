"""Stopping a job's processes: its process group and every descendant, no orphan left."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import psutil


def descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of ``pid`` (empty if ``pid`` is gone).

    Read from each process's own list of children (Linux's ``/proc/PID/task/TID/children``):
    what a job started, in microseconds. Without those lists, every process on the machine
    is read to find whose parent is whose (milliseconds on a busy machine, at the end of
    every job).
    """
    if not _CHILDREN_LISTED:
        try:
            return psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
    found: list[psutil.Process] = []
    seen = {pid}
    waiting = _children(pid)
    while waiting:
        child = waiting.pop()
        if child in seen:
            continue
        seen.add(child)
        try:
            found.append(psutil.Process(child))
        except psutil.NoSuchProcess:
            continue
        waiting += _children(child)
    return found


def _children(pid: int) -> list[int]:
    """The pids of ``pid``'s children (a child is listed under the thread that started it)."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children: list[int] = []
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as listing:
                children += [int(child) for child in listing.read().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return children


def _children_listed() -> bool:
    """Whether this kernel lists each thread's children (``CONFIG_PROC_CHILDREN``)."""
    return os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children")


_CHILDREN_LISTED = _children_listed()


def signal_tree(pid: int, sig: int, known: list[psutil.Process]) -> None:
    """Send ``sig`` to the process group led by ``pid``, to ``pid``, and to ``known`` processes.

    ``known`` is a snapshot of descendants taken earlier, so children that moved to
    a group of their own (or were re-parented after their parent died) are reached too.
    psutil checks each one's identity, so a recycled pid is never signalled. A ``pid`` of
    0 or less names no job (to the system, it would mean the caller's own group).
    """
    if pid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    for proc in known:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)


def kill_tree(pid: int, known: list[psutil.Process], *, timeout: float = 5.0) -> None:
    """SIGKILL everything of the tree and wait (up to ``timeout`` s) until nothing of it runs.

    A killed process whose parent died first is a zombie until init reaps it, which some
    inits do late or never (a container's pid 1 without ``--init``): a zombie runs and
    holds nothing, so it counts as gone rather than being waited for.
    """
    known = known + descendants(pid)
    signal_tree(pid, signal.SIGKILL, known)
    deadline = time.monotonic() + timeout
    living = [p for p in known if _running(p)]
    while living and time.monotonic() < deadline:
        psutil.wait_procs(living, timeout=0.01)  # reaps those that are our own children
        living = [p for p in living if _running(p)]


def _running(process: psutil.Process) -> bool:
    """Whether ``process`` still runs (a zombie does not)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
