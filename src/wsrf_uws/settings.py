"""One settings object for the whole service.

Values come, highest priority first, from command-line flags (passed to
:meth:`Settings.load` as overrides), ``WSRF_UWS_*`` environment variables, a TOML
configuration file, and the defaults below, which run a service on a laptop.
Durations accept seconds or ISO 8601 (``"P7D"``, ``"PT1H"``).
"""

from __future__ import annotations

import re
import socket
import sys
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .core.clock import Clock, SystemClock
from .core.contract import ContractEnvironment, ContractSettingsError
from .published import compile_schemas
from .store.sqlite import DEFAULT_MMAP_BYTES

_Model = TypeVar("_Model", bound=BaseModel)

_config_file: ContextVar[Path | None] = ContextVar("wsrf_uws_config_file", default=None)


class OwnerQuota(BaseModel):
    """Quotas of one named owner; a field left out keeps the value for every user."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_live_jobs: int | None = Field(None, ge=1, description="Most live jobs.")
    max_executing_jobs: int | None = Field(None, ge=1, description="Most jobs executing at once.")
    max_job_bytes: int | None = Field(None, ge=1, description="Most bytes one job may stage.")


class QuotaSettings(BaseModel):
    """Per-owner quotas of every contract's jobs (see :mod:`wsrf_uws.core.quotas`).

    The anonymous owner is shared by every caller without credentials, hence its own,
    smaller values. In TOML under ``[quotas]`` (per user under ``[quotas.owners.NAME]``);
    in the environment as ``WSRF_UWS_QUOTAS__{FIELD}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_live_jobs: int = Field(
        100,
        ge=1,
        description="Most jobs one user holds (any phase, until destroyed); createJob beyond: "
        "QuotaExceededFault.",
    )
    max_executing_jobs: int = Field(
        4,
        ge=1,
        description="Most jobs of one user executing at once; more started ones wait QUEUED.",
    )
    max_job_bytes: int = Field(
        4 * 1024**3,
        ge=1,
        description="Most bytes one job of a user may stage, by the contract's quote at "
        "createJob (beyond: QuotaExceededFault).",
    )
    max_anonymous_live_jobs: int = Field(
        20, ge=1, description="Most jobs all anonymous callers together hold."
    )
    max_anonymous_executing_jobs: int = Field(
        2, ge=1, description="Most anonymous jobs executing at once."
    )
    max_anonymous_job_bytes: int = Field(
        256 * 1024**2, ge=1, description="Most bytes one anonymous job may stage, by its quote."
    )
    owners: dict[str, OwnerQuota] = Field(
        default_factory=dict, description="Quotas of particular users, by user name."
    )


class HttpSettings(BaseModel):
    """The HTTP server and the request path: what one client may make it hold.

    In TOML under ``[http]``; in the environment as ``WSRF_UWS_HTTP__{FIELD}``. The
    request threads (``threads``) and the body limit (``max_request_bytes``) are top-level.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_limit: int = Field(
        1000,
        ge=8,
        description="Connections the server holds open at once; beyond, new ones wait "
        "for a free one.",
    )
    max_connections_per_client: int = Field(
        64,
        ge=0,
        description="Connections one client address may hold at once (more are closed "
        "at once); 0: no cap. Behind a reverse proxy every connection comes from it.",
    )
    channel_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds a connection may make no progress (nothing received, "
        "nothing taken of its reply) before it is closed.",
    )
    request_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds a client may take to send one request, its headers and "
        "(except VOSpace uploads) its body; a slower connection is closed.",
    )
    client_requests_per_second: float = Field(
        100.0,
        ge=0,
        description="Requests one client address may make a second, on average, each 64 "
        "KiB of a body counting as one more (beyond: HTTP 429 with Retry-After, before the "
        "body is read); 0: no limit. Behind a reverse proxy every request comes from it: "
        "set 0 and limit at the proxy.",
    )
    client_request_burst: int = Field(
        200, ge=1, description="Requests one client address may make at once, above its rate."
    )
    max_requests_in_flight_per_client: int = Field(
        2,
        ge=0,
        description="Requests of one client address the service works on at once; its "
        "others wait their turn while other clients' go ahead (0: no cap). Behind a reverse "
        "proxy every request comes from it: set 0.",
    )
    max_xml_namespaces: int = Field(
        1000,
        ge=16,
        description="Namespace declarations one SOAP request may make (their cost grows "
        "with the square of their number); beyond, a too-complex fault.",
    )
    max_xml_attributes: int = Field(
        256,
        ge=16,
        description="Attributes one element of a SOAP request may carry; beyond, a "
        "too-complex fault.",
    )


class ClusterSettings(BaseModel):
    """Nodes sharing one PostgreSQL store (``database_url``): who this node is, and when
    a silent node counts as dead.

    In TOML under ``[cluster]``; in the environment as ``WSRF_UWS_CLUSTER__{FIELD}``.
    Ignored with the embedded SQLite store, which serves one process.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str = Field(
        "",
        pattern=r"^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        description="This node's name, unique in the cluster (`--node`); empty: the host name.",
    )
    heartbeat_interval: float = Field(
        1.0, gt=0, description="Seconds between a node's heartbeats (and the leader's checks)."
    )
    heartbeat_ttl: float = Field(
        5.0,
        gt=0,
        description="Seconds of silence after which a node counts as dead: the leader then "
        "recovers its jobs elsewhere. A node that cannot heartbeat for ttl - interval "
        "seconds kills its own jobs first.",
    )

    @model_validator(mode="after")
    def _check_ttl(self) -> ClusterSettings:
        if self.heartbeat_ttl < 2 * self.heartbeat_interval:
            raise ValueError("heartbeat_ttl must be at least twice heartbeat_interval")
        return self

    def node_name(self) -> str:
        """The node's name: ``node``, or the host's name when it is empty."""
        if self.node:
            return self.node
        host = socket.gethostname().split(".")[0]
        return re.sub(r"[^A-Za-z0-9._-]", "-", host)[:63] or "node"


class SlurmSettings(BaseModel):
    """The Slurm batch system, for the contracts whose section says ``executor = "slurm"``.

    In TOML under ``[slurm]``; in the environment as ``WSRF_UWS_SLURM__{FIELD}``. What
    each contract asks of Slurm (partition, account, memory, CPUs, time limit) is in its
    own section, ``[NAME.slurm]`` (:class:`SlurmJobSettings`). See docs/slurm.md.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sbatch: str = Field("sbatch", description="The sbatch command (a name on PATH or a path).")
    squeue: str = Field("squeue", description="The squeue command.")
    scancel: str = Field("scancel", description="The scancel command.")
    sacct: str = Field(
        "sacct",
        description="The sacct command: how a job that left squeue ended (needs Slurm's "
        "accounting; without it such a job's end is reported as unknown).",
    )
    poll_interval: float = Field(
        1.0,
        gt=0,
        description="Seconds between looks at the jobs in Slurm (squeue) while there are "
        "any: Slurm tells nobody when a job starts or ends.",
    )
    run_command: list[str] = Field(
        default_factory=list,
        description="The command a compute node runs for a job, before its resource id; "
        "empty: this service's Python, -m wsrf_uws.cli run-job.",
    )
    max_submitted: int = Field(
        200,
        ge=1,
        description="Most jobs the service keeps in Slurm at once (queued or running there); "
        "more stay QUEUED in the service, saying so in their note, until some end.",
    )
    output_dir: Path | None = Field(
        None,
        description="Folder of Slurm's output and error files of each job (on the shared "
        "file system); none: the folder .slurm in the job's own folder.",
    )
    time_margin: int = Field(
        60,
        ge=0,
        description="Seconds added to a job's execution duration for Slurm's --time: the "
        "service stops the job on its own timer, Slurm's limit is only the backstop.",
    )
    cancel_timeout: float = Field(
        30.0, gt=0, description="Seconds an abort waits for Slurm to say a job is gone."
    )

    def command(self) -> list[str]:
        """The command of a compute node, before the resource id (:attr:`run_command`)."""
        return list(self.run_command) or [sys.executable, "-m", "wsrf_uws.cli", "run-job"]


class SlurmJobSettings(BaseModel):
    """What the jobs of one contract ask of Slurm: ``[NAME.slurm]`` in TOML,
    ``WSRF_UWS_{NAME}__SLURM__{FIELD}`` in the environment. Empty or 0: Slurm's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: str = Field("", description="The partition (--partition).")
    account: str = Field("", description="The account charged (--account).")
    memory_mb: int = Field(0, ge=0, description="Memory per node in MiB (--mem).")
    cpus: int = Field(0, ge=0, description="CPUs of the job's one task (--cpus-per-task).")
    time_limit_cap: int = Field(
        0,
        ge=0,
        description="Largest --time in seconds asked of Slurm, whatever the job's execution "
        "duration (a partition's limit); 0: none.",
    )
    extra_args: list[str] = Field(
        default_factory=list, description="More sbatch options, as given (--qos=..., ...)."
    )


class ContractExecution(BaseModel):
    """Where the jobs of one contract run: the two keys of its section the service reads
    (and the contract never sees, see :data:`EXECUTION_KEYS`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    executor: Literal["local", "slurm"] = Field(
        "local", description="local: the service's own worker processes; slurm: Slurm jobs."
    )
    slurm: SlurmJobSettings = Field(
        default_factory=SlurmJobSettings, description="What the jobs ask of Slurm."
    )


#: The keys of a contract's section that are the service's (:class:`ContractExecution`),
#: taken out before the contract's own model reads the section.
EXECUTION_KEYS = frozenset(ContractExecution.model_fields)


def http_base_url(host: str, port: int) -> str:
    """``http://{host}:{port}``, with an IPv6 address in brackets (RFC 3986)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Settings(BaseSettings):
    """Everything a deployment can configure.

    The service's own settings are fields; every other TOML table is the section of the
    contract of that name (``[adql]``), kept as it is here and validated by the registry
    against the contract's own model, with environment overrides (see
    :meth:`contract_settings`). Any other unknown setting is refused.
    """

    model_config = SettingsConfigDict(
        env_prefix="WSRF_UWS_", env_nested_delimiter="__", extra="allow", frozen=True
    )

    data_dir: Path = Field(
        Path("var"), description="Folder holding the store and one folder per resource."
    )
    # A secret: the URL may hold a password, which `wsrf-uws settings` must not print.
    database_url: SecretStr = Field(
        SecretStr(""),
        description="PostgreSQL job store shared by several nodes (postgresql://user@host/db, "
        "needs wsrf-uws[postgres]); empty: the SQLite file in data_dir.",
    )
    public_url: str | None = Field(
        None, description="Base URL clients use; default http://{host}:{port}."
    )
    authority: str = Field(
        "wsrf-uws.invalid",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._~-]{2,}$",
        description="IVOA naming authority of the identifiers this service mints "
        "(ivo://{authority}/..., vos://{authority}!vospace/...): a domain the provider controls.",
    )
    host: str = Field("127.0.0.1", description="Interface the server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the server listens on.")

    default_lifetime: timedelta = Field(
        timedelta(days=7), description="Lifetime of a new resource when the client asks none."
    )
    max_lifetime: timedelta = Field(
        timedelta(days=30), description="How far ahead of now a termination time may be set."
    )
    allow_infinite_lifetime: bool = Field(
        False, description="Whether a nil (infinite) termination time is accepted."
    )

    default_execution_duration: int = Field(
        3600, ge=0, description="Run-time limit in seconds when the JDL gives none; 0 = none."
    )
    max_execution_duration: int = Field(
        86400, ge=0, description="Largest run-time limit a JDL may ask for; 0 = no cap."
    )

    slots: int = Field(2, ge=1, description="Jobs the local executor runs at once.")
    kill_grace: float = Field(
        2.0, ge=0, description="Seconds a job gets after SIGTERM before SIGKILL."
    )
    job_nice: int = Field(
        19,
        ge=0,
        le=19,
        description="Niceness added to job processes, so that answering requests goes "
        "before running jobs when the processors are busy; 0 = the service's own.",
    )
    job_memory_bytes: int = Field(
        2 * 1024**3,
        ge=0,
        description="Address space of each job's process (RLIMIT_AS), unless its contract "
        "asks otherwise; beyond it the job ends in ERROR. 0 = no limit.",
    )
    quotas: QuotaSettings = Field(
        default_factory=QuotaSettings, description="Per-owner quotas (jobs, executing, bytes)."
    )
    sqlite_synchronous: Literal["full", "normal"] = Field(
        "full",
        description="'full' survives power loss; 'normal' only process crashes, and is faster.",
    )
    sqlite_mmap_bytes: int = Field(
        DEFAULT_MMAP_BYTES,
        ge=0,
        description="How much of the store file is read through a memory map; 0 = none.",
    )
    threads: int = Field(8, ge=1, description="Threads the HTTP server answers requests with.")
    max_request_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted on every route but VOSpace's own "
        "(HTTP 413 beyond, from the Content-Length, before the body is read).",
    )
    http: HttpSettings = Field(
        default_factory=HttpSettings,
        description="The HTTP server: connections, timeouts, request complexity.",
    )
    cluster: ClusterSettings = Field(
        default_factory=ClusterSettings,
        description="Nodes sharing the PostgreSQL store: this node's name, heartbeats.",
    )
    slurm: SlurmSettings = Field(
        default_factory=SlurmSettings,
        description="The Slurm batch system of the contracts whose executor is slurm.",
    )
    users_file: Path | None = Field(
        None,
        description="Users for WS-Security UsernameToken and HTTP Basic (`wsrf-uws users`); "
        "none: anonymous only.",
    )
    allow_anonymous: bool = Field(
        True, description="Whether callers without credentials are served (as 'anonymous')."
    )
    contracts: list[str] | None = Field(
        None, description="Contracts to serve; default every installed one."
    )

    @model_validator(mode="before")
    @classmethod
    def _keep_contract_sections(cls, data: Any) -> Any:
        """Unknown tables are contracts' sections; any other unknown name is a mistake."""
        if not isinstance(data, dict):
            return data
        sections: dict[str, Any] = {}
        for name, value in data.items():
            if name in cls.model_fields:
                sections[name] = value
            elif isinstance(value, BaseModel):  # a contract's settings, given in code
                sections[name] = value.model_dump()
            elif isinstance(value, dict):
                sections[name] = value
            else:
                raise ValueError(
                    f"unknown setting {name!r} (a contract's settings are a table, [{name}])"
                )
        return sections

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.default_lifetime <= timedelta(0):
            raise ValueError("default_lifetime must be positive")
        if self.max_lifetime < self.default_lifetime:
            raise ValueError("max_lifetime must not be shorter than default_lifetime")
        if self.max_execution_duration and (
            self.default_execution_duration == 0
            or self.default_execution_duration > self.max_execution_duration
        ):
            raise ValueError("default_execution_duration must lie within max_execution_duration")
        return self

    @property
    def contract_sections(self) -> dict[str, dict[str, Any]]:
        """The tables of the configuration that are contracts' sections, by name, as given."""
        return dict(self.model_extra or {})

    def contract_settings(self, name: str, model: type[_Model]) -> _Model:
        """The section ``[name]`` validated against ``model``, a contract's settings model.

        Values come from the environment (``WSRF_UWS_{NAME}__{FIELD}``, nested with
        ``__``, lists and tables as JSON), then the ``[name]`` table, then the model's
        defaults. Raises :class:`ContractSettingsError` naming each problem.
        """
        if name in type(self).model_fields:
            raise ContractSettingsError(
                f"a contract cannot be named {name!r}: that is a setting of the service"
            )
        section = {
            key: value
            for key, value in self.contract_sections.get(name, {}).items()
            if key not in EXECUTION_KEYS
        }
        return _read_section(name, model, section, base=_ContractSection)

    def contract_execution(self, name: str) -> ContractExecution:
        """Where the jobs of the contract ``name`` run: the keys ``executor`` and ``slurm``
        of its section (``WSRF_UWS_{NAME}__EXECUTOR``, ``WSRF_UWS_{NAME}__SLURM__{FIELD}``),
        which :meth:`contract_settings` leaves out. Raises :class:`ContractSettingsError`."""
        section = {
            key: value
            for key, value in self.contract_sections.get(name, {}).items()
            if key in EXECUTION_KEYS
        }
        return _read_section(name, ContractExecution, section, base=_ExecutionSection)

    @property
    def config_file(self) -> Path | None:
        """The TOML file :meth:`load` read these settings from (None: none)."""
        return self._config_file

    def contract_environment(
        self,
        name: str,
        model: type[BaseModel] | None,
        *,
        public_url: str | None = None,
        clock: Clock | None = None,
    ) -> ContractEnvironment:
        """The environment the contract ``name`` is built with (its settings validated).

        ``public_url`` is where clients reach the service (default :attr:`base_url`);
        ``clock`` the service's clock (default the system's).
        """
        return ContractEnvironment(
            settings=None if model is None else self.contract_settings(name, model),
            data_dir=self.data_dir,
            jobs_dir=self.jobs_dir,
            public_url=public_url or self.base_url,
            clock=clock or SystemClock(),
            authority=self.authority,
            max_lifetime=self.max_lifetime,
            allow_anonymous=self.allow_anonymous,
            compile_schema=compile_schemas,
        )

    @property
    def store_path(self) -> Path:
        """The SQLite file of the embedded store."""
        return self.data_dir / "wsrf-uws.sqlite"

    @property
    def jobs_dir(self) -> Path:
        """Parent of the per-resource folders."""
        return self.data_dir / "jobs"

    @property
    def base_url(self) -> str:
        """The public URL, without a trailing slash (an IPv6 host in brackets)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return http_base_url(self.host, self.port)

    #: The file :meth:`load` read (see :attr:`config_file`).
    _config_file: Path | None = PrivateAttr(None)

    @classmethod
    def load(cls, config_file: Path | str | None = None, **overrides: Any) -> Settings:
        """Settings from ``config_file`` (TOML), the environment and ``overrides``.

        ``overrides`` whose value is ``None`` are ignored, so unset CLI flags can be
        passed straight through.
        """
        path = Path(config_file) if config_file is not None else None
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"configuration file {path} does not exist")
        token = _config_file.set(path)
        try:
            settings = cls(**{k: v for k, v in overrides.items() if v is not None})
        finally:
            _config_file.reset(token)
        settings._config_file = path.resolve() if path is not None else None
        return settings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then environment, then the TOML file given to :meth:`load`."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def _read_section(
    name: str, model: type[_Model], section: dict[str, Any], *, base: type[BaseSettings]
) -> _Model:
    """``section``, with the environment's ``WSRF_UWS_{NAME}__...`` over it, read as ``model``."""
    try:
        fields: dict[str, Any] = {name: (model, Field(default_factory=model))}
        source = create_model(f"{name}_section", __base__=base, **fields)
        values: dict[str, Any] = {name: section}
        value = getattr(source(**values), name)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ContractSettingsError(f"the settings [{name}] are not valid: {problems}") from None
    return cast(_Model, value)


def _problem(error: Any) -> str:
    """One validation error of a section, as ``field.sub: message``."""
    where = ".".join(str(part) for part in error["loc"][1:])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


class _ContractSection(BaseSettings):
    """What :meth:`Settings.contract_settings` reads a section with: the environment
    first, then the table (given as the one field's value), as the service's own settings."""

    model_config = SettingsConfigDict(
        env_prefix="WSRF_UWS_", env_nested_delimiter="__", extra="ignore"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment (without the service's keys, :data:`EXECUTION_KEYS`), then the
        table."""
        return (_WithoutExecutionKeys(settings_cls, env_settings), init_settings)


class _ExecutionSection(_ContractSection):
    """What :meth:`Settings.contract_execution` reads a section with: the same sources,
    the service's keys kept (the contract's own are ignored by the model)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment, then the table."""
        return (env_settings, init_settings)


class _WithoutExecutionKeys(PydanticBaseSettingsSource):
    """Another source's values, each section without the keys of :data:`EXECUTION_KEYS`
    (``WSRF_UWS_CEA__EXECUTOR`` is the service's, not a setting of the contract)."""

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._source = source

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` gives every value at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {
            name: (
                {k: v for k, v in value.items() if k not in EXECUTION_KEYS}
                if isinstance(value, dict)
                else value
            )
            for name, value in self._source().items()
        }
