"""Stopping a job's processes: its process group and every descendant, no orphan left."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

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


# prctl(2) options (linux/prctl.h).
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


@contextlib.contextmanager
def child_subreaper() -> Iterator[bool]:
    """Within the block, orphaned descendants are re-parented to this process (Linux).

    Normally a process whose parent exits goes to init, so a child that called ``setsid``
    and outlived its parent is no longer anyone's descendant: nothing that looks for
    what a job started can find it. A *child subreaper* adopts such orphans instead; it
    must then reap them (``os.waitpid``), since init no longer does. Yields whether the
    flag is set (False where ``prctl`` is not available); the previous setting is
    restored at the end.
    """
    prctl = _prctl()
    previous = ctypes.c_int(0)
    if prctl is None or prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(previous), 0, 0, 0) != 0:
        yield False
        return
    if prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        yield False
        return
    try:
        yield True
    finally:
        prctl(_PR_SET_CHILD_SUBREAPER, previous.value, 0, 0, 0)


def _prctl() -> Any:
    """libc's ``prctl``, or None on a system without it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
