"""The files of each resource: one folder per resource under the jobs directory.

The service, the workers and the contracts all find a job's folder through this one
layout. :class:`ResultStorage` is the seam: what the service needs of the place where
jobs work and leave their results. :class:`JobFiles`, the default, keeps them in the
data directory, which the nodes of a cluster share (a network file system with
close-to-open consistency: see ``docs/cluster.md``).

Folders are sharded by the first two characters of the resource id so that a
million resources do not share one directory. A folder is removed by first renaming it
aside, so a crash never leaves a half-deleted folder under a live name; its files are then
deleted by a thread of the process (:class:`TrashEmptier`), so that a destroy answers
once the folder is gone from its name (deleting a tiny query's files took 1 to 4 ms more
on this machine). Files in them are written with :mod:`wsrf_uws.core.atomic`.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

_TRASH = ".trash"


class TrashEmptier:
    """Deletes folders moved into a trash, one after another, in a daemon thread started
    on first use (again in a forked child, which has none of its parent's threads).

    What is queued when the process ends stays in the trash, which the next start
    empties (:meth:`JobFiles.sweep`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Folders to delete, and events to set once those queued before are deleted.
        self._queue: queue.SimpleQueue[Path | threading.Event] = queue.SimpleQueue()
        self._pid = 0

    def put(self, folder: Path) -> None:
        """Delete ``folder`` (already renamed into a trash) and everything in it, soon."""
        self._send(folder)

    def wait(self) -> None:
        """Return once every folder queued so far is deleted."""
        done = threading.Event()
        self._send(done)
        done.wait()

    def _send(self, item: Path | threading.Event) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.SimpleQueue()
                threading.Thread(
                    target=self._empty, args=(self._queue,), name="wsrf-uws-trash", daemon=True
                ).start()
            self._queue.put(item)

    @staticmethod
    def _empty(items: queue.SimpleQueue[Path | threading.Event]) -> None:
        while True:
            item = items.get()
            if isinstance(item, threading.Event):
                item.set()
            else:
                shutil.rmtree(item, ignore_errors=True)


#: The process's one :class:`TrashEmptier`, shared by every :class:`JobFiles`.
TRASH_EMPTIER = TrashEmptier()


class ResultStorage(ABC):
    """Where each job works and keeps its result files, reachable from every node.

    A worker runs a job in its folder (:meth:`ensure`); any front-end serves the result
    files from it (:meth:`file`); a destroy removes it (:meth:`remove`). Paths are local
    paths: a storage elsewhere (an object store, say) is mounted as a file system.
    """

    @abstractmethod
    def folder(self, resource_id: str) -> Path:
        """The folder of ``resource_id`` (it may not exist yet)."""

    @abstractmethod
    def ensure(self, resource_id: str) -> Path:
        """The folder of ``resource_id``, created if needed."""

    @abstractmethod
    def file(self, resource_id: str, relative: str) -> Path:
        """A path inside the resource's folder; ValueError for one that would leave it."""

    @abstractmethod
    def remove(self, resource_id: str) -> None:
        """Delete the resource's folder and everything in it (no error if absent)."""

    @abstractmethod
    def sweep(self, is_live: Callable[[str], bool]) -> list[str]:
        """Remove the folders of resources that are not live; returns their ids."""


class JobFiles(ResultStorage):
    """Per-resource folders under ``root`` (the default :class:`ResultStorage`)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, resource_id: str) -> Path:
        """The folder of ``resource_id`` (it may not exist yet)."""
        if not (resource_id.isascii() and resource_id.isalnum()):
            raise ValueError(f"not a resource id: {resource_id!r}")
        return self.root / resource_id[:2] / resource_id

    def ensure(self, resource_id: str) -> Path:
        """The folder of ``resource_id``, created if needed."""
        folder = self.folder(resource_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def file(self, resource_id: str, relative: str) -> Path:
        """A path inside the resource's folder; refuses anything that would leave it."""
        folder = self.folder(resource_id).resolve()
        path = (folder / relative).resolve()
        if path == folder or folder not in path.parents:
            raise ValueError(f"{relative!r} is not inside the resource's folder")
        return path

    def remove(self, resource_id: str) -> None:
        """Delete the resource's folder and everything in it (no error if absent): gone
        from its name at once, its files deleted by :data:`TRASH_EMPTIER` soon after."""
        doomed = self._move_aside(resource_id)
        if doomed is not None:
            TRASH_EMPTIER.put(doomed)

    def _move_aside(self, resource_id: str) -> Path | None:
        """Rename the resource's folder into the trash; where to (None: it had none)."""
        folder = self.folder(resource_id)
        trash = self.root / _TRASH
        doomed = trash / f"{resource_id}-{os.getpid()}-{id(folder)}"
        # A sweep may empty the trash between our mkdir and our move (the move then
        # finds no trash folder): make it again and retry, a few times at most.
        for attempt in range(3):
            if not folder.exists():
                return None
            trash.mkdir(exist_ok=True)
            try:
                os.replace(folder, doomed)
                return doomed
            except FileNotFoundError:
                if attempt == 2:
                    raise
        return None

    def sweep(self, is_live: Callable[[str], bool]) -> list[str]:
        """Remove folders of resources that are not live and leftovers of interrupted removals.

        Returns the resource ids whose folders were removed (their files deleted when
        it returns, as it runs in a thread of its own: see
        :class:`~wsrf_uws.core.recovery.OrphanSweep`).
        """
        shutil.rmtree(self.root / _TRASH, ignore_errors=True)
        removed = []
        for shard in self.root.iterdir():
            if not shard.is_dir() or shard.name == _TRASH:
                continue
            for folder in shard.iterdir():
                if folder.is_dir() and not is_live(folder.name):
                    doomed = self._move_aside(folder.name)
                    if doomed is not None:
                        shutil.rmtree(doomed, ignore_errors=True)
                    removed.append(folder.name)
        return removed
