"""Waiting for a job to change: the :class:`JobWatch`, told by the service's job events.

A binding that blocks until a job moves on (UWS 1.1 ``WAIT``) registers a waiter for
the job, reads the job, and sleeps on the waiter until the next recorded step of its
life (queued, started, ended, destroyed) or until its own deadline. Registering before
reading means a step recorded in between is not missed. Nothing polls the store.

The watch hears the steps this process records (:mod:`wsrf_uws.core.job_events`). In a
cluster it also hears, through :meth:`JobWatch.wake`, the end of a run on another node
(the cluster's ``ENDED`` signal); the other steps recorded by another node (queued,
started) wake nobody here, so a waiter for those wakes at its deadline and reads the job
again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .job_events import JobEvent


class JobWatch:
    """A :class:`~wsrf_uws.core.job_events.JobEvents` observer that wakes the threads
    waiting for a job each time a step of that job's life is told."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[threading.Event]] = {}

    def emit(self, event: JobEvent) -> None:
        """Wake whoever waits for ``event``'s job."""
        if event.resource_id:
            self.wake(event.resource_id)

    def wake(self, resource_id: str) -> None:
        """Wake whoever waits for the job ``resource_id`` (a step recorded elsewhere)."""
        with self._lock:
            for waiter in self._waiters.get(resource_id, ()):
                waiter.set()

    @contextmanager
    def watching(self, resource_id: str) -> Iterator[threading.Event]:
        """A waiter set at the job's next told step; read the job after entering."""
        waiter = threading.Event()
        with self._lock:
            self._waiters.setdefault(resource_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                waiters = self._waiters.get(resource_id)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[resource_id]

    def waiting(self) -> int:
        """How many waiters are registered now (for tests and metrics)."""
        with self._lock:
            return sum(len(waiters) for waiters in self._waiters.values())
