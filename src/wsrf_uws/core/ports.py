"""The ports of the engine: what the core needs from a store and from an executor.

The core depends only on these interfaces; :mod:`wsrf_uws.store` and
:mod:`wsrf_uws.execution` implement them, and the composition root
(:mod:`wsrf_uws.runtime`) plugs implementations in.

**Store.** Every method that changes something has committed durably when it returns.
Phase changes are compare-and-set: they name the phases the job is expected to be in and
succeed only if it still is, so two workers (or two nodes sharing a database) can never
both start the same job. A change of other fields is a :class:`JobChanges`.

**Executor.** An executor runs jobs; it knows nothing of the store. It asks its
:class:`ExecutionListener` (the engine) to *claim* a queued job before running it (the
QUEUED → EXECUTING compare-and-set), passes on what the running job reports, and says how
each run ended (:class:`Outcome`). The engine turns that into phase changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from .contract import Contract
from .model import ErrorSummary, Job, Progress, Quote, Result
from .operator_state import OperatorState
from .phases import Phase, is_legal, sources_of

# -- the store -------------------------------------------------------------------------


class Keep(Enum):
    """The type of :data:`KEEP`."""

    KEEP = "keep"


#: The value of a :class:`JobChanges` field that leaves the job's field as it is.
KEEP: Final = Keep.KEEP


@dataclass(frozen=True)
class JobChanges:
    """New values for some of a job's fields; a field left at :data:`KEEP` is not changed.

    Only what may change after createJob is here: the identity, contract, owner, creation
    time, address and JDL never change, and the phase changes only through
    :meth:`JobStore.transition`. ``None`` is a value like any other (an ``end_time`` of
    None clears it; a ``termination_time`` of None makes the lifetime infinite).
    """

    start_time: datetime | Keep | None = KEEP
    end_time: datetime | Keep | None = KEEP
    termination_time: datetime | Keep | None = KEEP
    execution_duration: int | Keep = KEEP
    quote: Quote | Keep = KEEP
    progress: Progress | Keep = KEEP
    error: ErrorSummary | Keep | None = KEEP
    results: tuple[Result, ...] | Keep = KEEP
    jdl_state: dict[str, Any] | Keep = KEEP
    note: str | Keep | None = KEEP
    run_count: int | Keep = KEEP
    #: The node the job is recorded as running on (None: none); see :attr:`Job.node`.
    node: str | Keep | None = KEEP
    #: The client's label (UWS 1.1 ``RUNID``); see :attr:`Job.run_id`.
    run_id: str | Keep | None = KEEP

    def assigned(self) -> dict[str, Any]:
        """The fields this change sets, by name, in declaration order."""
        return {
            name: value for name in _CHANGE_FIELDS if (value := getattr(self, name)) is not KEEP
        }


_CHANGE_FIELDS: Final = tuple(f.name for f in fields(JobChanges))

#: A change that changes nothing (a transition of the phase alone).
NO_CHANGES: Final = JobChanges()


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
        self,
        resource_id: str,
        expected: frozenset[Phase],
        to: Phase,
        changes: JobChanges,
        running_on: str | None = None,
        durable: bool = True,
    ) -> Job | None:
        """Set the phase to ``to`` (and ``changes``) only if it is one of ``expected``
        (and, with ``running_on``, only if the job is recorded as running on that node);
        ``durable`` as in :meth:`transition`."""

    def transition(
        self,
        resource_id: str,
        to: Phase,
        *,
        expected: Collection[Phase] | None = None,
        changes: JobChanges = NO_CHANGES,
        running_on: str | None = None,
        durable: bool = True,
    ) -> Job | None:
        """Move the job to phase ``to`` if its phase is one of ``expected``, with ``changes``.

        ``expected`` defaults to every phase from which ``to`` is legal, and must not
        name a phase from which it is not. With ``running_on``, the job must also be
        recorded as running on that node (:attr:`Job.node`): a node that was cut off and
        whose job another node has claimed since cannot finish it. Returns the updated
        job, or None when the job does not exist or a condition does not hold.

        ``durable=False`` lets a store commit without waiting for the disk where a
        commit lost to a crash of the machine can only have described processes that
        crashed with it: SQLite, on the service's own machine. A crash of the service
        alone loses nothing. :class:`~wsrf_uws.store.postgres.PostgresJobStore` waits
        regardless: its server may crash alone, and a claim it lost would let another
        node start the job again while the first still runs it.
        """
        allowed = sources_of(to) if expected is None else frozenset(expected)
        illegal = sorted(p for p in allowed if not is_legal(p, to))
        if illegal:
            raise ValueError(f"{', '.join(illegal)} → {to} is not a legal transition")
        return self._compare_and_set(resource_id, allowed, to, changes, running_on, durable)

    def update_in_phase(self, resource_id: str, phase: Phase, changes: JobChanges) -> Job | None:
        """Apply ``changes`` only if the job is in ``phase``, which it stays in: a
        compare-and-set on the phase, like :meth:`transition`, for the changes a client
        may make in one phase only (its ``RUNID`` while PENDING). Returns the updated job,
        or None when the job does not exist or is in another phase."""
        return self._compare_and_set(resource_id, frozenset({phase}), phase, changes)

    @abstractmethod
    def update(self, resource_id: str, changes: JobChanges) -> Job | None:
        """Apply ``changes`` (never the phase); returns the updated job or None if unknown."""

    def add_result(self, resource_id: str, result: Result) -> Job | None:
        """Add ``result`` (replacing one of the same name); None if the job is unknown."""
        return self.add_results(resource_id, [result])

    @abstractmethod
    def add_results(self, resource_id: str, results: Sequence[Result]) -> Job | None:
        """Add ``results`` in order, in one transaction, each replacing an earlier one of
        the same name; None if the job is unknown."""

    def record(self, resource_id: str, changes: JobChanges) -> bool:
        """:meth:`update` without reading the job back; False if the job is unknown.

        For what a running job reports (progress, state), which can come many times a
        second and whose recorder needs nothing back: a store may skip decoding the
        whole job each time, which for a job of thousands of steps or results is most
        of the cost.

        A store may commit it without waiting for the disk: a crash of the service
        loses none of it, a crash of the machine at most the last reports of a job that
        is then still EXECUTING, and so run again at restart. The run's end, a durable
        :meth:`transition`, makes the reports before it durable too (a database's log
        reaches the disk in order), and spares the job's last moments a wait for the
        disk per report (a tiny ``adql`` query sends three as it ends).
        """
        return self.update(resource_id, changes) is not None

    def record_results(self, resource_id: str, results: Sequence[Result]) -> bool:
        """:meth:`add_results` without reading the job back; False if the job is unknown.

        A job announcing its results one by one must cost the same for its thousandth
        result as for its first: a store may append without decoding those it has. As
        :meth:`record`, it may commit without waiting for the disk.
        """
        return self.add_results(resource_id, results) is not None

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

    def rerun(self, resource_id: str, *, changes: JobChanges = NO_CHANGES) -> Job | None:
        """An ended job (ERROR or ABORTED) queued again: an operator's rerun
        (``wsrf-uws admin rerun``), the one way out of a final phase but ARCHIVED, which
        no client operation takes. Compare-and-set like :meth:`transition`; None when the
        job does not exist or is in another phase."""
        return self._compare_and_set(
            resource_id, frozenset({Phase.ERROR, Phase.ABORTED}), Phase.QUEUED, changes
        )

    @abstractmethod
    def operator_state(self) -> OperatorState:
        """The operators' state: the queue's hold and the generation of their actions."""

    @abstractmethod
    def operator_acted(
        self, *, hold: bool | None = None, by: str = "", now: datetime | None = None
    ) -> OperatorState:
        """Record that an operator acted (increase the generation), atomically; with
        ``hold`` True, hold the queue (by ``by``, since ``now``; kept as it was if held
        already), with False release it. Returns the new state."""

    @abstractmethod
    def count_by_contract_and_phase(self) -> dict[tuple[str, Phase], int]:
        """Number of resources of each contract in each phase (pairs with none left out).

        For metrics: read from an index, never from the rows themselves.
        """

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


# -- the executor ----------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to run one job; picklable."""

    resource_id: str
    contract: Contract
    jdl: bytes
    workdir: Path
    #: Wall-clock limit in seconds; 0 = unlimited.
    execution_duration: int
    jdl_state: dict[str, Any] = field(default_factory=dict)
    run_count: int = 1
    #: The resource's termination time when the run began (None: infinite).
    termination_time: datetime | None = None
    #: The address space the job's process may use, in bytes (RLIMIT_AS); 0 = unlimited.
    memory_bytes: int = 0
    #: What the contract read from ``jdl`` at createJob, pickled (None: not kept, and the
    #: worker reads ``jdl`` again); see :mod:`wsrf_uws.core.descriptions`.
    description: bytes | None = None


class OutcomeKind(StrEnum):
    """How a run ended."""

    #: ``run`` returned.
    COMPLETED = "completed"
    #: ``run`` raised; ``message`` says why.
    FAILED = "failed"
    #: Stopped on request (abort or destroy).
    ABORTED = "aborted"
    #: Stopped because it outlived its execution duration.
    TIMED_OUT = "timed-out"
    #: The worker vanished without a word (signal, crash, out of memory).
    DIED = "died"
    #: Stopped because the service is shutting down; the job should run again later.
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Outcome:
    """How one run ended, with a message for the user where there is one."""

    kind: OutcomeKind
    message: str | None = None
    transient: bool = False
    detail: str | None = None


class ExecutionListener(Protocol):
    """What an executor tells the engine."""

    def claim(self, resource_id: str) -> RunSpec | None:
        """Move the job to EXECUTING; None means it must not run (aborted, destroyed...)."""
        ...

    def on_progress(self, resource_id: str, progress: Progress) -> None:
        """The job reported progress."""
        ...

    def on_state(self, resource_id: str, state: dict[str, Any]) -> None:
        """The job replaced its contract state."""
        ...

    def on_results(self, resource_id: str, results: Sequence[Result]) -> None:
        """The job announced several results (in this order), to be recorded together."""
        ...

    def on_finished(
        self,
        resource_id: str,
        outcome: Outcome,
        *,
        state: dict[str, Any] | None = None,
        progress: Progress | None = None,
    ) -> None:
        """The run is over (it has said how it ended, or its processes are gone).

        ``state`` and ``progress``, when given, are the run's last reports, not recorded
        yet: they are recorded with its end, in the same change (one store write where
        there would be three, on every job's path).
        """
        ...


class Executor(ABC):
    """Runs queued jobs."""

    @abstractmethod
    def start(self, listener: ExecutionListener) -> None:
        """Begin taking work; reports go to ``listener``."""

    @abstractmethod
    def submit(self, resource_id: str, *, owner: str = "", contract: str = "") -> None:
        """Queue a job that is QUEUED in the store; returns at once.

        ``owner`` is the job's owner: an executor shares its slots fairly among owners
        and runs no more of one owner's jobs at once than that owner's quota allows.
        ``contract`` is the job's contract, by which a router chooses where it runs.
        """

    @abstractmethod
    def cancel(self, resource_id: str) -> bool:
        """Stop the job's work, queued or running; returns once nothing of it runs.

        A run whose end is recorded has no work left: its process may still be exiting
        (closing what its contract prepared), and is not waited for. True if there was
        work to stop.
        """

    @abstractmethod
    def shutdown(self) -> None:
        """Stop everything; running jobs end as INTERRUPTED and stay EXECUTING in the store."""

    @abstractmethod
    def active(self) -> dict[str, str]:
        """Jobs this executor holds, with ``"queued"`` or ``"running"``."""

    def interrupt_all(self, *, at_once: bool = False) -> list[str]:
        """Stop every run and drop every queued job, all as INTERRUPTED (they stay
        EXECUTING in the store, for recovery), and go on taking work; returns their ids.

        ``at_once`` kills without the grace period: a cluster node cut off from its store
        must be sure its jobs are gone before another node may run them again.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot interrupt its runs")
