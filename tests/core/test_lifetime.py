"""Termination-time policy and the reaper, on a manual clock: no test here sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wsrf_uws.core import (
    JobService,
    ResourceUnknownError,
    TerminationPolicy,
    TerminationTimeRejectedError,
    UnableToSetTerminationTimeError,
)
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import ManualClock, build_test_service

from conftest import alive, wait_for_children

NOW = datetime(2030, 1, 1, tzinfo=UTC)
POLICY = TerminationPolicy(default_lifetime=timedelta(days=7), max_lifetime=timedelta(days=30))


class TestPolicy:
    def test_default_and_proposed_lifetimes(self) -> None:
        assert POLICY.initial(NOW) == NOW + timedelta(days=7)
        assert POLICY.initial(NOW, proposed_lifetime=timedelta(hours=1)) == NOW + timedelta(hours=1)
        # A lifetime the JDL proposes is an offer: capped, not refused.
        assert POLICY.initial(NOW, proposed_lifetime=timedelta(days=99)) == NOW + timedelta(days=30)

    def test_requested_initial_time(self) -> None:
        wanted = NOW + timedelta(days=2)
        assert POLICY.initial(NOW, requested=wanted) == wanted
        assert POLICY.initial(NOW, requested=NOW + timedelta(days=30)) == NOW + timedelta(days=30)
        with pytest.raises(TerminationTimeRejectedError, match="later than the latest allowed"):
            POLICY.initial(NOW, requested=NOW + timedelta(days=30, seconds=1))
        with pytest.raises(UnableToSetTerminationTimeError, match="past"):
            POLICY.initial(NOW, requested=NOW - timedelta(seconds=1))

    def test_nil_only_where_configured(self) -> None:
        with pytest.raises(UnableToSetTerminationTimeError, match="infinite"):
            POLICY.change(NOW, None)
        with pytest.raises(UnableToSetTerminationTimeError):
            POLICY.initial(NOW, requested=None)
        forever = TerminationPolicy(
            default_lifetime=timedelta(days=1), max_lifetime=timedelta(days=2), allow_infinite=True
        )
        assert forever.change(NOW, None) is None
        assert forever.initial(NOW, requested=None) is None

    def test_change(self) -> None:
        assert POLICY.change(NOW, NOW + timedelta(days=3)) == NOW + timedelta(days=3)
        assert POLICY.change(NOW, NOW - timedelta(days=3)) == NOW - timedelta(days=3)  # destroy
        naive = datetime(2030, 1, 2)  # naive times are taken as UTC
        assert POLICY.change(NOW, naive) == datetime(2030, 1, 2, tzinfo=UTC)
        with pytest.raises(TerminationTimeRejectedError):
            POLICY.change(NOW, NOW + timedelta(days=31))


def test_create_beyond_the_cap_creates_nothing(manual_service: JobService) -> None:
    too_late = manual_service.clock.now() + timedelta(days=31)
    with pytest.raises(TerminationTimeRejectedError):
        manual_service.create_job(contract="steps", document=steps_jdl(), termination_time=too_late)
    with pytest.raises(UnableToSetTerminationTimeError):
        manual_service.create_job(contract="steps", document=steps_jdl(), termination_time=None)
    assert manual_service.store.count() == 0


def test_jdl_lifetime_is_used(manual_service: JobService, clock: ManualClock) -> None:
    job = manual_service.create_job(contract="steps", document=steps_jdl(lifetime_seconds=600))
    assert job.termination_time == clock.now() + timedelta(seconds=600)


def test_set_termination_time(manual_service: JobService, clock: ManualClock) -> None:
    job = manual_service.create_job(contract="steps", document=steps_jdl())
    wanted = clock.now() + timedelta(days=20)
    change = manual_service.set_termination_time(job.resource_id, owner=ANONYMOUS, requested=wanted)
    assert (change.new_termination_time, change.current_time) == (wanted, clock.now())
    assert manual_service.get_job(job.resource_id, owner=ANONYMOUS).termination_time == wanted
    with pytest.raises(TerminationTimeRejectedError):
        manual_service.set_termination_time(
            job.resource_id, owner=ANONYMOUS, requested=clock.now() + timedelta(days=40)
        )
    assert manual_service.get_job(job.resource_id, owner=ANONYMOUS).termination_time == wanted


def test_past_termination_time_destroys_at_once(
    manual_service: JobService, clock: ManualClock
) -> None:
    job = manual_service.create_job(contract="steps", document=steps_jdl())
    past = clock.now() - timedelta(minutes=5)
    change = manual_service.set_termination_time(job.resource_id, owner=ANONYMOUS, requested=past)
    assert change.destroyed and change.new_termination_time == past
    with pytest.raises(ResourceUnknownError):
        manual_service.get_job(job.resource_id, owner=ANONYMOUS)


def test_reaper_destroys_at_the_termination_time_not_before(
    manual_service: JobService, clock: ManualClock
) -> None:
    reaper = manual_service.reaper
    job = manual_service.create_job(contract="steps", document=steps_jdl(lifetime_seconds=3600))
    other = manual_service.create_job(contract="steps", document=steps_jdl())  # 7 days
    assert reaper.wait_checked(clock.now())
    clock.advance(timedelta(seconds=3599))
    assert manual_service.store.get(job.resource_id) is not None
    clock.advance(timedelta(seconds=1))  # exactly the termination time
    assert reaper.wait_checked(clock.now())
    assert manual_service.store.get(job.resource_id) is None
    assert manual_service.store.get(other.resource_id) is not None


def test_reaper_does_nothing_while_nothing_expires(
    manual_service: JobService, clock: ManualClock
) -> None:
    reaper = manual_service.reaper
    manual_service.create_job(contract="steps", document=steps_jdl(lifetime_seconds=86400))
    assert reaper.wait_checked(clock.now())
    passes = reaper.passes
    for _ in range(100):  # 1000 minutes pass, nothing due
        clock.advance(timedelta(minutes=10))
    assert reaper.passes == passes  # never woken: no look at the store at all
    assert clock.waiting == 1  # the reaper sleeps towards the one termination time
    clock.advance(timedelta(days=1))
    assert reaper.wait_checked(clock.now())
    assert reaper.passes > passes
    assert manual_service.store.count() == 0


def test_an_earlier_time_wakes_the_reaper(manual_service: JobService, clock: ManualClock) -> None:
    reaper = manual_service.reaper
    late = manual_service.create_job(contract="steps", document=steps_jdl())  # 7 days
    assert reaper.wait_checked(clock.now())
    soon = manual_service.create_job(contract="steps", document=steps_jdl(lifetime_seconds=60))
    manual_service.set_termination_time(
        late.resource_id, owner=ANONYMOUS, requested=clock.now() + timedelta(seconds=30)
    )
    clock.advance(timedelta(seconds=30))
    assert reaper.wait_checked(clock.now())
    assert manual_service.store.get(late.resource_id) is None
    assert manual_service.store.get(soon.resource_id) is not None
    clock.advance(timedelta(seconds=30))
    assert reaper.wait_checked(clock.now())
    assert manual_service.store.count() == 0


def test_extending_keeps_the_resource_alive(manual_service: JobService, clock: ManualClock) -> None:
    job = manual_service.create_job(contract="steps", document=steps_jdl(lifetime_seconds=60))
    manual_service.set_termination_time(
        job.resource_id, owner=ANONYMOUS, requested=clock.now() + timedelta(hours=2)
    )
    clock.advance(timedelta(minutes=5))
    assert manual_service.reaper.wait_checked(clock.now())
    assert manual_service.store.get(job.resource_id) is not None


def test_expiry_stops_running_work_first(tmp_path: Path, clock: ManualClock) -> None:
    svc = build_test_service(tmp_path / "data", clock=clock)
    with svc:
        job = svc.create_job(
            contract="steps", document=steps_jdl(1, 0, children=2, lifetime_seconds=60)
        )
        svc.start_job(job.resource_id, owner=ANONYMOUS)
        children = wait_for_children(svc, job.resource_id)
        assert len(alive(children)) == 2
        clock.advance(timedelta(seconds=60))
        assert svc.reaper.wait_checked(clock.now())
        assert svc.store.get(job.resource_id) is None
        assert alive(children) == []
        assert not svc.files.folder(job.resource_id).exists()
        assert svc.executor.active() == {}


def test_a_failing_release_is_retried_later(tmp_path: Path, clock: ManualClock) -> None:
    from wsrf_uws.core import ResourceNotDestroyedError
    from wsrf_uws.core.model import Job
    from wsrf_uws.jdl.steps.contract import StepsContract

    class StubbornContract(StepsContract):
        releases = 0

        def release(self, job: Job) -> None:
            type(self).releases += 1
            if type(self).releases == 1:
                raise ResourceNotDestroyedError("the archive is offline")

    svc = build_test_service(tmp_path / "d", clock=clock, contracts=[StubbornContract()])
    with svc:
        job = svc.create_job(contract="steps", document=steps_jdl(lifetime_seconds=10))
        clock.advance(timedelta(seconds=10))
        assert svc.reaper.wait_checked(clock.now())
        kept = svc.store.get(job.resource_id)
        assert kept is not None and kept.note is not None and "archive is offline" in kept.note
        assert kept.termination_time == clock.now() + timedelta(minutes=1)
        clock.advance(timedelta(minutes=1))
        assert svc.reaper.wait_checked(clock.now())
        assert svc.store.get(job.resource_id) is None
