"""How the execution recorder (wsrf_uws.core.recorder) records a run's end, on a real
SQLite store: the run's last reports (state, progress) go with the end in one change,
and are kept when the end itself no longer applies (the job was aborted meanwhile)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.core import JobService, Phase
from wsrf_uws.core.model import ANONYMOUS, Progress, ProgressStep, StepStatus
from wsrf_uws.core.ports import Outcome, OutcomeKind
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.testing import build_test_service

from sqlite_commits import UNCHANGED, synchronous_at_commit, trace_statements

LAST_STATE = {"said": "the last state"}
LAST_PROGRESS = Progress(
    fraction=0.9, steps=(ProgressStep("only step", StepStatus.DONE, detail="done"),)
)
WRITES = ("record", "record_results", "transition", "update", "add_results")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[JobService]:
    # Not started: the test plays the executor, through the service's own recorder.
    with build_test_service(tmp_path / "data") as svc:
        yield svc


@pytest.fixture
def writes(service: JobService, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The store's write methods called from now on, by name."""
    called: list[str] = []

    def counting(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def count(*args: Any, **kwargs: Any) -> Any:
            called.append(name)
            return method(*args, **kwargs)

        return count

    for name in WRITES:
        monkeypatch.setattr(service.store, name, counting(name, getattr(service.store, name)))
    return called


def executing(service: JobService) -> str:
    job = service.create_job(contract="steps", document=steps_jdl(1, 0))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    assert service.recorder.claim(job.resource_id) is not None
    return job.resource_id


def test_a_runs_last_reports_are_recorded_with_its_end_in_one_write(
    service: JobService, writes: list[str]
) -> None:
    resource_id = executing(service)
    writes.clear()
    service.recorder.on_finished(
        resource_id, Outcome(OutcomeKind.COMPLETED), state=LAST_STATE, progress=LAST_PROGRESS
    )
    assert writes == ["transition"]
    job = service.store.get(resource_id)
    assert job is not None and job.phase is Phase.COMPLETED
    assert job.jdl_state == LAST_STATE
    assert job.progress == Progress(fraction=1.0, steps=LAST_PROGRESS.steps)


def test_a_failed_runs_last_reports_are_recorded_with_its_error(service: JobService) -> None:
    resource_id = executing(service)
    service.recorder.on_finished(
        resource_id, Outcome(OutcomeKind.FAILED, "it broke"), state=LAST_STATE
    )
    job = service.store.get(resource_id)
    assert job is not None and job.phase is Phase.ERROR
    assert job.error is not None and job.error.message == "it broke"
    assert job.jdl_state == LAST_STATE


def test_last_reports_are_kept_when_the_job_was_aborted_meanwhile(service: JobService) -> None:
    resource_id = executing(service)
    service.abort_job(resource_id, owner=ANONYMOUS)
    service.recorder.on_finished(
        resource_id, Outcome(OutcomeKind.COMPLETED), state=LAST_STATE, progress=LAST_PROGRESS
    )
    job = service.store.get(resource_id)
    assert job is not None and job.phase is Phase.ABORTED  # the abort stands
    assert job.jdl_state == LAST_STATE
    assert job.progress == LAST_PROGRESS


def test_a_claim_does_not_wait_for_the_disk_and_the_runs_end_does(service: JobService) -> None:
    """Recovery treats a job a crash left QUEUED as one it left EXECUTING, so the claim
    commits with synchronous=NORMAL (SQLite: no fsync); the run's end with FULL, which
    takes the claim to the disk with it."""
    store = service.store
    assert isinstance(store, SQLiteJobStore)
    job = service.create_job(contract="steps", document=steps_jdl(1, 0))
    service.start_job(job.resource_id, owner=ANONYMOUS)
    statements = trace_statements(store)
    assert service.recorder.claim(job.resource_id) is not None
    assert synchronous_at_commit(statements) == "PRAGMA synchronous=NORMAL"
    statements.clear()  # the mode restored after it
    service.recorder.on_finished(job.resource_id, Outcome(OutcomeKind.COMPLETED))
    assert synchronous_at_commit(statements) == UNCHANGED  # FULL, the default
    ended = store.get(job.resource_id)
    assert ended is not None and ended.phase is Phase.COMPLETED and ended.run_count == 1
