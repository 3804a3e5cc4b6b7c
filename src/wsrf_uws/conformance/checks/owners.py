"""Owner isolation (DESIGN §2, §4 identity): another owner's job looks exactly like none.

The first user (``--user``) creates a job; the other user (``--other-user``) and an
anonymous caller then address it, and each answer is compared with the answer the same
caller gets for a random identifier no service issued. Same fault element, faultcode,
HTTP status and texts (identifiers and timestamps aside): anything else tells the caller
that the job exists. Afterwards the first user's job must be untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lxml import etree

from ..names import (
    BF,
    FINAL_PHASES,
    JOB_STATE,
    PHASE,
    RESOURCE_UNKNOWN,
    UWS,
    UWS_JOB,
    WSA,
    WSA_2004,
    q,
)
from ..outcomes import CheckFailed, CheckSkipped, require
from ..protocol import Endpoint, EndpointReference
from ..replies import get_phase, wait_for_phase
from ..wire import Reply
from .base import Check, Context, Group, Recorder, cleanup, create_job_or_skip
from .jobs import (
    download_status,
    random_resource_id,
    result_links,
    served_by,
    single_property,
)

OWNER_ID = Check(
    "owners.owner-id",
    "DESIGN §2 (an authenticated job's uws:ownerId carries the user name)",
    "the first user's job has uws:ownerId = the user name",
)
GET_HIDDEN = Check(
    "owners.get-property-hidden",
    "DESIGN §2 faults (never reveal another owner's job); §4 identity",
    "the other user's GetResourceProperty on the job is answered as for an unknown id",
)
START_HIDDEN = Check(
    "owners.start-hidden",
    "DESIGN §2 faults (never reveal another owner's job); §4 identity",
    "the other user's startJob on the job is answered as for an unknown id",
)
DESTROY_HIDDEN = Check(
    "owners.destroy-hidden",
    "DESIGN §2 faults (never reveal another owner's job); §4 identity",
    "the other user's Destroy on the job is answered as for an unknown id",
)
ANONYMOUS_HIDDEN = Check(
    "owners.anonymous-hidden",
    "DESIGN §2 faults (never reveal another owner's job); §4 identity",
    "an anonymous GetResourceProperty on the job is answered as for an unknown id",
)
UNTOUCHED = Check(
    "owners.untouched",
    "DESIGN §4 (every resource operation checks the owner)",
    "after the others' attempts the first user's job still exists, PENDING, with its owner",
)
RESULTS_HIDDEN = Check(
    "owners.results-hidden",
    "DESIGN §3 design rules (downloads go through an owner check); DESIGN §2 result files",
    "the other user's download of the first user's result files answers 404",
)

CHECKS = (
    OWNER_ID,
    GET_HIDDEN,
    START_HIDDEN,
    DESTROY_HIDDEN,
    ANONYMOUS_HIDDEN,
    UNTOUCHED,
    RESULTS_HIDDEN,
)


def _normalized(text: str, identifiers: tuple[str, ...]) -> str:
    for identifier in identifiers:
        if identifier:
            text = text.replace(identifier, "{id}")
    return " ".join(text.split())


def _fingerprint(reply: Reply, identifiers: tuple[str, ...]) -> dict[str, object]:
    """What a caller can tell from a reply, identifiers and timestamps aside."""
    fault = reply.fault
    if fault is None:
        body = reply.body
        return {"HTTP status": reply.http_status, "body": None if body is None else body.tag}
    detail: list[tuple[str, str]] = []
    if fault.detail is not None:
        for child in fault.detail.iter():
            if not isinstance(child.tag, str) or child.tag == q(BF, "Timestamp"):
                continue
            detail.append((str(child.tag), _normalized(child.text or "", identifiers)))
    return {
        "HTTP status": reply.http_status,
        "Action": [reply.header(ns, "Action") for ns in (WSA, WSA_2004)],
        "fault element": fault.detail_tag,
        "faultcode": f"{{{fault.code_namespace}}}{fault.code}",
        "faultstring": _normalized(fault.string, identifiers),
        "detail": detail,
    }


def indistinguishable(theirs: Reply, unknown: Reply, *, their_id: str, unknown_id: str) -> str:
    """Fail unless ``theirs`` (on another owner's job) tells nothing ``unknown`` does not."""
    require(
        theirs.fault is not None,
        f"the other caller reached the job: {theirs.describe()}",
    )
    identifiers = (their_id, unknown_id)
    mine, other = _fingerprint(theirs, identifiers), _fingerprint(unknown, identifiers)
    differences = [key for key in mine if mine[key] != other.get(key)]
    if differences:
        shown = "; ".join(f"{key}: {mine[key]!r} vs {other.get(key)!r}" for key in differences)
        raise CheckFailed(f"the answers differ from an unknown id's ({shown[:400]})")
    return f"answered like an unknown id: {theirs.fault.describe() if theirs.fault else ''}"


@dataclass
class _Owners:
    context: Context
    owner: Endpoint
    other: Endpoint
    anonymous: Endpoint
    jdl: etree._Element
    epr: EndpointReference | None = None
    no_job: str = ""
    created: list[EndpointReference] = field(default_factory=list)

    def job(self) -> EndpointReference:
        if self.no_job:
            raise CheckSkipped(self.no_job)
        if self.epr is None:
            try:
                self.epr = create_job_or_skip(self.owner, self.jdl)
            except CheckSkipped as skipped:
                self.no_job = skipped.reason
                raise
            self.created.append(self.epr)
        return self.epr

    def owner_id(self) -> str:
        job = single_property(self.owner, self.job(), UWS_JOB)
        owner = (job.findtext(q(UWS, "ownerId")) or "").strip()
        user = self.context.options.user
        assert user is not None
        require(owner == user.user, f"uws:ownerId is {owner!r}, not {user.user!r}")
        return f"uws:ownerId {owner}"

    def hidden(self, caller: Endpoint, call: Callable[[Endpoint, EndpointReference], Reply]) -> str:
        epr = self.job()
        unknown_id = random_resource_id()
        theirs = call(caller, epr)
        unknown = call(caller, caller.reference(unknown_id))
        require(unknown.fault is not None, f"an unknown id was answered {unknown.describe()}")
        if caller is not self.anonymous:  # an anonymous caller may be NotAuthenticated instead
            require(
                unknown.fault is not None and unknown.fault.detail_tag == RESOURCE_UNKNOWN,
                f"an unknown id is not answered ResourceUnknownFault: {unknown.describe()}",
            )
        return indistinguishable(
            theirs, unknown, their_id=epr.resource_id or "", unknown_id=unknown_id
        )

    def get_hidden(self) -> str:
        return self.hidden(self.other, lambda e, r: e.get_property(r, PHASE))

    def start_hidden(self) -> str:
        return self.hidden(self.other, lambda e, r: e.start_job(r))

    def destroy_hidden(self) -> str:
        return self.hidden(self.other, lambda e, r: e.destroy(r))

    def anonymous_hidden(self) -> str:
        return self.hidden(self.anonymous, lambda e, r: e.get_property(r, PHASE))

    def untouched(self) -> str:
        epr = self.job()
        reply = self.owner.get_property(epr, PHASE)
        require(
            reply.fault is None,
            f"the job is gone after the others' attempts: {reply.describe()}",
        )
        phase = get_phase(self.owner, epr)
        require(phase == "PENDING", f"the job is {phase} after the others' startJob, not PENDING")
        job = single_property(self.owner, epr, UWS_JOB)
        owner = (job.findtext(q(UWS, "ownerId")) or "").strip()
        user = self.context.options.user
        assert user is not None
        require(owner == user.user, f"uws:ownerId is now {owner!r}")
        return "still PENDING and the first user's"

    def results_hidden(self) -> str:
        epr = create_job_or_skip(self.owner, self.jdl)
        self.created.append(epr)
        self.owner.start_job(epr)
        timeout = self.context.options.timeout
        phase, _ = wait_for_phase(self.owner, epr, FINAL_PHASES, timeout=timeout)
        state = single_property(self.owner, epr, JOB_STATE)
        job = single_property(self.owner, epr, UWS_JOB)
        base = self.context.options.base_url
        links = [u for u in result_links(state, job) if served_by(u, base)]
        if not links:
            raise CheckSkipped(f"the job ended {phase} with no result file on the service")
        wait = self.context.options.request_timeout
        for link in links:
            mine = download_status(link, credentials=self.owner.credentials, timeout=wait)
            require(mine == 200, f"the owner's GET {link} answered HTTP {mine}, not 200")
            status = download_status(link, credentials=self.other.credentials, timeout=wait)
            require(status == 404, f"the other user's GET {link} answered HTTP {status}, not 404")
        return f"{len(links)} result file(s) answer 404 to the other user"


def run(context: Context, recorder: Recorder) -> None:
    """Run the owner checks (only with --user and --other-user)."""
    options = context.options
    if options.user is None or options.other_user is None:
        recorder.skip_remaining("needs --user and --other-user")
        return
    try:
        jdl = context.jdl()
    except CheckSkipped as skipped:
        recorder.skip_remaining(skipped.reason)
        return
    owner = context.endpoint()
    checks = _Owners(
        context=context,
        owner=owner,
        other=context.endpoint(options.other_user),
        anonymous=replace(context.endpoint(), credentials=None),
        jdl=jdl,
    )
    with cleanup(owner, checks.created):
        recorder.run(OWNER_ID, checks.owner_id)
        recorder.run(GET_HIDDEN, checks.get_hidden)
        recorder.run(START_HIDDEN, checks.start_hidden)
        recorder.run(DESTROY_HIDDEN, checks.destroy_hidden)
        recorder.run(ANONYMOUS_HIDDEN, checks.anonymous_hidden)
        recorder.run(UNTOUCHED, checks.untouched)
        recorder.run(RESULTS_HIDDEN, checks.results_hidden)


GROUP = Group("owners", CHECKS, run)
