"""One service per data directory: a lock that ``wsrf-uws serve`` holds for its whole life.

Two services on one data directory would each take the other's running jobs for
interrupted ones: restart recovery at the second one's start-up put the first one's
EXECUTING jobs in HELD, where they stayed. ``serve`` therefore takes an exclusive
``flock`` on ``{data_dir}/wsrf-uws.lock`` before it opens anything else there, and
writes its process id into the file. A second ``serve`` finds the lock taken and
stops with a message naming the directory and that process, having changed nothing.

The kernel releases the lock when the process ends, however it ends (``kill -9``
included), so recovery runs exactly when the previous owner is gone. The descriptor is
not inherited by the programs the service starts (``O_CLOEXEC``), so a job left running
cannot keep a dead service's lock. ``flock`` is reliable on local file systems; on NFS
it depends on the client's lock support.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

#: The lock file, in the data directory.
LOCK_FILE = "wsrf-uws.lock"


class DataDirectoryInUseError(OSError):
    """Another process holds the data directory's lock."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"the data directory {data_dir} is in use by another wsrf-uws service "
            f"({holder}); stop it first, or give this one another --data directory"
        )
        self.data_dir = data_dir
        self.pid = pid


class DataDirectoryLock:
    """The exclusive lock of one data directory, held until :meth:`release`.

    Use :meth:`acquire`, or the lock as a context manager.
    """

    def __init__(self, data_dir: Path, descriptor: int) -> None:
        self.data_dir = data_dir
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirectoryLock:
        """Take the lock of ``data_dir`` (created if missing) and record this process in it.

        Raises :class:`DataDirectoryInUseError` at once, writing nothing, if another
        process holds it.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _recorded_pid(descriptor)
            os.close(descriptor)
            raise DataDirectoryInUseError(data_dir, pid) from None
        except BaseException:
            os.close(descriptor)
            raise
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        return cls(data_dir, descriptor)

    def release(self) -> None:
        """Give the lock up (idempotent); the file stays, for the next owner to reuse."""
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the last descriptor releases the flock
            self._descriptor = None

    def __enter__(self) -> DataDirectoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _recorded_pid(descriptor: int) -> int | None:
    """The process id the lock's holder wrote, if it has written one yet."""
    text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
