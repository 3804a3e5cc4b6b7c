"""How long a job may run and how much memory its process may take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExecutionLimits:
    """Run-time limits in seconds (0 = none): the default, and the most a JDL may ask;
    and the address space of a job's process in bytes (0 = none), which a contract may
    change for its own jobs (:meth:`~wsrf_uws.core.contract.Contract.job_memory_bytes`)."""

    default: int = 3600
    maximum: int = 86400
    memory_bytes: int = 0

    def resolve(self, requested: int | None) -> int:
        """The limit for a job whose JDL asked for ``requested`` seconds (None: no wish)."""
        if requested is None:
            return self.default
        if self.maximum and (requested == 0 or requested > self.maximum):
            return self.maximum
        return requested
