"""Helpers for testing wsrf-uws and the contracts people build on it.

- :class:`ManualClock`: time that moves only when a test says so.
- :class:`StepsContract` and :func:`steps_jdl`: a small contract whose jobs run timed
  steps, report progress and results, and can fail, crash or misbehave on request.
- :func:`build_test_service`: a service on a temporary data directory.
- :func:`wait_for_job`: wait until a job reaches one of some phases.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..core.clock import Clock
from ..core.contract import Contract
from ..core.model import Job
from ..core.phases import FINAL_PHASES, Phase
from ..core.registry import ContractRegistry
from ..core.service import JobService
from ..runtime import build_service
from ..settings import QuotaSettings, Settings
from .clock import ManualClock
from .contract import NAMESPACE, StepsContract, StepsJob, steps_jdl

#: Quotas nothing reaches: a test service's default (tests of quotas pass their own).
UNLIMITED_QUOTAS = QuotaSettings(
    max_live_jobs=2**62,
    max_executing_jobs=2**31,
    max_job_bytes=2**62,
    max_anonymous_live_jobs=2**62,
    max_anonymous_executing_jobs=2**31,
    max_anonymous_job_bytes=2**62,
)

__all__ = [
    "NAMESPACE",
    "UNLIMITED_QUOTAS",
    "ManualClock",
    "StepsContract",
    "StepsJob",
    "build_test_service",
    "steps_jdl",
    "wait_for_job",
]


def build_test_service(
    data_dir: Path,
    *,
    contracts: list[Contract] | None = None,
    clock: Clock | None = None,
    **settings: Any,
) -> JobService:
    """A (not yet started) service on ``data_dir`` offering ``contracts`` (default: ``steps``).

    ``settings`` override :class:`~wsrf_uws.settings.Settings` fields; the kill grace
    defaults to half a second so tests that stop jobs do not wait long, and the quotas
    to :data:`UNLIMITED_QUOTAS`, so tests of other things are not limited by the small
    ones of the anonymous owner they run as.
    """
    settings.setdefault("kill_grace", 0.5)
    settings.setdefault("quotas", UNLIMITED_QUOTAS)
    config = Settings(data_dir=data_dir, **settings)
    registry = ContractRegistry(contracts if contracts is not None else [StepsContract(config)])
    return build_service(config, registry=registry, clock=clock)


def wait_for_job(
    service: JobService,
    resource_id: str,
    *,
    owner: str = "anonymous",
    phases: Collection[Phase] = FINAL_PHASES,
    timeout: float = 30.0,
) -> Job:
    """Poll the store until the job is in one of ``phases``; raise ``TimeoutError`` if it never is.

    Only for tests and tools: clients use the binding's own polling.
    """
    deadline = time.monotonic() + timeout
    while True:
        job = service.get_job(resource_id, owner=owner)
        if job.phase in phases:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"{resource_id} still {job.phase} after {timeout} s")
        time.sleep(0.02)
