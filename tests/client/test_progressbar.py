"""The progress bars (``client/progressbar.py``): they fit any width, and off a terminal
they write a line only when what they say changes."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from wsrf_uws.client.progressbar import DownloadBar, ProgressBar, bar_line
from wsrf_uws.client.state import JobState


def state(phase: str, fraction: float | None) -> JobState:
    return JobState(
        phase=phase,
        creation_time=datetime.now(UTC),
        execution_duration=0,
        run_count=0,
        fraction=fraction,
    )


@pytest.mark.parametrize("columns", [1, 5, 12, 20, 40, 80, 200])
def test_a_line_never_reaches_the_last_column(columns: int) -> None:
    for fraction in (None, 0.0, 0.5, 1.0):
        line = bar_line("EXECUTING", fraction, columns=columns, suffix="12.5 MB/40.0 MB x.fits")
        assert len(line) <= max(1, columns - 1), (columns, line)


def test_the_bar_shrinks_before_the_words_go() -> None:
    wide = bar_line("EXECUTING", 0.5, columns=80)
    assert wide == "EXECUTING [###############...............]  50%"
    narrow = bar_line("EXECUTING", 0.5, columns=30)
    assert narrow.startswith("EXECUTING [") and narrow.endswith("]  50%")
    assert bar_line("EXECUTING", 0.5, columns=18) == "EXECUTING  50%"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_redrawn_and_erased() -> None:
    out = Terminal()
    bar = ProgressBar(out, columns=40)
    bar(state("EXECUTING", 0.25))
    bar(state("EXECUTING", 0.25))  # the same line: not drawn again
    bar(state("COMPLETED", 1.0))
    bar.close()
    drawn = out.getvalue().split("\r")[1:]
    assert len(drawn) == 2 and drawn[-1].endswith("100%\x1b[K\n")
    assert all(len(line.replace("\x1b[K", "").strip()) <= 39 for line in drawn)


def test_off_a_terminal_a_line_per_change() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, columns=200)
    for fraction in (0.0, 0.001, 0.5, 0.501, 1.0):
        bar(state("EXECUTING", fraction))
    assert [line.split("]")[-1].strip() for line in out.getvalue().splitlines()] == [
        "0%",
        "50%",
        "100%",
    ]
    downloads = io.StringIO()
    download = DownloadBar(downloads, "a.fits", columns=80)
    for done in range(0, 1001, 10):
        download(done, 1000)
    assert len(downloads.getvalue().splitlines()) == 11  # every tenth
    assert downloads.getvalue().splitlines()[-1].endswith("1.0 kB/1.0 kB a.fits")
