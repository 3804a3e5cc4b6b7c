"""The settings of the contract ``cea``: the ``[cea]`` section of the service settings.

The registry validates the section against :class:`CeaSettings` (the contract's
``settings_model``), with environment overrides ``WSRF_UWS_CEA__{FIELD}``, and the
contract receives the result in its environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
