"""The service's settings: one object for the whole service (:class:`Settings`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ..core.clock import Clock, SystemClock
from ..core.contract import ContractEnvironment, ContractSettingsError
from ..published import compile_schemas
from ..store.sqlite import DEFAULT_MMAP_BYTES
from .sections import (
    EXECUTION_KEYS,
    ClusterSettings,
    ContractExecution,
    HttpSettings,
    QuotaSettings,
    RestSettings,
    SlurmSettings,
)
from .sources import (
    CONFIG_FILE_BEING_READ,
    ContractSection,
    ExecutionSection,
    TomlRelativeToFile,
    paths_relative_to,
    read_section,
)

_Model = TypeVar("_Model", bound=BaseModel)


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
        "before running jobs when the processors are busy; above 0, each job also leads a "
        "session of its own whose scheduling group (Linux autogroup) gets this niceness, so "
        "that its processor time is not counted against the service's. 0 = the service's "
        "own.",
    )
    spare_processes: int = Field(
        1,
        ge=0,
        le=8,
        description="Prepared spare job processes kept for each contract with a prepare_run "
        "hook (adql): each runs the hook and takes a next job at once, and one taken is "
        "replaced at once; more than 1 serves bursts of jobs. Each costs memory (a "
        "prepared adql spare: about 14 MiB of its own, 36 MiB PSS, 100 MiB RSS mostly shared "
        "with its warm parent). 0 = none: jobs start as plain warm forks.",
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
    max_listed_jobs: int = Field(
        1000,
        ge=1,
        description="Most jobs one listJobs answer holds: a larger LAST is refused, a longer "
        "list is cut there (Truncated).",
    )
    http: HttpSettings = Field(
        default_factory=HttpSettings,
        description="The HTTP server: connections, timeouts, request complexity.",
    )
    rest: RestSettings = Field(
        default_factory=RestSettings,
        description="The UWS 1.1 REST binding: blocking WAIT bounds.",
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
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines of serve and worker: text, or one JSON object per line "
        "(serve --log-format).",
    )
    metrics_access: Literal["loopback", "public", "off"] = Field(
        "loopback",
        description="Who may read /metrics: clients on the loopback interface only, anyone, "
        "or nobody (HTTP 404). No per-owner data is in it.",
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
        if self._config_file is not None:
            section = paths_relative_to(self._config_file.parent, section, model)
        return read_section(name, model, section, base=ContractSection)

    def contract_execution(self, name: str) -> ContractExecution:
        """Where the jobs of the contract ``name`` run: the keys ``executor`` and ``slurm``
        of its section (``WSRF_UWS_{NAME}__EXECUTOR``, ``WSRF_UWS_{NAME}__SLURM__{FIELD}``),
        which :meth:`contract_settings` leaves out. Raises :class:`ContractSettingsError`."""
        section = {
            key: value
            for key, value in self.contract_sections.get(name, {}).items()
            if key in EXECUTION_KEYS
        }
        if self._config_file is not None:
            section = paths_relative_to(self._config_file.parent, section, ContractExecution)
        return read_section(name, ContractExecution, section, base=ExecutionSection)

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
        token = CONFIG_FILE_BEING_READ.set(path)
        try:
            settings = cls(**{k: v for k, v in overrides.items() if v is not None})
        finally:
            CONFIG_FILE_BEING_READ.reset(token)
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
        path = CONFIG_FILE_BEING_READ.get()
        if path is not None:
            sources.append(TomlRelativeToFile(settings_cls, toml_file=path))
        return tuple(sources)
