"""An application's standard output and error, copied into files up to a limit.

The application writes into pipes, not into the files themselves: a file it wrote directly
could grow to RLIMIT_FSIZE, which must leave room for real output files. A thread per pipe
copies what arrives into the file, up to ``max_bytes`` per stream. Past the limit the
thread keeps only what fitted and marks the stream, and the sandbox stops the run at its
next poll: the job fails, rather than completing with a truncated output, since a standard
output may be a data product, and one cut short can look complete. Until then the thread
reads and discards, so no writer blocks on a full pipe.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

__all__ = ["CapturedOutput"]

_CHUNK = 64 * 1024
# How long to wait, once the run's processes are gone, for the last bytes of a pipe.
_DRAIN_TIMEOUT = 5.0


class _Stream:
    """One pipe and the file it is copied into."""

    def __init__(self, name: str, target: BinaryIO, max_bytes: int | None) -> None:
        self.name = name
        self.target = target
        self.max_bytes = max_bytes
        self.read_fd, self.write_fd = os.pipe()
        self.written = 0
        self.exceeded = False
        self.thread: threading.Thread | None = None

    def copy(self) -> None:
        """Copy until end of file (every writer has closed the pipe)."""
        while chunk := _read(self.read_fd):
            if self.exceeded:
                continue
            room = len(chunk) if self.max_bytes is None else self.max_bytes - self.written
            if len(chunk) > room:
                self._write(chunk[:room])
                self.exceeded = True
            else:
                self._write(chunk)

    def _write(self, data: bytes) -> None:
        try:
            self.target.write(data)
            self.target.flush()
        except (OSError, ValueError):
            # A full disk, or a file closed under an abandoned copy: the output is lost,
            # the application is not blocked.
            pass
        self.written += len(data)


class CapturedOutput:
    """Pipes for an application's standard output and error, copied into ``stdout`` and
    ``stderr`` (the same path: one pipe for both, as a shared file would be).

    Use as a context manager: give :attr:`stdout_fd` and :attr:`stderr_fd` to the child,
    call :meth:`started` once it runs, and leave the block after the run's processes are
    gone. :attr:`exceeded` names the first stream that passed ``max_bytes``.
    """

    def __init__(self, stdout: Path, stderr: Path, *, max_bytes: int | None) -> None:
        self._files = contextlib.ExitStack()
        self._streams: list[_Stream] = []
        try:
            out = self._files.enter_context(open(stdout, "wb"))  # noqa: SIM115 (closed by close())
            if Path(stderr) == Path(stdout):
                self._streams.append(_Stream("standard output and error", out, max_bytes))
            else:
                err = self._files.enter_context(open(stderr, "wb"))  # noqa: SIM115
                self._streams.append(_Stream("standard output", out, max_bytes))
                self._streams.append(_Stream("standard error", err, max_bytes))
        except BaseException:
            self.close()
            raise

    @property
    def stdout_fd(self) -> int:
        """The write end the application's standard output goes to."""
        return self._streams[0].write_fd

    @property
    def stderr_fd(self) -> int:
        """The write end the application's standard error goes to."""
        return self._streams[-1].write_fd

    @property
    def exceeded(self) -> str | None:
        """The name of the first stream that passed the limit, or None."""
        return next((s.name for s in self._streams if s.exceeded), None)

    def started(self) -> None:
        """The child has its copies of the write ends: close ours and start copying."""
        for stream in self._streams:
            os.close(stream.write_fd)
            stream.write_fd = -1
            stream.thread = threading.Thread(
                target=stream.copy,
                name=f"copy {stream.name}",
                daemon=True,
            )
            stream.thread.start()

    def __enter__(self) -> CapturedOutput:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the copies to reach end of file, then close everything.

        A pipe whose writer survives (a process stuck beyond SIGKILL) is abandoned after
        :data:`_DRAIN_TIMEOUT` seconds, its thread left to end with the process.
        """
        for stream in self._streams:
            if stream.write_fd >= 0:
                os.close(stream.write_fd)
                stream.write_fd = -1
            if stream.thread is not None:
                stream.thread.join(_DRAIN_TIMEOUT)
            if stream.thread is None or not stream.thread.is_alive():
                os.close(stream.read_fd)
        self._files.close()


def _read(fd: int) -> bytes:
    """The next bytes of the pipe; b"" at end of file."""
    while True:
        try:
            return os.read(fd, _CHUNK)
        except InterruptedError:
            continue
        except OSError:
            return b""
