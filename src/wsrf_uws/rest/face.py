"""How a job list presents its jobs: as the REST binding of the pattern, or as the
asynchronous endpoint of a VO data-access protocol (TAP 1.1's ``/tap/async``).

The jobs, owners and operations are the same under both; what differs is what each
protocol's clients and validators expect of the documents and of a bad request:

- ``/rest/{contract}`` (:data:`REST_FACE`) is this service's own binding: a job's
  ``uws:job`` carries, in ``jobInfo``, its WS-Addressing endpoint reference, its REST URL
  and the contract's state, so that a client of either binding finds the other; a
  description the contract refuses is refused at creation (400), as createJob over SOAP
  refuses it with an ``InvalidJobDescriptionFault``.
- A DAL service's async endpoint (:data:`DAL_FACE`) serves plain UWS 1.1 documents: no
  ``jobInfo`` (its contents are in namespaces no IVOA schema describes, which validators
  such as STILTS taplint flag; the same job's full document is at ``/rest/{contract}``);
  a refused description becomes a job that ended in ERROR saying why (TAP 1.1 §2.3, DALI:
  the error of an asynchronous query is reported by its job), and ``{job}/error`` is a
  DALI error document (a VOTable whose ``QUERY_STATUS`` is ``ERROR``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobListFace:
    """What a job list's documents hold and how it answers a refused description."""

    #: ``uws:job`` carries ``jobInfo`` (the job's EPR and REST URL, the contract's state).
    job_info: bool = True
    #: A description the contract refuses is recorded as a job in ERROR, not refused.
    refused_as_jobs: bool = False
    #: ``{job}/error`` is a DALI error VOTable rather than plain text.
    dali_errors: bool = False


#: ``/rest/{contract}``: the pattern's REST binding.
REST_FACE = JobListFace()

#: The asynchronous endpoint of a DAL service (``/tap/async``).
DAL_FACE = JobListFace(job_info=False, refused_as_jobs=True, dali_errors=True)
