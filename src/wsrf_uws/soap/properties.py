"""The resource properties of a job, as elements.

Every contract exposes ``uwscore:JobState``, ``uwscore:Phase``, ``uws:job`` (the
UWS 1.1 JobSummary), ``wsrfrl:CurrentTime`` and ``wsrfrl:TerminationTime``, plus
its own state element. :class:`PropertyBuilder` renders them from a
:class:`~wsrf_uws.core.model.Job` snapshot; result URLs point at the service's
download route.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from lxml import etree

from ..core.contract import Contract
from ..core.model import ANONYMOUS, Job, ProgressStep, Result
from ..wire.names import CURRENT_TIME, JOB_STATE, PHASE, TERMINATION_TIME, UWS_JOB
from ..wire.namespaces import CORE, RL, UWS, XLINK, XSI, q
from ..wire.times import format_utc
from .addressing import endpoint_reference

#: How many built JobState elements a builder keeps.
_BUILT_STATES = 4096

#: Name of the resource-property document root each contract declares.
PROPERTIES_DOCUMENT = "JobProperties"


def duration_text(seconds: float) -> str:
    """An ``xs:duration`` for a number of seconds (``PT90S``, ``PT1.5S``)."""
    whole = int(seconds)
    return f"PT{whole}S" if whole == seconds else f"PT{seconds:.3f}".rstrip("0") + "S"


def result_url(base_url: str, job: Job, result: Result) -> str:
    """Where a client downloads ``result``: the service's route for local files."""
    if not result.is_local:
        return result.location
    return f"{base_url}/results/{job.resource_id}/{quote(result.name)}"


#: Where the UWS 1.1 REST binding serves each contract's job list (:mod:`wsrf_uws.rest`).
REST_PATH = "/rest"


def rest_job_url(base_url: str, job: Job) -> str:
    """The job's URL in the UWS 1.1 REST binding: ``{base}/rest/{contract}/{id}``."""
    return f"{base_url}{REST_PATH}/{job.contract}/{job.resource_id}"


class PropertyBuilder:
    """Renders the resource properties of one contract's jobs."""

    def __init__(self, *, contract: Contract, base_url: str) -> None:
        self.contract = contract
        self.base_url = base_url
        self.builders: dict[str, Callable[[Job, datetime], etree._Element | None]] = {
            JOB_STATE: self.job_state,
            PHASE: self.phase,
            UWS_JOB: self.uws_job,
            CURRENT_TIME: self.current_time,
            TERMINATION_TIME: self.termination_time,
        }
        if contract.state_name:
            self.builders[q(contract.namespace, contract.state_name)] = self.contract_state
        # The last JobState built per resource, with the snapshot it was built from: the
        # store hands out the same snapshot while a job is unchanged, and a poller asks
        # for this property again and again.
        self._built_states: dict[str, tuple[Job, etree._Element]] = {}

    @property
    def document_name(self) -> str:
        """The resource-property document root element of this contract."""
        return q(self.contract.namespace, PROPERTIES_DOCUMENT)

    def get(self, name: str, job: Job, now: datetime) -> list[etree._Element]:
        """The property ``name`` (Clark notation) of ``job``: zero or one element."""
        element = self.builders[name](job, now)
        return [] if element is None else [element]

    def document(self, job: Job, now: datetime) -> etree._Element:
        """Every property in one resource-property document."""
        root = etree.Element(self.document_name, nsmap={"tns": self.contract.namespace})
        for name in self.builders:
            root.extend(self.get(name, job, now))
        return root

    # -- the properties -----------------------------------------------------------------

    def phase(self, job: Job, now: datetime) -> etree._Element:
        element = etree.Element(PHASE, nsmap={"uwscore": CORE})
        element.text = str(job.phase)
        return element

    def current_time(self, job: Job, now: datetime) -> etree._Element:
        element = etree.Element(CURRENT_TIME, nsmap={"wsrfrl": RL})
        element.text = format_utc(now)
        return element

    def termination_time(self, job: Job, now: datetime) -> etree._Element:
        element = etree.Element(TERMINATION_TIME, nsmap={"wsrfrl": RL, "xsi": XSI})
        if job.termination_time is None:
            element.set(q(XSI, "nil"), "true")
        else:
            element.text = format_utc(job.termination_time)
        return element

    def contract_state(self, job: Job, now: datetime | None) -> etree._Element | None:
        return self.contract.state_element(
            job, result_url=lambda result: result_url(self.base_url, job, result)
        )

    def job_state(self, job: Job, now: datetime) -> etree._Element:
        built = self._built_states.get(job.resource_id)
        if built is not None and built[0] is job:
            return copy.deepcopy(built[1])
        state = self._build_job_state(job)
        if len(self._built_states) >= _BUILT_STATES:
            self._built_states.clear()  # rarely reached; rebuilding is cheap
        self._built_states[job.resource_id] = (job, state)
        return copy.deepcopy(state)

    def _build_job_state(self, job: Job) -> etree._Element:
        state = etree.Element(JOB_STATE, nsmap={"uwscore": CORE})

        def add(name: str, text: str, **attributes: str) -> etree._Element:
            child = etree.SubElement(state, q(CORE, name), attrib=attributes)
            child.text = text
            return child

        add("Phase", str(job.phase))
        add("CreationTime", format_utc(job.creation_time))
        if job.start_time:
            add("StartTime", format_utc(job.start_time))
        if job.end_time:
            add("EndTime", format_utc(job.end_time))
        add("ExecutionDuration", str(job.execution_duration))
        if job.quote.duration is not None:
            add("EstimatedDuration", duration_text(job.quote.duration.total_seconds()))
        for quantity, amount in sorted(job.quote.cost.items()):
            add("EstimatedCost", repr(float(amount)), quantity=quantity)
        if job.progress.fraction is not None:
            add("FractionComplete", repr(min(1.0, max(0.0, float(job.progress.fraction)))))
        for step in job.progress.steps:
            state.append(_step(step))
        if job.error is not None:
            error = etree.SubElement(state, q(CORE, "Error"), type=str(job.error.type))
            etree.SubElement(error, q(CORE, "Message")).text = job.error.message
            if job.error.detail:
                etree.SubElement(error, q(CORE, "Detail")).text = job.error.detail
        for result in job.results:
            attributes = {
                "name": result.name,
                q(XLINK, "href"): result_url(self.base_url, job, result),
                "mimeType": result.mime_type,
            }
            if result.size is not None:
                attributes["size"] = str(result.size)
            etree.SubElement(state, q(CORE, "Result"), attrib=attributes, nsmap={"xlink": XLINK})
        if job.note:
            add("Note", job.note)
        add("RunCount", str(job.run_count))
        contract_part = self.contract_state(job, None)
        if contract_part is not None:
            state.append(contract_part)
        return state

    def uws_job(self, job: Job, now: datetime) -> etree._Element:
        """The UWS 1.1 JobSummary (valid against UWS 1.1, parseable by pyvo)."""
        root = etree.Element(UWS_JOB, nsmap={"uws": UWS, "xlink": XLINK, "xsi": XSI})
        root.set("version", "1.1")

        def add(name: str, text: str | None, *, parent: etree._Element = root) -> None:
            child = etree.SubElement(parent, q(UWS, name))
            if text is None:
                child.set(q(XSI, "nil"), "true")
            else:
                child.text = text

        def time(value: datetime | None) -> str | None:
            return None if value is None else format_utc(value)

        add("jobId", job.resource_id)
        if job.run_id is not None:
            add("runId", job.run_id)
        add("ownerId", None if job.owner == ANONYMOUS else job.owner)
        add("phase", str(job.phase))
        if job.quote.duration is not None:
            add("quote", format_utc(job.creation_time + job.quote.duration))
        add("creationTime", time(job.creation_time))
        add("startTime", time(job.start_time))
        add("endTime", time(job.end_time))
        add("executionDuration", str(job.execution_duration))
        add("destruction", time(job.termination_time))
        results = etree.SubElement(root, q(UWS, "results"))
        for result in job.results:
            reference = etree.SubElement(results, q(UWS, "result"), id=result.name)
            reference.set(q(XLINK, "type"), "simple")
            reference.set(q(XLINK, "href"), result_url(self.base_url, job, result))
            if result.size is not None:
                reference.set("size", str(result.size))
            reference.set("mime-type", result.mime_type)
        if job.error is not None:
            summary = etree.SubElement(
                root,
                q(UWS, "errorSummary"),
                type=str(job.error.type),
                hasDetail="false",
            )
            add("message", job.error.message, parent=summary)
        info = etree.SubElement(root, q(UWS, "jobInfo"))
        contract_part = self.contract_state(job, None)
        if contract_part is not None:
            info.append(contract_part)
        info.append(self.job_reference(job))
        return root

    def job_reference(self, job: Job) -> etree._Element:
        """``uwscore:JobReference``: the job's two addresses, its WS-Addressing endpoint
        reference (SOAP) and its REST URL, so a client of either binding finds the other."""
        reference = etree.Element(q(CORE, "JobReference"), nsmap={"uwscore": CORE})
        address = job.address or f"{self.base_url}/uws/{job.contract}"
        reference.append(endpoint_reference(address, job.resource_id))
        etree.SubElement(reference, q(CORE, "RestUrl")).text = rest_job_url(self.base_url, job)
        return reference


def _step(step: ProgressStep) -> etree._Element:
    element = etree.Element(q(CORE, "Step"), label=step.label, status=str(step.status))
    if step.detail:
        etree.SubElement(element, q(CORE, "Detail")).text = step.detail
    for substep in step.substeps:
        element.append(_step(substep))
    return element
