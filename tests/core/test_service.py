"""The JobService operations, on a real store and real worker processes."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from wsrf_uws.core import (
    ContractUnknownError,
    InvalidJobDescriptionError,
    InvalidPhaseError,
    JobService,
    Phase,
    ResourceUnknownError,
)
from wsrf_uws.core.job_events import AllJobEvents, JobEvent, JobEventKind
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.core.ports import JobChanges, JobStore
from wsrf_uws.jdl.steps.contract import NAMESPACE, StepsContract, StepsJob, read_result, steps_jdl
from wsrf_uws.testing import build_test_service, wait_for_job

from conftest import open_store

BAD_DOCUMENTS = {
    "empty": (b"", "empty"),
    "not XML": (b"this is not xml", "line 1"),
    "unclosed": (b'<job xmlns="urn:wsrf-uws:steps:v1">\n<steps>1</steps>\n', "line 3"),
    "wrong root": (b'<other xmlns="urn:wsrf-uws:steps:v1"/>', "expects {urn:wsrf-uws:steps:v1}job"),
    "wrong namespace": (b"<job><steps>1</steps><stepSeconds>0</stepSeconds></job>", "root element"),
    "schema: missing steps": (
        b'<job xmlns="urn:wsrf-uws:steps:v1"><stepSeconds>0</stepSeconds></job>',
        "stepSeconds",
    ),
    "schema: bad number": (
        b'<job xmlns="urn:wsrf-uws:steps:v1">\n<steps>-3</steps><stepSeconds>0</stepSeconds></job>',
        "line 2",
    ),
    "doctype": (
        b'<!DOCTYPE job [<!ENTITY x "boom">]>\n<job xmlns="urn:wsrf-uws:steps:v1">'
        b"<steps>1</steps><stepSeconds>0</stepSeconds></job>",
        "DOCTYPE",
    ),
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<job xmlns="urn:wsrf-uws:steps:v1"><fail>&lol2;</fail></job>',
        "DOCTYPE",
    ),
    "external entity": (
        b'<!DOCTYPE job [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<job xmlns="urn:wsrf-uws:steps:v1"><fail>&xxe;</fail></job>',
        "DOCTYPE",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS))
def test_invalid_jdl_raises_and_creates_nothing(service: JobService, case: str) -> None:
    document, expected = BAD_DOCUMENTS[case]
    with pytest.raises(InvalidJobDescriptionError) as info:
        service.create_job(contract="steps", document=document)
    assert expected in str(info.value)
    assert service.store.count() == 0
    assert not any(service.files.root.iterdir())


def test_invalid_jdl_reports_line_and_column(service: JobService) -> None:
    with pytest.raises(InvalidJobDescriptionError) as info:
        service.create_job(contract="steps", document=b"<job>\n  <steps>\n</job>")
    assert info.value.line == 3
    assert info.value.column is not None


def test_unknown_contract(service: JobService) -> None:
    with pytest.raises(ContractUnknownError, match="installed: steps"):
        service.create_job(contract="nope", document=steps_jdl())
    assert service.store.count() == 0


def test_create_records_a_pending_job_with_quote_and_limits(service: JobService) -> None:
    job = service.create_job(
        contract="steps",
        document=steps_jdl(4, 0.5, execution_duration=30),
        owner="alice",
        address="http://node7.example/uws/steps",
    )
    assert job.phase is Phase.PENDING
    assert len(job.resource_id) == 32 and job.resource_id.isalnum()
    assert job.creation_time.tzinfo is not None and job.creation_time.utcoffset() == timedelta(0)
    assert job.termination_time == job.creation_time + timedelta(days=7)
    assert job.execution_duration == 30
    assert job.quote.duration == timedelta(seconds=2)
    assert job.quote.cost == {"cpu-seconds": 2.0}
    assert job.jdl == steps_jdl(4, 0.5, execution_duration=30)
    assert job.jdl_state == {"owner-at-creation": "alice"}
    assert service.store.get(job.resource_id) == job


def test_resource_ids_are_unique(service: JobService) -> None:
    ids = {service.create_job(contract="steps", document=steps_jdl()).resource_id
           for _ in range(200)}  # fmt: skip
    assert len(ids) == 200


def test_a_taken_resource_id_is_drawn_again(
    service: JobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = service.create_job(contract="steps", document=steps_jdl())
    fresh = iter([first.resource_id, "b" * 32])
    monkeypatch.setattr("wsrf_uws.core.job_creation.new_resource_id", lambda: next(fresh))
    second = service.create_job(contract="steps", document=steps_jdl())
    assert second.resource_id == "b" * 32
    assert service.store.count() == 2


def test_execution_duration_defaults_and_caps(tmp_path: object) -> None:
    from wsrf_uws.testing import build_test_service

    svc = build_test_service(
        tmp_path / "d",  # type: ignore[operator]
        default_execution_duration=100,
        max_execution_duration=500,
    )
    assert svc.create_job(contract="steps", document=steps_jdl()).execution_duration == 100
    asked = svc.create_job(contract="steps", document=steps_jdl(execution_duration=9999))
    assert asked.execution_duration == 500
    unlimited = svc.create_job(contract="steps", document=steps_jdl(execution_duration=0))
    assert unlimited.execution_duration == 500
    svc.shutdown()


def test_start_queues_before_returning_then_completes(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(3, 0.05))
    assert service.start_job(job.resource_id, owner=ANONYMOUS) is Phase.QUEUED
    assert service.get_job(job.resource_id, owner=ANONYMOUS).phase in (
        Phase.QUEUED, Phase.EXECUTING, Phase.COMPLETED)  # fmt: skip
    done = wait_for_job(service, job.resource_id)
    assert done.phase is Phase.COMPLETED
    assert done.start_time is not None and done.end_time is not None
    assert done.creation_time <= done.start_time <= done.end_time
    assert done.progress.fraction == 1.0
    assert [s.status.value for s in done.progress.steps] == ["done"] * 3
    assert [r.name for r in done.results] == ["step-1.txt", "step-2.txt", "step-3.txt"]
    folder = service.files.folder(job.resource_id)
    for result in done.results:
        path = folder / result.location
        assert path.read_bytes() == b"%s of run 1\n" % result.name[:-4].replace("-", " ").encode()
        assert result.size == path.stat().st_size
        assert result.mime_type == "text/plain"
    assert done.run_count == 1


def test_create_with_start_records_the_job_queued_in_one_write(
    service: JobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What UWS 1.1 REST's PHASE=RUN and EXECUTIONDURATION at creation do: the job is
    inserted QUEUED with its duration, told as created and queued, and then runs."""
    writes: list[str] = []
    for name in ("insert", "transition", "update", "update_in_phase", "record"):
        method = getattr(service.store, name)

        def counted(*args: object, _name: str = name, _method: Any = method, **kw: object) -> Any:
            if threading.current_thread() is threading.main_thread():
                writes.append(_name)
            return _method(*args, **kw)

        monkeypatch.setattr(service.store, name, counted)
    told: list[tuple[JobEventKind, Phase | None]] = []
    service.events = AllJobEvents([service.events, _Told(told)])
    job = service.create_job(
        contract="steps", document=steps_jdl(2, 0.01), execution_duration=77, start=True
    )
    assert (job.phase, job.execution_duration) == (Phase.QUEUED, 77)
    assert writes == ["insert"]
    assert told[:2] == [(JobEventKind.CREATED, Phase.PENDING), (JobEventKind.QUEUED, Phase.QUEUED)]
    done = wait_for_job(service, job.resource_id)
    assert (done.phase, done.execution_duration, done.run_count) == (Phase.COMPLETED, 77, 1)
    capped = service.create_job(contract="steps", document=steps_jdl(), execution_duration=10**9)
    assert capped.phase is Phase.PENDING
    assert capped.execution_duration == service.limits.resolve(10**9)


class _Told:
    def __init__(self, told: list[tuple[JobEventKind, Phase | None]]) -> None:
        self.told = told

    def emit(self, event: JobEvent) -> None:
        if event.kind in (JobEventKind.CREATED, JobEventKind.QUEUED):
            self.told.append((event.kind, event.phase))


def test_start_is_idempotent_while_active_and_refused_when_final(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(1, 2))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    again = service.start_job(job.resource_id, owner=ANONYMOUS)
    assert again in (Phase.QUEUED, Phase.EXECUTING)
    service.abort_job(job.resource_id, owner=ANONYMOUS)
    with pytest.raises(InvalidPhaseError, match="startJob is not allowed while the job is ABORTED"):
        service.start_job(job.resource_id, owner=ANONYMOUS)


def test_progress_reaches_the_store_while_running(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(5, 0.3))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    seen = set()
    while (current := service.get_job(job.resource_id, owner=ANONYMOUS)).phase is not (
        Phase.COMPLETED
    ):
        if current.phase is Phase.EXECUTING and current.progress.fraction is not None:
            seen.add(current.progress.fraction)
        assert not current.is_final, current.error
        time.sleep(0.02)
    assert len(seen) >= 2  # the fraction rose while the job ran
    assert current.progress.fraction == 1.0


def test_failure_ends_in_error_with_the_message(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(2, 0, fail="no frames cover it"))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    done = wait_for_job(service, job.resource_id)
    assert done.phase is Phase.ERROR
    assert done.error is not None and done.error.message == "no frames cover it"
    assert len(done.results) == 2  # what was produced before the failure stays


def test_a_crashing_worker_ends_in_error(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(1, 0, crash=True))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    done = wait_for_job(service, job.resource_id)
    assert done.phase is Phase.ERROR
    assert done.error is not None and "SIGKILL" in done.error.message


def test_another_owner_sees_nothing(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(), owner="alice")
    for call in (
        lambda: service.get_job(job.resource_id, owner="bob"),
        lambda: service.start_job(job.resource_id, owner="bob"),
        lambda: service.resume_job(job.resource_id, owner="bob"),
        lambda: service.abort_job(job.resource_id, owner="bob"),
        lambda: service.destroy_job(job.resource_id, owner="bob"),
        lambda: service.set_termination_time(job.resource_id, owner="bob", requested=None),
    ):
        with pytest.raises(ResourceUnknownError) as info:
            call()
        with pytest.raises(ResourceUnknownError) as unknown:
            service.get_job("x" * 32, owner="bob")
        # Exactly the message an unknown resource gets, apart from the id itself.
        assert str(info.value).replace(job.resource_id, "?") == str(unknown.value).replace(
            "x" * 32, "?"
        )
    assert service.get_job(job.resource_id, owner="alice").phase is Phase.PENDING
    assert service.list_jobs(owner="bob") == []


def test_list_jobs_of_an_owner(service: JobService) -> None:
    mine = [service.create_job(contract="steps", document=steps_jdl(), owner="alice")
            for _ in range(3)]  # fmt: skip
    service.create_job(contract="steps", document=steps_jdl(), owner="bob")
    listed = service.list_jobs(owner="alice")
    assert [j.resource_id for j in listed] == [j.resource_id for j in reversed(mine)]
    assert len(service.list_jobs(owner="alice", last=2)) == 2
    assert service.list_jobs(owner="alice", phases=[Phase.COMPLETED]) == []
    assert len(service.list_jobs(owner="alice", after=mine[0].creation_time)) == 2
    with pytest.raises(ValueError, match="positive"):
        service.list_jobs(owner="alice", last=0)


def test_resume_semantics(service: JobService) -> None:
    pending = service.create_job(contract="steps", document=steps_jdl())
    with pytest.raises(InvalidPhaseError, match="resumeJob"):
        service.resume_job(pending.resource_id, owner=ANONYMOUS)
    held = service.create_job(contract="steps", document=steps_jdl())
    service.store.transition(held.resource_id, Phase.HELD, changes=JobChanges(note="waits"))
    assert service.resume_job(held.resource_id, owner=ANONYMOUS) is Phase.QUEUED
    resumed = service.get_job(held.resource_id, owner=ANONYMOUS)
    assert resumed.note is not None and "resumed by resumeJob" in resumed.note
    done = wait_for_job(service, held.resource_id)
    assert done.phase is Phase.COMPLETED
    # Resuming a job that already ran again answers success (pattern §2.4).
    assert service.resume_job(held.resource_id, owner=ANONYMOUS) is Phase.COMPLETED


def test_abort_a_pending_job(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl())
    assert service.abort_job(job.resource_id, owner=ANONYMOUS) is Phase.ABORTED
    aborted = service.get_job(job.resource_id, owner=ANONYMOUS)
    assert aborted.phase is Phase.ABORTED and aborted.end_time is not None
    assert service.abort_job(job.resource_id, owner=ANONYMOUS) is Phase.ABORTED


def test_abort_a_completed_job_is_refused(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl())
    service.start_job(job.resource_id, owner=ANONYMOUS)
    wait_for_job(service, job.resource_id)
    with pytest.raises(InvalidPhaseError):
        service.abort_job(job.resource_id, owner=ANONYMOUS)


def test_destroy_forgets_the_job_and_its_files(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(2, 0))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    wait_for_job(service, job.resource_id)
    folder = service.files.folder(job.resource_id)
    assert (folder / "step-1.txt").exists()
    service.destroy_job(job.resource_id, owner=ANONYMOUS)
    assert not folder.exists()
    assert service.store.get(job.resource_id) is None
    with pytest.raises(ResourceUnknownError):
        service.get_job(job.resource_id, owner=ANONYMOUS)
    with pytest.raises(ResourceUnknownError):
        service.destroy_job(job.resource_id, owner=ANONYMOUS)


class CountingSteps(StepsContract):
    """``steps``, noting in its data folder each time it reads a JDL, in whichever process
    (module level: it is pickled to the worker, whose readings count too)."""

    def describe(self, root: etree._Element) -> StepsJob:
        with (self.data_dir / "readings").open("a") as readings:
            readings.write(f"{os.getpid()}\n")
        return super().describe(root)


def readings(data_dir: Path) -> list[str]:
    path = data_dir / "readings"
    return path.read_text().split() if path.exists() else []


def test_a_description_is_read_once_and_travels_to_the_worker_and_across_restarts(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    with build_test_service(data, contracts=[CountingSteps]) as svc:
        job = svc.create_job(contract="steps", document=etree.fromstring(steps_jdl(2, 0)))
        assert job.description is not None and job.isolated is True
        assert readings(data) == [str(os.getpid())]  # createJob, in the service process
        svc.start_job(job.resource_id, owner=ANONYMOUS)
        assert wait_for_job(svc, job.resource_id).phase is Phase.COMPLETED
        assert len(readings(data)) == 1  # the worker did not read the JDL again
        left = svc.create_job(contract="steps", document=steps_jdl(1, 0))
    # A job the service stopped with: recovery re-queues it, without reading it either.
    # Queued once the service is down: a cluster node up would claim it from the queue.
    store = _stored(data)
    try:
        assert store.transition(left.resource_id, Phase.QUEUED, expected={Phase.PENDING})
    finally:
        store.close()
    assert len(readings(data)) == 2
    with build_test_service(data, contracts=[CountingSteps]) as again:
        assert again.startup_report is not None
        # In a cluster (PostgreSQL) a QUEUED job waits in the shared queue: nothing to recover.
        requeued = [] if again.duties.node else [left.resource_id]
        assert again.startup_report.requeued == requeued
        assert wait_for_job(again, left.resource_id).phase is Phase.COMPLETED
    assert len(readings(data)) == 2


def _stored(data: Path) -> JobStore:
    """A store on the database a service on ``data`` used, in whichever store it was."""
    url = os.environ.get("WSRF_UWS_DATABASE_URL")  # set by WSRF_UWS_TEST_STORE=postgres
    if url:
        return open_store("postgres", url)
    return open_store("sqlite", str(data / "wsrf-uws.sqlite"))


def _spoil_descriptions(data: Path) -> None:
    """Make every recorded description unreadable, in whichever store the service used."""
    url = os.environ.get("WSRF_UWS_DATABASE_URL")  # set by WSRF_UWS_TEST_STORE=postgres
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE jobs SET description = '\\x00'::bytea, isolated = NULL")
        return
    store = sqlite3.connect(data / "wsrf-uws.sqlite")
    with store:
        store.execute("UPDATE jobs SET description = x'00', isolated = NULL")
    store.close()


def test_a_description_that_no_longer_unpickles_is_read_again_from_the_jdl(
    tmp_path: Path,
) -> None:
    """After an upgrade changed a contract's classes, say, or for a job an older version
    recorded: recovery and the worker fall back to the stored JDL."""
    data = tmp_path / "d"
    with build_test_service(data, contracts=[CountingSteps]) as svc:
        job = svc.create_job(contract="steps", document=steps_jdl(1, 0, isolated=True))
        svc.store.transition(job.resource_id, Phase.QUEUED)
    _spoil_descriptions(data)
    with build_test_service(data, contracts=[CountingSteps]) as again:
        done = wait_for_job(again, job.resource_id)
        assert done.phase is Phase.COMPLETED, done.error
        assert again.get_job(job.resource_id, owner=ANONYMOUS).description == b"\x00"
        # In a cluster (PostgreSQL) a QUEUED job is not recovered: it waits in the queue.
        recovered = not again.duties.node
    # createJob, recovery (is it isolated?) and the worker each read it.
    assert len(readings(data)) == 2 + recovered


def test_a_parsed_element_is_read_as_it_is(service: JobService) -> None:
    """What the SOAP binding hands over: the lines of a problem are the request's."""
    message = etree.fromstring(
        b'<request>\n<body>\n<job xmlns="urn:wsrf-uws:steps:v1">\n'
        b"<steps>-3</steps><stepSeconds>0</stepSeconds></job>\n</body></request>"
    )
    with pytest.raises(InvalidJobDescriptionError) as refused:
        service.create_job(contract="steps", document=message[0][0])
    assert refused.value.line == 4
    element = etree.fromstring(steps_jdl(3, 0))
    job = service.create_job(contract="steps", document=element)
    assert job.jdl == etree.tostring(element)
    assert service.get_job(job.resource_id, owner=ANONYMOUS).quote.cost == {"cpu-seconds": 0.0}


def test_an_extra_operation_reaches_its_own_job_only(service: JobService) -> None:
    job = service.create_job(contract="steps", document=steps_jdl(1, 0), owner="alice")
    service.start_job(job.resource_id, owner="alice")
    wait_for_job(service, job.resource_id, owner="alice")
    with pytest.raises(ResourceUnknownError):
        service.job_handle(job.resource_id, owner="bob")
    handle = service.job_handle(job.resource_id, owner="alice")
    assert handle.folder == service.files.folder(job.resource_id)
    with pytest.raises(ValueError, match="not inside"):
        handle.file("../../elsewhere")
    request = etree.Element(f"{{{NAMESPACE}}}readResult")
    etree.SubElement(request, f"{{{NAMESPACE}}}name").text = "step-1.txt"
    reply = read_result(handle, request)
    assert reply.findtext(f"{{{NAMESPACE}}}text") == "step 1 of run 1\n"
    changed = handle.set_state({**handle.job.jdl_state, "seen": True})
    assert changed.jdl_state["seen"] is True
    assert service.get_job(job.resource_id, owner="alice").jdl_state["seen"] is True
    service.destroy_job(job.resource_id, owner="alice")
    with pytest.raises(ResourceUnknownError):
        handle.set_state({})
