"""Interoperability client on suds (the community fork, PyPI ``suds``).

Usage: ``python suds_client.py STEPS_ENDPOINT ADQL_ENDPOINT``
(e.g. ``http://127.0.0.1:8080/uws/steps http://127.0.0.1:8080/uws/adql``).

Runs the interop scenario (tests/interop/README.md) from the WSDLs published at
``ENDPOINT?wsdl`` and prints one JSON object per line per step. Exits 0 only when every
check passed.

What suds needs (see tests/interop/README.md):

- No WS-Addressing support: the ``wsa:*`` headers and the ``uwscore:ResourceId``
  reference parameter are built as ``suds.sax`` elements and set with
  ``client.set_options(soapheaders=...)`` before every call. The Action comes from the
  binding's ``soapAction`` (suds keeps it quoted, as for the HTTP header).
- Header style of this client: ``wsa:IsReferenceParameter="1"`` and ``urn:uuid:``
  MessageIDs, no ``mustUnderstand``.
- ``GetResourceProperty`` is typed (``xs:QName``) and called with the generated method,
  but suds writes QName content as plain text and declares no prefix for it; the
  :class:`QNameScope` plugin declares the prefix on the body element after marshalling.
- Replies whose content is ``xs:any`` (GetResourcePropertyResponse, ReferenceParameters,
  the VOTable in exposedRows) are unmarshalled without their schema: a repeated child
  comes back as a list, a single one (often) as a list of one.
- An element with simple content and attributes (adql ``query``) is given as a plain
  string: suds's factory object for it has no field for the text.
- suds's multiref pass reads every attribute whose local name is ``href``, in any
  namespace, so each ``uwscore:Result``'s ``xlink:href`` logs
  ``soap multiref: <url>, not-resolved`` (ERROR, logger ``suds.bindings.multiref``);
  the value is kept (``result._href``).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import suds
from suds import WebFault
from suds.client import Client
from suds.plugin import MessagePlugin
from suds.sax.attribute import Attribute
from suds.sax.element import Element
from suds.transport import Request

STACK = "suds"
WSA = "http://www.w3.org/2005/08/addressing"
CORE = "urn:wsrf-uws:core:v1"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
STEPS = "urn:wsrf-uws:steps:v1"
ADQL = "urn:wsrf-uws:adql:v1"
FINAL = {"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"}
PHASES = FINAL | {"PENDING", "QUEUED", "EXECUTING", "UNKNOWN", "HELD", "SUSPENDED"}
#: How this client's WS-Addressing headers differ from the other stacks'.
HEADER_STYLE = {"is_reference_parameter": "1", "must_understand": [], "message_id": "urn:uuid:"}
#: Prefixes this client writes in QName content, declared where they are used.
QNAME_PREFIXES = {"uwscore": CORE, "uws": UWS}
QUERY = "SELECT TOP 20 hip, hpmag FROM hipparcos.main ORDER BY hip"


class CheckFailed(Exception):
    """One of the client's checks did not hold."""


class QNameScope(MessagePlugin):
    """Declare the prefix of the QName in ``wsrfrp:GetResourceProperty`` on that element.

    suds marshals an ``xs:QName`` value as text; nothing puts its prefix in scope
    (here it is in scope only by accident when a header declared it on the Envelope).
    """

    def marshalled(self, context: Any) -> None:
        body = context.envelope.getChild("Body")
        for element in body.getChildren():
            if element.name == "GetResourceProperty" and element.namespace()[1] == RP:
                prefix = (element.getText() or "").partition(":")[0]
                if prefix in QNAME_PREFIXES:
                    element.addPrefix(prefix, QNAME_PREFIXES[prefix])


def emit(step: str, **fields: Any) -> None:
    print(json.dumps({"stack": STACK, "step": step, "ok": True, **fields}), flush=True)


def check(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def first(value: Any) -> Any:
    """The first item of a list (suds's shape for ``xs:any`` content), else the value."""
    if isinstance(value, list):
        check(len(value) > 0, "an empty list where one value was expected")
        return value[0]
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Session:
    """The suds client of one contract plus the WS-Addressing state of the job it drives."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.client = Client(endpoint + "?wsdl", cache=None, plugins=[QNameScope()])
        port = self.client.wsdl.services[0].ports[0]
        # soapAction as the binding gives it; suds keeps it quoted ('"urn:..."').
        self.actions = {name: m.soap.action.strip('"') for name, m in port.methods.items()}
        self.address = endpoint
        self.resource_id: str | None = None
        self.message_id = ""
        self.replies = 0

    def attach(self, epr: Any) -> str:
        """Take the ResourceId and Address of a createJob reply for the later calls."""
        resource_id = str(first(epr.ReferenceParameters.ResourceId))
        check(resource_id, "the EPR holds no uwscore:ResourceId")
        self.address = str(epr.Address)
        self.resource_id = resource_id
        return resource_id

    def detach(self) -> None:
        self.address, self.resource_id = self.endpoint, None

    def headers(self, operation: str) -> list[Element]:
        self.message_id = f"urn:uuid:{uuid.uuid4()}"
        headers = [
            Element("To", ns=("wsa", WSA)).setText(self.address),
            Element("Action", ns=("wsa", WSA)).setText(self.actions[operation]),
            Element("MessageID", ns=("wsa", WSA)).setText(self.message_id),
        ]
        if self.resource_id is not None:
            reference = Element("ResourceId", ns=("uwscore", CORE)).setText(self.resource_id)
            reference.addPrefix("wsa", WSA)
            reference.append(Attribute("wsa:IsReferenceParameter", "1"))
            headers.append(reference)
        return headers

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``operation`` with fresh WS-A headers; check the reply's RelatesTo (faults too)."""
        self.client.set_options(soapheaders=self.headers(operation), location=self.address)
        try:
            return getattr(self.client.service, operation)(*args, **kwargs)
        finally:
            self.check_relates_to()

    def check_relates_to(self) -> None:
        envelope = self.client.last_received().getChild("Envelope")
        relates = envelope.getChild("Header").getChild("RelatesTo", ns=("wsa", WSA))
        check(relates is not None, "the reply carries no wsa:RelatesTo")
        check(
            relates.getText() == self.message_id,
            f"wsa:RelatesTo {relates.getText()!r} is not {self.message_id!r}",
        )
        self.replies += 1

    def phase(self) -> str:
        phase = str(first(self.call("GetResourceProperty", "uwscore:Phase")))
        check(phase in PHASES, f"uwscore:Phase is {phase!r}")
        return phase

    def wait(self) -> tuple[str, int]:
        deadline = time.monotonic() + 60
        polls = 0
        while True:
            phase = self.phase()
            polls += 1
            if phase in FINAL:
                return phase, polls
            check(time.monotonic() < deadline, f"still {phase} after 60 s")
            time.sleep(0.15)


def fault_of(fault: WebFault) -> tuple[str, str]:
    """The ``{ns}local`` of the fault's detail element (suds keeps it in its sax document)."""
    body = fault.document.getChild("Envelope").getChild("Body")
    detail = body.getChild("Fault").getChild("detail")
    check(detail is not None and detail.getChildren(), "the fault has no detail")
    element = detail.getChildren()[0]
    return f"{{{element.namespace()[1]}}}{element.name}", str(fault.fault.faultcode)


def steps_scenario(steps: Session) -> None:
    emit(
        "wsdl",
        version=suds.__version__,
        operations=sorted(steps.actions),
        header_style=HEADER_STYLE,
    )

    job = steps.client.factory.create(f"{{{STEPS}}}job")
    job.steps = 2
    job.stepSeconds = "0.1"
    resource_id = steps.attach(steps.call("createJob", job=job))
    emit("createJob", resource_id=resource_id, address=steps.address)

    emit("startJob", phase=str(steps.call("startJob")))

    phase, polls = steps.wait()
    emit("waitCompleted", phase=phase, polls=polls)

    state = first(steps.call("GetResourceProperty", "uwscore:JobState"))
    results = [
        {
            "name": str(result._name),
            "href": str(result._href),
            "size": int(result._size) if getattr(result, "_size", None) is not None else None,
        }
        for result in as_list(getattr(state, "Result", None))
    ]
    check(results, "JobState lists no result")
    emit("jobState", phase=str(first(state.Phase)), results=results)

    result = results[0]
    reply = steps.client.options.transport.open(Request(result["href"]))
    body = reply.read()
    emit("download", name=result["name"], href=result["href"], status=reply.status, bytes=len(body))

    summary = first(steps.call("GetResourceProperty", "uws:job"))
    emit("getJob", job_id=str(first(summary.jobId)), phase=str(first(summary.phase)))

    requested = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    reply = steps.call("SetTerminationTime", RequestedTerminationTime=requested)
    new_time, current_time = reply.NewTerminationTime, reply.CurrentTime
    emit(
        "setTerminationTime",
        new_termination_time=new_time.isoformat(),
        current_time=current_time.isoformat(),
        in_future=new_time > current_time,
    )

    steps.call("Destroy")
    emit("destroy")

    try:
        steps.call("GetResourceProperty", "uwscore:Phase")
    except WebFault as fault:
        name, code = fault_of(fault)
        emit("afterDestroy", fault=name, faultcode=code)
    else:
        raise CheckFailed("GetResourceProperty after Destroy answered without a fault")

    steps.detach()
    job = steps.client.factory.create(f"{{{STEPS}}}job")
    job.steps = 0
    job.stepSeconds = "0.1"
    try:
        steps.call("createJob", job=job)
    except WebFault as fault:
        name, code = fault_of(fault)
        emit("invalidJdl", fault=name, faultcode=code)
    else:
        raise CheckFailed("createJob with <steps>0</steps> answered without a fault")


def adql_scenario(adql: Session) -> None:
    job = adql.client.factory.create(f"{{{ADQL}}}job")
    job.query = QUERY
    job.format = "TABLEDATA"
    resource_id = adql.attach(adql.call("createJob", job=job))
    emit("adqlCreate", resource_id=resource_id)

    phase = str(adql.call("startJob"))
    check(phase in PHASES, f"startJob answered {phase!r}")
    phase, polls = adql.wait()
    emit("adqlRun", phase=phase, polls=polls)

    reply = adql.call("exposeRows", start=5, end=10)
    exposed = reply.exposedRows
    table = first(first(first(exposed.VOTABLE).RESOURCE).TABLE)
    rows = as_list(first(first(table.DATA).TABLEDATA).TR)
    values = [int(first(row.TD)) for row in rows]
    emit(
        "exposeRows",
        rows=int(reply.rows),
        start=int(exposed._start),
        end=int(exposed._end),
        values=values,
    )

    adql.call("Destroy")
    emit("adqlDestroy")


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: suds_client.py STEPS_ENDPOINT ADQL_ENDPOINT", file=sys.stderr)
        return 2
    steps_endpoint, adql_endpoint = (url.rstrip("/") for url in sys.argv[1:])
    try:
        steps = Session(steps_endpoint)
        steps_scenario(steps)
        adql = Session(adql_endpoint)
        adql_scenario(adql)
        emit("done", relates_to_checked=True, replies=steps.replies + adql.replies)
    except Exception as error:  # every failure becomes one machine-readable line
        line = {"stack": STACK, "step": "error", "ok": False, "error": repr(error)}
        print(json.dumps(line), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
