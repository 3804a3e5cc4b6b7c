"""A cache of decoded jobs, reused while the row they were decoded from is unchanged.

Clients poll: most reads of a job find its row exactly as the last read did, and turning
the row's JSON and time columns into a :class:`~wsrf_uws.core.model.Job` costs more
than fetching it (SQLite), or a good part of it (PostgreSQL). Both stores keep the jobs
they decode here, keyed by resource id together with the row's raw values: a row that
changed in any way (through this store object or any other process or node) no longer
matches and is decoded afresh, so the cache can never return a stale job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..core.model import Job


class DecodedJobs:
    """The last decoded job of up to ``capacity`` recently read rows (0: keep none).

    A cached job is immutable, so handing the same object to several threads is safe.
    When full, the entry stored first is dropped first.
    """

    def __init__(self, *, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._entries: dict[str, tuple[tuple[Any, ...], Job]] = {}
        self._lock = threading.Lock()

    def job(self, resource_id: str, values: tuple[Any, ...], decode: Callable[[], Job]) -> Job:
        """The job of the row of ``resource_id`` whose raw column values are ``values``:
        the cached one if it was decoded from equal values, else ``decode()`` (kept)."""
        if not self.capacity:
            return decode()
        cached = self._entries.get(resource_id)
        if cached is not None and cached[0] == values:
            return cached[1]
        job = decode()
        with self._lock:
            self._entries[resource_id] = (values, job)
            while len(self._entries) > self.capacity:
                del self._entries[next(iter(self._entries))]
        return job
