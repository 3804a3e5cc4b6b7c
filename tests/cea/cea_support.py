"""Helpers for the cea unit tests: an ApplicationRun outside any worker process."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from wsrf_uws.core.contract import JobContext
from wsrf_uws.core.model import ProgressStep, Result
from wsrf_uws.jdl.cea.application import Application
from wsrf_uws.jdl.cea.jdl import CeaJob
from wsrf_uws.jdl.cea.runner import ApplicationRun, RunPolicy
from wsrf_uws.jdl.cea.state import initial_state
from wsrf_uws.jdl.cea.transfer import TransferPolicy

#: What the unit tests' runs may fetch from and deliver to.
POLICY = TransferPolicy.parse(["http://127.0.0.1:*", "https://*"])


class FakeContext:
    """A stand-in for the worker's JobContext (only what ApplicationRun uses): a folder,
    the stored state, and reports that are recorded rather than sent to the service."""

    def __init__(self, workdir: Path, jdl_state: dict[str, Any] | None = None) -> None:
        self.resource_id = "test-job"
        self.run_count = 1
        self.workdir = workdir
        self.jdl_state: dict[str, Any] = jdl_state or {}
        self.results: list[Result] = []
        self.states: list[dict[str, Any]] = []
        self.fractions: list[float | None] = []

    def progress(
        self, fraction: float | None = None, *, steps: tuple[ProgressStep, ...] | None = None
    ) -> None:
        self.fractions.append(fraction)

    def set_state(self, state: dict[str, Any]) -> None:
        self.states.append(state)

    def add_result(self, result: Result) -> None:
        self.results.append(result)


def run_policy() -> RunPolicy:
    """Small limits and :data:`POLICY` for both directions."""
    return RunPolicy(
        max_cpu_seconds=10,
        max_memory_bytes=1 << 30,
        max_file_bytes=1 << 26,
        max_input_bytes=1 << 20,
        inline_bytes=4096,
        transfer_timeout=5.0,
        fetch=POLICY,
        deliver=POLICY,
    )


def application_run(
    application: Application, workdir: Path, job: CeaJob | None = None
) -> tuple[ApplicationRun, FakeContext]:
    """A run of ``job`` (default: ``application`` with no parameters) and its context."""
    job = job or CeaJob(application, inputs=(), outputs=())
    context = FakeContext(workdir, initial_state(job))
    return ApplicationRun(job, cast(JobContext, context), run_policy()), context
