"""Which Slurm job runs which resource: one small file per job in Slurm, in the data directory.

The Slurm executor must find its jobs again after a restart of the service (or a crash):
``{data_dir}/slurm/{resource_id}.json`` holds the Slurm job id and how many requeues of it
the service has seen. The file is written before ``sbatch`` without an id (an *intent*):
a service that dies between ``sbatch`` and writing the id finds the job by its name
instead of submitting it a second time. Every write is atomic and durable
(:mod:`wsrf_uws.core.atomic`).

Files rather than a column of the job store: the record is the executor's own
bookkeeping of another system, read only by the executor; it changes neither the store's
schema (and two stores' migrations) nor what the store means, and it is removed with the
job's life in Slurm. The store stays what the user sees: the phase, and a note naming
the Slurm job.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..core.atomic import write_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlurmRecord:
    """The Slurm job of one resource."""

    resource_id: str
    #: None: ``sbatch`` was about to be called (the id is unknown).
    job_id: str | None
    #: Slurm's restart count the service has dealt with (see the executor's requeues).
    restarts: int = 0


class SlurmRecords:
    """The records in ``folder`` (created on first use)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def intend(self, resource_id: str) -> None:
        """``sbatch`` is about to submit the resource's job."""
        self._write(SlurmRecord(resource_id, None))

    def record(self, resource_id: str, job_id: str, *, restarts: int = 0) -> None:
        """The resource runs as Slurm job ``job_id``, whose ``restarts`` requeues are dealt with."""
        self._write(SlurmRecord(resource_id, job_id, restarts))

    def forget(self, resource_id: str) -> None:
        """The resource has no job in Slurm any more."""
        with contextlib.suppress(FileNotFoundError):
            self._path(resource_id).unlink()

    def all(self) -> list[SlurmRecord]:
        """Every record; an unreadable one is logged and left out."""
        if not self.folder.is_dir():
            return []
        records = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                job_id = data["job_id"]
                records.append(
                    SlurmRecord(
                        resource_id=path.stem,
                        job_id=None if job_id is None else str(job_id),
                        restarts=int(data.get("restarts", 0)),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("unreadable Slurm record %s: %s", path, exc)
        return records

    def _path(self, resource_id: str) -> Path:
        if not (resource_id.isascii() and resource_id.isalnum()):
            raise ValueError(f"not a resource id: {resource_id!r}")
        return self.folder / f"{resource_id}.json"

    def _write(self, record: SlurmRecord) -> None:
        path = self._path(record.resource_id)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({"job_id": record.job_id, "restarts": record.restarts}))
