"""``wsrf-uws run-job ID``: run one queued job in this process's machine, recording it in
the shared store: what a Slurm batch job of the service runs on a compute node
(:mod:`wsrf_uws.execution.slurm`).

It reads the same settings as the service (the configuration file given with
``--config``, the ``WSRF_UWS_*`` environment Slurm passed on), opens the store, builds
the job's contract, and claims the job: QUEUED → EXECUTING, a compare-and-set, so a
second start of the same job (a requeue, a mistaken resubmission) finds it taken and
runs nothing. The job then runs in a worker process of a one-slot local executor, as in
the service, and its progress, results and outcome go to the store.

The service keeps the job's execution duration on its own timer (and stops the Slurm
job when it is up), so the run has none here: one timer, one outcome. A run stopped by
a signal (``scancel``: an abort, that timer, an administrator) records nothing: the
service has recorded the end already, or records it from what Slurm says.

A requeued Slurm job (``SLURM_RESTART_COUNT`` > 0) may find its job still EXECUTING,
left so by the run Slurm interrupted: it waits (up to :data:`REQUEUE_WAIT` seconds) for
the service to see the requeue and put the job back in QUEUED, then claims it.

Exit status: :data:`EXIT_COMPLETED`, :data:`EXIT_FAILED`, :data:`EXIT_NOT_RUNNABLE` (the
job is not QUEUED: taken, aborted, destroyed, or its contract cannot run it),
:data:`EXIT_STOPPED` (a signal stopped it).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .core.clock import SystemClock
from .core.jobfiles import JobFiles
from .core.model import Job, Progress, Result
from .core.phases import Phase
from .core.ports import ExecutionListener, JobStore, Outcome, OutcomeKind, RunSpec
from .core.recorder import ExecutionRecorder
from .core.registry import ContractRegistry
from .execution.local import LocalExecutor
from .runtime import job_store
from .settings import Settings

log = logging.getLogger(__name__)

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_NOT_RUNNABLE = 3
EXIT_STOPPED = 4

#: Seconds a requeued run waits for its job to be QUEUED again.
REQUEUE_WAIT = 60.0
#: Seconds a run that did not complete waits for a signal that would explain its end:
#: Slurm signals every process of the job at once, and the worker (or an application the
#: contract runs) may die of it, and its end be reported, before this process hears.
STOP_SETTLE = 1.0


def run_job(settings: Settings, resource_id: str, *, restarts: int = 0) -> int:
    """Run the QUEUED job ``resource_id`` here and record it; returns the exit status.

    ``restarts`` is how many times Slurm requeued this batch job (``SLURM_RESTART_COUNT``).
    """
    store = job_store(settings)
    try:
        job = store.get(resource_id)
        if job is not None and job.phase is Phase.EXECUTING and restarts > 0:
            job = _wait_until_queued(store, resource_id)
        if job is None or job.phase is not Phase.QUEUED:
            phase = "unknown" if job is None else job.phase
            log.error("%s is not runnable: it is %s, not QUEUED", resource_id, phase)
            return EXIT_NOT_RUNNABLE
        recorder = ExecutionRecorder(
            store=store,
            files=JobFiles(settings.jobs_dir),
            registry=_registry(settings, job),
            clock=SystemClock(),
            memory_bytes=settings.job_memory_bytes,
        )
        spec = recorder.claim(resource_id)
        if spec is None:
            log.error("%s could not be claimed (taken since, or its contract cannot run it)",
                      resource_id)  # fmt: skip
            return EXIT_NOT_RUNNABLE
        log.info("running %s (%s, run %d)", resource_id, job.contract, spec.run_count)
        return _run(settings, recorder, replace(spec, execution_duration=0))
    finally:
        store.close()


def _registry(settings: Settings, job: Job) -> ContractRegistry:
    """The job's contract alone, built as the service builds it."""

    def environment(name: str, model: Any) -> Any:
        return settings.contract_environment(name, model)

    return ContractRegistry.from_entry_points(environment, enabled=[job.contract])


def _wait_until_queued(store: JobStore, resource_id: str) -> Job | None:
    deadline = time.monotonic() + REQUEUE_WAIT
    while True:
        job = store.get(resource_id)
        if job is None or job.phase is not Phase.EXECUTING or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


def _run(settings: Settings, recorder: ExecutionRecorder, spec: RunSpec) -> int:
    stopping = threading.Event()
    run = _OneRun(recorder, spec, stopping)

    def stop(signum: int, frame: Any) -> None:
        log.warning("stopped by signal %d", signum)
        stopping.set()
        run.wake.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    executor = LocalExecutor(slots=1, kill_grace=settings.kill_grace, nice=settings.job_nice)
    try:
        executor.start(run)
        executor.submit(spec.resource_id)
        while not run.wake.wait(1.0):
            pass
    finally:
        executor.shutdown()  # a signal: the run ends INTERRUPTED, recorded by nobody here
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    outcome = run.outcome
    if outcome is None or run.unrecorded:
        return EXIT_STOPPED
    log.info("%s ended: %s %s", spec.resource_id, outcome.kind, outcome.message or "")
    return EXIT_COMPLETED if outcome.kind is OutcomeKind.COMPLETED else EXIT_FAILED


class _OneRun(ExecutionListener):
    """The local executor's listener: hands it the claimed job, records what it reports."""

    def __init__(
        self, recorder: ExecutionRecorder, spec: RunSpec, stopping: threading.Event
    ) -> None:
        self._recorder = recorder
        self._spec: RunSpec | None = spec
        self._stopping = stopping
        self.outcome: Outcome | None = None
        #: The outcome was left for the service to record (the run was stopped).
        self.unrecorded = False
        self.wake = threading.Event()

    def claim(self, resource_id: str) -> RunSpec | None:
        spec, self._spec = self._spec, None
        return spec

    def on_progress(self, resource_id: str, progress: Progress) -> None:
        self._recorder.on_progress(resource_id, progress)

    def on_state(self, resource_id: str, state: dict[str, Any]) -> None:
        self._recorder.on_state(resource_id, state)

    def on_results(self, resource_id: str, results: Sequence[Result]) -> None:
        self._recorder.on_results(resource_id, results)

    def on_finished(
        self,
        resource_id: str,
        outcome: Outcome,
        *,
        state: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> None:
        if outcome.kind is not OutcomeKind.COMPLETED:
            self._stopping.wait(STOP_SETTLE)
        stopped = self._stopping.is_set() and outcome.kind is not OutcomeKind.COMPLETED
        if stopped or outcome.kind is OutcomeKind.INTERRUPTED:
            self.unrecorded = True
            # The outcome is the service's to record; the last reports are recorded here.
            if state is not None:
                self._recorder.on_state(resource_id, state)
            if progress is not None:
                self._recorder.on_progress(resource_id, progress)
        else:
            self._recorder.on_finished(resource_id, outcome, state=state, progress=progress)
        self.outcome = outcome
        self.wake.set()


def main(settings: Settings, resource_id: str) -> int:
    """The ``run-job`` command: logs go to standard error (Slurm keeps them in a file), and
    Slurm's ``SLURM_RESTART_COUNT`` says whether this batch job was requeued."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    restarts = os.environ.get("SLURM_RESTART_COUNT", "")
    return run_job(settings, resource_id, restarts=int(restarts) if restarts.isdigit() else 0)
