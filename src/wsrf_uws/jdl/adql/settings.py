"""The settings of the contract ``adql``: the ``[adql]`` section of the service settings.

The registry validates the section against :class:`AdqlSettings` (the contract's
``settings_model``), with environment overrides ``WSRF_UWS_ADQL__{FIELD}``, and the
contract receives the result in its environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


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

    max_upload_bytes: int = Field(
        1024 * 1024,
        ge=0,
        description="Most bytes of VOTable XML the tables uploaded with one job may take "
        "together (TAP_UPLOAD), in-line or fetched by URI; the request body limit "
        "max_request_bytes applies first to in-line ones.",
    )
    fetch_allow: list[str] = Field(
        default_factory=lambda: ["{public_url}/demo/"],
        description="Where uploads by URI (<upload xlink:href>) may come from: scheme://host[:port]"
        "[/path] entries, host wildcards allowed; private addresses only for hosts named "
        "exactly; an entry may begin with {public_url}, the service's own address; empty: no "
        "uploads by URI. Default: only the service's own demonstration data.",
    )
    fetch_timeout: float = Field(
        60.0, gt=0, description="Seconds a fetch of an upload may wait for the other side."
    )
    sync_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="TAP sync: query worker processes, each holding the catalogue open; "
        "at most this many sync queries run at once (the others wait up to half of "
        "sync_seconds for one).",
    )
    sync_seconds: float = Field(
        60.0,
        gt=0,
        description="TAP sync: longest a synchronous query may run (its worker is killed and "
        "replaced then, and the caller told to use /tap/async).",
    )
    sync_max_result_bytes: int = Field(
        64 * 1024**2,
        ge=64 * 1024,
        description="TAP sync: largest answer of a synchronous query, in bytes of the chosen "
        "format; a larger one is refused (use /tap/async or a smaller MAXREC).",
    )

    @model_validator(mode="after")
    def _check_maxrec(self) -> AdqlSettings:
        if self.default_maxrec > self.max_maxrec:
            raise ValueError("adql.default_maxrec must not exceed adql.max_maxrec")
        return self
