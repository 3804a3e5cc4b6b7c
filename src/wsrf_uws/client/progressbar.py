"""A one-line text progress bar for ``wsrf-uws submit --wait``, fed with job states.

On a terminal the line is redrawn in place (``\\r``); elsewhere (a log, a pipe) a new
line is written only when the phase or the whole percentage changes, so logs stay short.
"""

from __future__ import annotations

from typing import TextIO

from .state import JobState


class ProgressBar:
    """Call with each :class:`JobState`; call :meth:`close` when done."""

    def __init__(self, stream: TextIO, *, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.interactive = stream.isatty()
        self._last = ""

    def render(self, state: JobState) -> str:
        """The line that shows ``state``."""
        if state.fraction is None:
            return f"{state.phase:<9}"
        fraction = min(1.0, max(0.0, state.fraction))
        filled = round(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        return f"{state.phase:<9} [{bar}] {fraction:4.0%}"

    def __call__(self, state: JobState) -> None:
        line = self.render(state)
        if line == self._last:
            return
        if self.interactive:
            padding = " " * max(0, len(self._last) - len(line))
            self.stream.write(f"\r{line}{padding}")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._last = line

    def close(self) -> None:
        """End the redrawn line, so what follows starts on a line of its own."""
        if self.interactive and self._last:
            self.stream.write("\n")
            self.stream.flush()
