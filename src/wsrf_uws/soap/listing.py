"""``listJobs``: the caller's own jobs as endpoint references, with UWS 1.1's filters.

The operation is the service's, not a job's: it names no resource, and it answers the
caller's jobs of every contract the same way at every contract endpoint (each entry's
endpoint reference names the job's own contract endpoint). The filters are UWS 1.1's
(§2.2.2.1): ``Phase`` (repeatable; none: every phase but ARCHIVED), ``After`` (created
after that instant) and ``Last`` (the most recent n). An answer holds at most
``max_rows`` jobs: a ``Last`` beyond it is refused with a fault naming the limit, and a
list without ``Last`` that matches more is cut there, newest first, with
``Truncated`` true.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ..core.model import Job
from ..core.phases import Phase
from ..core.service import JobService
from ..wire.namespaces import CORE, XSI, q
from ..wire.times import format_utc
from .addressing import endpoint_reference
from .faults import RequestError
from .values import read_datetime

#: Default of the most jobs one listJobs answer holds (``max_listed_jobs``).
DEFAULT_MAX_LISTED_JOBS = 1000


@dataclass(frozen=True)
class ListRequest:
    """The filters of one listJobs request (already checked against the schema)."""

    phases: frozenset[Phase]
    after: datetime | None
    last: int | None

    @classmethod
    def read(cls, body: etree._Element) -> ListRequest:
        """The filters ``body`` (a ``uwscore:listJobs`` element) asks for."""
        phases = frozenset(Phase((e.text or "").strip()) for e in body.iter(q(CORE, "Phase")))
        after = body.find(q(CORE, "After"))
        last = body.find(q(CORE, "Last"))
        return cls(
            phases=phases,
            after=None if after is None else read_datetime(after.text or ""),
            last=None if last is None else int((last.text or "").strip()),
        )


@dataclass(frozen=True)
class JobList:
    """The jobs of one answer, newest first, and whether more matched than it holds."""

    jobs: list[Job]
    truncated: bool


def list_jobs(service: JobService, *, owner: str, request: ListRequest, max_rows: int) -> JobList:
    """The jobs of ``owner`` that ``request`` selects, at most ``max_rows`` of them."""
    if request.last is not None and request.last > max_rows:
        raise RequestError(
            "too-many-jobs",
            f"Last={request.last} asks for more jobs than this service lists at once "
            f"(at most {max_rows}); ask for fewer, or page with After",
        )
    # One row more than the answer holds says whether the list goes on.
    jobs = service.list_jobs(
        owner=owner,
        phases=request.phases or None,
        after=request.after,
        last=request.last if request.last is not None else max_rows + 1,
    )
    return JobList(jobs=jobs[:max_rows], truncated=len(jobs) > max_rows)


def list_response(listing: JobList, *, addressing: str, base_url: str) -> etree._Element:
    """The ``uwscore:listJobsResponse`` of ``listing``.

    Each EPR is in the caller's ``addressing`` namespace and names the job's recorded
    Address (a job recorded without one: its contract's endpoint under ``base_url``).
    """
    response = etree.Element(q(CORE, "listJobsResponse"), nsmap={"uwscore": CORE, "xsi": XSI})
    for job in listing.jobs:
        address = job.address or f"{base_url}/uws/{job.contract}"
        entry = etree.SubElement(response, q(CORE, "Job"))
        entry.append(endpoint_reference(address, job.resource_id, namespace=addressing))
        etree.SubElement(entry, q(CORE, "Contract")).text = job.contract
        etree.SubElement(entry, q(CORE, "Phase")).text = str(job.phase)
        etree.SubElement(entry, q(CORE, "CreationTime")).text = format_utc(job.creation_time)
        ends = etree.SubElement(entry, q(CORE, "TerminationTime"))
        if job.termination_time is None:
            ends.set(q(XSI, "nil"), "true")
        else:
            ends.text = format_utc(job.termination_time)
    truncated = etree.SubElement(response, q(CORE, "Truncated"))
    truncated.text = "true" if listing.truncated else "false"
    return response
