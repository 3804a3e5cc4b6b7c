"""The Slurm executor's following thread: what Slurm says of its jobs, and what follows.

Slurm tells nobody when a job starts or ends, so while it holds jobs of the service,
``squeue`` is asked every ``poll_interval`` (one call for all of them). A job waiting in
Slurm's queue shows Slurm's job id and reason in its note. Each job's execution duration
is enforced on the service's own timer, from the start time ``run-job`` recorded: Slurm
enforces ``--time`` only on its own schedule (about 75 s late, measured). A job Slurm
ended without ``run-job`` recording how (cancelled by an administrator, failed to start
on its node) ends in ERROR with Slurm's word for it; a job lost with its node goes to
HELD, or, isolated, runs again; a job Slurm still runs after its end was recorded is
cancelled.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from ..core.model import Job
from ..core.phases import ACTIVE_PHASES, FINAL_PHASES, Phase
from ..core.ports import JobChanges, Outcome, OutcomeKind
from ..wire.times import format_utc
from .slurm_commands import SlurmError, SlurmJob
from .slurm_runs import SlurmBook, SlurmRun

log = logging.getLogger(__name__)

#: Seconds between looks at Slurm while a job of the service is being stopped.
STOPPING_POLL = 0.1
#: Seconds between two ``scancel`` of a job Slurm has not ended yet.
CANCEL_AGAIN = 5.0
#: Seconds ``run-job`` gets to exit after it recorded how its job ended.
FINISH_GRACE = 30.0


class SlurmFollower:
    """Follows the book's jobs in Slurm (see the module); :meth:`loop` is its thread."""

    def __init__(self, book: SlurmBook) -> None:
        self._book = book

    def loop(self) -> None:
        """Look at Slurm while it holds jobs (and when woken) until the book closes."""
        book = self._book
        while not book.closing.is_set():
            try:
                pause = self.poll()
            except Exception:
                log.exception("following the jobs in Slurm failed")
                pause = book.config.poll_interval
            book.monitor_work.wait(pause)
            book.monitor_work.clear()

    def poll(self) -> float | None:
        """One look at every job in Slurm; seconds until the next one (None: no jobs)."""
        book = self._book
        with book.lock:
            runs = list(book.runs.values())
        if not runs:
            return None
        try:
            seen = book.commands.jobs([run.job_id for run in runs])
        except SlurmError as exc:
            log.warning("cannot ask Slurm about its jobs: %s", exc.message)
            return book.config.poll_interval
        pause = book.config.poll_interval
        for run in runs:
            try:
                pause = min(pause, self._follow(run, seen.get(run.job_id)))
            except Exception:
                log.exception("following Slurm job %s of %s failed", run.job_id, run.resource_id)
        return pause

    def _follow(self, run: SlurmRun, slurm: SlurmJob | None) -> float:
        """Act on what Slurm says of one job; seconds until it needs another look."""
        book = self._book
        # The store is read after Slurm answered: a job Slurm says is over has recorded
        # its end by now, if it ever will (run-job records it before it exits).
        job = book.store.get(run.resource_id)
        if slurm is None or slurm.final:
            if slurm is None:
                slurm = book.commands.accounting(run.job_id)
            self._ended(run, slurm, job)
            return book.config.poll_interval
        run.state = slurm.state
        if run.stop is not None:
            if time.monotonic() - run.cancel_sent > CANCEL_AGAIN:
                book.scancel(run)
            return STOPPING_POLL
        if job is None or job.phase not in ACTIVE_PHASES:
            return self._outlived(run, job, slurm)
        if slurm.restarts > run.restarts:
            self._requeued(run, job, slurm)
            return book.config.poll_interval
        if job.phase is Phase.QUEUED:
            book.note(job, queue_note(run.job_id, slurm))
            return book.config.poll_interval
        if slurm.state == "RUNNING":
            # Still true once the job has ended: the note stays until something else says.
            book.note(job, f"Slurm job {run.job_id} on {slurm.nodes}")
        return self._enforce_duration(run, job)

    def _enforce_duration(self, run: SlurmRun, job: Job) -> float:
        book = self._book
        if not job.execution_duration or job.start_time is None:
            return book.config.poll_interval
        deadline = job.start_time + timedelta(seconds=job.execution_duration)
        remaining = (deadline - book.clock.now()).total_seconds()
        if remaining > 0:
            return min(book.config.poll_interval, remaining)
        run.stop = OutcomeKind.TIMED_OUT
        # Recorded first, as an abort is: the run's own end, racing with scancel, then
        # finds the job ended and changes nothing.
        book.engine().on_finished(
            run.resource_id,
            Outcome(
                OutcomeKind.TIMED_OUT,
                f"the job exceeded its execution duration of {job.execution_duration} s "
                f"and was stopped (Slurm job {run.job_id} cancelled by the service)",
            ),
        )
        book.scancel(run)
        return STOPPING_POLL

    def _outlived(self, run: SlurmRun, job: Job | None, slurm: SlurmJob) -> float:
        """Slurm still has a job the store says is over (or gone): stop it; a run-job that
        recorded the end itself gets :data:`FINISH_GRACE` to exit first."""
        book = self._book
        # ABORTED is only ever the service's own record (an abort, a destroy, a duration
        # exceeded while another node followed the job): nothing to wait for.
        recorded_by_run = job is not None and job.phase in FINAL_PHASES - {Phase.ABORTED}
        if recorded_by_run and slurm.state != "PENDING":
            now = time.monotonic()
            if run.ended_seen is None:
                run.ended_seen = now
            if now - run.ended_seen < FINISH_GRACE:
                return book.config.poll_interval
        run.stop = OutcomeKind.INTERRUPTED
        book.scancel(run)
        return STOPPING_POLL

    def _requeued(self, run: SlurmRun, job: Job, slurm: SlurmJob) -> None:
        """Slurm requeued the job (a node failure, ``scontrol requeue``): its run is over."""
        book = self._book
        # Recorded before the phase changes: a restarted service must not move the job
        # back to QUEUED a second time once the requeued run has claimed it.
        book.records.record(run.resource_id, run.job_id, restarts=slurm.restarts)
        run.restarts = slurm.restarts
        stamp = format_utc(book.clock.now())
        why = f"Slurm requeued job {run.job_id} ({slurm.known_reason or 'requeued'})"
        if job.isolated:
            book.store.transition(
                run.resource_id,
                Phase.QUEUED,
                expected={Phase.EXECUTING},
                changes=JobChanges(
                    note=f"interrupted: {why}; it runs again when Slurm starts it ({stamp})"
                ),
            )
            return
        self._hold(run, why, stamp)
        run.stop = OutcomeKind.INTERRUPTED
        book.scancel(run)

    def _hold(self, run: SlurmRun, why: str, stamp: str) -> None:
        """HELD for an interrupted run of a job that writes to external resources: running
        it again could repeat those writes, so a person decides (``resumeJob``)."""
        self._book.store.transition(
            run.resource_id,
            Phase.HELD,
            expected=ACTIVE_PHASES,
            changes=JobChanges(
                note=f"interrupted: {why} ({stamp}); it writes to external resources, "
                "so it waits for resumeJob"
            ),
        )

    def _ended(self, run: SlurmRun, slurm: SlurmJob | None, job: Job | None) -> None:
        """Slurm has ended the job (or forgotten it): settle the store if run-job did not."""
        try:
            if run.stop is None and job is not None and job.phase in ACTIVE_PHASES:
                self._settle(run, slurm, job)
        finally:
            self._book.forget(run)

    def _settle(self, run: SlurmRun, slurm: SlurmJob | None, job: Job) -> None:
        book = self._book
        stamp = format_utc(book.clock.now())
        if slurm is not None and slurm.lost:
            why = (
                f"Slurm job {run.job_id} was lost with its node ({slurm.state_text or slurm.state})"
            )
            if job.isolated:
                queued = job.phase is Phase.QUEUED or book.store.transition(
                    run.resource_id,
                    Phase.QUEUED,
                    expected={Phase.EXECUTING},
                    changes=JobChanges(
                        note=f"interrupted: {why}; run again automatically ({stamp})"
                    ),
                )
                if queued:
                    book.forget(run)
                    book.enqueue(run.resource_id, job.owner)
                return
            self._hold(run, why, stamp)
            return
        detail = book.error_tail(run)
        if slurm is not None and slurm.timed_out and job.phase is Phase.EXECUTING:
            message = f"Slurm stopped job {run.job_id} at its time limit ({slurm.state})"
            book.engine().on_finished(run.resource_id, Outcome(OutcomeKind.TIMED_OUT, message))
            return
        message = ending(run.job_id, slurm)
        if job.phase is Phase.EXECUTING:
            outcome = Outcome(OutcomeKind.FAILED, message, detail=detail)
            book.engine().on_finished(run.resource_id, outcome)
        else:
            book.fail_queued(run.resource_id, message, detail)


def queue_note(job_id: str, slurm: SlurmJob) -> str:
    """What a job waiting in Slurm says in its note."""
    if slurm.state != "PENDING":
        where = f" on {slurm.nodes}" if slurm.nodes else ""
        return f"starting in Slurm as job {job_id}{where}"
    note = f"in Slurm's queue as job {job_id}: {slurm.known_reason or 'pending'}"
    if slurm.known_start:
        note += f", expected to start {slurm.known_start}"
    return note


def ending(job_id: str, slurm: SlurmJob | None) -> str:
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
