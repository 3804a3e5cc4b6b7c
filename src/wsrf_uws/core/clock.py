"""Time for the engine: one clock object, so lifetime and reaper tests need not sleep.

All instants are timezone-aware UTC ``datetime`` objects.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of the current time that can also wait until a given instant."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def wait_until(self, deadline: datetime | None, wakeup: threading.Event) -> None:
        """Block until ``deadline`` is reached or ``wakeup`` is set, whichever comes first.

        ``deadline=None`` waits for ``wakeup`` alone. Returning early is allowed:
        callers re-check their condition in a loop.
        """
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current time in UTC."""
        return datetime.now(UTC)

    def wait_until(self, deadline: datetime | None, wakeup: threading.Event) -> None:
        """Wait on ``wakeup`` with a timeout that ends at ``deadline``."""
        if deadline is None:
            wakeup.wait()
            return
        remaining = (deadline - self.now()).total_seconds()
        if remaining > 0:
            wakeup.wait(remaining)
