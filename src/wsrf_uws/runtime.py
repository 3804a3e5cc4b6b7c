"""Assemble a running :class:`~wsrf_uws.core.service.JobService` from :class:`Settings`.

The embedded defaults: the SQLite store and per-resource folders in the data
directory, the local process executor, and every installed contract.
"""

from __future__ import annotations

from .core.clock import Clock, SystemClock
from .core.lifetime import TerminationPolicy
from .core.registry import ContractRegistry
from .core.service import ExecutionLimits, JobService
from .execution.base import Executor
from .execution.local import LocalExecutor
from .settings import Settings
from .store.files import JobFiles
from .store.sqlite import SQLiteJobStore


def build_service(
    settings: Settings,
    *,
    registry: ContractRegistry | None = None,
    executor: Executor | None = None,
    clock: Clock | None = None,
) -> JobService:
    """A service for ``settings``; pass ``registry``/``executor``/``clock`` to replace the defaults.

    The service is not started: call ``startup()`` or use it as a context manager.
    """
    if registry is None:
        registry = ContractRegistry.from_entry_points(settings, enabled=settings.contracts)
    return JobService(
        store=SQLiteJobStore(
            settings.store_path,
            synchronous=settings.sqlite_synchronous,
            mmap_bytes=settings.sqlite_mmap_bytes,
        ),
        files=JobFiles(settings.jobs_dir),
        registry=registry,
        executor=executor or LocalExecutor(slots=settings.slots, kill_grace=settings.kill_grace),
        clock=clock or SystemClock(),
        policy=TerminationPolicy(
            default_lifetime=settings.default_lifetime,
            max_lifetime=settings.max_lifetime,
            allow_infinite=settings.allow_infinite_lifetime,
        ),
        limits=ExecutionLimits(
            default=settings.default_execution_duration,
            maximum=settings.max_execution_duration,
        ),
    )
