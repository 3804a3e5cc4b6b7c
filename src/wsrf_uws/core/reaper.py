"""The reaper: destroys resources whose termination time has come.

It sleeps until the earliest termination time in the store (one indexed query) and
wakes early only when a sooner one is scheduled, so it does no work at all while
nothing expires.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from .clock import Clock
from .ports import JobChanges, JobStore

log = logging.getLogger(__name__)


class Reaper:
    """A background thread that calls ``expire(resource_id, now)`` for each expired resource.

    ``expire`` destroys the resource (stopping its work first); it may also leave a
    resource whose termination time was extended meanwhile alone.
    """

    def __init__(
        self,
        *,
        store: JobStore,
        clock: Clock,
        expire: Callable[[str, datetime], None],
        batch: int = 100,
        retry_delay: timedelta = timedelta(minutes=1),
    ) -> None:
        self._store = store
        self._clock = clock
        self._expire = expire
        self._batch = batch
        self._retry_delay = retry_delay
        self._wakeup = threading.Event()
        self._stopping = False
        self._deadline: datetime | None = None
        # Guards _deadline: the look-up and the comparison in schedule() must not interleave,
        # or a time committed just after the look-up would be slept past.
        self._deadline_lock = threading.Lock()
        self._checked = threading.Condition()
        self._checked_until: datetime | None = None
        self._thread: threading.Thread | None = None
        #: How many passes the reaper has made (each pass: one sweep and one look-up).
        self.passes = 0

    def start(self) -> None:
        """Start the background thread (again after :meth:`stop`: a cluster's leadership
        can move away and come back)."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="wsrf-uws-reaper", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the thread is running."""
        return self._thread is not None

    def stop(self) -> None:
        """Stop the thread and wait for it."""
        self._stopping = True
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def schedule(self, termination_time: datetime | None) -> None:
        """Tell the reaper a resource now ends at ``termination_time``.

        Wakes the thread only if that is sooner than what it is sleeping towards.
        """
        if termination_time is None:
            return
        with self._deadline_lock:
            if self._deadline is None or termination_time < self._deadline:
                self._wakeup.set()

    def sweep(self, now: datetime) -> int:
        """Expire everything due at ``now``; returns how many resources were handed over.

        A resource whose expiry fails is kept and tried again ``retry_delay`` later,
        with the reason in its note, so one stubborn resource cannot stall the others.
        """
        count = 0
        while True:
            due = self._store.expired(now, limit=self._batch)
            for resource_id in due:
                try:
                    self._expire(resource_id, now)
                except Exception as exc:
                    log.exception("expiring %s failed; retrying later", resource_id)
                    self._store.update(
                        resource_id,
                        JobChanges(
                            termination_time=now + self._retry_delay,
                            note=f"destruction at expiry failed ({exc}); retrying",
                        ),
                    )
                count += 1
            if len(due) < self._batch:
                return count

    def wait_checked(self, instant: datetime, timeout: float = 10.0) -> bool:
        """Block until a pass has swept everything due at ``instant`` (for tests and tools)."""
        with self._checked:
            return self._checked.wait_for(
                lambda: self._checked_until is not None and self._checked_until >= instant,
                timeout,
            )

    def _run(self) -> None:
        while not self._stopping:
            # Cleared before looking, so a schedule() racing with the look-up is not lost.
            self._wakeup.clear()
            now = self._clock.now()
            self.sweep(now)
            with self._deadline_lock:
                self._deadline = self._store.next_termination_time()
            self.passes += 1
            with self._checked:
                self._checked_until = now
                self._checked.notify_all()
            if self._deadline is not None and self._deadline <= now:
                continue
            self._clock.wait_until(self._deadline, self._wakeup)
