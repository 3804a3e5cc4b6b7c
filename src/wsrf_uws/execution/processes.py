"""Stopping a job's processes: its process group and every descendant, no orphan left."""

from __future__ import annotations

import contextlib
import os
import signal

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


def kill_tree(pid: int, known: list[psutil.Process]) -> None:
    """SIGKILL everything of the tree and wait until no survivor is left."""
    known = known + descendants(pid)
    signal_tree(pid, signal.SIGKILL, known)
    psutil.wait_procs([p for p in known if p.is_running()], timeout=5)
