"""The Slurm executor's submitting thread: ``sbatch`` for each job, when there is a place.

Never more than ``max_submitted`` jobs of the service are in Slurm at once, nor more of
one owner's than the owner may run; the rest wait QUEUED, saying so in their note. A job
Slurm refuses ends in ERROR at once; when Slurm cannot be reached, submission is tried
again after :data:`SUBMIT_RETRY` seconds.

Before ``sbatch``, the job is taken up (in a cluster: recorded on Slurm's node, a
compare-and-set) and an intent is recorded (:mod:`.slurm_records`): whoever follows the
jobs after a crash finds the Slurm job by its name, and never submits one twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from ..core.phases import Phase
from ..core.ports import JobChanges
from .slurm_commands import SlurmError
from .slurm_runs import SlurmBook, SlurmRun
from .slurm_submission import SlurmJobOptions, sbatch_arguments, time_limit

log = logging.getLogger(__name__)

#: Seconds before ``sbatch`` is tried again after Slurm could not be reached.
SUBMIT_RETRY = 5.0


class SlurmSubmitter:
    """Submits the book's waiting jobs (see the module); :meth:`loop` is its thread."""

    def __init__(
        self,
        book: SlurmBook,
        *,
        options: Callable[[str], SlurmJobOptions],
        max_running: Callable[[str], int] | None,
    ) -> None:
        self._book = book
        self._options = options
        self._max_running = max_running
        self._retry_at = 0.0

    def loop(self) -> None:
        """Submit whenever woken (a job to submit, a place freed) until the book closes."""
        book = self._book
        while not book.closing.is_set():
            pause = self._submit_waiting()
            book.submit_work.wait(pause)
            book.submit_work.clear()

    def _submit_waiting(self) -> float | None:
        """Submit what may be submitted; seconds until trying again (None: when woken)."""
        while not self._book.closing.is_set():
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
                self._book.fail_queued(
                    resource_id, f"the job could not be submitted to Slurm: {exc}"
                )
        return None

    def _next_waiting(self) -> tuple[tuple[str, str] | None, bool]:
        """The next job to submit (taken off the queue), and whether Slurm holds as many
        jobs of the service as it may."""
        book = self._book
        with book.lock:
            if len(book.runs) >= book.config.max_submitted:
                return None, bool(book.waiting)
            in_slurm: dict[str, int] = {}
            for run in book.runs.values():
                in_slurm[run.owner] = in_slurm.get(run.owner, 0) + 1
            for resource_id, owner in book.waiting.items():
                if resource_id in book.runs:
                    continue  # its previous Slurm job is still being stopped
                if self._max_running and in_slurm.get(owner, 0) >= self._max_running(owner):
                    continue
                del book.waiting[resource_id]
                book.noted_waiting.discard(resource_id)
                return (resource_id, owner), False
            return None, False

    def _note_waiting(self) -> None:
        book = self._book
        with book.lock:
            fresh = [rid for rid in book.waiting if rid not in book.noted_waiting]
            book.noted_waiting.update(fresh)
        note = (
            f"waiting for a place in Slurm's queue: the service keeps at most "
            f"{book.config.max_submitted} of its jobs there"
        )
        for resource_id in fresh:
            book.store.update(resource_id, JobChanges(note=note))

    def _submit_one(self, resource_id: str, owner: str) -> None:
        book = self._book
        with book.submitting:
            job = book.store.get(resource_id)
            if job is None or job.phase is not Phase.QUEUED:
                return  # aborted, destroyed or already taken up since
            if book.marks is not None and not book.marks.take(resource_id):
                return  # taken up since (by a leader before this one, say)
            options = self._options(job.contract)
            output = book.output_folder(resource_id)
            output.mkdir(parents=True, exist_ok=True)
            arguments = sbatch_arguments(
                resource_id=resource_id,
                command=self._command(resource_id),
                options=options,
                isolated=job.isolated is True,
                time_limit_seconds=time_limit(
                    job.execution_duration,
                    margin=book.config.time_margin,
                    cap=options.time_limit_cap,
                ),
                workdir=book.config.data_dir,
                output=output / book.output_name(resource_id, "out"),
                error=output / book.output_name(resource_id, "err"),
            )
            book.records.intend(resource_id)
            try:
                job_id = book.commands.submit(
                    arguments, environment={**os.environ, **book.config.environment}
                )
            except SlurmError as exc:
                book.records.forget(resource_id)
                if not exc.transient:
                    book.fail_queued(resource_id, f"Slurm refused the job: {exc.message}")
                    return
                log.warning("Slurm cannot take jobs now (%s); trying again", exc.message)
                book.release(resource_id)
                with book.lock:
                    book.waiting = {resource_id: owner, **book.waiting}
                    self._retry_at = time.monotonic() + max(SUBMIT_RETRY, book.config.poll_interval)
                book.store.update(
                    resource_id,
                    JobChanges(note=f"Slurm cannot take it now ({exc.message}); trying again"),
                )
                return
            book.records.record(resource_id, job_id)
            with book.lock:
                book.runs[resource_id] = SlurmRun(resource_id, job_id, owner)
            log.info("%s submitted to Slurm as job %s", resource_id, job_id)
        book.store.update(resource_id, JobChanges(note=f"submitted to Slurm as job {job_id}"))
        book.monitor_work.set()

    def _command(self, resource_id: str) -> list[str]:
        config = self._book.config
        command = [*config.command, resource_id, "--data", str(config.data_dir)]
        if config.config_file is not None:
            command += ["--config", str(config.config_file)]
        return command
