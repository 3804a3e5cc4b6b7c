"""What the Slurm executor asks of ``sbatch`` for one job.

Each job is a batch job named ``wsrf-uws-{resource_id}`` whose one command is
``wsrf-uws run-job ID`` (:mod:`wsrf_uws.run_job`) on a compute node. An isolated job may
be requeued by Slurm after a node failure (``--requeue``); any other job writes outside
the service, so it must never start twice unasked (``--no-requeue``): it goes to HELD.
Slurm's ``--time`` is the job's execution duration plus a margin: the service stops the
job on its own timer, and Slurm's limit (enforced late, on its own schedule) is only the
backstop.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: The prefix of the name of every Slurm job of the service.
JOB_NAME_PREFIX = "wsrf-uws-"


@dataclass(frozen=True)
class SlurmJobOptions:
    """What the jobs of one contract ask of Slurm (empty or 0: the site's default)."""

    partition: str = ""
    account: str = ""
    #: Memory per node in MiB (--mem).
    memory_mb: int = 0
    #: CPUs of the job's one task (--cpus-per-task).
    cpus: int = 0
    #: Largest --time in seconds, whatever the execution duration (0: none).
    time_limit_cap: int = 0
    extra_args: tuple[str, ...] = field(default_factory=tuple)


def job_name(resource_id: str) -> str:
    """The Slurm job name of a resource: the whole id, so a job can be found by its name."""
    return JOB_NAME_PREFIX + resource_id


def slurm_time(seconds: int) -> str:
    """``seconds`` as Slurm's ``D-HH:MM:SS``, rounded up to whole minutes (Slurm's unit)."""
    minutes = -(-seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}-{hours:02d}:{minutes:02d}:00"


def time_limit(execution_duration: int, *, margin: int, cap: int) -> int:
    """The seconds asked of Slurm's ``--time`` (0: none asked, the partition's default)."""
    limit = execution_duration + margin if execution_duration else 0
    if cap and (limit == 0 or limit > cap):
        limit = cap
    return limit


def sbatch_arguments(
    *,
    resource_id: str,
    command: Sequence[str],
    options: SlurmJobOptions,
    isolated: bool,
    time_limit_seconds: int,
    workdir: Path,
    output: Path,
    error: Path,
) -> list[str]:
    """The arguments of ``sbatch --parsable`` for one job (the command runs in ``workdir``;
    ``output`` and ``error`` may hold Slurm's ``%j``, the job id)."""
    arguments = [
        f"--job-name={job_name(resource_id)}",
        "--requeue" if isolated else "--no-requeue",
        # The command reads the service's settings from its environment, as the service did.
        "--export=ALL",
        f"--chdir={workdir}",
        f"--output={output}",
        f"--error={error}",
        # A requeued job's second run adds to the first one's files.
        "--open-mode=append",
        "--ntasks=1",
    ]
    if time_limit_seconds:
        arguments.append(f"--time={slurm_time(time_limit_seconds)}")
    if options.partition:
        arguments.append(f"--partition={options.partition}")
    if options.account:
        arguments.append(f"--account={options.account}")
    if options.memory_mb:
        arguments.append(f"--mem={options.memory_mb}M")
    if options.cpus:
        arguments.append(f"--cpus-per-task={options.cpus}")
    arguments += options.extra_args
    # exec: the command is the batch step's main process, which Slurm signals directly.
    arguments.append("--wrap=exec " + shlex.join(command))
    return arguments
