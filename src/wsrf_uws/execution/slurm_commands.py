"""Slurm's commands, run and read: ``sbatch``, ``squeue``, ``scancel`` and ``sacct``.

The command-line tools are Slurm's one interface every site has (the REST daemon is
optional and often absent). Each call is a short process with a timeout; what it prints
is read in forms meant for programs (``--parsable``, ``squeue -O`` with a separator,
``sacct -P``). A failure is a :class:`SlurmError` that says whether trying again later
may help (the controller unreachable) or not (a refusal: an unknown partition, say).
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Slurm's job states after which nothing of the job runs (its base states; squeue and
#: sacct may add words, as in ``CANCELLED by 0``). Any other state is a live one.
FINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "TIMEOUT",
    }
)
#: Final states in which the job was lost with its node, through no fault of its own.
LOST_STATES = frozenset({"BOOT_FAIL", "NODE_FAIL", "PREEMPTED"})
#: Final states in which Slurm stopped the job at a time limit of its own.
TIME_LIMIT_STATES = frozenset({"DEADLINE", "TIMEOUT"})

#: What squeue prints for each job, in this order, ``|`` after each field.
_SQUEUE_FIELDS = ("JobID", "Name", "State", "Reason", "RestartCnt", "NodeList", "StartTime")
_SQUEUE_FORMAT = ",".join(f"{name}:|" for name in _SQUEUE_FIELDS)
#: Most job ids given to one squeue call (its command line stays short).
_IDS_PER_CALL = 500

#: Failures that may pass: the controller down, busy or unreachable.
_TRANSIENT = re.compile(
    r"unable to contact|socket timed out|connection refused|temporarily unavailable|"
    r"try again|transport endpoint|communication connection failure|timed out",
    re.IGNORECASE,
)


class SlurmError(Exception):
    """A Slurm command failed; ``transient`` when trying again later may succeed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class SlurmJob:
    """One Slurm job as Slurm reports it."""

    job_id: str
    #: Slurm's state: ``PENDING``, ``RUNNING``, ``CANCELLED``... (its base state).
    state: str
    #: Why it is in that state, as Slurm says it (``Priority``, ``Resources``, ``None``...).
    reason: str = ""
    name: str = ""
    #: Times Slurm has requeued it (a node failure of a requeueable job, ``scontrol requeue``).
    restarts: int = 0
    nodes: str = ""
    #: When it started, or is expected to start (as Slurm writes it; ``N/A`` if unknown).
    start: str = ""
    #: The whole state as sacct writes it (``CANCELLED by 0``), when it came from sacct.
    state_text: str = ""
    #: Its exit code as sacct writes it (``0:15``: status, then signal), when known.
    exit_code: str = ""

    @property
    def final(self) -> bool:
        """Whether nothing of the job runs any more (COMPLETING is not final)."""
        return self.state in FINAL_STATES

    @property
    def lost(self) -> bool:
        """Whether it ended with its node (failure, preemption), not by itself."""
        return self.state in LOST_STATES

    @property
    def timed_out(self) -> bool:
        """Whether Slurm ended it at a time limit of Slurm's."""
        return self.state in TIME_LIMIT_STATES

    @property
    def known_reason(self) -> str:
        """The reason, or "" when Slurm gives none."""
        return "" if self.reason in ("", "None", "(null)") else self.reason

    @property
    def known_start(self) -> str:
        """The (expected) start time, or "" when Slurm does not know it."""
        return "" if self.start in ("", "N/A", "Unknown", "NONE") else self.start


class SlurmCommands:
    """Runs Slurm's commands (each a name on PATH or a path) with a time limit per call."""

    def __init__(
        self,
        *,
        sbatch: str = "sbatch",
        squeue: str = "squeue",
        scancel: str = "scancel",
        sacct: str = "sacct",
        timeout: float = 30.0,
    ) -> None:
        self.sbatch = sbatch
        self.squeue = squeue
        self.scancel = scancel
        self.sacct = sacct
        self.timeout = timeout

    def submit(self, arguments: Sequence[str], *, environment: Mapping[str, str]) -> str:
        """``sbatch --parsable ARGUMENTS`` with ``environment``; the new job's id."""
        out = self._run([self.sbatch, "--parsable", *arguments], environment=environment)
        job_id = out.strip().split(";", 1)[0]  # "id" or "id;cluster"
        if not job_id.isdigit():
            raise SlurmError(f"sbatch answered {out.strip()!r} instead of a job id")
        return job_id

    def jobs(self, job_ids: Collection[str]) -> dict[str, SlurmJob]:
        """The jobs of ``job_ids`` Slurm's controller still knows (finished ones too, for
        ``MinJobAge``), by id. A job it forgot is simply absent."""
        found: dict[str, SlurmJob] = {}
        ids = sorted(set(job_ids))
        for first in range(0, len(ids), _IDS_PER_CALL):
            chunk = ids[first : first + _IDS_PER_CALL]
            found.update(self._squeue(["--jobs=" + ",".join(chunk)]))
        return found

    def named(self, name: str) -> list[SlurmJob]:
        """The jobs called ``name`` that Slurm's controller knows, oldest first."""
        jobs = self._squeue([f"--name={name}"])
        return sorted(jobs.values(), key=lambda job: int(job.job_id))

    def cancel(self, job_id: str) -> None:
        """``scancel ID``: Slurm stops the job (SIGTERM to all its processes, SIGKILL after
        its ``KillWait``). A job that is already over is no error."""
        try:
            self._run([self.scancel, job_id])
        except SlurmError as exc:
            if "invalid job id" in exc.message.lower() or "already completing" in exc.message:
                return
            raise

    def accounting(self, job_id: str) -> SlurmJob | None:
        """How the job ended, from sacct; None without Slurm's accounting (or a record)."""
        try:
            out = self._run(
                [self.sacct, "--noheader", "--parsable2", "--allocations", f"--jobs={job_id}",
                 "--format=JobID,State,Reason,ExitCode,NodeList"]
            )  # fmt: skip
        except SlurmError as exc:
            log.debug("sacct knows nothing of job %s: %s", job_id, exc)
            return None
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) >= 5 and parts[0] == job_id:
                state_text = parts[1].strip()
                return SlurmJob(
                    job_id=job_id,
                    state=state_text.split(" ", 1)[0].rstrip("+"),
                    reason=parts[2],
                    nodes=parts[4],
                    state_text=state_text,
                    exit_code=parts[3],
                )
        return None

    # -- running ----------------------------------------------------------------------

    def _squeue(self, selection: list[str]) -> dict[str, SlurmJob]:
        command = [self.squeue, "--noheader", "--states=all", f"--Format={_SQUEUE_FORMAT}"]
        try:
            out = self._run([*command, *selection])
        except SlurmError as exc:
            if "invalid job id" in exc.message.lower():
                return {}  # every id asked for is forgotten
            raise
        return {job.job_id: job for job in parse_squeue(out)}

    def _run(self, command: list[str], *, environment: Mapping[str, str] | None = None) -> str:
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=None if environment is None else dict(environment),
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise SlurmError(f"{command[0]} is not installed (or not on PATH)") from None
        except subprocess.TimeoutExpired:
            raise SlurmError(
                f"{command[0]} did not answer within {self.timeout:.0f} s", transient=True
            ) from None
        if done.returncode:
            message = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
            transient = bool(_TRANSIENT.search(message))
            raise SlurmError(f"{command[0]}: {message}", transient=transient)
        return done.stdout


def parse_squeue(out: str) -> list[SlurmJob]:
    """The jobs of ``squeue --Format`` output in :data:`_SQUEUE_FIELDS`'s order."""
    jobs = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) < len(_SQUEUE_FIELDS):
            continue
        job_id, name, state, reason, restarts, nodes, start = (
            p.strip() for p in parts[: len(_SQUEUE_FIELDS)]
        )
        if not job_id:
            continue
        jobs.append(
            SlurmJob(
                job_id=job_id,
                state=state,
                reason=reason,
                name=name,
                restarts=int(restarts) if restarts.isdigit() else 0,
                nodes=nodes,
                start=start,
            )
        )
    return jobs
