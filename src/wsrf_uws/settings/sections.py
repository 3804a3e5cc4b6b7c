"""The sections of the service's settings: quotas, HTTP, REST, cluster, Slurm, and the
service's keys in a contract's section (:class:`ContractExecution`)."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


class RestSettings(BaseModel):
    """The UWS 1.1 REST binding (``/rest/{contract}``): how long and how many requests may
    block in ``WAIT``.

    In TOML under ``[rest]``; in the environment as ``WSRF_UWS_REST__{FIELD}``. A blocked
    request holds one of the ``threads`` request threads, so only ``max_waiters`` block at
    once; a ``WAIT`` beyond them is answered at once with the job as it is (UWS 1.1 lets a
    service end a wait early), which a client takes as a poll.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_wait: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Longest a WAIT blocks, in seconds (a longer WAIT, or WAIT=-1, is cut there).",
    )
    max_waiters: int = Field(
        4,
        ge=0,
        description="Requests blocked in WAIT at once, over all clients; beyond, a WAIT is "
        "answered at once (0: WAIT never blocks). Keep it below threads.",
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
