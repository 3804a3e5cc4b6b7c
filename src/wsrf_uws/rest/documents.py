"""The UWS 1.1 documents of the REST binding: ``uws:jobs``, ``uws:job`` and its parts.

``uws:job`` is the very element the SOAP binding serves as the job's ``uws:job``
resource property (:class:`~wsrf_uws.soap.properties.PropertyBuilder`), so both bindings
describe a job alike; ``uws:results`` is its ``results`` child. The job's description
(the JDL document) is its one parameter, ``jdl``, given by reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from lxml import etree

from ..core.model import ANONYMOUS, Job
from ..soap.properties import PropertyBuilder
from ..wire.namespaces import UWS, XLINK, XSI, q
from ..wire.times import format_utc

#: The one UWS parameter of every job: its description, as the client sent it.
JDL_PARAMETER = "jdl"


def serialize(element: etree._Element) -> bytes:
    """``element`` as a document, UTF-8 with its declaration."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


def job_document(
    builder: PropertyBuilder, job: Job, now: datetime, *, job_info: bool = True
) -> bytes:
    """``uws:job`` (version 1.1) of ``job``; without ``jobInfo`` unless ``job_info``
    (:class:`~wsrf_uws.rest.face.JobListFace`)."""
    element = builder.uws_job(job, now)
    if not job_info:
        for info in element.findall(q(UWS, "jobInfo")):
            element.remove(info)
        etree.cleanup_namespaces(element)
    return serialize(element)


def results_document(builder: PropertyBuilder, job: Job, now: datetime) -> bytes:
    """``uws:results``: the job's results, each linking to its file."""
    results = builder.uws_job(job, now).find(q(UWS, "results"))
    assert results is not None  # uws_job always writes it (the schema requires it)
    return serialize(results)


def parameters_document(job: Job, *, job_url: str) -> bytes:
    """``uws:parameters``: the job description, by reference."""
    root = etree.Element(q(UWS, "parameters"), nsmap={"uws": UWS})
    parameter = etree.SubElement(root, q(UWS, "parameter"), id=JDL_PARAMETER)
    parameter.set("byReference", "true")
    parameter.text = f"{job_url}/parameters/{JDL_PARAMETER}"
    return serialize(root)


def jobs_document(jobs: Iterable[Job], *, list_url: str) -> bytes:
    """``uws:jobs`` (version 1.1): one ``jobref`` per job, newest first as given."""
    root = etree.Element(q(UWS, "jobs"), nsmap={"uws": UWS, "xlink": XLINK, "xsi": XSI})
    root.set("version", "1.1")
    for job in jobs:
        reference = etree.SubElement(root, q(UWS, "jobref"), id=job.resource_id)
        reference.set(q(XLINK, "type"), "simple")
        reference.set(q(XLINK, "href"), f"{list_url}/{job.resource_id}")
        etree.SubElement(reference, q(UWS, "phase")).text = str(job.phase)
        owner = etree.SubElement(reference, q(UWS, "ownerId"))
        if job.owner == ANONYMOUS:
            owner.set(q(XSI, "nil"), "true")
        else:
            owner.text = job.owner
        etree.SubElement(reference, q(UWS, "creationTime")).text = format_utc(job.creation_time)
    return serialize(root)


def owner_text(job: Job) -> str:
    """``/owner``: the owner's name; empty for an anonymous job (``xsi:nil`` in ``uws:job``)."""
    return "" if job.owner == ANONYMOUS else job.owner


def quote_text(job: Job) -> str:
    """``/quote``: when the job is expected to end, or empty when not known (§2.2.1)."""
    if job.quote.duration is None:
        return ""
    return format_utc(job.creation_time + job.quote.duration)


def destruction_text(job: Job) -> str:
    """``/destruction``: the job's destruction time; empty for an infinite lifetime."""
    return "" if job.termination_time is None else format_utc(job.termination_time)


def error_text(job: Job) -> str:
    """``/error``: the error summary's message and detail; empty when there is none."""
    if job.error is None:
        return ""
    return job.error.message + (f"\n\n{job.error.detail}" if job.error.detail else "")
