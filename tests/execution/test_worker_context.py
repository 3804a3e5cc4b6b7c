"""What a job's context (wsrf_uws.execution.context.WorkerContext) sends the service."""

from __future__ import annotations

from multiprocessing import Pipe
from pathlib import Path
from typing import Any

from wsrf_uws.core.ports import RunSpec
from wsrf_uws.execution.context import WorkerContext
from wsrf_uws.execution.messages import StateReport
from wsrf_uws.jdl.steps.contract import StepsContract


def test_a_state_equal_to_the_current_one_is_not_sent(tmp_path: Path) -> None:
    service_end, job_end = Pipe()
    spec = RunSpec("r", StepsContract(), b"", tmp_path, 0, jdl_state={"query": "q", "rows": 1})
    context = WorkerContext(spec, job_end)
    context.set_state({"query": "q", "rows": 1})  # the state the run began with
    assert not service_end.poll()
    context.set_state({"query": "q", "rows": 2})
    context.set_state({"query": "q", "rows": 2})
    report = service_end.recv()
    assert isinstance(report, StateReport) and report.state == {"query": "q", "rows": 2}
    assert not service_end.poll()
    assert context.jdl_state == {"query": "q", "rows": 2}


def test_a_state_changed_in_place_and_set_again_is_sent(tmp_path: Path) -> None:
    service_end, job_end = Pipe()
    context = WorkerContext(RunSpec("r", StepsContract(), b"", tmp_path, 0), job_end)
    state: dict[str, Any] = {"items": []}
    context.set_state(state)
    state["items"].append(1)
    context.set_state(state)
    reports = [service_end.recv(), service_end.recv()]
    assert [r.state for r in reports] == [{"items": []}, {"items": [1]}]
