"""Blocking ``WAIT`` on a job (UWS 1.1 §2.2.1.2), woken by the job's own changes.

``GET /{jobs}/{id}?WAIT=n[&PHASE=p]`` answers once the job's phase changes, or after
``n`` seconds, whichever comes first; at once when the job is not in an active phase
(PENDING, QUEUED, EXECUTING), or not in ``p`` when ``PHASE`` is given. The request
sleeps on the service's :class:`~wsrf_uws.core.job_watch.JobWatch`, which the job's
recorded steps wake: nothing polls the store.

A blocked request holds a request thread, so two bounds apply
(:class:`~wsrf_uws.settings.RestSettings`): no wait lasts beyond ``max_wait`` (a
``WAIT=-1`` included), and at most ``max_waiters`` requests block at once; a ``WAIT``
beyond them is answered at once with the job as it is, which UWS 1.1 allows ("the
service may return early") and a client takes as one more poll.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..core.model import Job
from ..core.phases import Phase
from ..core.service import JobService

#: The phases in which a WAIT may block (UWS 1.1 §2.2.1.2).
WAITING_PHASES = frozenset({Phase.PENDING, Phase.QUEUED, Phase.EXECUTING})


@dataclass(frozen=True)
class WaitLimits:
    """How long one WAIT blocks at most (seconds), and how many block at once."""

    max_wait: float = 60.0
    max_waiters: int = 4


class JobWaits:
    """Blocks requests until their job changes phase, within :class:`WaitLimits`."""

    def __init__(self, *, service: JobService, limits: WaitLimits) -> None:
        self.service = service
        self.limits = limits
        self._slots = threading.BoundedSemaphore(max(1, limits.max_waiters))
        self._lock = threading.Lock()
        self._blocked = 0
        #: WAITs answered at once because ``max_waiters`` were blocked already.
        self.answered_early = 0

    @property
    def blocked(self) -> int:
        """How many requests are blocked in a WAIT now."""
        with self._lock:
            return self._blocked

    def wait(self, resource_id: str, *, owner: str, seconds: float, phase: Phase | None) -> Job:
        """The job once its phase differs from the phase it had, or after ``seconds``
        (negative: :attr:`WaitLimits.max_wait`); at once when it may not block."""
        job = self.service.get_job(resource_id, owner=owner)
        if not _may_block(job, phase) or seconds == 0:
            return job
        if self.limits.max_waiters == 0 or not self._slots.acquire(blocking=False):
            with self._lock:
                self.answered_early += 1
            return job
        limit = self.limits.max_wait if seconds < 0 else min(seconds, self.limits.max_wait)
        deadline = time.monotonic() + limit
        with self._lock:
            self._blocked += 1
        try:
            with self.service.watch.watching(resource_id) as changed:
                # Read again now that a change would wake us: one made since is not missed.
                current = self.service.get_job(resource_id, owner=owner)
                while current.phase is job.phase and _may_block(current, phase):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not changed.wait(remaining):
                        break
                    changed.clear()
                    current = self.service.get_job(resource_id, owner=owner)
                return current
        finally:
            with self._lock:
                self._blocked -= 1
            self._slots.release()


def _may_block(job: Job, phase: Phase | None) -> bool:
    return job.phase in WAITING_PHASES and (phase is None or job.phase is phase)
