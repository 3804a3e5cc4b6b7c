"""Helpers for testing wsrf-uws and the contracts people build on it.

- :func:`build_test_service`: a service on a temporary data directory, offering the
  contracts a test names (default: the demonstration contract ``steps``,
  :mod:`wsrf_uws.jdl.steps`).
- :func:`contract_environment`: the environment the service would build a contract
  with, to test a contract on its own.
- :func:`wait_for_job`: wait until a job reaches one of some phases.
- :class:`ManualClock`: time that moves only when a test says so.
- :func:`~wsrf_uws.testing.polling.eventually`: wait until a check returns something true.
- :class:`~wsrf_uws.testing.server.RunningServer`: a real ``wsrf-uws serve`` process.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ..core.clock import Clock
from ..core.cluster import NodeRole
from ..core.contract import Contract, ContractEnvironment
from ..core.model import Job
from ..core.phases import FINAL_PHASES, Phase
from ..core.registry import ContractRegistry
from ..core.service import JobService
from ..jdl.steps.contract import StepsContract
from ..runtime import build_service
from ..settings import QuotaSettings, Settings
from .clock import ManualClock

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
    "UNLIMITED_QUOTAS",
    "ManualClock",
    "build_test_service",
    "contract_environment",
    "wait_for_job",
]


def build_test_service(
    data_dir: Path,
    *,
    contracts: Sequence[Contract | type[Contract]] | None = None,
    clock: Clock | None = None,
    role: NodeRole = NodeRole.ALL,
    node: str | None = None,
    **settings: Any,
) -> JobService:
    """A (not yet started) service on ``data_dir`` offering ``contracts`` (default: ``steps``).

    With a ``database_url`` setting the service is the cluster node ``node`` in ``role``.

    A contract given as a class is built as the service builds it, with its environment
    (its settings section validated, the service's clock and public URL); one given as
    an instance is used as it is. ``settings`` are :class:`~wsrf_uws.settings.Settings`
    fields, and a contract's section is given by its name (``mycontract={"limit": 3}``).
    The kill grace defaults to half a second so tests that stop jobs do not wait long,
    and the quotas to :data:`UNLIMITED_QUOTAS`, so tests of other things are not
    limited by the small ones of the anonymous owner they run as.
    """
    settings.setdefault("kill_grace", 0.5)
    settings.setdefault("quotas", UNLIMITED_QUOTAS)
    config = Settings(data_dir=data_dir, **settings)
    built = [
        _build(config, contract, clock=clock) if isinstance(contract, type) else contract
        for contract in (contracts if contracts is not None else [StepsContract])
    ]
    return build_service(
        config, registry=ContractRegistry(built), clock=clock, role=role, node=node
    )


def contract_environment(
    contract: type[Contract],
    data_dir: Path,
    *,
    clock: Clock | None = None,
    public_url: str | None = None,
    **settings: Any,
) -> ContractEnvironment:
    """The environment a service on ``data_dir`` would build ``contract`` with.

    ``settings`` are service settings, the contract's section by its name; raises
    :class:`~wsrf_uws.core.contract.ContractSettingsError` if that section is not valid.
    """
    config = Settings(data_dir=data_dir, **settings)
    return config.contract_environment(
        contract.name, contract.settings_model, public_url=public_url, clock=clock
    )


def _build(config: Settings, contract: type[Contract], *, clock: Clock | None) -> Contract:
    environment = config.contract_environment(contract.name, contract.settings_model, clock=clock)
    return contract(environment)


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
