"""The files of each resource: one folder per resource under the jobs directory.

The service, the workers and the contracts all find a job's folder through this one
layout. :class:`ResultStorage` is the seam: what the service needs of the place where
jobs work and leave their results. :class:`JobFiles`, the default, keeps them in the
data directory, which the nodes of a cluster share (a network file system with
close-to-open consistency: see ``docs/cluster.md``).

Folders are sharded by the first two characters of the resource id so that a
million resources do not share one directory. A folder is removed by first renaming it
aside, so a crash never leaves a half-deleted folder under a live name. Files in them are
written with :mod:`wsrf_uws.core.atomic`.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

_TRASH = ".trash"


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
        """Delete the resource's folder and everything in it (no error if absent)."""
        folder = self.folder(resource_id)
        trash = self.root / _TRASH
        doomed = trash / f"{resource_id}-{os.getpid()}-{id(folder)}"
        # A sweep may empty the trash between our mkdir and our move (the move then
        # finds no trash folder): make it again and retry, a few times at most.
        for attempt in range(3):
            if not folder.exists():
                return
            trash.mkdir(exist_ok=True)
            try:
                os.replace(folder, doomed)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
        shutil.rmtree(doomed, ignore_errors=True)

    def sweep(self, is_live: Callable[[str], bool]) -> list[str]:
        """Remove folders of resources that are not live and leftovers of interrupted removals.

        Returns the resource ids whose folders were removed.
        """
        shutil.rmtree(self.root / _TRASH, ignore_errors=True)
        removed = []
        for shard in self.root.iterdir():
            if not shard.is_dir() or shard.name == _TRASH:
                continue
            for folder in shard.iterdir():
                if folder.is_dir() and not is_live(folder.name):
                    self.remove(folder.name)
                    removed.append(folder.name)
        return removed
