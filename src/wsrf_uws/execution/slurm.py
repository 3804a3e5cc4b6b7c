"""The Slurm executor: each job is a Slurm batch job running ``wsrf-uws run-job ID``.

The job runs on a compute node, where ``run-job`` (:mod:`wsrf_uws.run_job`) claims it
in the shared store (QUEUED → EXECUTING, a compare-and-set: a second start of the same
job, or a requeued one, never runs it twice at once), runs its contract, and records
progress, results and the outcome there, as the local executor's recorder would. The
service side, here, submits, follows and stops Slurm jobs:

- **Submitting** (a thread): ``sbatch`` with the contract's options (:mod:`.slurm_submission`),
  never more than ``max_submitted`` jobs in Slurm at once, nor more of one owner's than
  the owner may run; the rest wait QUEUED, saying so in their note.
- **Following** (a thread): Slurm tells nobody when a job starts or ends, so while it
  holds jobs of the service, ``squeue`` is asked every ``poll_interval`` (one call for all
  of them). A job waiting in Slurm's queue shows Slurm's job id and reason in its note.
  Each job's execution duration is enforced on the service's own timer, from the start
  time ``run-job`` recorded: Slurm enforces ``--time`` only on its own schedule (about
  75 s late, measured). A job Slurm ended without ``run-job`` recording how (cancelled by
  an administrator, failed to start on its node) ends in ERROR with Slurm's word for it;
  a job lost with its node goes to HELD, or, isolated, runs again.
- **Stopping**: abort, destroy and expiry record the end first, then ``scancel``, and
  wait (bounded) until Slurm says nothing of the job runs.
- **Restarting**: the Slurm job of each resource is recorded (:mod:`.slurm_records`);
  :meth:`SlurmExecutor.start` takes up the jobs still in Slurm (they are then
  :meth:`~SlurmExecutor.active`, which restart recovery leaves alone) and settles the ones
  that ended while the service was down. A job is never submitted twice.

The executor reads and changes the store itself: the run's reports come from another
machine through the store, so what the local executor learns from its workers this one
learns from the store and from Slurm.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ..core.clock import Clock
from ..core.jobfiles import ResultStorage
from ..core.model import ErrorSummary, Job
from ..core.phases import ACTIVE_PHASES, FINAL_PHASES, Phase
from ..core.ports import ExecutionListener, Executor, JobChanges, JobStore, Outcome, OutcomeKind
from ..wire.times import format_utc
from .slurm_commands import SlurmCommands, SlurmError, SlurmJob
from .slurm_records import SlurmRecords
from .slurm_submission import SlurmJobOptions, job_name, sbatch_arguments, time_limit

log = logging.getLogger(__name__)

#: Seconds between looks at Slurm while a job of the service is being stopped.
STOPPING_POLL = 0.1
#: Seconds between two ``scancel`` of a job Slurm has not ended yet.
CANCEL_AGAIN = 5.0
#: Seconds ``run-job`` gets to exit after it recorded how its job ended.
FINISH_GRACE = 30.0
#: Seconds before ``sbatch`` is tried again after Slurm could not be reached.
SUBMIT_RETRY = 5.0
#: Characters of Slurm's error file kept in an error's detail.
ERROR_TAIL = 4000


@dataclass(frozen=True)
class SlurmConfig:
    """The service's side of the Slurm executor (see :class:`SlurmExecutor`)."""

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


@dataclass(eq=False)
class _SlurmRun:
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


class SlurmExecutor(Executor):
    """Runs jobs as Slurm batch jobs (see the module's docstring).

    ``options(contract)`` is what a contract's jobs ask of Slurm; ``max_running(owner)``
    caps one owner's jobs in Slurm at once (None: no cap but ``max_submitted``).
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
    ) -> None:
        self.config = config
        self.commands = commands or SlurmCommands()
        self.records = SlurmRecords(config.data_dir / "slurm")
        self._store = store
        self._files = files
        self._clock = clock
        self._options = options or (lambda contract: SlurmJobOptions())
        self._max_running = max_running
        self._lock = threading.Lock()
        #: Jobs to submit, by resource id, with their owners, in submission order.
        self._waiting: dict[str, str] = {}
        #: Waiting jobs whose note says they wait for a place in Slurm.
        self._noted_waiting: set[str] = set()
        #: The jobs in Slurm, by resource id.
        self._runs: dict[str, _SlurmRun] = {}
        #: Held while one job is submitted, so a cancel finds it submitted or not at all.
        self._submitting = threading.Lock()
        self._retry_at = 0.0
        self._submit_work = threading.Event()
        self._monitor_work = threading.Event()
        self._closing = threading.Event()
        self._listener: ExecutionListener | None = None
        self._threads: list[threading.Thread] = []

    # -- Executor ----------------------------------------------------------------------

    def start(self, listener: ExecutionListener) -> None:
        """Take up the jobs left in Slurm, settle those that ended, then start the threads."""
        self._listener = listener
        self._adopt()
        for target, name in ((self._submit_loop, "submit"), (self._monitor_loop, "monitor")):
            thread = threading.Thread(target=target, name=f"wsrf-uws-slurm-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, resource_id: str, *, owner: str = "", contract: str = "") -> None:
        with self._lock:
            if resource_id not in self._waiting:
                self._waiting[resource_id] = owner
        self._submit_work.set()

    def cancel(self, resource_id: str) -> bool:
        with self._submitting, self._lock:  # a submission under way ends first
            if self._waiting.pop(resource_id, None) is not None:
                self._noted_waiting.discard(resource_id)
                return True
            run = self._runs.get(resource_id)
            if run is None:
                return False
            if run.stop is None:
                run.stop = OutcomeKind.ABORTED
        self._scancel(run)
        self._monitor_work.set()
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
        self._closing.set()
        self._submit_work.set()
        self._monitor_work.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self._threads.clear()

    def active(self) -> dict[str, str]:
        with self._lock:
            held = {rid: "queued" for rid in self._waiting}
            for rid, run in self._runs.items():
                held[rid] = "running" if run.state == "RUNNING" else "queued"
            return held

    def interrupt_all(self, *, at_once: bool = False) -> list[str]:
        with self._lock:
            stopped = list(self._waiting)
            self._waiting.clear()
            runs = [run for run in self._runs.values() if run.stop is None]
            for run in runs:
                run.stop = OutcomeKind.INTERRUPTED
        for run in runs:
            self._scancel(run)
            stopped.append(run.resource_id)
        self._monitor_work.set()
        return stopped

    # -- restart -----------------------------------------------------------------------

    def _adopt(self) -> None:
        """Follow the jobs the records name; settle at once those Slurm has ended."""
        for record in self.records.all():
            job_id = record.job_id
            if job_id is None:  # the service stopped as it called sbatch
                try:
                    named = self.commands.named(job_name(record.resource_id))
                except SlurmError as exc:
                    log.error("cannot look for the Slurm job of %s: %s", record.resource_id, exc)
                    continue
                live = [job for job in named if not job.final]
                if not live:
                    self.records.forget(record.resource_id)
                    continue
                job_id = live[-1].job_id
                self.records.record(record.resource_id, job_id)
            job = self._store.get(record.resource_id)
            self._runs[record.resource_id] = _SlurmRun(
                record.resource_id,
                job_id,
                owner=job.owner if job is not None else "",
                restarts=record.restarts,
            )
        if self._runs:
            log.info("following %d job(s) left in Slurm", len(self._runs))
            self._poll()

    # -- submitting --------------------------------------------------------------------

    def _submit_loop(self) -> None:
        while not self._closing.is_set():
            pause = self._submit_waiting()
            self._submit_work.wait(pause)
            self._submit_work.clear()

    def _submit_waiting(self) -> float | None:
        """Submit what may be submitted; seconds until trying again (None: when woken)."""
        while not self._closing.is_set():
            delay = self._retry_at - time.monotonic()
            if delay > 0:
                return delay
            chosen, full = self._next_waiting()
            if full:
                self._note_waiting()
            if chosen is None:
                return None
            resource_id, owner = chosen
            try:
                self._submit_one(resource_id, owner)
            except Exception as exc:
                log.exception("submitting %s to Slurm failed", resource_id)
                self._fail_queued(resource_id, f"the job could not be submitted to Slurm: {exc}")
        return None

    def _next_waiting(self) -> tuple[tuple[str, str] | None, bool]:
        """The next job to submit (taken off the queue), and whether Slurm holds as many
        jobs of the service as it may."""
        with self._lock:
            if len(self._runs) >= self.config.max_submitted:
                return None, bool(self._waiting)
            in_slurm: dict[str, int] = {}
            for run in self._runs.values():
                in_slurm[run.owner] = in_slurm.get(run.owner, 0) + 1
            for resource_id, owner in self._waiting.items():
                if resource_id in self._runs:
                    continue  # its previous Slurm job is still being stopped
                if self._max_running and in_slurm.get(owner, 0) >= self._max_running(owner):
                    continue
                del self._waiting[resource_id]
                self._noted_waiting.discard(resource_id)
                return (resource_id, owner), False
            return None, False

    def _note_waiting(self) -> None:
        with self._lock:
            fresh = [rid for rid in self._waiting if rid not in self._noted_waiting]
            self._noted_waiting.update(fresh)
        note = (
            f"waiting for a place in Slurm's queue: the service keeps at most "
            f"{self.config.max_submitted} of its jobs there"
        )
        for resource_id in fresh:
            self._store.update(resource_id, JobChanges(note=note))

    def _submit_one(self, resource_id: str, owner: str) -> None:
        with self._submitting:
            job = self._store.get(resource_id)
            if job is None or job.phase is not Phase.QUEUED:
                return  # aborted, destroyed or already taken up since
            options = self._options(job.contract)
            output = self._output_folder(resource_id)
            output.mkdir(parents=True, exist_ok=True)
            arguments = sbatch_arguments(
                resource_id=resource_id,
                command=self._command(resource_id),
                options=options,
                isolated=job.isolated is True,
                time_limit_seconds=time_limit(
                    job.execution_duration,
                    margin=self.config.time_margin,
                    cap=options.time_limit_cap,
                ),
                workdir=self.config.data_dir,
                output=output / self._output_name(resource_id, "out"),
                error=output / self._output_name(resource_id, "err"),
            )
            self.records.intend(resource_id)
            try:
                job_id = self.commands.submit(
                    arguments, environment={**os.environ, **self.config.environment}
                )
            except SlurmError as exc:
                self.records.forget(resource_id)
                if not exc.transient:
                    self._fail_queued(resource_id, f"Slurm refused the job: {exc.message}")
                    return
                log.warning("Slurm cannot take jobs now (%s); trying again", exc.message)
                with self._lock:
                    self._waiting = {resource_id: owner, **self._waiting}
                    self._retry_at = time.monotonic() + max(SUBMIT_RETRY, self.config.poll_interval)
                self._store.update(
                    resource_id,
                    JobChanges(note=f"Slurm cannot take it now ({exc.message}); trying again"),
                )
                return
            self.records.record(resource_id, job_id)
            with self._lock:
                self._runs[resource_id] = _SlurmRun(resource_id, job_id, owner)
            log.info("%s submitted to Slurm as job %s", resource_id, job_id)
        self._store.update(resource_id, JobChanges(note=f"submitted to Slurm as job {job_id}"))
        self._monitor_work.set()

    def _command(self, resource_id: str) -> list[str]:
        command = [*self.config.command, resource_id, "--data", str(self.config.data_dir)]
        if self.config.config_file is not None:
            command += ["--config", str(self.config.config_file)]
        return command

    def _output_folder(self, resource_id: str) -> Path:
        if self.config.output_dir is not None:
            return self.config.output_dir
        # Absolute: Slurm reads a relative path from the job's own working folder.
        return self._files.folder(resource_id).absolute() / ".slurm"

    def _output_name(self, resource_id: str, kind: str) -> str:
        prefix = "slurm" if self.config.output_dir is None else resource_id
        return f"{prefix}-%j.{kind}"

    def _fail_queued(self, resource_id: str, message: str, detail: str | None = None) -> None:
        self._store.transition(
            resource_id,
            Phase.ERROR,
            expected={Phase.QUEUED},
            changes=JobChanges(
                end_time=self._clock.now(), error=ErrorSummary(message, detail=detail)
            ),
        )

    # -- following ---------------------------------------------------------------------

    def _monitor_loop(self) -> None:
        while not self._closing.is_set():
            try:
                pause = self._poll()
            except Exception:
                log.exception("following the jobs in Slurm failed")
                pause = self.config.poll_interval
            self._monitor_work.wait(pause)
            self._monitor_work.clear()

    def _poll(self) -> float | None:
        """One look at every job in Slurm; seconds until the next one (None: no jobs)."""
        with self._lock:
            runs = list(self._runs.values())
        if not runs:
            return None
        try:
            seen = self.commands.jobs([run.job_id for run in runs])
        except SlurmError as exc:
            log.warning("cannot ask Slurm about its jobs: %s", exc.message)
            return self.config.poll_interval
        pause = self.config.poll_interval
        for run in runs:
            try:
                pause = min(pause, self._follow(run, seen.get(run.job_id)))
            except Exception:
                log.exception("following Slurm job %s of %s failed", run.job_id, run.resource_id)
        return pause

    def _follow(self, run: _SlurmRun, slurm: SlurmJob | None) -> float:
        """Act on what Slurm says of one job; seconds until it needs another look."""
        # The store is read after Slurm answered: a job Slurm says is over has recorded
        # its end by now, if it ever will (run-job records it before it exits).
        job = self._store.get(run.resource_id)
        if slurm is None or slurm.final:
            if slurm is None:
                slurm = self.commands.accounting(run.job_id)
            self._ended(run, slurm, job)
            return self.config.poll_interval
        run.state = slurm.state
        if run.stop is not None:
            if time.monotonic() - run.cancel_sent > CANCEL_AGAIN:
                self._scancel(run)
            return STOPPING_POLL
        if job is None or job.phase not in ACTIVE_PHASES:
            return self._outlived(run, job, slurm)
        if slurm.restarts > run.restarts:
            self._requeued(run, job, slurm)
            return self.config.poll_interval
        if job.phase is Phase.QUEUED:
            self._note(job, _queue_note(run.job_id, slurm))
            return self.config.poll_interval
        if slurm.state == "RUNNING":
            # Still true once the job has ended: the note stays until something else says.
            self._note(job, f"Slurm job {run.job_id} on {slurm.nodes}")
        return self._enforce_duration(run, job)

    def _enforce_duration(self, run: _SlurmRun, job: Job) -> float:
        if not job.execution_duration or job.start_time is None:
            return self.config.poll_interval
        deadline = job.start_time + timedelta(seconds=job.execution_duration)
        remaining = (deadline - self._clock.now()).total_seconds()
        if remaining > 0:
            return min(self.config.poll_interval, remaining)
        run.stop = OutcomeKind.TIMED_OUT
        # Recorded first, as an abort is: the run's own end, racing with scancel, then
        # finds the job ended and changes nothing.
        self._engine().on_finished(
            run.resource_id,
            Outcome(
                OutcomeKind.TIMED_OUT,
                f"the job exceeded its execution duration of {job.execution_duration} s "
                f"and was stopped (Slurm job {run.job_id} cancelled by the service)",
            ),
        )
        self._scancel(run)
        return STOPPING_POLL

    def _outlived(self, run: _SlurmRun, job: Job | None, slurm: SlurmJob) -> float:
        """Slurm still has a job the store says is over (or gone): stop it; a run-job that
        recorded the end itself gets :data:`FINISH_GRACE` to exit first."""
        if job is not None and job.phase in FINAL_PHASES and slurm.state != "PENDING":
            now = time.monotonic()
            if run.ended_seen is None:
                run.ended_seen = now
            if now - run.ended_seen < FINISH_GRACE:
                return self.config.poll_interval
        run.stop = OutcomeKind.INTERRUPTED
        self._scancel(run)
        return STOPPING_POLL

    def _requeued(self, run: _SlurmRun, job: Job, slurm: SlurmJob) -> None:
        """Slurm requeued the job (a node failure, ``scontrol requeue``): its run is over."""
        # Recorded before the phase changes: a restarted service must not move the job
        # back to QUEUED a second time once the requeued run has claimed it.
        self.records.record(run.resource_id, run.job_id, restarts=slurm.restarts)
        run.restarts = slurm.restarts
        stamp = format_utc(self._clock.now())
        why = f"Slurm requeued job {run.job_id} ({slurm.known_reason or 'requeued'})"
        if job.isolated:
            self._store.transition(
                run.resource_id,
                Phase.QUEUED,
                expected={Phase.EXECUTING},
                changes=JobChanges(
                    note=f"interrupted: {why}; it runs again when Slurm starts it ({stamp})"
                ),
            )
            return
        self._store.transition(
            run.resource_id,
            Phase.HELD,
            expected=ACTIVE_PHASES,
            changes=JobChanges(
                note=f"interrupted: {why} ({stamp}); it writes to external resources, "
                "so it waits for resumeJob"
            ),
        )
        run.stop = OutcomeKind.INTERRUPTED
        self._scancel(run)

    def _ended(self, run: _SlurmRun, slurm: SlurmJob | None, job: Job | None) -> None:
        """Slurm has ended the job (or forgotten it): settle the store if run-job did not."""
        try:
            if run.stop is None and job is not None and job.phase in ACTIVE_PHASES:
                self._settle(run, slurm, job)
        finally:
            self._forget(run)

    def _settle(self, run: _SlurmRun, slurm: SlurmJob | None, job: Job) -> None:
        stamp = format_utc(self._clock.now())
        if slurm is not None and slurm.lost:
            why = (
                f"Slurm job {run.job_id} was lost with its node ({slurm.state_text or slurm.state})"
            )
            if job.isolated:
                queued = job.phase is Phase.QUEUED or self._store.transition(
                    run.resource_id,
                    Phase.QUEUED,
                    expected={Phase.EXECUTING},
                    changes=JobChanges(
                        note=f"interrupted: {why}; run again automatically ({stamp})"
                    ),
                )
                if queued:
                    self._forget(run)
                    self.submit(run.resource_id, owner=job.owner, contract=job.contract)
                return
            self._store.transition(
                run.resource_id,
                Phase.HELD,
                expected=ACTIVE_PHASES,
                changes=JobChanges(
                    note=f"interrupted: {why} ({stamp}); it writes to external resources, "
                    "so it waits for resumeJob"
                ),
            )
            return
        detail = self._error_tail(run)
        if slurm is not None and slurm.timed_out and job.phase is Phase.EXECUTING:
            message = f"Slurm stopped job {run.job_id} at its time limit ({slurm.state})"
            self._engine().on_finished(run.resource_id, Outcome(OutcomeKind.TIMED_OUT, message))
            return
        message = _ending(run.job_id, slurm)
        if job.phase is Phase.EXECUTING:
            outcome = Outcome(OutcomeKind.FAILED, message, detail=detail)
            self._engine().on_finished(run.resource_id, outcome)
        else:
            self._fail_queued(run.resource_id, message, detail)

    def _forget(self, run: _SlurmRun) -> None:
        with self._lock:
            if self._runs.get(run.resource_id) is run:
                del self._runs[run.resource_id]
                self.records.forget(run.resource_id)
        run.done.set()
        self._submit_work.set()  # a place in Slurm is free

    def _scancel(self, run: _SlurmRun) -> None:
        run.cancel_sent = time.monotonic()
        try:
            self.commands.cancel(run.job_id)
        except SlurmError as exc:
            log.warning("scancel %s (%s) failed: %s", run.job_id, run.resource_id, exc.message)

    def _note(self, job: Job, note: str) -> None:
        if job.note != note:
            self._store.update(job.resource_id, JobChanges(note=note))

    def _error_tail(self, run: _SlurmRun) -> str | None:
        """The end of Slurm's error file of the job (what run-job wrote before it died)."""
        name = self._output_name(run.resource_id, "err").replace("%j", run.job_id)
        path = self._output_folder(run.resource_id) / name
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - ERROR_TAIL))
                text = handle.read().decode("utf-8", "replace").strip()
        except OSError:
            return None
        return text or None

    def _engine(self) -> ExecutionListener:
        if self._listener is None:
            raise RuntimeError("the executor has not been started")
        return self._listener


def _queue_note(job_id: str, slurm: SlurmJob) -> str:
    """What a job waiting in Slurm says in its note."""
    if slurm.state != "PENDING":
        where = f" on {slurm.nodes}" if slurm.nodes else ""
        return f"starting in Slurm as job {job_id}{where}"
    note = f"in Slurm's queue as job {job_id}: {slurm.known_reason or 'pending'}"
    if slurm.known_start:
        note += f", expected to start {slurm.known_start}"
    return note


def _ending(job_id: str, slurm: SlurmJob | None) -> str:
    """The error message of a job Slurm ended without it recording how."""
    if slurm is None:
        return (
            f"Slurm no longer knows job {job_id}: it ended while the service did not follow "
            "it, and the job recorded no outcome"
        )
    said = slurm.state_text or slurm.state
    if slurm.known_reason and slurm.known_reason not in said:
        said += f", {slurm.known_reason}"
    if slurm.exit_code:
        said += f", exit code {slurm.exit_code}"
    if slurm.state == "CANCELLED":
        return f"Slurm job {job_id} was cancelled outside the service ({said})"
    return f"Slurm job {job_id} ended ({said}) before the job recorded how it ended"


__all__: Sequence[str] = ["SlurmConfig", "SlurmExecutor"]
