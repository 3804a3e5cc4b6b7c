"""Interoperability client on suds (the community fork, PyPI ``suds``).

Usage: ``python suds_client.py ENDPOINT`` (e.g. ``http://127.0.0.1:8080/uws/steps``).

Drives one ``steps`` job through its whole life from the WSDL published at
``ENDPOINT?wsdl`` and prints one JSON object per line per step (see the README beside
the tests). Exits 0 only when every check passed.

What suds needs (see tests/interop/README.md):

- No WS-Addressing support: the ``wsa:*`` headers and the ``uws-core:ResourceId``
  reference parameter are built as ``suds.sax`` elements and set with
  ``client.set_options(soapheaders=...)`` before every call. The Action comes from the
  binding's ``soapAction`` (suds keeps it quoted, as for the HTTP header).
- Header style of this client: ``wsa:IsReferenceParameter="1"`` and ``urn:uuid:``
  MessageIDs, no ``mustUnderstand``.
- ``GetResourceProperty`` is typed (``xs:QName``) and called with the generated method,
  but suds writes QName content as plain text and declares no prefix for it; the
  :class:`QNameScope` plugin declares the prefix on the body element after marshalling.
- Replies whose content is ``xs:any`` (GetResourcePropertyResponse) are unmarshalled
  without their schema: every child comes back as a list.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import suds
from suds import WebFault
from suds.client import Client
from suds.plugin import MessagePlugin
from suds.sax.attribute import Attribute
from suds.sax.element import Element

WSA = "http://www.w3.org/2005/08/addressing"
CORE = "urn:wsrf-uws:core:v1"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
R = "http://docs.oasis-open.org/wsrf/r-2"
STEPS = "urn:wsrf-uws:steps:v1"
PHASES = {
    "PENDING",
    "QUEUED",
    "EXECUTING",
    "COMPLETED",
    "ERROR",
    "ABORTED",
    "UNKNOWN",
    "HELD",
    "SUSPENDED",
    "ARCHIVED",
}
#: How this client's WS-Addressing headers differ from the other stacks'.
HEADER_STYLE = {"is_reference_parameter": "1", "must_understand": [], "message_id": "urn:uuid:"}
#: Prefixes this client writes in QName content, declared where they are used.
QNAME_PREFIXES = {"uws-core": CORE, "uws": UWS}


class CheckFailed(Exception):
    """One of the client's checks did not hold."""


class QNameScope(MessagePlugin):
    """Declare the prefix of the QName in ``wsrf-rp:GetResourceProperty`` on that element.

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
    print(json.dumps({"stack": "suds", "step": step, "ok": True, **fields}), flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def first(value: Any) -> Any:
    """The first item of a list (suds's shape for ``xs:any`` content), else the value."""
    if isinstance(value, list):
        check(len(value) > 0, "an empty list where one value was expected")
        return value[0]
    return value


class Session:
    """The suds client plus the WS-Addressing state of the job it drives."""

    def __init__(self, endpoint: str) -> None:
        self.client = Client(endpoint + "?wsdl", cache=None, plugins=[QNameScope()])
        port = self.client.wsdl.services[0].ports[0]
        # soapAction as the binding gives it; suds keeps it quoted ('"urn:..."').
        self.actions = {name: m.soap.action.strip('"') for name, m in port.methods.items()}
        self.address = endpoint
        self.resource_id: str | None = None
        self.message_id = ""

    def headers(self, operation: str) -> list[Element]:
        self.message_id = f"urn:uuid:{uuid.uuid4()}"
        headers = [
            Element("To", ns=("wsa", WSA)).setText(self.address),
            Element("Action", ns=("wsa", WSA)).setText(self.actions[operation]),
            Element("MessageID", ns=("wsa", WSA)).setText(self.message_id),
        ]
        if self.resource_id is not None:
            reference = Element("ResourceId", ns=("uws-core", CORE)).setText(self.resource_id)
            reference.addPrefix("wsa", WSA)
            reference.append(Attribute("wsa:IsReferenceParameter", "1"))
            headers.append(reference)
        return headers

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``operation`` with fresh WS-A headers and check the reply's RelatesTo."""
        self.client.set_options(soapheaders=self.headers(operation), location=self.address)
        result = getattr(self.client.service, operation)(*args, **kwargs)
        self.check_relates_to()
        return result

    def check_relates_to(self) -> None:
        envelope = self.client.last_received().getChild("Envelope")
        relates = envelope.getChild("Header").getChild("RelatesTo", ns=("wsa", WSA))
        check(relates is not None, "the reply carries no wsa:RelatesTo")
        check(
            relates.getText() == self.message_id,
            f"wsa:RelatesTo {relates.getText()!r} is not {self.message_id!r}",
        )


def run(endpoint: str) -> None:
    session = Session(endpoint)
    emit(
        "wsdl",
        version=suds.__version__,
        operations=sorted(session.actions),
        header_style=HEADER_STYLE,
    )

    job = session.client.factory.create(f"{{{STEPS}}}job")
    job.steps = 2
    job.stepSeconds = "0.1"
    epr = session.call("createJob", job=job).EndpointReference
    resource_id = str(first(epr.ReferenceParameters.ResourceId))
    check(bool(resource_id), "the EPR holds no uws-core:ResourceId")
    session.address = str(epr.Address)
    session.resource_id = resource_id
    emit("createJob", resource_id=resource_id, address=session.address)

    phase = str(session.call("startJob"))
    check(phase in PHASES, f"startJob answered {phase!r}")
    emit("startJob", phase=phase)

    phase = str(first(session.call("GetResourceProperty", "uws-core:Phase")))
    check(phase in PHASES, f"uws-core:Phase is {phase!r}")
    emit("getPhase", phase=phase)

    summary = first(session.call("GetResourceProperty", "uws:job"))
    job_id = str(first(summary.jobId))
    job_phase = str(first(summary.phase))
    check(job_id == resource_id, f"uws:job jobId {job_id!r} is not {resource_id!r}")
    check(job_phase in PHASES, f"uws:job phase is {job_phase!r}")
    emit("getJob", job_id=job_id, phase=job_phase)

    reply = session.call("SetTerminationTime", RequestedLifetimeDuration="PT2H")
    new_time, current_time = reply.NewTerminationTime, reply.CurrentTime
    check(isinstance(new_time, datetime), f"NewTerminationTime is {new_time!r}")
    now = datetime.now(UTC)
    check(new_time > now, f"NewTerminationTime {new_time} is not after {now}")
    check(new_time > current_time, f"NewTerminationTime {new_time} <= CurrentTime {current_time}")
    emit(
        "setTerminationTime",
        new_termination_time=new_time.isoformat(),
        current_time=current_time.isoformat(),
        in_future=True,
    )

    session.call("Destroy")
    emit("destroy")

    try:
        session.call("GetResourceProperty", "uws-core:Phase")
    except WebFault as fault:
        detail = fault.document.getChild("Envelope").getChild("Body").getChild("Fault")
        detail = detail.getChild("detail")
        check(detail is not None and detail.getChildren(), "the fault has no detail")
        element = detail.getChildren()[0]
        qname = f"{{{element.namespace()[1]}}}{element.name}"
        check(qname == f"{{{R}}}ResourceUnknownFault", f"the fault detail holds {qname}")
        session.check_relates_to()
        emit("afterDestroy", fault=qname, faultcode=str(fault.fault.faultcode))
    else:
        raise CheckFailed("GetResourceProperty after Destroy answered without a fault")
    emit("done")


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: suds_client.py ENDPOINT", file=sys.stderr)
        return 2
    try:
        run(sys.argv[1].rstrip("/"))
    except Exception as error:  # every failure becomes one machine-readable line
        line = {"stack": "suds", "step": "error", "ok": False, "error": repr(error)}
        print(json.dumps(line), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
