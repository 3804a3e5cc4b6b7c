"""The store interface: the seam between the engine and a database.

Every method that changes something has committed durably when it returns. Phase
changes are compare-and-set: they name the phases the job is expected to be in and
succeed only if it still is, so two workers (or two nodes sharing a database) can
never both start the same job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from ..core.model import Job, Result
from ..core.phases import Phase, is_legal, sources_of

#: Job fields a change may set (everything but identity, contract, owner, creation and JDL).
CHANGEABLE_FIELDS = frozenset(
    {
        "start_time",
        "end_time",
        "termination_time",
        "execution_duration",
        "quote",
        "progress",
        "error",
        "results",
        "jdl_state",
        "note",
        "run_count",
    }
)


class StoreError(Exception):
    """The store cannot be used (for example it was written by a newer version)."""


class ResourceIdTakenError(StoreError):
    """A new job's resource id (or the key derived from it) is already recorded."""

    def __init__(self, resource_id: str) -> None:
        super().__init__(f"resource id {resource_id} is already taken")
        self.resource_id = resource_id


class LiveJobsLimitError(StoreError):
    """The owner already holds ``limit`` jobs; the new one was not recorded."""

    def __init__(self, owner: str, limit: int) -> None:
        super().__init__(f"{owner} already holds {limit} jobs")
        self.owner = owner
        self.limit = limit


class JobStore(ABC):
    """Durable records of job resources (and the once-only values of authentication)."""

    @abstractmethod
    def insert(self, job: Job, *, max_owner_jobs: int | None = None) -> None:
        """Record a new job; raises :class:`ResourceIdTakenError` if its id is not new.

        With ``max_owner_jobs``, the job is recorded only if its owner holds fewer jobs
        than that (every phase counts), else :class:`LiveJobsLimitError`. The count and
        the insert are one atomic step: however many inserts for one owner run at once,
        in threads, processes or nodes sharing the store, the owner never ends up with
        more than ``max_owner_jobs`` (a count-then-insert in two steps would let a burst
        overshoot). SQLite serializes writers; a server database would lock the owner
        (a row per owner, or an advisory lock) for the transaction.
        """

    @abstractmethod
    def insert_many(self, jobs: Iterable[Job]) -> int:
        """Record many new jobs in one transaction (imports, benchmarks); returns the count."""

    @abstractmethod
    def get(self, resource_id: str) -> Job | None:
        """The job, or None if there is no such resource."""

    @abstractmethod
    def _compare_and_set(
        self, resource_id: str, expected: frozenset[Phase], to: Phase, changes: dict[str, Any]
    ) -> Job | None:
        """Set the phase to ``to`` (and ``changes``) only if it is one of ``expected``."""

    def transition(
        self,
        resource_id: str,
        to: Phase,
        *,
        expected: Collection[Phase] | None = None,
        **changes: Any,
    ) -> Job | None:
        """Move the job to phase ``to`` if its phase is one of ``expected``.

        ``expected`` defaults to every phase from which ``to`` is legal, and must not
        name a phase from which it is not. Returns the updated job, or None when the
        job does not exist or is no longer in an expected phase.
        """
        allowed = sources_of(to) if expected is None else frozenset(expected)
        illegal = sorted(p for p in allowed if not is_legal(p, to))
        if illegal:
            raise ValueError(f"{', '.join(illegal)} → {to} is not a legal transition")
        _check_fields(changes)
        return self._compare_and_set(resource_id, allowed, to, changes)

    @abstractmethod
    def _update(self, resource_id: str, changes: dict[str, Any]) -> Job | None:
        """Apply ``changes`` (never the phase)."""

    def update(self, resource_id: str, **changes: Any) -> Job | None:
        """Change fields other than the phase; returns the updated job or None if unknown."""
        _check_fields(changes)
        return self._update(resource_id, changes)

    def add_result(self, resource_id: str, result: Result) -> Job | None:
        """Add ``result`` (replacing one of the same name); None if the job is unknown."""
        return self.add_results(resource_id, [result])

    @abstractmethod
    def add_results(self, resource_id: str, results: Sequence[Result]) -> Job | None:
        """Add ``results`` in order, in one transaction, each replacing an earlier one of
        the same name; None if the job is unknown."""

    @abstractmethod
    def delete(self, resource_id: str) -> bool:
        """Forget the job; False if it did not exist."""

    @abstractmethod
    def list_jobs(
        self,
        *,
        owner: str | None,
        phases: Collection[Phase] | None = None,
        after: datetime | None = None,
        last: int | None = None,
    ) -> list[Job]:
        """Jobs of ``owner`` (all owners if None), newest first.

        ``phases`` defaults to every phase but ARCHIVED (UWS 1.1 §2.2.2.1); ``after``
        keeps jobs created after that instant; ``last`` keeps the most recent n.
        """

    @abstractmethod
    def in_phases(self, phases: Collection[Phase]) -> Iterator[Job]:
        """Every job in one of ``phases``, oldest first (used by restart recovery)."""

    @abstractmethod
    def exists(self, resource_id: str) -> bool:
        """Whether the resource is recorded."""

    @abstractmethod
    def count(self, *, owner: str | None = None) -> int:
        """Number of resources recorded (``owner``'s only, when given)."""

    @abstractmethod
    def next_termination_time(self) -> datetime | None:
        """The earliest termination time of any resource (None if every lifetime is infinite)."""

    @abstractmethod
    def expired(self, now: datetime, *, limit: int) -> list[str]:
        """Up to ``limit`` resources whose termination time is at or before ``now``.

        Earliest first.
        """

    @abstractmethod
    def remember_nonce(self, digest: bytes, *, expires: datetime, now: datetime) -> bool:
        """Record a once-only value until ``expires``; False if it is recorded already.

        ``digest`` is a fixed-size digest of the value (a WS-Security ``wsse:Nonce``), so
        callers decide what a row costs. A value recorded with an ``expires`` at or
        before ``now`` counts as forgotten (and the store may delete such rows here, as
        SQLite does). Atomic: of any number of calls with one digest at once, in
        threads, processes or nodes sharing the store, exactly one returns True. The
        record survives a restart (or a crash) of the service, so a replay is refused
        whenever it comes within the freshness window; like the rest of the store it is
        committed before the method returns (SQLite: without waiting for the disk, so a
        power cut may forget the last moment's values, never a crash).
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


def _check_fields(changes: dict[str, Any]) -> None:
    unknown = set(changes) - CHANGEABLE_FIELDS
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
