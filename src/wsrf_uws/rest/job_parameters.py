"""``POST {job}/parameters`` (UWS 1.1 §2.2.3): what a client may change of a PENDING job.

UWS 1.1 lets a service take parameter changes while a job is PENDING. This one takes
``RUNID``, the client's own label of the job (shown as ``uws:runId``), changed by a
compare-and-set on the phase in the store (:meth:`~wsrf_uws.core.service.JobService.set_run_id`).
A job's description (its JDL, or TAP's ``QUERY``, ``LANG``, ``MAXREC``... written as one)
is refused (403) even while PENDING: the contract checked, quoted and planned it at
creation, and the quote, the limits and the result's columns a client may already have
read come from that check; a new query is a new job. After PENDING nothing changes
(409, as for every change the phase does not allow).
"""

from __future__ import annotations

from ..core.model import Job
from ..core.phases import Phase
from ..core.service import JobService
from .html import TOKEN_FIELD
from .http import RestError, RestRequest, bad_parameter

#: The one parameter ``POST {job}/parameters`` changes.
RUN_ID = "RUNID"


def change_parameters(request: RestRequest, job: Job, *, service: JobService, contract: str) -> Job:
    """Apply the parameters posted to ``{job}/parameters``; the job as recorded after.

    Nothing is changed unless every posted parameter can be: a description parameter
    next to ``RUNID`` refuses the whole request.
    """
    names = sorted(set(request.parameters) - {TOKEN_FIELD})
    if not names:
        raise bad_parameter(f"POST {RUN_ID}=<label> to change the job's RUNID")
    fixed = [name for name in names if name != RUN_ID]
    if fixed:
        if job.phase is not Phase.PENDING:
            raise _not_pending(job)
        raise RestError(
            "403 Forbidden",
            f"job {job.resource_id}: {', '.join(fixed)} cannot be changed: a job's description "
            f"is checked, quoted and fixed when the job is created (only {RUN_ID} changes "
            "while it is PENDING); create a new job instead",
        )
    run_id = request.one(RUN_ID) or None  # an empty RUNID clears the label
    return service.set_run_id(job.resource_id, owner=job.owner, run_id=run_id, contract=contract)


def _not_pending(job: Job) -> RestError:
    return RestError(
        "409 Conflict",
        f"job {job.resource_id} is {job.phase}: parameters change only while a job is PENDING",
    )
