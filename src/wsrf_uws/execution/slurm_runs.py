"""The Slurm executor's book: its settings, the jobs it holds, and what its parts share.

:class:`SlurmBook` is the state the submitting thread (:mod:`.slurm_submitter`), the
following thread (:mod:`.slurm_follower`) and the executor's own calls
(:mod:`.slurm`) share, under one lock: the jobs waiting to be submitted and the jobs in
Slurm (:class:`SlurmRun`), with the few actions all of them take (cancel a Slurm job,
forget one that is over, end a queued job in ERROR).

In a cluster, jobs in Slurm are recorded on :data:`~wsrf_uws.core.cluster.SLURM_NODE`
(:class:`SlurmMarks`): taken up before ``sbatch``, released when the Slurm job is over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..core.clock import Clock
from ..core.jobfiles import ResultStorage
from ..core.model import ErrorSummary, Job
from ..core.phases import Phase
from ..core.ports import ExecutionListener, JobChanges, JobStore, OutcomeKind
from .slurm_commands import SlurmCommands, SlurmError
from .slurm_records import SlurmRecords

log = logging.getLogger(__name__)

#: Characters of Slurm's error file kept in an error's detail.
ERROR_TAIL = 4000


@dataclass(frozen=True)
class SlurmConfig:
    """The service's side of the Slurm executor (see :class:`~.slurm.SlurmExecutor`)."""

    #: The data directory compute nodes share with the service (``run-job --data``).
    data_dir: Path
    #: The command of a compute node, before the resource id.
    command: tuple[str, ...]
    #: The configuration file compute nodes read (``run-job --config``; None: none).
    config_file: Path | None = None
    #: Added to sbatch's environment (which the job inherits): the store's URL, the
    #: service's public URL.
    environment: Mapping[str, str] = field(default_factory=dict)
    poll_interval: float = 1.0
    max_submitted: int = 200
    #: Folder of Slurm's output files (None: ``.slurm`` in the job's folder).
    output_dir: Path | None = None
    time_margin: int = 60
    cancel_timeout: float = 30.0


class SlurmMarks(Protocol):
    """How jobs in Slurm are recorded in a cluster's store (see the module)."""

    def take(self, resource_id: str) -> bool:
        """Record the QUEUED job as taken up for Slurm; False if it is not QUEUED or is
        taken up already (by another leader)."""
        ...

    def release(self, resource_id: str) -> None:
        """The job has no Slurm job any more (and the cluster is told its run ended)."""
        ...


@dataclass(eq=False)
class SlurmRun:
    """One job of the service in Slurm."""

    resource_id: str
    job_id: str
    owner: str
    #: Slurm's restart count already dealt with.
    restarts: int = 0
    #: Slurm's state at the last look.
    state: str = "PENDING"
    #: Why the service stops it (its end, if any, is recorded already); None: it is not.
    stop: OutcomeKind | None = None
    cancel_sent: float = 0.0
    #: When the store was first seen to say the job ended while Slurm still ran it.
    ended_seen: float | None = None
    done: threading.Event = field(default_factory=threading.Event)


class SlurmBook:
    """What the parts of one Slurm executor share (see the module)."""

    def __init__(
        self,
        *,
        store: JobStore,
        files: ResultStorage,
        clock: Clock,
        config: SlurmConfig,
        commands: SlurmCommands,
        marks: SlurmMarks | None,
    ) -> None:
        self.store = store
        self.files = files
        self.clock = clock
        self.config = config
        self.commands = commands
        self.marks = marks
        self.records = SlurmRecords(config.data_dir / "slurm")
        self.lock = threading.Lock()
        #: Jobs to submit, by resource id, with their owners, in submission order.
        self.waiting: dict[str, str] = {}
        #: Waiting jobs whose note says they wait for a place in Slurm.
        self.noted_waiting: set[str] = set()
        #: The jobs in Slurm, by resource id.
        self.runs: dict[str, SlurmRun] = {}
        #: Held while one job is submitted, so a cancel finds it submitted or not at all.
        self.submitting = threading.Lock()
        self.submit_work = threading.Event()
        self.monitor_work = threading.Event()
        self.closing = threading.Event()
        self.listener: ExecutionListener | None = None

    def engine(self) -> ExecutionListener:
        """Where the service's own records of a job's end go."""
        if self.listener is None:
            raise RuntimeError("the executor has not been started")
        return self.listener

    def enqueue(self, resource_id: str, owner: str) -> None:
        """Submit the job when there is a place in Slurm (once, however often asked)."""
        with self.lock:
            if resource_id not in self.waiting:
                self.waiting[resource_id] = owner
        self.submit_work.set()

    def scancel(self, run: SlurmRun) -> None:
        """Ask Slurm to end the job (a failure is logged: the follower asks again)."""
        run.cancel_sent = time.monotonic()
        try:
            self.commands.cancel(run.job_id)
        except SlurmError as exc:
            log.warning("scancel %s (%s) failed: %s", run.job_id, run.resource_id, exc.message)

    def forget(self, run: SlurmRun) -> None:
        """The Slurm job is over: the job no longer has one, and its place is free."""
        with self.lock:
            mine = self.runs.get(run.resource_id) is run
            if mine:
                del self.runs[run.resource_id]
        if mine:
            # Released before the record goes: a leader that dies in between leaves a
            # record the next one finds over, never a job taken up by nothing.
            self.release(run.resource_id)
            self.records.forget(run.resource_id)
        run.done.set()
        self.submit_work.set()

    def release(self, resource_id: str) -> None:
        """In a cluster: the job is no longer recorded as taken up for Slurm."""
        if self.marks is None:
            return
        try:
            self.marks.release(resource_id)
        except Exception:
            # It stays recorded on Slurm's node; the next leader's take-up releases it.
            log.exception("recording that %s left Slurm failed", resource_id)

    def fail_queued(self, resource_id: str, message: str, detail: str | None = None) -> None:
        """End a QUEUED job in ERROR (Slurm refused or lost it before it started)."""
        self.store.transition(
            resource_id,
            Phase.ERROR,
            expected={Phase.QUEUED},
            changes=JobChanges(
                end_time=self.clock.now(), error=ErrorSummary(message, detail=detail)
            ),
        )
        self.release(resource_id)

    def note(self, job: Job, note: str) -> None:
        """Set the job's note, unless it says that already."""
        if job.note != note:
            self.store.update(job.resource_id, JobChanges(note=note))

    def output_folder(self, resource_id: str) -> Path:
        """Where Slurm writes the output and error files of the job."""
        if self.config.output_dir is not None:
            return self.config.output_dir
        # Absolute: Slurm reads a relative path from the job's own working folder.
        return self.files.folder(resource_id).absolute() / ".slurm"

    def output_name(self, resource_id: str, kind: str) -> str:
        """The name of the job's ``kind`` (``out``, ``err``) file, with Slurm's ``%j``."""
        prefix = "slurm" if self.config.output_dir is None else resource_id
        return f"{prefix}-%j.{kind}"

    def error_tail(self, run: SlurmRun) -> str | None:
        """The end of Slurm's error file of the job (what run-job wrote before it died)."""
        name = self.output_name(run.resource_id, "err").replace("%j", run.job_id)
        path = self.output_folder(run.resource_id) / name
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - ERROR_TAIL))
                text = handle.read().decode("utf-8", "replace").strip()
        except OSError:
            return None
        return text or None
