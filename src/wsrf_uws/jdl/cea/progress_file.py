"""An application's progress file: the last line says how far it is (``0.42 message``, ``42%``)."""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ...core.progress import bounded_fraction

__all__ = ["ProgressWatcher"]

# Only the end of a progress file is read: an application may append forever.
_PROGRESS_TAIL = 4096


class ProgressWatcher:
    """Reads an application's progress file and reports each change."""

    def __init__(self, path: Path, callback: Callable[[float, str | None], None]) -> None:
        self._path = path
        self._callback = callback
        self._reported: tuple[float, str | None] | None = None
        self._unterminated: str | None = None

    def poll(self, *, final: bool) -> None:
        line = self._last_line(final=final)
        if line is None:
            return
        parsed = _parse_progress(line)
        if parsed is None or parsed == self._reported:
            return
        self._reported = parsed
        self._callback(*parsed)

    def _last_line(self, *, final: bool) -> str | None:
        data, partial_start = _read_tail(self._path)
        if data is None:
            return None
        *complete, tail = data.decode("utf-8", errors="replace").split("\n")
        if partial_start:
            if not complete:
                return None  # a single line longer than the tail: nothing usable
            complete = complete[1:]
        tail = tail.strip()
        if tail:
            # A line without its newline may still be being written ("5" of "50%"):
            # trust it once it is seen unchanged twice, or once the application is done.
            if final or tail == self._unterminated:
                return tail
            self._unterminated = tail
        else:
            self._unterminated = None
        for line in reversed(complete):
            if line.strip():
                return line.strip()
        return None


def _read_tail(path: Path) -> tuple[bytes | None, bool]:
    """The last bytes of ``path`` and whether they start inside the file; never raises."""
    try:
        # Non-blocking, so a FIFO cannot hang the job; no symlink, so the file is the
        # application's own and not, say, a device it points to.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return None, False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, False
        size = os.lseek(fd, 0, os.SEEK_END)
        start = max(0, size - _PROGRESS_TAIL)
        return os.pread(fd, _PROGRESS_TAIL, start), start > 0
    except OSError:
        return None, False
    finally:
        os.close(fd)


def _parse_progress(line: str) -> tuple[float, str | None] | None:
    """``(fraction, message)`` from ``0.42 message`` or ``42% message``; None if garbage."""
    parts = line.split(None, 1)
    if not parts:
        return None
    token = parts[0]
    rest = parts[1] if len(parts) > 1 else ""
    try:
        value = float(token[:-1]) / 100 if token.endswith("%") else float(token)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    message = rest.strip() or None
    return bounded_fraction(value), message
