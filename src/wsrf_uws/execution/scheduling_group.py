"""A job process's own scheduling group, so that a job's processor time is not the service's.

Niceness alone ranks processes only against others of the same *scheduling group*. On
Linux with automatic grouping (``CONFIG_SCHED_AUTOGROUP``, on in most distributions'
kernels, ``/proc/sys/kernel/sched_autogroup_enabled``), every session is a group of its
own, and the groups share the processors fairly between them before niceness counts.
A job at niceness 19 in the service's session therefore still spends the service's
group's share: on a busy machine, each second a job computes is a second the service's
request threads wait behind the machine's other sessions. Measured with
``bench/load_bench.py`` on two busy cores, a polling client's 99th percentile latency
under attack fell from 3.5-6.9 times its idle figure to 2.0-3.3 times once the jobs had
groups of their own.

A warm parent is started in a session of its own and :func:`set_session_nice` gives
that session's group the job niceness (``/proc/PID/autogroup``); the jobs it forks share
the session, each leading a process group of its own, which the executor signals. A job
started cold calls :func:`lead_own_session` instead. The jobs then take, against the
service and everything else on the machine, only what they leave. Where there is no automatic
grouping (another kernel, or the service in a cgroup of its own under systemd, where the
cgroup's weight counts instead) the session changes nothing, and the file is left alone.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

#: The scheduling group of the calling process's session, and its niceness (Linux).
AUTOGROUP = Path("/proc/self/autogroup")


def lead_own_session(*, nice: int) -> None:
    """Make the calling process lead a new session, its scheduling group at ``nice``.

    The caller must not lead a process group already (``setsid`` refuses then). The
    group's niceness may only be raised by an unprivileged process, which is all this
    asks; a kernel without the file, or one that refuses, leaves it at 0.
    """
    os.setsid()
    set_session_nice("self", nice=nice)


def set_session_nice(pid: int | str, *, nice: int) -> None:
    """Give the scheduling group of the session ``pid`` leads the niceness ``nice`` (if
    above 0); best effort, as in :func:`lead_own_session`.

    Without ``CAP_SYS_ADMIN`` the kernel takes one such change every 100 ms on the whole
    machine, and refuses the others: so a warm parent's session gets it once, and the
    job processes it forks share that session (see :func:`~.worker.enter_job_limits`).
    """
    if nice > 0:
        with suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")


def autogroup_nice(pid: int | str = "self") -> int | None:
    """The niceness of the scheduling group of ``pid``'s session; None without one."""
    try:
        text = Path(f"/proc/{pid}/autogroup").read_text()
    except OSError:
        return None
    _, _, value = text.rpartition(" nice ")
    try:
        return int(value)
    except ValueError:
        return None
