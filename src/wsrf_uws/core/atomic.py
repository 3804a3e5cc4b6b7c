"""Atomic, durable file writes: a reader sees the old file or the whole new one, even after a crash.

Every write goes the same way: a hidden temporary file in the destination's folder (a rename
is atomic only within one file system), the data, flush, ``fsync`` of the file, a rename onto
the destination, and ``fsync`` of the folder (the rename is an entry of the folder: without
that, a power cut may bring back the old file, or no file, after the caller was told the new
one was written). On any failure the temporary file is removed and the destination is
untouched.

- :func:`write_atomic` writes bytes or text in one call;
- :func:`atomic_writer` gives a binary stream, for data written piece by piece;
- :func:`atomic_path` gives the temporary *path*, for libraries that open files by name
  (Arrow, DuckDB);
- :func:`fsync_path` and :func:`replace_durably` are the two steps, for code that manages
  its temporary file itself (an upload whose partial file outlives one call).

Files are private by default (``0o600``): the service's files are read by the service. Pass
``mode`` for another, or ``mode=None`` for what :func:`open` would give (``0o666`` less the
process's umask), for files other accounts read.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "PRIVATE",
    "atomic_path",
    "atomic_writer",
    "fsync_path",
    "replace_durably",
    "write_atomic",
]

#: The default mode: read and written by the owner only.
PRIVATE = 0o600

#: Mode bits os.open asks for when the caller wants the umask to decide.
_UMASK_DECIDES = 0o666


def write_atomic(
    path: Path | str,
    data: bytes | str,
    *,
    mode: int | None = PRIVATE,
    encoding: str = "utf-8",
) -> None:
    """Replace ``path`` with ``data`` atomically and durably; text is encoded with ``encoding``."""
    payload = data.encode(encoding) if isinstance(data, str) else data
    with atomic_writer(path, mode=mode) as stream:
        stream.write(payload)


@contextlib.contextmanager
def atomic_writer(
    path: Path | str, *, mode: int | None = PRIVATE, suffix: str = ".part"
) -> Iterator[IO[bytes]]:
    """A binary stream that replaces ``path`` when the block ends without an exception.

    If the block raises, the file written so far is removed and ``path`` keeps its old
    content (or stays absent). The folder is created when missing. ``suffix`` ends the
    temporary file's name (which starts with a dot, so listings that skip hidden files skip
    it).
    """
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary, descriptor = _create_beside(destination, mode=mode, suffix=suffix)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        replace_durably(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(
    path: Path | str, *, mode: int | None = PRIVATE, suffix: str = ".part"
) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it when the block ends cleanly.

    For writers that open a file by name: the block creates and writes the file at the
    path given (which does not exist yet) and closes it; then the file is synced, given
    ``mode`` and renamed onto ``path``. If the block raises, or leaves no file, nothing
    changes at ``path`` and the temporary file is removed. Other files the writer made
    beside it (a database's journal) are the caller's to remove.
    """
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_name(destination, suffix)
    try:
        yield temporary
        if mode is not None:
            os.chmod(temporary, mode)
        fsync_path(temporary)
        replace_durably(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def replace_durably(temporary: Path | str, destination: Path | str) -> None:
    """Rename ``temporary`` onto ``destination`` and sync their folder, so the rename survives a
    crash. ``temporary`` must already be synced (:func:`fsync_path`) and in the same folder."""
    os.replace(temporary, destination)
    fsync_path(Path(destination).parent)


def fsync_path(path: Path | str) -> None:
    """Flush a file's data, or a folder's entries, to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _create_beside(destination: Path, *, mode: int | None, suffix: str) -> tuple[Path, int]:
    """A new, empty temporary file in ``destination``'s folder: its path and an open descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        temporary = _temporary_name(destination, suffix)
        try:
            descriptor = os.open(temporary, flags, _UMASK_DECIDES if mode is None else mode)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        break
    if mode is not None:
        try:
            # os.open's mode passes through the umask; the caller asked for exactly this one.
            os.fchmod(descriptor, mode)
        except BaseException:
            os.close(descriptor)
            temporary.unlink(missing_ok=True)
            raise
    return temporary, descriptor


def _temporary_name(destination: Path, suffix: str) -> Path:
    return destination.with_name(f".{destination.name}.{secrets.token_hex(6)}{suffix}")
