"""A cgroup of its own for each application run, with the kernel's process limit (pids.max).

RLIMIT_NPROC cannot bound one run: it counts every process of the *user* (the service's
own included), and the kernel does not apply it at all to root or to a process with
CAP_SYS_RESOURCE or CAP_SYS_ADMIN. A cgroup's ``pids.max`` bounds the processes and
threads of that cgroup alone, whoever runs them, and a process cannot leave its cgroup
by ``setsid`` or double forking. Creating cgroups needs write access to a cgroup folder
with the pids controller: a cgroup v1 ``pids`` hierarchy, or a cgroup v2 folder whose
``cgroup.subtree_control`` holds ``pids`` (under systemd, a delegated subtree).

:func:`find_pids_cgroup` chooses the folder once, in the service process;
:class:`RunCgroup` is one run's cgroup, made and removed in the worker.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
import time
from pathlib import Path

import psutil

__all__ = ["RunCgroup", "find_pids_cgroup"]

#: Run cgroups are named ``{prefix}{worker pid}-{n}``, so a stale one can be recognised.
_PREFIX = "wsrf-uws-cea-"
_STALE = re.compile(rf"{re.escape(_PREFIX)}(?P<pid>\d+)-\d+")
_numbers = itertools.count(1)
# How long to wait for the last members to be released before a cgroup can be removed.
_REMOVE_WAIT = 2.0


def find_pids_cgroup(setting: str | Path) -> Path | None:
    """The folder under which each run gets its cgroup, or None for no cgroup.

    ``"none"``: None. ``"auto"``: the service's own pids cgroup (v1 hierarchy, or v2 when
    its subtree already has the pids controller), if a run cgroup can be made there;
    otherwise None. A path: that folder, which must work (``ValueError`` saying why not).
    Stale run cgroups a killed worker left there are removed on the way.
    """
    if setting == "none":
        return None
    if setting == "auto":
        for candidate in _own_pids_cgroups():
            if _usable(candidate) == "":
                _remove_stale(candidate)
                return candidate
        return None
    folder = Path(setting)
    reason = _usable(folder)
    if reason:
        raise ValueError(f"process_cgroup {folder}: {reason}")
    _remove_stale(folder)
    return folder


class RunCgroup:
    """One run's cgroup under ``parent``, allowing at most ``max_processes`` tasks.

    The application joins it itself, between fork and exec: it writes ``0`` ("the writer")
    to :attr:`procs_fd`, so it is inside before it can start anything.
    """

    def __init__(self, parent: Path, max_processes: int) -> None:
        self.path = parent / f"{_PREFIX}{os.getpid()}-{next(_numbers)}"
        self.path.mkdir()
        try:
            (self.path / "pids.max").write_text(str(max_processes))
            #: Open for the application to write to (see the class text).
            self.procs_fd = os.open(self.path / "cgroup.procs", os.O_WRONLY)
        except BaseException:
            self.path.rmdir()
            raise

    def members(self) -> list[int]:
        """The pids in the cgroup now (zombies included until they are reaped)."""
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(line) for line in text.split()]

    def refused_forks(self) -> int:
        """How many times the kernel refused a new process because of ``pids.max``."""
        try:
            text = (self.path / "pids.events").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdecimal():
                return int(value)
        return 0

    def remove(self) -> None:
        """Close the folder's file and remove it, once its last members are released."""
        with contextlib.suppress(OSError):
            os.close(self.procs_fd)
        deadline = time.monotonic() + _REMOVE_WAIT
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                # Busy: a killed member not yet released. A folder left behind is
                # removed by the next service start (find_pids_cgroup).
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.02)


def _own_pids_cgroups() -> list[Path]:
    """The folders of this process's pids cgroups: v1 hierarchy, then v2 (may be none)."""
    try:
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    v1 = v2 = None
    for line in memberships:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            v2 = path
        elif "pids" in controllers.split(","):
            v1 = path
    found = []
    for line in mounts:
        fields = line.split()
        try:
            dash = fields.index("-")
        except ValueError:
            continue
        root, mount_point = fields[3], fields[4]
        fstype, options = fields[dash + 1], fields[dash + 3].split(",")
        if fstype == "cgroup" and "pids" in options and v1 is not None:
            folder = _inside(mount_point, root, v1)
        elif fstype == "cgroup2" and v2 is not None:
            folder = _inside(mount_point, root, v2)
            controls = _read(folder / "cgroup.subtree_control") if folder else ""
            if "pids" not in controls.split():
                folder = None
        else:
            continue
        if folder is not None:
            found.append(folder)
    return found


def _inside(mount_point: str, root: str, path: str) -> Path | None:
    """Where cgroup ``path`` of a hierarchy mounted from ``root`` at ``mount_point`` is."""
    relative = os.path.relpath(path, root)
    if relative.startswith(".."):
        return None  # the cgroup lies outside what is mounted here
    return Path(mount_point) / relative if relative != "." else Path(mount_point)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _usable(folder: Path) -> str:
    """Why run cgroups cannot be made under ``folder`` ("" if they can): tried for real."""
    if not (folder / "cgroup.procs").is_file():
        return "not a cgroup folder"
    try:
        probe = RunCgroup(folder, 1)
    except OSError as exc:
        return f"a cgroup with pids.max cannot be made there ({exc.strerror or exc})"
    try:
        # Joining can be refused even where creating was not (cgroup v2 delegation rules):
        # a short-lived process joins the way an application will.
        joined = subprocess.run(
            ["/bin/sh", "-c", "echo 0"],  # into cgroup.procs: "0" is the writer
            stdin=subprocess.DEVNULL,
            stdout=probe.procs_fd,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"no process could be started to join a cgroup there ({exc})"
    finally:
        probe.remove()
    if joined.returncode != 0:
        return "a process cannot join a cgroup made there"
    return ""


def _remove_stale(folder: Path) -> None:
    """Remove the empty run cgroups of workers that no longer run."""
    with contextlib.suppress(OSError):
        for child in folder.iterdir():
            match = _STALE.fullmatch(child.name)
            if match and not psutil.pid_exists(int(match["pid"])):
                with contextlib.suppress(OSError):
                    child.rmdir()
