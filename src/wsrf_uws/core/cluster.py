"""The cluster port: what nodes sharing one store need from it beyond :class:`JobStore`.

A *node* is one process of a deployment: a front-end (answers clients), a worker (runs
jobs), or both (``all``, the single-process service). Nodes never talk to each other:
they share the store, which queues the jobs, says which node runs which job, keeps the
nodes' heartbeats, elects the one node that performs the cluster's duties (the reaper,
the sweep of dead nodes) and carries their messages (a job was queued, please stop a
job, a run ended).

PostgreSQL implements it (:mod:`wsrf_uws.store.postgres_cluster`); the embedded SQLite
store does not, and runs as a single ``all`` process.

All times that decide a node's death are the store's clock, so the nodes' own clocks
may disagree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .model import Job
from .ports import ExecutionListener, JobStore, StoreError

#: The node recorded for the jobs the leader has handed to Slurm (QUEUED there, or
#: EXECUTING on a compute node). Never a node's name (``@`` is not allowed in one), so the
#: sweep of dead nodes never takes a Slurm job for one lost with its node.
SLURM_NODE = "@slurm"


class NodeRole(StrEnum):
    """What a node does."""

    #: Answers clients and runs jobs: the single-process service.
    ALL = "all"
    #: Answers clients only; stateless.
    FRONTEND = "frontend"
    #: Runs jobs only.
    WORKER = "worker"

    @property
    def runs_jobs(self) -> bool:
        """True for a role that claims and runs jobs."""
        return self is not NodeRole.FRONTEND


class NodeNameTakenError(StoreError):
    """Another live process is already the node of that name."""

    def __init__(self, node: str) -> None:
        super().__init__(
            f"a node called {node!r} is already running on this cluster; "
            "give this one another name (--node)"
        )
        self.node = node


class ClusterLinkLostError(StoreError):
    """The node's session with the store is gone (with its name and its leadership)."""


class Signal(StrEnum):
    """The messages nodes send each other through the store."""

    #: A job became QUEUED (payload: empty); workers look for work.
    QUEUED = "queued"
    #: Stop the run of a job (payload: its resource id); the node running it kills it.
    STOP = "stop"
    #: A run ended and its processes are gone (payload: the resource id); also frees a
    #: slot of its owner's quota, so workers look for work.
    ENDED = "ended"
    #: A termination time was set (payload: ISO 8601 instant); the leader's reaper
    #: wakes if it is sooner than what it sleeps towards.
    TERMINATION = "termination"


@dataclass(frozen=True)
class NodeRecord:
    """A node as the store records it."""

    name: str
    role: NodeRole
    slots: int
    host: str
    pid: int
    started: datetime
    heartbeat: datetime
    #: Seconds since its last heartbeat, by the store's clock.
    silent_for: float


@dataclass(frozen=True)
class ClusterStatus:
    """A snapshot of the cluster for operators (``wsrf-uws cluster status``)."""

    nodes: list[NodeRecord]
    #: The node that holds the leadership now (None: nobody, e.g. every node is down).
    leader: str | None
    leader_since: datetime | None
    #: Jobs waiting to be claimed.
    queued: int
    #: EXECUTING jobs by the node running them.
    executing: dict[str, int] = field(default_factory=dict)


class ClusterSession(ABC):
    """One node's membership of the cluster, for the life of its process.

    Opened with :meth:`ClusterStore.join`. It holds the node's name (no other process
    can join under it while this session lives) and, once won, the leadership; both end
    when the session does, however the process ends (``kill -9`` included), so a
    successor never waits for a dead holder. Signals arrive on a thread of the session's
    own, in the order sent, to the ``on_signal`` given to :meth:`ClusterStore.join`.
    """

    @property
    @abstractmethod
    def node(self) -> str:
        """The node's name."""

    @abstractmethod
    def heartbeat(self) -> None:
        """Record that the node is alive (and check that its session still is).

        Raises :class:`ClusterLinkLostError` when the session with the store was lost;
        the session then tries to open a new one, under the same name, at each later
        call (and raises until it can). After a loss the node lost its leadership, and
        any signal sent meanwhile: the caller treats every run as unknown again.
        """

    @abstractmethod
    def try_lead(self) -> bool:
        """Take the leadership if nobody holds it; True while this node holds it."""

    @property
    @abstractmethod
    def leading(self) -> bool:
        """Whether this node held the leadership at its last :meth:`try_lead`."""

    @abstractmethod
    def send(self, signal: Signal, payload: str = "") -> None:
        """Send ``signal`` to every node (this one included)."""

    @abstractmethod
    def close(self) -> None:
        """Leave: release the name and the leadership. The node's record stays until the
        leader sweeps it, so jobs it left EXECUTING are recovered by the rules of a dead
        node, or by the node itself if it is back first."""


class ClusterStore(JobStore):
    """A :class:`JobStore` several nodes can share (see the module's documentation)."""

    @abstractmethod
    def join(
        self,
        node: str,
        *,
        role: NodeRole,
        slots: int,
        on_signal: Callable[[Signal, str], None],
        on_link: Callable[[bool], None] | None = None,
        heartbeat_interval: float = 1.0,
    ) -> ClusterSession:
        """Open ``node``'s session: hold its name, record it (role, slots, host, process,
        start and heartbeat now) and start delivering signals to ``on_signal``.

        ``on_link(False)`` is called when the session is lost and ``on_link(True)`` when a
        new one is open again (signals sent in between are lost). ``heartbeat_interval``
        is how often the caller will call :meth:`ClusterSession.heartbeat` (seconds):
        each attempt of the session with the store (a heartbeat, a new connection) is
        bounded by about that long, so a node cut off learns it in time. Raises
        :class:`NodeNameTakenError` if a live process holds the name.
        """

    @abstractmethod
    def claim(
        self,
        node: str,
        *,
        now: datetime,
        max_running: Callable[[str], int] | None = None,
        exclude: Collection[str] = (),
    ) -> Job | None:
        """Claim the next QUEUED job for ``node``: QUEUED → EXECUTING, recorded as running on
        ``node``, ``start_time`` = ``now``, ``end_time`` cleared, ``run_count`` + 1.

        The next job is the oldest queued one of the owner with the fewest EXECUTING jobs
        in the cluster, among the owners below ``max_running(owner)`` (None: no limit),
        never one of the contracts in ``exclude`` (those the leader sends to Slurm).
        Any number of nodes may claim at once: each job is claimed once, and no owner
        exceeds its limit. None when nothing can be claimed.
        """

    @abstractmethod
    def queued_jobs(self, contracts: Collection[str], *, node: str | None = None) -> list[Job]:
        """The QUEUED jobs of ``contracts`` recorded on ``node`` (None: on no node, so
        taken up by no executor yet), oldest first."""

    @abstractmethod
    def take_queued(self, resource_id: str, *, node: str) -> bool:
        """Record the QUEUED job, recorded on no node, as taken up by ``node`` (it stays
        QUEUED); False if it is not QUEUED or another node has it. Of two callers, one
        wins: what keeps two leaders from handing one job to Slurm twice."""

    @abstractmethod
    def running_on(self, node: str) -> list[Job]:
        """The jobs recorded as running on ``node`` (EXECUTING there), oldest first."""

    @abstractmethod
    def run_ended(self, resource_id: str, *, node: str) -> bool:
        """The run of the job on ``node`` is over and nothing of it runs: the job is no
        longer recorded as running there, and :data:`Signal.ENDED` is sent (in the same
        transaction). False if it was not recorded as running there."""

    @abstractmethod
    def dead_nodes(self, *, ttl: float) -> list[str]:
        """Nodes whose last heartbeat is more than ``ttl`` seconds old (store clock)."""

    @abstractmethod
    def seconds_until_silent(self, *, ttl: float) -> float | None:
        """Seconds until the first live node's heartbeat is ``ttl`` old (None: no node)."""

    @abstractmethod
    def forget_node(self, node: str, *, ttl: float) -> bool:
        """Remove the record of ``node`` if it is still dead (silent for over ``ttl``
        seconds) and runs nothing; True if removed."""

    @abstractmethod
    def status(self) -> ClusterStatus:
        """The cluster as recorded now."""


class LeaderExecutor(ABC):
    """Runs the jobs only the cluster's leader runs: those of the contracts on Slurm.

    Every node has one (any node may lead); it works only between :meth:`lead` and
    :meth:`step_down`. Workers never claim jobs of :attr:`contracts`.
    """

    #: The contracts whose jobs it runs.
    contracts: frozenset[str]

    @abstractmethod
    def lead(self, listener: ExecutionListener) -> None:
        """This node leads: take up the jobs in flight (as after a restart), then hand
        over the queued ones. Does nothing while leading; raises if it could not take up
        the jobs in flight (called again at the next beat)."""

    @abstractmethod
    def step_down(self, *, wait: bool = True) -> None:
        """This node no longer leads (or stops): stop submitting and following; the jobs
        go on in Slurm for the next leader. ``wait=False``: without waiting for that."""

    @abstractmethod
    def wake(self) -> None:
        """A job was queued or a run ended somewhere: look for jobs to hand over."""

    @abstractmethod
    def holds(self, resource_id: str) -> bool:
        """Whether the job is in its hands (waiting to be submitted, or in Slurm)."""

    @abstractmethod
    def cancel(self, resource_id: str) -> bool:
        """Stop the job (see :meth:`Executor.cancel`); False if it does not hold it."""
