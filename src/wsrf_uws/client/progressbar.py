"""One-line text progress bars for the commands that wait: job states and downloads.

On a terminal the line is redrawn in place (``\\r``) and always fits the terminal's
width, read again at every redraw (a window made narrower must not make the line wrap,
which would leave a trail of half-lines): the bar shrinks first, then the label is cut.
Elsewhere (a log, a pipe) a new line is written only when the phase changes or the
progress passes another tenth, so a log gets a dozen lines, not a hundred.

Our own, not rich's or tqdm's (measured in docs/cli.md): both fit the width too, but off
a terminal tqdm writes its ``\\r`` redraws into the log and rich writes only the last
state, and either would be a dependency of the thin client for fifty lines of code.
"""

from __future__ import annotations

import shutil
from typing import TextIO

from .state import JobState

#: The bar's width when the terminal leaves room for it.
BAR_WIDTH = 30
_LABEL = 9


def fit(line: str, columns: int) -> str:
    """``line`` cut to leave the last column free (a full line would wrap on some terminals)."""
    room = max(1, columns - 1)
    return line if len(line) <= room else line[: max(0, room - 1)] + "…"


def bar_line(label: str, fraction: float | None, *, columns: int, suffix: str = "") -> str:
    """``label [#####.....] 42% suffix`` in at most ``columns - 1`` characters."""
    head = f"{label:<{_LABEL}}"
    if fraction is None:
        return fit(f"{head} {suffix}".rstrip(), columns)
    fraction = min(1.0, max(0.0, fraction))
    tail = f" {fraction:4.0%}" + (f" {suffix}" if suffix else "")
    width = min(BAR_WIDTH, columns - 1 - len(head) - 3 - len(tail))
    if width < 5:  # no room for a bar worth seeing: the words alone
        return fit(f"{head}{tail}", columns)
    filled = round(fraction * width)
    return f"{head} [{'#' * filled}{'.' * (width - filled)}]{tail}"


class _Line:
    """A line redrawn in place on a terminal, or appended when it changes elsewhere."""

    def __init__(self, stream: TextIO, *, columns: int | None = None) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self._columns = columns
        self._last = ""

    @property
    def columns(self) -> int:
        """The width to fit: as given, else the terminal's now (80 when unknown)."""
        return self._columns or shutil.get_terminal_size((80, 24)).columns

    def show(self, line: str, *, key: str | None = None) -> None:
        """Show ``line``; off a terminal, only when ``key`` (default the line) changed."""
        key = line if key is None else key
        if key == self._last:
            return
        if self.interactive:
            self.stream.write(f"\r{line}\x1b[K")  # erase what a longer line left
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._last = key

    def close(self) -> None:
        """End the redrawn line, so what follows starts on a line of its own."""
        if self.interactive and self._last:
            self.stream.write("\n")
            self.stream.flush()
            self._last = ""


class ProgressBar(_Line):
    """Call with each :class:`JobState`; call :meth:`close` when done."""

    def render(self, state: JobState) -> str:
        """The line that shows ``state``."""
        return bar_line(state.phase, state.fraction, columns=self.columns)

    def __call__(self, state: JobState) -> None:
        line = self.render(state)
        self.show(line, key=None if self.interactive else _percent_key(state))


class DownloadBar(_Line):
    """Call with (bytes so far, total or None) while ``name`` downloads."""

    def __init__(self, stream: TextIO, name: str, *, columns: int | None = None) -> None:
        super().__init__(stream, columns=columns)
        self.name = name

    def __call__(self, done: int, total: int | None) -> None:
        fraction = None if not total else done / total
        suffix = f"{_size(done)}" + (f"/{_size(total)}" if total else "") + f" {self.name}"
        key = f"{int((fraction or 0) * 10)}" if not self.interactive else None
        self.show(bar_line("download", fraction, columns=self.columns, suffix=suffix), key=key)


def _percent_key(state: JobState) -> str:
    """What a line off a terminal stands for: the phase and the tenth of the progress."""
    tenth = "" if state.fraction is None else int(min(1.0, max(0.0, state.fraction)) * 10)
    return f"{state.phase} {tenth}"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"  # pragma: no cover - the loop always returns
