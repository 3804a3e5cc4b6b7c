"""Assemble a running :class:`~wsrf_uws.core.service.JobService` from :class:`Settings`.

The embedded defaults: the SQLite store and per-resource folders in the data
directory, the local process executor, and every installed contract. With
``database_url`` set, the store is PostgreSQL instead, and the service is a node of a
cluster. A contract whose section says ``executor = "slurm"`` runs its jobs as Slurm
batch jobs (a :class:`ContractRouter` in a single process, a :class:`SlurmLeader` on a
cluster's nodes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core.clock import Clock, SystemClock
from .core.cluster import ClusterStore, NodeRole
from .core.contract import ContractEnvironment
from .core.job_events import JobEvents
from .core.jobfiles import JobFiles
from .core.lifetime import TerminationPolicy
from .core.model import ANONYMOUS
from .core.node import ClusterNode
from .core.node_executor import NodeExecutor
from .core.ports import Executor, JobStore, StoreError
from .core.quotas import OwnerLimits, Quotas
from .core.registry import ContractRegistry
from .core.service import ExecutionLimits, JobService
from .execution.local import LocalExecutor
from .execution.routing import ContractRouter
from .execution.slurm import SlurmConfig, SlurmExecutor
from .execution.slurm_commands import SlurmCommands
from .execution.slurm_leader import SlurmLeader
from .execution.slurm_runs import SlurmMarks
from .execution.slurm_submission import SlurmJobOptions
from .execution.warm import preload_plan
from .observability.job_log import JobEventLog
from .settings import QuotaSettings, Settings, SlurmJobSettings
from .store.sqlite import SQLiteJobStore


def build_service(
    settings: Settings,
    *,
    registry: ContractRegistry | None = None,
    executor: Executor | None = None,
    clock: Clock | None = None,
    public_url: str | None = None,
    role: NodeRole = NodeRole.ALL,
    node: str | None = None,
    slots: int | None = None,
    events: JobEvents | None = None,
) -> JobService:
    """A service for ``settings``; pass ``registry``/``executor``/``clock`` to replace the defaults.

    ``public_url`` is where clients reach the service (default ``settings.base_url``), for
    the contracts the registry builds. With ``database_url`` set the service is a node of
    a cluster: ``role`` says what it does, ``node`` names it (default: the ``[cluster]``
    setting, else the host name), ``slots`` is how many jobs it runs at once (default
    ``settings.slots``). ``events`` is told each job event (default: a log line per
    event, :class:`JobEventLog`). The embedded SQLite store serves one process, in the role
    ``all``. The service is not started: call ``startup()`` or use it as a context manager.
    """
    clock = clock or SystemClock()
    slots = slots or settings.slots
    store = job_store(settings)
    if not isinstance(store, ClusterStore) and role is not NodeRole.ALL:
        store.close()
        raise ValueError(
            f"the role {role} needs a store several nodes share: set database_url "
            "(WSRF_UWS_DATABASE_URL) to a PostgreSQL database"
        )
    try:
        if registry is None:
            registry = contract_registry(settings, public_url=public_url, clock=clock)
    except BaseException:
        store.close()
        raise
    quotas = owner_quotas(settings.quotas)
    files = JobFiles(settings.jobs_dir)
    on_slurm: dict[str, SlurmJobSettings] = {}
    make_slurm = None
    if executor is None:
        # Built once, for whichever shape runs the Slurm contracts: a single process routes
        # them to one executor, a cluster's leader builds a new one at each take-over.
        try:
            on_slurm = slurm_contracts(settings, registry)
            if on_slurm:
                make_slurm = slurm_executors(
                    settings,
                    on_slurm=on_slurm,
                    store=store,
                    files=files,
                    clock=clock,
                    quotas=quotas,
                    public_url=public_url,
                )
            if make_slurm is not None and not isinstance(store, ClusterStore):
                # A single process: the Slurm contracts' jobs to Slurm, every other job
                # here. (On a cluster's store, the leader runs the Slurm jobs instead.)
                executor = ContractRouter(
                    default=local_executor(
                        settings, registry=registry, slots=slots, max_running=quotas.executing_jobs
                    ),
                    routes=dict.fromkeys(on_slurm, make_slurm(None)),
                )
        except BaseException:
            store.close()
            raise
    duties: ClusterNode | None = None
    if isinstance(store, ClusterStore) and executor is None:
        name = node or settings.cluster.node_name()
        leader = None
        if make_slurm is not None:
            leader = SlurmLeader(
                store=store,
                registry=registry,
                clock=clock,
                contracts=on_slurm,
                make_executor=make_slurm,
                settle=settings.cluster.heartbeat_ttl,
            )
        local = None
        if role.runs_jobs:
            local = local_executor(settings, registry=registry, slots=slots, max_running=None)
        node_executor = NodeExecutor(
            store=store,
            node=name,
            clock=clock,
            local=local,
            slots=slots if local else 0,
            max_running=quotas.executing_jobs,
            stop_timeout=settings.kill_grace + 10,
            leader=leader,
        )
        executor = node_executor
        duties = ClusterNode(
            store=store,
            name=name,
            role=role,
            executor=node_executor,
            interval=settings.cluster.heartbeat_interval,
            ttl=settings.cluster.heartbeat_ttl,
        )
    if executor is None:
        executor = local_executor(
            settings, registry=registry, slots=slots, max_running=quotas.executing_jobs
        )
    return JobService(
        duties=duties,
        store=store,
        files=files,
        registry=registry,
        executor=executor,
        clock=clock,
        policy=TerminationPolicy(
            default_lifetime=settings.default_lifetime,
            max_lifetime=settings.max_lifetime,
            allow_infinite=settings.allow_infinite_lifetime,
        ),
        limits=ExecutionLimits(
            default=settings.default_execution_duration,
            maximum=settings.max_execution_duration,
            memory_bytes=settings.job_memory_bytes,
        ),
        quotas=quotas,
        events=events or JobEventLog(),
    )


def local_executor(
    settings: Settings,
    *,
    registry: ContractRegistry,
    slots: int,
    max_running: Callable[[str], int] | None,
) -> LocalExecutor:
    """The executor of the jobs run in this process's own children, ``slots`` at a time.

    ``max_running(owner)`` is the quota of one owner's executing jobs; None where another
    part applies it (a cluster node's :class:`NodeExecutor`).
    """
    return LocalExecutor(
        slots=slots,
        kill_grace=settings.kill_grace,
        max_running=max_running,
        nice=settings.job_nice,
        preload=preload_plan(registry),
        spare_processes=settings.spare_processes,
    )


def slurm_contracts(settings: Settings, registry: ContractRegistry) -> dict[str, SlurmJobSettings]:
    """The contracts whose section says ``executor = "slurm"``, with their Slurm options.

    Raises :class:`ValueError` when a contract's ``executor``/``slurm`` keys are not valid.
    """
    on_slurm: dict[str, SlurmJobSettings] = {}
    for name in registry.names():
        execution = settings.contract_execution(name)
        if execution.executor == "slurm":
            on_slurm[name] = execution.slurm
    return on_slurm


def slurm_executors(
    settings: Settings,
    *,
    on_slurm: dict[str, SlurmJobSettings],
    store: JobStore,
    files: JobFiles,
    clock: Clock,
    quotas: Quotas,
    public_url: str | None,
) -> Callable[[SlurmMarks | None], SlurmExecutor]:
    """Builds Slurm executors for the contracts of ``on_slurm`` (a leader needs a new one
    at each take-over), given how they record their jobs in a cluster's store."""
    batch = settings.slurm
    environment = {"WSRF_UWS_PUBLIC_URL": public_url or settings.base_url}
    if settings.database_url.get_secret_value():
        environment["WSRF_UWS_DATABASE_URL"] = settings.database_url.get_secret_value()
    options = {
        name: SlurmJobOptions(**{**chosen.model_dump(), "extra_args": tuple(chosen.extra_args)})
        for name, chosen in on_slurm.items()
    }
    config = SlurmConfig(
        data_dir=settings.data_dir.resolve(),
        command=tuple(batch.command()),
        config_file=settings.config_file,
        environment=environment,
        poll_interval=batch.poll_interval,
        max_submitted=batch.max_submitted,
        output_dir=batch.output_dir.resolve() if batch.output_dir else None,
        time_margin=batch.time_margin,
        cancel_timeout=batch.cancel_timeout,
    )

    def make(marks: SlurmMarks | None) -> SlurmExecutor:
        return SlurmExecutor(
            store=store,
            files=files,
            clock=clock,
            config=config,
            commands=SlurmCommands(
                sbatch=batch.sbatch, squeue=batch.squeue, scancel=batch.scancel, sacct=batch.sacct
            ),
            options=lambda contract: options.get(contract, SlurmJobOptions()),
            max_running=quotas.executing_jobs,
            marks=marks,
        )

    return make


def job_store(settings: Settings) -> JobStore:
    """The store ``settings`` name: PostgreSQL at ``database_url``, else the SQLite file.

    Raises :class:`StoreError` when ``database_url`` is set but psycopg is not installed,
    when the database cannot be reached, or when its schema is newer than this code.
    """
    url = settings.database_url.get_secret_value()
    if not url:
        return SQLiteJobStore(
            settings.store_path,
            synchronous=settings.sqlite_synchronous,
            mmap_bytes=settings.sqlite_mmap_bytes,
        )
    try:
        # psycopg is an optional dependency: imported only for a deployment that uses it.
        from .store.postgres import PostgresJobStore
    except ImportError as exc:
        raise StoreError(f"database_url is set, but {exc}") from exc
    return PostgresJobStore(url)


def contract_registry(
    settings: Settings, *, public_url: str | None = None, clock: Clock | None = None
) -> ContractRegistry:
    """Every installed contract ``settings`` enable, each built with its environment."""

    def environment(name: str, model: type[Any] | None) -> ContractEnvironment:
        return settings.contract_environment(name, model, public_url=public_url, clock=clock)

    return ContractRegistry.from_entry_points(environment, enabled=settings.contracts)


def owner_quotas(settings: QuotaSettings) -> Quotas:
    """The core's :class:`Quotas` for the ``[quotas]`` settings."""
    users = OwnerLimits(
        live_jobs=settings.max_live_jobs,
        executing_jobs=settings.max_executing_jobs,
        job_bytes=settings.max_job_bytes,
    )
    anonymous = OwnerLimits(
        live_jobs=settings.max_anonymous_live_jobs,
        executing_jobs=settings.max_anonymous_executing_jobs,
        job_bytes=settings.max_anonymous_job_bytes,
    )
    owners = {}
    for name, own in settings.owners.items():
        base = anonymous if name == ANONYMOUS else users
        owners[name] = OwnerLimits(
            live_jobs=own.max_live_jobs or base.live_jobs,
            executing_jobs=own.max_executing_jobs or base.executing_jobs,
            job_bytes=own.max_job_bytes or base.job_bytes,
        )
    return Quotas(users=users, anonymous=anonymous, owners=owners)
