"""The files of each resource: one folder per resource under the data directory.

Folders are sharded by the first two characters of the resource id so that a
million resources do not share one directory. Files are written atomically
(temporary name, fsync, rename), and a folder is removed by first renaming it
aside, so a crash never leaves a half-deleted folder under a live name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

_TRASH = ".trash"


class JobFiles:
    """Per-resource folders under ``root``."""

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
        if not folder.exists():
            return
        trash = self.root / _TRASH
        trash.mkdir(exist_ok=True)
        doomed = trash / f"{resource_id}-{os.getpid()}-{id(folder)}"
        os.replace(folder, doomed)
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


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    with atomic_writer(path) as stream:
        stream.write(data)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[IO[bytes]]:
    """A binary stream that replaces ``path`` when the block ends without an exception."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
