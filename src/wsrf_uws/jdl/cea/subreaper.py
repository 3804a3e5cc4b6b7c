"""Adopting a run's orphans: the worker as a *child subreaper* (Linux ``prctl``).

:mod:`.run_processes` keeps every process of an application run within reach, even one
that called ``setsid`` and outlived its parent, by making the worker their subreaper for
the duration of the run.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["child_subreaper"]

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
