"""A clock that moves only when told to, for lifetime and reaper tests without sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class ManualClock:
    """A :class:`~wsrf_uws.core.clock.Clock` whose time changes only through :meth:`advance`.

    An advance wakes only the waiters whose deadline it reaches, as real time would;
    a waiter with no deadline sleeps until its own event is set. It pickles (a contract's
    environment holds the service's clock and travels to workers): the copy shows the
    time of the copying and moves only when the copy is advanced.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC).replace(microsecond=0)
        self._lock = threading.Lock()
        self._waiters: dict[threading.Event, datetime | None] = {}

    def __getstate__(self) -> dict[str, datetime]:
        return {"now": self.now()}

    def __setstate__(self, state: dict[str, datetime]) -> None:
        self.__init__(state["now"])  # type: ignore[misc]

    def now(self) -> datetime:
        """The clock's current time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the time forward by ``delta``; returns the new time."""
        if delta < timedelta(0):
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += delta
            now = self._now
            due = [e for e, deadline in self._waiters.items() if deadline and deadline <= now]
        for event in due:
            event.set()
        return now

    def wait_until(self, deadline: datetime | None, wakeup: threading.Event) -> None:
        """Block until an advance reaches ``deadline`` or ``wakeup`` is set."""
        with self._lock:
            if deadline is not None and self._now >= deadline:
                return
            self._waiters[wakeup] = deadline
        try:
            wakeup.wait()
        finally:
            with self._lock:
                self._waiters.pop(wakeup, None)

    @property
    def waiting(self) -> int:
        """How many threads are blocked in :meth:`wait_until` right now."""
        with self._lock:
            return len(self._waiters)
