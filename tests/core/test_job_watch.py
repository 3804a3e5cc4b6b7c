"""The JobWatch: a waiter is set by its own job's told steps, and only by them."""

from __future__ import annotations

import threading

from wsrf_uws.core.job_events import JobEvent, JobEventKind
from wsrf_uws.core.job_watch import JobWatch
from wsrf_uws.core.phases import Phase


def event(resource_id: str) -> JobEvent:
    return JobEvent(JobEventKind.QUEUED, resource_id, "steps", "anonymous", Phase.QUEUED)


def test_a_waiter_wakes_at_its_jobs_step_only() -> None:
    watch = JobWatch()
    with watch.watching("a") as changed_a, watch.watching("b") as changed_b:
        assert watch.waiting() == 2
        watch.emit(event("a"))
        assert changed_a.is_set()
        assert not changed_b.is_set()
    assert watch.waiting() == 0


def test_a_waiter_in_another_thread_is_woken() -> None:
    watch = JobWatch()
    woken = threading.Event()
    registered = threading.Event()

    def wait() -> None:
        with watch.watching("job") as changed:
            registered.set()
            if changed.wait(60):
                woken.set()

    thread = threading.Thread(target=wait)
    thread.start()
    assert registered.wait(10)
    watch.emit(event("job"))
    thread.join(30)
    assert woken.is_set()


def test_steps_of_unwatched_jobs_and_refusals_are_ignored() -> None:
    watch = JobWatch()
    watch.emit(event("nobody-waits"))
    watch.emit(JobEvent(JobEventKind.REFUSED, "", "steps", "anonymous", reason="live_jobs"))
    assert watch.waiting() == 0
