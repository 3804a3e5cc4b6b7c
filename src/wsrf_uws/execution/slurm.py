"""The Slurm executor: each job is a Slurm batch job running ``wsrf-uws run-job ID``.

The job runs on a compute node, where ``run-job`` (:mod:`wsrf_uws.run_job`) claims it
in the shared store (QUEUED → EXECUTING, a compare-and-set: a second start of the same
job, or a requeued one, never runs it twice at once), runs its contract, and records
progress, results and the outcome there, as the local executor's recorder would. The
service side submits, follows and stops Slurm jobs:

- **Submitting** (a thread, :mod:`.slurm_submitter`): ``sbatch`` with the contract's
  options (:mod:`.slurm_submission`), within ``max_submitted`` and the owners' limits.
- **Following** (a thread, :mod:`.slurm_follower`): ``squeue`` every ``poll_interval``
  while Slurm holds jobs of the service; Slurm's id and reason in the note; the
  execution duration on the service's own timer; the ends Slurm caused, settled.
- **Stopping** (here): abort, destroy and expiry record the end first, then ``scancel``,
  and wait (bounded) until Slurm says nothing of the job runs.
- **Restarting** (here): the Slurm job of each resource is recorded
  (:mod:`.slurm_records`); :meth:`SlurmExecutor.start` takes up the jobs still in Slurm
  (they are then :meth:`~SlurmExecutor.active`, which restart recovery leaves alone) and
  settles the ones that ended while the service was down. A job is never submitted twice.

The executor reads and changes the store itself: the run's reports come from another
machine through the store, so what the local executor learns from its workers this one
learns from the store and from Slurm. In a cluster only the leader has one running
(:mod:`.slurm_leader`), a new one at each take-over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from ..core.clock import Clock
from ..core.jobfiles import ResultStorage
from ..core.ports import ExecutionListener, Executor, JobStore, OutcomeKind
from .slurm_commands import SlurmCommands, SlurmError
from .slurm_follower import SlurmFollower
from .slurm_runs import SlurmBook, SlurmConfig, SlurmMarks, SlurmRun
from .slurm_submission import SlurmJobOptions, job_name
from .slurm_submitter import SlurmSubmitter

log = logging.getLogger(__name__)


class SlurmExecutor(Executor):
    """Runs jobs as Slurm batch jobs (see the module's docstring).

    ``options(contract)`` is what a contract's jobs ask of Slurm; ``max_running(owner)``
    caps one owner's jobs in Slurm at once (None: no cap but ``max_submitted``);
    ``marks`` records the jobs in Slurm in a cluster's store (None: a single service).
    """

    def __init__(
        self,
        *,
        store: JobStore,
        files: ResultStorage,
        clock: Clock,
        config: SlurmConfig,
        commands: SlurmCommands | None = None,
        options: Callable[[str], SlurmJobOptions] | None = None,
        max_running: Callable[[str], int] | None = None,
        marks: SlurmMarks | None = None,
    ) -> None:
        self.config = config
        self.commands = commands or SlurmCommands()
        self._book = SlurmBook(
            store=store,
            files=files,
            clock=clock,
            config=config,
            commands=self.commands,
            marks=marks,
        )
        self.records = self._book.records
        self._submitter = SlurmSubmitter(
            self._book,
            options=options or (lambda contract: SlurmJobOptions()),
            max_running=max_running,
        )
        self._follower = SlurmFollower(self._book)
        #: Resources whose Slurm job could not be looked up at start (Slurm unreachable).
        self.unresolved: list[str] = []
        self._threads: list[threading.Thread] = []

    # -- Executor ----------------------------------------------------------------------

    def start(self, listener: ExecutionListener) -> None:
        """Take up the jobs left in Slurm, settle those that ended, then start the threads."""
        self._book.listener = listener
        self._adopt()
        for target, name in ((self._submitter.loop, "submit"), (self._follower.loop, "monitor")):
            thread = threading.Thread(target=target, name=f"wsrf-uws-slurm-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, resource_id: str, *, owner: str = "", contract: str = "") -> None:
        self._book.enqueue(resource_id, owner)

    def cancel(self, resource_id: str) -> bool:
        book = self._book
        with book.submitting, book.lock:  # a submission under way ends first
            if book.waiting.pop(resource_id, None) is not None:
                book.noted_waiting.discard(resource_id)
                return True
            run = book.runs.get(resource_id)
            if run is None:
                return False
            if run.stop is None:
                run.stop = OutcomeKind.ABORTED
        book.scancel(run)
        book.monitor_work.set()
        if not run.done.wait(self.config.cancel_timeout):
            log.warning(
                "Slurm job %s of %s still runs %.0f s after scancel",
                run.job_id,
                resource_id,
                self.config.cancel_timeout,
            )
        return True

    def shutdown(self) -> None:
        """Stop submitting and following. The jobs in Slurm go on (they need no service)
        and are taken up at the next start; the jobs not submitted yet stay QUEUED in the
        store, for restart recovery."""
        book = self._book
        book.closing.set()
        book.submit_work.set()
        book.monitor_work.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self._threads.clear()

    def active(self) -> dict[str, str]:
        book = self._book
        with book.lock:
            held = {rid: "queued" for rid in book.waiting}
            for rid, run in book.runs.items():
                held[rid] = "running" if run.state == "RUNNING" else "queued"
            return held

    def interrupt_all(self, *, at_once: bool = False) -> list[str]:
        book = self._book
        with book.lock:
            stopped = list(book.waiting)
            book.waiting.clear()
            runs = [run for run in book.runs.values() if run.stop is None]
            for run in runs:
                run.stop = OutcomeKind.INTERRUPTED
        for run in runs:
            book.scancel(run)
            stopped.append(run.resource_id)
        book.monitor_work.set()
        return stopped

    # -- restart -----------------------------------------------------------------------

    def _adopt(self) -> None:
        """Follow the jobs the records name; settle at once those Slurm has ended."""
        book = self._book
        for record in book.records.all():
            job_id = record.job_id
            if job_id is None:  # the service stopped as it called sbatch
                try:
                    named = self.commands.named(job_name(record.resource_id))
                except SlurmError as exc:
                    log.error("cannot look for the Slurm job of %s: %s", record.resource_id, exc)
                    self.unresolved.append(record.resource_id)
                    continue
                live = [job for job in named if not job.final]
                if not live:
                    book.release(record.resource_id)
                    book.records.forget(record.resource_id)
                    continue
                job_id = live[-1].job_id
                book.records.record(record.resource_id, job_id)
            job = book.store.get(record.resource_id)
            book.runs[record.resource_id] = SlurmRun(
                record.resource_id,
                job_id,
                owner=job.owner if job is not None else "",
                restarts=record.restarts,
            )
        if book.runs:
            log.info("following %d job(s) left in Slurm", len(book.runs))
            self._follower.poll()


__all__: Sequence[str] = ["SlurmConfig", "SlurmExecutor"]
