"""The lifecycle of pattern §2.1, one job from createJob to Destroy.

createJob → EPR → PENDING → startJob → poll ``uwscore:Phase`` to a final phase →
JobState and ``uws:job`` → result links and downloads → startJob again (refused) →
the property document → GetMultipleResourceProperties → SetTerminationTime → Destroy
→ the resource and its results are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from lxml import etree

from ..names import (
    CURRENT_TIME,
    FINAL_PHASES,
    INVALID_PHASE,
    JOB_STATE,
    PHASE,
    RESOURCE_ID,
    RESOURCE_UNKNOWN,
    RL,
    RP,
    STANDARD_PROPERTIES,
    TERMINATION_TIME,
    UWS_JOB,
    WSA,
    q,
    short,
)
from ..outcomes import CheckFailed, CheckSkipped, require
from ..protocol import Endpoint, EndpointReference
from ..replies import (
    expect_fault,
    expect_response,
    format_time,
    get_phase,
    parse_time,
    reply_phase,
    wait_for_phase,
)
from .base import Check, Context, Group, Recorder, cleanup, create_job
from .jobs import (
    check_job_state,
    check_uws_job,
    download_status,
    error_message,
    identifier_bits,
    link_problems,
    result_links,
    served_by,
    server_now,
    single_property,
)

CREATE = Check(
    "lifecycle.create-job",
    "pattern §2.1.1; DESIGN §2 createJob",
    "createJob with the job description answers createJobResponse holding one "
    "wsa:EndpointReference",
)
EPR = Check(
    "lifecycle.endpoint-reference",
    "pattern §2.3; DESIGN §2 resource identifier",
    "the EPR has an absolute wsa:Address and a uwscore:ResourceId reference parameter of "
    "at least 128 bits",
)
PENDING = Check(
    "lifecycle.pending", "DESIGN §4 createJob → PENDING", "a new job is PENDING (uwscore:Phase)"
)
START = Check(
    "lifecycle.start-job",
    "pattern §2.1.2; DESIGN §2 startJob, §4",
    "startJob answers startJobResponse with the phase after the call: QUEUED, EXECUTING or "
    "COMPLETED",
)
COMPLETES = Check(
    "lifecycle.completes",
    "pattern §2.1.3; DESIGN §4 → COMPLETED",
    "polling uwscore:Phase reaches COMPLETED within --timeout",
)
JOB_STATE_CHECK = Check(
    "lifecycle.job-state",
    "pattern §2.2; DESIGN §2 resource properties",
    "uwscore:JobState holds the phase, CreationTime (UTC, Z) and RunCount ≥ 1",
)
UWS_JOB_CHECK = Check(
    "lifecycle.uws-job",
    "DESIGN §2 uws:job; UWS 1.1 §2.2",
    "uws:job is valid UWS 1.1, its jobId is the ResourceId and its phase the job's",
)
RESULT_LINKS = Check(
    "lifecycle.result-links",
    "DESIGN §2 result links (xlink:href, never a bare href)",
    "each uwscore:Result and uws:result names its file with xlink:href",
)
DOWNLOADS = Check(
    "lifecycle.result-download",
    "DESIGN §2 result files",
    "every result link on the service downloads over HTTP (200) with the owner's credentials",
)
START_FINAL = Check(
    "lifecycle.start-final",
    "DESIGN §4 startJob in a final phase",
    "startJob on a finished job answers InvalidPhaseFault and leaves the job as it was",
)
DOCUMENT = Check(
    "lifecycle.property-document",
    "DESIGN §2 GetResourcePropertyDocument; WS-ResourceProperties 1.2",
    "GetResourcePropertyDocument returns one document holding every standard property",
)
MULTIPLE = Check(
    "lifecycle.multiple-properties",
    "DESIGN §2 GetMultipleResourceProperties; WS-ResourceProperties 1.2",
    "GetMultipleResourceProperties returns the properties asked for",
)
TERMINATION = Check(
    "lifecycle.set-termination-time",
    "pattern §2.1.5; WS-ResourceLifetime 1.2 SetTerminationTime",
    "a future termination time is accepted: NewTerminationTime and CurrentTime, and the "
    "TerminationTime property follows",
)
DESTROY = Check(
    "lifecycle.destroy",
    "pattern §2.1.6; WS-ResourceLifetime 1.2 Destroy",
    "Destroy answers DestroyResponse",
)
DESTROYED = Check(
    "lifecycle.destroyed-unknown",
    "pattern §2.1.6; DESIGN §2 faults (destroyed → ResourceUnknownFault)",
    "after Destroy the resource answers wsrfr:ResourceUnknownFault",
)
RESULTS_GONE = Check(
    "lifecycle.results-removed",
    "DESIGN §2 result files (after Destroy: 404)",
    "after Destroy the job's result files answer 404",
)

CHECKS = (
    CREATE,
    EPR,
    PENDING,
    START,
    COMPLETES,
    JOB_STATE_CHECK,
    UWS_JOB_CHECK,
    RESULT_LINKS,
    DOWNLOADS,
    START_FINAL,
    DOCUMENT,
    MULTIPLE,
    TERMINATION,
    DESTROY,
    DESTROYED,
    RESULTS_GONE,
)


@dataclass
class _Lifecycle:
    """One job followed through the checks; each check skips when an earlier one left no job."""

    context: Context
    endpoint: Endpoint
    jdl: etree._Element
    epr: EndpointReference | None = None
    phase: str | None = None
    run_count: int | None = None
    links: list[str] | None = None
    destroyed: bool = False
    created: list[EndpointReference] = field(default_factory=list)

    def job(self) -> EndpointReference:
        if self.epr is None:
            raise CheckSkipped("no job: createJob failed")
        return self.epr

    def finished(self) -> EndpointReference:
        epr = self.job()
        if self.phase not in FINAL_PHASES:
            raise CheckSkipped("the job never reached a final phase")
        return epr

    def create(self) -> str:
        self.epr = create_job(self.endpoint, self.jdl)
        self.created.append(self.epr)
        return f"createJob answered an EPR for {self.epr.address}"

    def endpoint_reference(self) -> str:
        epr = self.job()
        require(epr.namespace == WSA, f"the EPR is in {epr.namespace}, not WS-Addressing 1.0")
        require(
            epr.address.startswith(("http://", "https://")),
            f"wsa:Address {epr.address!r} is not an absolute http(s) URL",
        )
        identifiers = [p for p in epr.reference_parameters if p.tag == RESOURCE_ID]
        require(
            len(identifiers) == 1,
            "wsa:ReferenceParameters must hold one uwscore:ResourceId, not "
            + (", ".join(short(str(p.tag)) for p in epr.reference_parameters) or "nothing"),
        )
        resource_id = epr.resource_id or ""
        bits = identifier_bits(resource_id)
        require(
            bits >= 128,
            f"ResourceId {resource_id!r} can carry at most {bits:.0f} bits, not 128",
        )
        where = "" if epr.address == self.endpoint.url else f" (a node address: {epr.address})"
        return f"ResourceId of up to {bits:.0f} bits{where}"

    def pending(self) -> str:
        phase = get_phase(self.endpoint, self.job())
        require(phase == "PENDING", f"a new job is {phase}, not PENDING")
        return "the new job is PENDING"

    def start(self) -> str:
        namespace = self.endpoint.namespace
        phase = reply_phase(
            self.endpoint.start_job(self.job()),
            operation="startJob",
            response=q(namespace, "startJobResponse"),
        )
        require(
            phase in ("QUEUED", "EXECUTING", "COMPLETED"),
            f"startJob answered the phase {phase}, not QUEUED, EXECUTING or COMPLETED",
        )
        return f"startJob answered {phase}"

    def completes(self) -> str:
        epr = self.job()
        phase, seen = wait_for_phase(
            self.endpoint, epr, FINAL_PHASES, timeout=self.context.options.timeout
        )
        self.phase = phase
        if phase != "COMPLETED":
            state = single_property(self.endpoint, epr, JOB_STATE)
            raise CheckFailed(f"the job ended {phase}{error_message(state)}")
        return "phases seen: " + " → ".join(seen)

    def job_state(self) -> str:
        epr = self.finished()
        state = single_property(self.endpoint, epr, JOB_STATE)
        phase, run_count = check_job_state(state)
        require(phase == self.phase, f"JobState says {phase}, uwscore:Phase said {self.phase}")
        require(run_count >= 1, f"a finished job has RunCount {run_count}")
        self.run_count = run_count
        return f"JobState {phase}, RunCount {run_count}"

    def uws_job(self) -> str:
        epr = self.finished()
        job = single_property(self.endpoint, epr, UWS_JOB)
        phase = check_uws_job(job, resource_id=epr.resource_id)
        require(phase == self.phase, f"uws:job says {phase}, uwscore:Phase said {self.phase}")
        return "valid UWS 1.1, jobId = ResourceId"

    def result_links(self) -> str:
        epr = self.finished()
        state = single_property(self.endpoint, epr, JOB_STATE)
        job = single_property(self.endpoint, epr, UWS_JOB)
        self.links = result_links(state, job)
        if not self.links:
            raise CheckSkipped("the job lists no results")
        problems = link_problems(state, job)
        require(not problems, "; ".join(problems))
        return f"{len(self.links)} result link(s), all xlink:href"

    def downloads(self) -> str:
        self.finished()
        if self.links is None:
            raise CheckSkipped("no result links were read")
        own = self._own_links()
        for link in own:
            status = download_status(
                link,
                credentials=self.context.options.user,
                timeout=self.context.options.request_timeout,
            )
            require(status == 200, f"GET {link} answered HTTP {status}, not 200")
        return f"{len(own)} result file(s) downloaded"

    def _own_links(self) -> list[str]:
        if not self.links:
            raise CheckSkipped("the job lists no results")
        own = [u for u in self.links or [] if served_by(u, self.context.options.base_url)]
        if not own:
            raise CheckSkipped("no result link points at the service itself")
        return own

    def start_final(self) -> str:
        epr = self.finished()
        fault = expect_fault(
            self.endpoint.start_job(epr), (INVALID_PHASE,), operation="startJob on a final job"
        )
        phase = get_phase(self.endpoint, epr)
        require(phase == self.phase, f"after the refused startJob the job is {phase}")
        state = single_property(self.endpoint, epr, JOB_STATE)
        _, run_count = check_job_state(state)
        require(
            self.run_count is None or run_count == self.run_count,
            f"the refused startJob changed RunCount from {self.run_count} to {run_count}",
        )
        return f"answered {short(fault.detail_tag)}; the job is still {phase}"

    def document(self) -> str:
        epr = self.job()
        body = expect_response(
            self.endpoint.get_document(epr),
            q(RP, "GetResourcePropertyDocumentResponse"),
            operation="GetResourcePropertyDocument",
        )
        roots = [child for child in body if isinstance(child.tag, str)]
        require(len(roots) == 1, f"the response holds {len(roots)} elements, not one document")
        found = [str(child.tag) for child in roots[0] if isinstance(child.tag, str)]
        missing = [short(name) for name in STANDARD_PROPERTIES if found.count(name) != 1]
        require(not missing, f"the document {short(str(roots[0].tag))} lacks {', '.join(missing)}")
        return f"{short(str(roots[0].tag))} holds every standard property"

    def multiple(self) -> str:
        epr = self.job()
        body = expect_response(
            self.endpoint.get_properties(epr, [PHASE, TERMINATION_TIME]),
            q(RP, "GetMultipleResourcePropertiesResponse"),
            operation="GetMultipleResourceProperties",
        )
        found = [str(child.tag) for child in body if isinstance(child.tag, str)]
        for name in (PHASE, TERMINATION_TIME):
            require(found.count(name) == 1, f"the response holds {found.count(name)} {short(name)}")
        return "uwscore:Phase and wsrfrl:TerminationTime returned"

    def termination(self) -> str:
        epr = self.job()
        asked = (server_now(self.endpoint, epr) + timedelta(hours=1)).replace(microsecond=0)
        body = expect_response(
            self.endpoint.set_termination_time(epr, format_time(asked)),
            q(RL, "SetTerminationTimeResponse"),
            operation="SetTerminationTime",
        )
        new = parse_time(body.findtext(q(RL, "NewTerminationTime")), what="NewTerminationTime")
        parse_time(body.findtext(q(RL, "CurrentTime")), what="CurrentTime")
        require(
            abs((new - asked).total_seconds()) <= 1,
            f"NewTerminationTime {format_time(new)} is not the time asked, {format_time(asked)}",
        )
        element = single_property(self.endpoint, epr, TERMINATION_TIME)
        now = parse_time(element.text, what="wsrfrl:TerminationTime")
        require(
            abs((now - new).total_seconds()) <= 1,
            f"the TerminationTime property is {element.text}, not {format_time(new)}",
        )
        return f"termination time set to {format_time(new)}"

    def destroy(self) -> str:
        epr = self.job()
        expect_response(self.endpoint.destroy(epr), q(RL, "DestroyResponse"), operation="Destroy")
        self.destroyed = True
        return "DestroyResponse"

    def destroyed_unknown(self) -> str:
        epr = self.job()
        if not self.destroyed:
            raise CheckSkipped("Destroy failed")
        for name in (PHASE, CURRENT_TIME):
            expect_fault(
                self.endpoint.get_property(epr, name),
                (RESOURCE_UNKNOWN,),
                operation=f"GetResourceProperty {short(name)} after Destroy",
            )
        return "ResourceUnknownFault"

    def results_gone(self) -> str:
        self.job()
        if not self.destroyed:
            raise CheckSkipped("Destroy failed")
        if self.links is None:
            raise CheckSkipped("no result links were read")
        own = self._own_links()
        for link in own:
            status = download_status(
                link,
                credentials=self.context.options.user,
                timeout=self.context.options.request_timeout,
            )
            require(status == 404, f"after Destroy GET {link} answered HTTP {status}, not 404")
        return f"{len(own)} result file(s) answer 404"


def run(context: Context, recorder: Recorder) -> None:
    """Run the lifecycle checks."""
    endpoint = context.endpoint()
    try:
        jdl = context.jdl()
    except CheckSkipped as skipped:
        recorder.skip_remaining(skipped.reason)
        return
    job = _Lifecycle(context=context, endpoint=endpoint, jdl=jdl)
    with cleanup(endpoint, job.created):
        steps = (
            (CREATE, job.create),
            (EPR, job.endpoint_reference),
            (PENDING, job.pending),
            (START, job.start),
            (COMPLETES, job.completes),
            (JOB_STATE_CHECK, job.job_state),
            (UWS_JOB_CHECK, job.uws_job),
            (RESULT_LINKS, job.result_links),
            (DOWNLOADS, job.downloads),
            (START_FINAL, job.start_final),
            (DOCUMENT, job.document),
            (MULTIPLE, job.multiple),
            (TERMINATION, job.termination),
            (DESTROY, job.destroy),
            (DESTROYED, job.destroyed_unknown),
            (RESULTS_GONE, job.results_gone),
        )
        for check, body in steps:
            recorder.run(check, body)


GROUP = Group("lifecycle", CHECKS, run)
