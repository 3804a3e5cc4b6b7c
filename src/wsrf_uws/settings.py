"""One settings object for the whole service.

Values come, highest priority first, from command-line flags (passed to
:meth:`Settings.load` as overrides), ``WSRF_UWS_*`` environment variables, a TOML
configuration file, and the defaults below, which run a service on a laptop.
Durations accept seconds or ISO 8601 (``"P7D"``, ``"PT1H"``).
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .store.sqlite import DEFAULT_MMAP_BYTES

_config_file: ContextVar[Path | None] = ContextVar("wsrf_uws_config_file", default=None)


class CeaSettings(BaseModel):
    """The parameterized-applications contract (``cea``): its library and its limits.

    In TOML under ``[cea]``; in the environment as ``WSRF_UWS_CEA__{FIELD}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    library: Path | None = Field(
        None, description="Folder of application descriptions; none: the demonstration library."
    )
    search_path: list[Path] = Field(
        default_factory=list,
        description="Folders searched for executables named without a path (after the "
        "folder of the service's Python, before the service's PATH).",
    )
    fetch_allow: list[str] = Field(
        default_factory=lambda: ["{public_url}/demo/"],
        description="Where remote inputs may come from: scheme://host[:port][/path] entries, "
        "host wildcards allowed; private addresses only for hosts named exactly; an entry may "
        "begin with {public_url}, the service's own address. Default: only the service's own "
        "demonstration data.",
    )
    deliver_allow: list[str] = Field(
        default_factory=lambda: ["https://*", "http://*"],
        description="Where outputs may be delivered (HTTP PUT), in the same form.",
    )
    max_input_bytes: int = Field(
        256 * 1024 * 1024, ge=1, description="Largest remote input fetched, in bytes."
    )
    transfer_timeout: float = Field(
        60.0, gt=0, description="Seconds a fetch or delivery may wait for the other side."
    )
    max_cpu_seconds: int = Field(
        3600, ge=1, description="Largest CPU time of one application run (RLIMIT_CPU)."
    )
    max_memory_bytes: int = Field(
        4 * 1024**3, ge=1024**2, description="Largest address space of a run (RLIMIT_AS)."
    )
    max_file_bytes: int = Field(
        1024**3, ge=1024, description="Largest file a run may write (RLIMIT_FSIZE)."
    )
    inline_bytes: int = Field(
        65536, ge=0, description="Largest output kept in-line in the job state."
    )
    max_output_bytes: int = Field(
        4 * 1024**2,
        ge=1024,
        description="Most bytes a run may write to its standard output, and to its standard "
        "error (each); beyond, the run is stopped and the job fails.",
    )
    max_processes: int = Field(
        128,
        ge=1,
        description="Most processes (threads count too) one application run may have at once: "
        "a cgroup's pids.max where the service may make cgroups, RLIMIT_NPROC for an "
        "unprivileged service, and a count of the run's processes in any case.",
    )
    process_cgroup: Literal["auto", "none"] | Path = Field(
        "auto",
        description="Where each run gets a cgroup of its own (for max_processes): a cgroup "
        "folder with the pids controller; 'auto': the service's own pids cgroup, if it may "
        "make cgroups there; 'none': no cgroup.",
    )


class ImageSettings(BaseModel):
    """The image service with data staging (``image``): its archive and its limits.

    In TOML under ``[image]``; in the environment as ``WSRF_UWS_IMAGE__{FIELD}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    archive: Path | None = Field(
        None,
        description="Folder of FITS images with a celestial WCS (searched recursively); "
        "none: a small demonstration archive generated into the data folder on first use.",
    )
    max_fields: int = Field(1000, ge=1, description="Most fields one job may ask for.")
    max_field_size: float = Field(
        2.0, gt=0, le=10, description="Largest width or height of a field, in degrees."
    )
    max_images: int = Field(
        10000, ge=1, description="Most images one job may stage (a cutout per field and frame)."
    )
    max_image_pixels: int = Field(
        4096,
        ge=16,
        le=16384,
        description="Largest width or height of a staged image (cutout or mosaic), in pixels.",
    )
    seconds_per_image: float = Field(
        0.05, ge=0, description="Time quoted for one cutout (mosaics: per frame resampled)."
    )
    max_field_bytes: int = Field(
        256 * 1024**2,
        ge=1024**2,
        description="Most bytes the images of one field may take (a field covered by many "
        "frames makes a cutout from each), by the quote.",
    )
    max_image_bytes: int = Field(
        80 * 1024**2,
        ge=64 * 1024,
        description="Largest staged image (cutout or mosaic), in bytes (the default holds a "
        "4096-pixel square of 32-bit floats): refused at createJob by its estimate, and not "
        "written at run time if the real one is larger.",
    )
    staging_margin: float = Field(
        0.25,
        ge=0,
        le=10,
        description="How far the bytes a run stages may exceed the quote (0.25: by 25%) "
        "before the job stops in ERROR, so a wrong estimate cannot fill the disk.",
    )


class AdqlSettings(BaseModel):
    """The ADQL service with a result cursor (``adql``): its catalogue and its limits.

    In TOML under ``[adql]``; in the environment as ``WSRF_UWS_ADQL__{FIELD}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalog: Path | None = Field(
        None,
        description="DuckDB catalogue file (opened read-only; `wsrf-uws adql` builds one); "
        "none: Hipparcos 2, loaded into the data folder on first use.",
    )
    default_maxrec: int = Field(
        100_000, ge=0, description="Rows kept when a job gives no maxrec (TAP's default)."
    )
    max_maxrec: int = Field(
        10_000_000, ge=0, description="Most rows a job may keep (TAP's hard limit)."
    )
    max_exposed_rows: int = Field(
        100_000, ge=1, description="Most rows one exposeRows call may select."
    )
    batch_rows: int = Field(
        65536, ge=1024, description="Rows per batch of the cached result (the cursor's unit)."
    )
    query_memory_bytes: int = Field(
        1024**3,
        ge=64 * 1024**2,
        description="Memory one query may use (DuckDB's memory_limit, per worker process); "
        "a query that needs more ends in ERROR.",
    )
    query_threads: int = Field(
        1,
        ge=1,
        description="Threads one query may use (DuckDB's threads); slots x query_threads "
        "should not exceed the cores.",
    )
    max_spill_bytes: int = Field(
        1024**3,
        ge=0,
        description="Disk a query may spill to, in its job's folder, when it needs more than "
        "query_memory_bytes (DuckDB's max_temp_directory_size); 0: no spilling.",
    )
    max_result_bytes: int = Field(
        1024**3,
        ge=1024**2,
        description="Largest result a query may keep, in bytes: the cached rows, and the "
        "VOTable written from them, each; a larger result ends the job in ERROR.",
    )
    max_query_chars: int = Field(
        65536, ge=256, description="Longest ADQL query text, in characters."
    )
    max_query_tokens: int = Field(
        10_000,
        ge=16,
        description="Most tokens (names, literals, operators) in one query: bounds IN lists "
        "and CASE branches.",
    )
    max_query_depth: int = Field(
        20,
        ge=2,
        le=40,
        description="Deepest nesting of parentheses (subqueries, function calls) and CASE "
        "in one query.",
    )

    @model_validator(mode="after")
    def _check_maxrec(self) -> AdqlSettings:
        if self.default_maxrec > self.max_maxrec:
            raise ValueError("adql.default_maxrec must not exceed adql.max_maxrec")
        return self


class SpaceLimits(BaseModel):
    """What one owner may have of the ``vospace`` contract; any field left out keeps the
    contract-wide value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_space_bytes: int | None = Field(None, ge=0, description="Largest space, in bytes.")
    max_owner_bytes: int | None = Field(
        None, ge=0, description="Most bytes of all the owner's live spaces together."
    )
    max_lifetime: timedelta | None = Field(
        None, description="Longest lifetime of a space, counted from now."
    )


class VospaceSettings(BaseModel):
    """VOSpace with controlled lifetime (``vospace``): the quota policy and the endpoint.

    In TOML under ``[vospace]`` (per-owner limits under ``[vospace.owners.NAME]``); in the
    environment as ``WSRF_UWS_VOSPACE__{FIELD}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_lifetime: timedelta = Field(
        timedelta(days=7), description="Lifetime offered when the JDL asks none."
    )
    max_lifetime: timedelta = Field(
        timedelta(days=30), description="Longest lifetime of a space, counted from now."
    )
    max_space_bytes: int = Field(1024**3, ge=0, description="Largest space, in bytes.")
    max_owner_bytes: int = Field(
        10 * 1024**3, ge=0, description="Most bytes of all an owner's live spaces together."
    )
    owners: dict[str, SpaceLimits] = Field(
        default_factory=dict, description="Limits for particular owners, by user name."
    )
    max_nodes_per_space: int = Field(
        100_000, ge=1, description="Most nodes (files, folders, links) in one space."
    )
    max_document_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest body of a VOSpace request other than an upload (node and "
        "transfer documents); larger ones get HTTP 413 before they are read.",
    )
    max_transfers_per_owner: int = Field(
        10_000,
        ge=1,
        description="Most live negotiated transfers one user holds; beyond, HTTP 429.",
    )
    max_anonymous_transfers: int = Field(
        100,
        ge=1,
        description="Most live negotiated transfers all anonymous callers hold together; "
        "beyond, HTTP 429.",
    )
    transfer_lifetime: timedelta = Field(
        timedelta(hours=1),
        description="How long a data URL works once used (counted from its negotiation).",
    )
    unused_transfer_lifetime: timedelta = Field(
        timedelta(minutes=10),
        description="How long a negotiated transfer is kept while its data URL is unused.",
    )

    @model_validator(mode="after")
    def _check_lifetimes(self) -> VospaceSettings:
        lifetimes = [("default_lifetime", self.default_lifetime)]
        lifetimes += [("max_lifetime", self.max_lifetime)]
        lifetimes += [("transfer_lifetime", self.transfer_lifetime)]
        lifetimes += [("unused_transfer_lifetime", self.unused_transfer_lifetime)]
        lifetimes += [
            (f"owners.{name}.max_lifetime", limits.max_lifetime)
            for name, limits in self.owners.items()
            if limits.max_lifetime is not None
        ]
        for name, value in lifetimes:
            if value <= timedelta(0):
                raise ValueError(f"vospace.{name} must be positive")
        return self

    @property
    def largest_space_bytes(self) -> int:
        """The largest space any owner may have: the largest upload the endpoint takes."""
        own = [o.max_space_bytes for o in self.owners.values() if o.max_space_bytes is not None]
        return max([self.max_space_bytes, *own])

    def limits_for(self, owner: str) -> tuple[int, int, timedelta]:
        """(max_space_bytes, max_owner_bytes, max_lifetime) for ``owner``."""
        own = self.owners.get(owner, SpaceLimits())
        return (
            self.max_space_bytes if own.max_space_bytes is None else own.max_space_bytes,
            self.max_owner_bytes if own.max_owner_bytes is None else own.max_owner_bytes,
            self.max_lifetime if own.max_lifetime is None else own.max_lifetime,
        )


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


def http_base_url(host: str, port: int) -> str:
    """``http://{host}:{port}``, with an IPv6 address in brackets (RFC 3986)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Settings(BaseSettings):
    """Everything a deployment can configure."""

    model_config = SettingsConfigDict(
        env_prefix="WSRF_UWS_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(
        Path("var"), description="Folder holding the store and one folder per resource."
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
    cea: CeaSettings = Field(
        default_factory=CeaSettings, description="The parameterized-applications contract."
    )
    image: ImageSettings = Field(
        default_factory=ImageSettings, description="The image service with data staging."
    )
    adql: AdqlSettings = Field(
        default_factory=AdqlSettings, description="The ADQL service with a result cursor."
    )
    vospace: VospaceSettings = Field(
        default_factory=VospaceSettings, description="VOSpace with controlled lifetime."
    )

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
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        finally:
            _config_file.reset(token)

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
