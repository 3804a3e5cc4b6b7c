"""Per-owner quotas: how much of the service one owner may hold at once.

An *owner* is a user name, or :data:`~wsrf_uws.core.model.ANONYMOUS`, which every
caller without credentials shares; its limits are therefore the small ones. Three
quantities are limited:

- **live jobs**: resources the owner has not destroyed (in any phase; a finished job
  still holds its results). createJob beyond it is refused with
  :class:`~wsrf_uws.core.errors.QuotaExceededError`; the store counts and inserts in
  one transaction, so a burst of parallel requests cannot overshoot.
- **executing jobs**: jobs of the owner the executor runs at once. startJob beyond it
  is not refused: the job waits QUEUED until one of the owner's jobs ends (UWS: QUEUED
  means accepted, waiting for resources), as it would for a free slot.
- **bytes per job**: the most a job may stage, by the ``bytes`` of the contract's quote
  at createJob (a job whose quote names no bytes is not limited here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import QuotaExceededError
from .model import ANONYMOUS, Quote
from .sizes import format_bytes

#: The quote's cost entry that names the bytes a job will stage.
BYTES = "bytes"


@dataclass(frozen=True)
class OwnerLimits:
    """The limits of one owner (see the module docstring); each at least 1."""

    live_jobs: int
    executing_jobs: int
    job_bytes: int

    def __post_init__(self) -> None:
        for name in ("live_jobs", "executing_jobs", "job_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


#: So large that nothing a laptop or a test does reaches it.
UNLIMITED = OwnerLimits(live_jobs=2**62, executing_jobs=2**31, job_bytes=2**62)


@dataclass(frozen=True)
class Quotas:
    """The limits of every owner: ``users`` for each user, ``anonymous`` for the one
    anonymous owner all unauthenticated callers share, and ``owners`` for named users
    with limits of their own (a survey pipeline, say)."""

    users: OwnerLimits = field(
        default_factory=lambda: OwnerLimits(live_jobs=100, executing_jobs=4, job_bytes=4 * 1024**3)
    )
    anonymous: OwnerLimits = field(
        default_factory=lambda: OwnerLimits(live_jobs=20, executing_jobs=2, job_bytes=256 * 1024**2)
    )
    owners: Mapping[str, OwnerLimits] = field(default_factory=dict)

    @classmethod
    def unlimited(cls) -> Quotas:
        """No owner is ever limited (for tools and tests that are not about quotas)."""
        return cls(users=UNLIMITED, anonymous=UNLIMITED)

    def of(self, owner: str) -> OwnerLimits:
        """The limits that apply to ``owner``."""
        if owner in self.owners:
            return self.owners[owner]
        return self.anonymous if owner == ANONYMOUS else self.users

    def executing_jobs(self, owner: str) -> int:
        """How many of ``owner``'s jobs may execute at once (what the executor asks)."""
        return self.of(owner).executing_jobs

    def check_quote(self, owner: str, quote: Quote) -> None:
        """Raise :class:`QuotaExceededError` if ``quote`` stages more bytes than ``owner`` may."""
        quoted = quote.cost.get(BYTES)
        limit = self.of(owner).job_bytes
        if quoted is not None and quoted > limit:
            who = "an anonymous caller" if owner == ANONYMOUS else f"user {owner!r}"
            raise QuotaExceededError(
                f"the job would stage {format_bytes(quoted)}; a job of {who} may stage at most "
                f"{format_bytes(limit)}"
            )

    def live_jobs_refusal(self, owner: str) -> QuotaExceededError:
        """The error for a createJob beyond ``owner``'s live-jobs quota."""
        limit = self.of(owner).live_jobs
        who = "anonymous callers together hold" if owner == ANONYMOUS else f"user {owner!r} holds"
        return QuotaExceededError(
            f"{who} the most live jobs allowed, {limit}: destroy finished jobs "
            "(Destroy, or SetTerminationTime to a past time) before creating more"
        )
