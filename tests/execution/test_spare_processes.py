"""Prepared spares: a contract's next job process, forked and prepared before its job.

Real warm parents, real spares, real signals (``wsrf_uws.execution.spares``): a job of a
contract with ``prepare_run`` runs in the spare that prepared for it, under a job's
limits; a spare holds no slot and is no running job; a killed spare is replaced; abort and
executionDuration stop the tree of a job that ran in a spare; a failing hook is reported
once and its jobs start as plain warm forks; shutdown leaves no spare behind. With
``spare_processes`` 2, two spares are kept (prepared one at a time) and serve two jobs in
a row; with 0 there is none. The
``adql`` contract's hook (DuckDB started, catalogue attached, metadata read) gives the
same answers as a run that opens its own catalogue, locked down the same way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pytest
from spare_support import (
    GATE_VARIABLE,
    HOOK_FAILURE,
    REHEARSAL_FAILURE,
    FailingPrepareSteps,
    FailingRehearsalSteps,
    GatedPreparedSteps,
    GatedRehearsingSteps,
    PreparedSteps,
    RehearsingSteps,
    SlowClosingSteps,
    SlowFailingSteps,
    SlowPreparedSteps,
)

from wsrf_uws.core import JobService, Phase
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.execution.local import LocalExecutor
from wsrf_uws.execution.spares import MAX_SPARE_DEATHS
from wsrf_uws.jdl.adql import rehearsal
from wsrf_uws.jdl.adql import run as run_module
from wsrf_uws.jdl.adql.catalog import PreparedCatalog, build_hipparcos
from wsrf_uws.jdl.adql.contract import AdqlContract
from wsrf_uws.jdl.steps.contract import StepsContract, steps_jdl
from wsrf_uws.testing import build_test_service, wait_for_job

from conftest import alive, wait_for_children

SAFETY = 60.0  # seconds: only a guard against hanging, never a measurement
#: The address-space limit the tests give jobs (RLIMIT_AS), in bytes.
JOB_MEMORY = 3 * 1024**3


@pytest.fixture
def service(tmp_path: Path) -> Iterator[JobService]:
    with build_test_service(
        tmp_path / "data", contracts=[PreparedSteps], slots=1, job_memory_bytes=JOB_MEMORY
    ) as svc:
        yield svc


def executor(service: JobService) -> LocalExecutor:
    assert isinstance(service.executor, LocalExecutor)
    return service.executor


def start(service: JobService, document: bytes, contract: str = "steps") -> str:
    job = service.create_job(contract=contract, document=document)
    service.start_job(job.resource_id, owner=ANONYMOUS)
    return job.resource_id


def ready_spare(service: JobService, contract: str = "steps", *, not_pid: int = 0) -> int:
    """The pid of the contract's spare, once one (other than ``not_pid``) is ready."""
    deadline = time.monotonic() + SAFETY
    while True:
        pid = next(iter(executor(service).spare_pids(contract)), None)
        if pid is not None and pid != not_pid:
            return pid
        assert time.monotonic() < deadline, "no spare became ready"
        time.sleep(0.01)


def ends(pid: int) -> bool:
    """Whether ``pid`` ends (a job's end is recorded as soon as it is reported, and its
    process exits after that)."""
    deadline = time.monotonic() + SAFETY
    while alive([pid]):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def prepared_report(service: JobService, resource_id: str) -> dict[str, Any]:
    done = wait_for_job(service, resource_id)
    assert done.phase is Phase.COMPLETED, done.error
    report: dict[str, Any] = json.loads(
        service.files.file(resource_id, "prepared.json").read_text()
    )
    return report


def test_a_job_runs_in_the_spare_that_prepared_it_under_a_jobs_limits(
    service: JobService,
) -> None:
    first = prepared_report(service, start(service, steps_jdl(1, 0)))
    assert first["prepared"] is None  # the contract's first job: no spare yet

    spare = ready_spare(service)
    process = psutil.Process(spare)
    assert executor(service).active() == {}  # a spare is no running job
    warm = executor(service).warm_parent("steps")
    assert warm is not None and process.ppid() == warm.pid
    assert os.getpgid(spare) == spare  # its own group, as a job's process
    assert process.rlimit(psutil.RLIMIT_AS)[0] == JOB_MEMORY

    # With one slot and the spare waiting, a job still gets the slot: the spare's process.
    second_id = start(service, steps_jdl(1, 0))
    second = prepared_report(service, second_id)
    record = second["prepared"]
    assert record is not None
    assert second["pid"] == record["pid"] == spare
    assert record["pgid"] == spare
    assert record["rlimit_as"] == JOB_MEMORY
    assert record["nice"] == os.nice(0) + executor(service).nice
    # What it prepared is closed once the job's outcome is reported (off its latency).
    closed = service.files.file(second_id, "closed")
    deadline = time.monotonic() + SAFETY
    while not closed.exists():
        assert time.monotonic() < deadline, "the prepared state was not closed"
        time.sleep(0.01)
    assert closed.read_text() == str(spare)
    assert ends(spare)  # one job per spare: it ends with its job

    third = ready_spare(service, not_pid=spare)  # the next one, once no job runs
    assert prepared_report(service, start(service, steps_jdl(1, 0)))["pid"] == third


def test_a_contract_without_a_hook_gets_no_spare(tmp_path: Path) -> None:
    with build_test_service(tmp_path / "data", contracts=[StepsContract]) as svc:
        for _ in range(2):
            assert wait_for_job(svc, start(svc, steps_jdl(1, 0))).phase is Phase.COMPLETED
        assert executor(svc).spare_pids("steps") == []
        deadline = time.monotonic() + SAFETY
        while living_children(svc):  # the last job's process may still be exiting
            assert time.monotonic() < deadline, "a process waits for a job"
            time.sleep(0.01)


def test_a_killed_spare_is_replaced(service: JobService) -> None:
    wait_for_job(service, start(service, steps_jdl(1, 0)))
    killed = ready_spare(service)
    os.kill(killed, signal.SIGKILL)
    replacement = ready_spare(service, not_pid=killed)
    assert alive([killed]) == []
    report = prepared_report(service, start(service, steps_jdl(1, 0)))
    assert report["pid"] == replacement


def test_spares_that_keep_dying_are_given_up_and_jobs_still_run(
    service: JobService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wsrf_uws.execution.spares")
    wait_for_job(service, start(service, steps_jdl(1, 0)))
    killed = 0
    for _ in range(MAX_SPARE_DEATHS):
        killed = ready_spare(service, not_pid=killed)
        os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + SAFETY
    while not any("no more spare processes" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the dying spares were never given up"
        time.sleep(0.01)
    assert executor(service).spare_pids("steps") == []
    report = prepared_report(service, start(service, steps_jdl(1, 0)))
    assert report["prepared"] is None


def test_abort_and_execution_duration_stop_the_tree_of_a_job_in_a_spare(
    service: JobService,
) -> None:
    wait_for_job(service, start(service, steps_jdl(1, 0)))
    spare = ready_spare(service)
    aborted = start(service, steps_jdl(1, 0, children=3))
    children = wait_for_children(service, aborted)
    assert {psutil.Process(child).ppid() for child in children} == {spare}
    assert service.abort_job(aborted, owner=ANONYMOUS) is Phase.ABORTED
    assert alive([spare, *children]) == []  # at once: abort waits for it

    spare = ready_spare(service, not_pid=spare)
    timed = start(service, steps_jdl(100, 0.2, execution_duration=1, children=2))
    children = wait_for_children(service, timed)
    assert {psutil.Process(child).ppid() for child in children} == {spare}
    done = wait_for_job(service, timed)
    assert done.phase is Phase.ABORTED
    assert done.error is not None and "execution duration of 1 s" in done.error.message
    assert alive([spare, *children]) == []
    assert executor(service).active() == {}


@pytest.mark.parametrize(
    ("contract", "failure"),
    [(FailingPrepareSteps, HOOK_FAILURE), (FailingRehearsalSteps, REHEARSAL_FAILURE)],
    ids=["hook", "rehearsal"],
)
def test_a_failing_hook_is_reported_once_and_jobs_start_as_plain_forks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, contract: type[StepsContract], failure: str
) -> None:
    caplog.set_level(logging.WARNING, logger="wsrf_uws.execution.spares")
    with build_test_service(tmp_path / "data", contracts=[contract]) as svc:
        done = wait_for_job(svc, start(svc, steps_jdl(1, 0)))
        assert done.phase is Phase.COMPLETED, done.error
        # The spare made after the first job fails (a spare whose job comes while it
        # prepares skips its rehearsal, so none comes before the report).
        deadline = time.monotonic() + SAFETY
        while not caplog.records:
            assert time.monotonic() < deadline, "the failing hook was never reported"
            time.sleep(0.01)
        for _ in range(3):
            resource_id = start(svc, steps_jdl(1, 0))
            if issubclass(contract, PreparedSteps):  # its jobs say what they were given
                assert prepared_report(svc, resource_id)["prepared"] is None
            done = wait_for_job(svc, resource_id)
            assert done.phase is Phase.COMPLETED, done.error
        assert executor(svc).spare_pids("steps") == []
        # No spare is left waiting (the last job's process may still be exiting).
        while living_children(svc):
            assert time.monotonic() < deadline, "a spare of the failing hook was left"
            time.sleep(0.01)
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) == 1, reports
    assert failure in reports[0] and "plain warm forks" in reports[0]


def test_a_spare_rehearses_before_its_job_comes(tmp_path: Path) -> None:
    with build_test_service(tmp_path / "data", contracts=[RehearsingSteps]) as svc:
        first = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        assert first["prepared"] is None  # no spare for a contract's first job
        spare = ready_spare(svc, not_pid=first["pid"])
        report = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        assert report["pid"] == spare
        assert report["prepared"]["rehearsed"] == spare


def test_a_spare_whose_job_comes_while_it_prepares_does_not_rehearse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    monkeypatch.setenv(GATE_VARIABLE, str(gate))
    with build_test_service(tmp_path / "data", contracts=[GatedRehearsingSteps]) as svc:
        first = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        spare = preparing_spare(svc, not_pid=first["pid"])
        resource_id = start(svc, steps_jdl(1, 0))
        deadline = time.monotonic() + SAFETY
        while resource_id not in executor(svc).active():  # handed to the preparing spare
            assert time.monotonic() < deadline, "the job was never started"
            time.sleep(0.01)
        time.sleep(0.2)  # the spare reads the spec while its hook still waits at the gate
        gate.touch()
        report = prepared_report(svc, resource_id)
        assert report["pid"] == spare and report["prepared"] is not None
        assert "rehearsed" not in report["prepared"]
        # The next spare, ready before its job, rehearses.
        spare = ready_spare(svc, not_pid=spare)
        assert prepared_report(svc, start(svc, steps_jdl(1, 0)))["prepared"]["rehearsed"] == spare


def test_destroy_does_not_wait_for_the_process_of_a_run_that_has_ended(tmp_path: Path) -> None:
    """Once a run's end is recorded its process only exits (here it takes seconds to
    close what it prepared): a Destroy answers without waiting for it or killing it."""
    with build_test_service(tmp_path / "data", contracts=[SlowClosingSteps]) as svc:
        prepared_report(svc, start(svc, steps_jdl(1, 0)))
        ready_spare(svc)
        resource_id = start(svc, steps_jdl(1, 0))
        pid = prepared_report(svc, resource_id)["pid"]
        assert alive([pid]) == [pid]  # still exiting: closing for seconds
        svc.destroy_job(resource_id, owner=ANONYMOUS)
        assert alive([pid]) == [pid]  # left to exit on its own
        assert ends(pid)


def test_shutdown_leaves_no_spare_behind(tmp_path: Path) -> None:
    with build_test_service(tmp_path / "data", contracts=[PreparedSteps]) as svc:
        wait_for_job(svc, start(svc, steps_jdl(1, 0)))
        spare = ready_spare(svc)
        warm = executor(svc).warm_parent("steps")
        assert warm is not None and warm.pid is not None
        warm_pid = warm.pid
    assert alive([spare, warm_pid]) == []


def ready_spares(service: JobService, count: int, *, not_pids: set[int]) -> list[int]:
    """The pids of the contract's ready spares, oldest first, once ``count`` spares none of
    ``not_pids`` are ready."""
    deadline = time.monotonic() + SAFETY
    while True:
        pids = executor(service).spare_pids("steps")
        if len(pids) == count and not_pids.isdisjoint(pids):
            return pids
        assert time.monotonic() < deadline, f"{count} spares never became ready: {pids}"
        time.sleep(0.01)


def test_two_spares_are_kept_and_serve_two_jobs_in_a_row(tmp_path: Path) -> None:
    with build_test_service(
        tmp_path / "data", contracts=[PreparedSteps], slots=1, spare_processes=2
    ) as svc:
        prepared_report(svc, start(svc, steps_jdl(1, 0)))
        spares = ready_spares(svc, 2, not_pids=set())
        warm = executor(svc).warm_parent("steps")
        assert warm is not None and warm.pid is not None
        warm_pid = warm.pid
        assert {psutil.Process(pid).ppid() for pid in spares} == {warm_pid}
        assert executor(svc).active() == {}  # spares are no running jobs

        # Submitted back to back, with one slot: each finds a spare ready, oldest first.
        jobs = [start(svc, steps_jdl(1, 0)), start(svc, steps_jdl(1, 0))]
        reports = [prepared_report(svc, job) for job in jobs]
        assert [report["pid"] for report in reports] == spares
        assert all(report["prepared"] is not None for report in reports)
        assert all(ends(pid) for pid in spares)  # one job each

        refilled = ready_spares(svc, 2, not_pids=set(spares))  # kept full once idle
    assert alive([*refilled, warm_pid]) == []  # none left behind at shutdown


def test_spares_are_prepared_one_at_a_time(tmp_path: Path) -> None:
    with build_test_service(
        tmp_path / "data", contracts=[SlowPreparedSteps], spare_processes=2
    ) as svc:
        first = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        preparing = preparing_spare(svc, not_pid=first["pid"])
        # The second is forked once the first is ready, not beside it.
        assert [pid for pid in living_children(svc) if pid != first["pid"]] == [preparing]
        assert ready_spares(svc, 2, not_pids=set())[0] == preparing


def test_no_spare_is_made_when_spare_processes_is_0(tmp_path: Path) -> None:
    with build_test_service(tmp_path / "data", contracts=[PreparedSteps], spare_processes=0) as svc:
        reports = [prepared_report(svc, start(svc, steps_jdl(1, 0))) for _ in range(3)]
        assert [report["prepared"] for report in reports] == [None, None, None]
        assert executor(svc).spare_pids("steps") == []
        deadline = time.monotonic() + SAFETY
        while living_children(svc):  # the last job's process may still be exiting
            assert time.monotonic() < deadline, "a process waits for a job"
            time.sleep(0.01)


# -- adql ----------------------------------------------------------------------------------

TINY_QUERY = "SELECT TOP 5 hip, ra, dec FROM hipparcos.main WHERE hip &lt; 100 ORDER BY hip"


def adql_jdl(query: str = TINY_QUERY) -> bytes:
    return f'<job xmlns="urn:wsrf-uws:adql:v1"><query>{query}</query></job>'.encode()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spare-adql") / "hipparcos.duckdb"
    build_hipparcos(path)
    return path


def test_an_adql_job_in_a_spare_answers_as_one_that_opens_its_catalogue(
    tmp_path: Path, catalogue: Path
) -> None:
    settings = {"catalog": str(catalogue)}
    with build_test_service(tmp_path / "data", contracts=[AdqlContract], adql=settings) as svc:
        cold = wait_for_job(svc, start(svc, adql_jdl(), "adql"))  # no spare yet
        assert cold.phase is Phase.COMPLETED, cold.error
        spare = ready_spare(svc, "adql")
        warm = wait_for_job(svc, start(svc, adql_jdl(), "adql"))
        assert warm.phase is Phase.COMPLETED, warm.error
        assert ends(spare)  # it ran the job, and ends with it
        assert warm.jdl_state["rows"] == cold.jdl_state["rows"] == 5
        assert warm.jdl_state["columns"] == cold.jdl_state["columns"]
        votables = [svc.files.file(job.resource_id, "result").read_bytes() for job in (cold, warm)]
        assert votables[0] == votables[1] and b"<STREAM" in votables[0]


@pytest.mark.parametrize("rehearsed", [False, True])
def test_a_prepared_catalogue_is_locked_down_as_an_opened_one(
    tmp_path: Path, catalogue: Path, monkeypatch: pytest.MonkeyPatch, rehearsed: bool
) -> None:
    """Also after the adql contract's rehearsal, which leaves no folder behind (in a
    memory file system where there is one, else the system's temporary folder)."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(rehearsal, "MEMORY_FOLDER", str(temporary))
    assert rehearsal.rehearsal_parent() == str(temporary)
    prepared = PreparedCatalog(catalogue, threads=1, memory_bytes=64 * 1024**2)
    if rehearsed:
        AdqlContract().rehearse_run(prepared)
        assert list(temporary.iterdir()) == []
    spill = tmp_path / "spill"
    catalog = prepared.lock_down(spill_directory=spill, spill_bytes=10**6)
    try:
        # Read once locked down, when a job with uploads by URI translates.
        assert catalog.metadata.table("hipparcos.main") is not None
        connection = catalog.connection()
        settings = dict(
            connection.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('temp_directory', 'lock_configuration', 'enable_external_access', "
                "'threads', 'integer_division')"
            ).fetchall()
        )
        assert settings == {
            "temp_directory": str(spill),
            "lock_configuration": "true",
            "enable_external_access": "false",
            "threads": "1",
            "integer_division": "true",
        }
        with pytest.raises(duckdb.Error, match="locked"):
            connection.execute("SET temp_directory = '/tmp'")
        with pytest.raises(duckdb.Error):
            connection.execute(f"SELECT * FROM read_csv('{catalogue}')")
        assert connection.execute("SELECT count(*) FROM hipparcos.main").fetchone() == (117955,)
    finally:
        prepared.close()


def test_an_adql_rehearsal_without_a_memory_file_system_uses_the_temporary_folder(
    tmp_path: Path, catalogue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rehearsal, "MEMORY_FOLDER", str(tmp_path / "none"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert rehearsal.rehearsal_parent() is None
    made: list[Path] = []
    original = rehearsal.rehearsal_folder

    @contextlib.contextmanager
    def watched() -> Iterator[Path]:
        with original() as folder:
            made.append(folder)
            yield folder

    monkeypatch.setattr(run_module, "rehearsal_folder", watched)
    prepared = PreparedCatalog(catalogue, threads=1)
    try:
        AdqlContract().rehearse_run(prepared)
    finally:
        prepared.close()
    assert [folder.parent for folder in made] == [tmp_path]
    assert list(tmp_path.iterdir()) == []


def test_an_adql_rehearsal_removes_the_folders_of_spares_that_are_gone(
    tmp_path: Path, catalogue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spare killed while it rehearses leaves its folder (in memory): the next removes it."""
    monkeypatch.setattr(rehearsal, "MEMORY_FOLDER", str(tmp_path))
    ended = subprocess.Popen(["true"])
    ended.wait()
    gone = tmp_path / f"{rehearsal.FOLDER_PREFIX}{ended.pid}-left"
    gone.mkdir()
    (gone / "result").write_bytes(b"<VOTABLE/>")
    living = tmp_path / f"{rehearsal.FOLDER_PREFIX}{os.getpid()}-busy"
    living.mkdir()
    prepared = PreparedCatalog(catalogue, threads=1)
    try:
        AdqlContract().rehearse_run(prepared)
    finally:
        prepared.close()
    assert [path.name for path in tmp_path.iterdir()] == [living.name]


def living_children(service: JobService, contract: str = "steps") -> list[int]:
    """The pids of the warm parent's children that run (not zombies)."""
    warm = executor(service).warm_parent(contract)
    assert warm is not None and warm.pid is not None
    return alive([child.pid for child in psutil.Process(warm.pid).children()])


def preparing_spare(service: JobService, *, not_pid: int) -> int:
    """The pid of the spare being prepared: the warm parent's one child but ``not_pid``
    (the last job's process, which may still be exiting)."""
    deadline = time.monotonic() + SAFETY
    while not (children := [pid for pid in living_children(service) if pid != not_pid]):
        assert time.monotonic() < deadline, "no spare was forked"
        time.sleep(0.005)
    assert executor(service).spare_pids("steps") == []  # not ready yet: still preparing
    return children[0]


def test_a_job_is_handed_to_a_spare_still_preparing_and_runs_prepared(tmp_path: Path) -> None:
    with build_test_service(tmp_path / "data", contracts=[SlowPreparedSteps]) as svc:
        first = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        spare = preparing_spare(svc, not_pid=first["pid"])
        report = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        assert report["pid"] == spare
        assert report["prepared"] is not None and report["prepared"]["pid"] == spare


def test_a_job_handed_to_a_spare_whose_hook_fails_runs_unprepared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wsrf_uws.execution.spares")
    with build_test_service(tmp_path / "data", contracts=[SlowFailingSteps]) as svc:
        first = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        spare = preparing_spare(svc, not_pid=first["pid"])
        report = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        assert report == {"prepared": None, "pid": spare}
        assert prepared_report(svc, start(svc, steps_jdl(1, 0)))["prepared"] is None
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) == 1, reports
    assert HOOK_FAILURE in reports[0] and "plain warm forks" in reports[0]


def test_a_large_job_handed_to_a_spare_still_preparing_does_not_hold_up_the_executor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spare reads its job's spec while its hook runs: a spec larger than the
    connection's buffer (a 3 MiB description here) would otherwise keep the executor's
    supervisor, and every caller of the executor, waiting until the hook is done."""
    gate = tmp_path / "gate"
    monkeypatch.setenv(GATE_VARIABLE, str(gate))
    large = steps_jdl(1, 0).replace(b"</job>", b"<!--" + b"x" * (3 * 1024**2) + b"--></job>")
    with build_test_service(tmp_path / "data", contracts=[GatedPreparedSteps]) as svc:
        first = prepared_report(svc, start(svc, steps_jdl(1, 0)))
        spare = preparing_spare(svc, not_pid=first["pid"])
        resource_id = start(svc, large)

        def until_it_runs() -> None:
            while resource_id not in executor(svc).active():
                time.sleep(0.01)

        watching = threading.Thread(target=until_it_runs, daemon=True)
        watching.start()
        watching.join(SAFETY)
        still_blocked = watching.is_alive()
        gate.touch()  # the hook ends either way, and the job with it
        assert not still_blocked, "the executor waited for the spare's hook"
        report = prepared_report(svc, resource_id)
        assert report["pid"] == spare
        assert report["prepared"] is not None and report["prepared"]["pid"] == spare
