"""Stopping a job's processes: its process group and every descendant, no orphan left."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil


def descendants(pid: int) -> list[psutil.Process]:
    """Every live descendant of ``pid`` (empty if ``pid`` is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def signal_tree(pid: int, sig: int, known: list[psutil.Process]) -> None:
    """Send ``sig`` to the process group led by ``pid``, to ``pid``, and to ``known`` processes.

    ``known`` is a snapshot of descendants taken earlier, so children that moved to
    a group of their own (or were re-parented after their parent died) are reached too.
    psutil checks each one's identity, so a recycled pid is never signalled.
    """
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
