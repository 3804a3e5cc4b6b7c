"""The settings of the contract ``checksum``: the ``[checksum]`` section.

In the service's TOML file::

    [checksum]
    max_inputs = 50
    algorithms = ["sha256", "sha512"]

or in the environment: ``WSRF_UWS_CHECKSUM__MAX_INPUTS=50``,
``WSRF_UWS_CHECKSUM__ALGORITHMS='["sha256", "sha512"]'``.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ChecksumSettings(BaseModel):
    """Limits and choices of the ``checksum`` contract."""

    # frozen: the settings travel with the contract to each worker and never change;
    # extra="forbid": a misspelt setting is refused instead of silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_inputs: int = Field(20, ge=1, description="Most inputs one job may name.")
    max_input_bytes: int = Field(
        1_000_000, ge=1, description="Largest input, a text or a demo file, in bytes."
    )
    max_job_bytes: int = Field(
        4_000_000,
        ge=1,
        description="Most bytes one job may digest in all; beyond, QuotaExceededFault.",
    )
    algorithms: tuple[str, ...] = Field(
        ("sha256", "sha512", "blake2b", "md5"),
        min_length=1,
        description="Digest algorithms a job may ask for (hashlib names).",
    )
    default_algorithm: str = Field("sha256", description="The algorithm when the JDL names none.")
    read_bytes_per_second: int = Field(
        0,
        ge=0,
        description="How fast a job may read its inputs, to spare a shared disk; 0: no limit.",
    )
    seconds_per_megabyte: float = Field(
        0.05, ge=0, description="The quoted duration of a job, per megabyte digested."
    )

    @field_validator("algorithms")
    @classmethod
    def _known_algorithms(cls, algorithms: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(algorithms) - hashlib.algorithms_guaranteed)
        if unknown:
            raise ValueError(f"not hashlib algorithms: {', '.join(unknown)}")
        return algorithms

    @model_validator(mode="after")
    def _check_across_fields(self) -> ChecksumSettings:
        if self.default_algorithm not in self.algorithms:
            raise ValueError("checksum.default_algorithm must be one of checksum.algorithms")
        if self.max_input_bytes > self.max_job_bytes:
            raise ValueError("checksum.max_input_bytes must not exceed checksum.max_job_bytes")
        return self
