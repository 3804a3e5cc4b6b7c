"""Interoperability client on zeep (PyPI ``zeep``), as any Python user would write it.

Usage: ``python zeep_client.py STEPS_ENDPOINT ADQL_ENDPOINT``
(e.g. ``http://127.0.0.1:8080/uws/steps http://127.0.0.1:8080/uws/adql``).

Runs the interop scenario (tests/interop/README.md) from the WSDLs published at
``ENDPOINT?wsdl`` with a plain ``zeep.Client(WSDL_URL)`` (default settings) and prints one
JSON object per line per step. Exits 0 only when every check passed. It uses nothing of
the project's own ``wsrf_uws.client`` package.

What zeep needs:

- WS-Addressing: since the WSDL carries ``wsam:Action``, zeep adds ``wsa:Action``,
  ``wsa:MessageID`` (``urn:uuid:``) and ``wsa:To`` itself; do not add
  ``zeep.wsa.WsAddressingPlugin`` as well (every header would go twice). ``wsa:To`` is
  the service proxy's address, so later calls go through
  ``client.create_service(binding, epr_address)``.
- zeep does not apply an EPR's reference parameters: the ``uwscore:ResourceId`` header is
  an lxml element passed as ``_soapheaders=[...]`` on every call.
- ``xs:QName`` content (GetResourceProperty): pass an ``lxml.etree.QName``; lxml declares
  its prefix where zeep writes it.
- Reply headers are not returned; the standard ``zeep.plugins.HistoryPlugin`` keeps the
  last envelopes sent and received, which is where ``wsa:RelatesTo`` is checked.
- ``createJob`` returns the ``wsa:EndpointReference`` itself; its reference parameters
  are ``xs:any`` content (``epr.ReferenceParameters._value_1``).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import zeep
from lxml import etree
from zeep.exceptions import Fault
from zeep.plugins import HistoryPlugin

STACK = "zeep"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
CORE = "urn:wsrf-uws:core:v1"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
STEPS = "urn:wsrf-uws:steps:v1"
ADQL = "urn:wsrf-uws:adql:v1"
VOTABLE = "http://www.ivoa.net/xml/VOTable/v1.3"
FINAL = {"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"}
PHASES = FINAL | {"PENDING", "QUEUED", "EXECUTING", "UNKNOWN", "HELD", "SUSPENDED"}
HEADER_STYLE = {"is_reference_parameter": "true", "must_understand": [], "message_id": "urn:uuid:"}
QUERY = "SELECT TOP 20 hip, hpmag FROM hipparcos.main ORDER BY hip"


class CheckFailed(Exception):
    """One of the client's checks did not hold."""


def emit(step: str, **fields: Any) -> None:
    print(json.dumps({"stack": STACK, "step": step, "ok": True, **fields}), flush=True)


def check(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def qname(element: etree._Element) -> str:
    name = etree.QName(element)
    return f"{{{name.namespace or ''}}}{name.localname}"


class Contract:
    """One contract's WSDL loaded by zeep, and the job it drives."""

    def __init__(self, endpoint: str) -> None:
        self.history = HistoryPlugin()
        self.client = zeep.Client(f"{endpoint}?wsdl", plugins=[self.history])
        self.service: Any = self.client.service
        self.resource_id: str | None = None
        self.address = endpoint
        self.replies = 0

    @property
    def binding(self) -> Any:
        return self.service._binding

    def operations(self) -> list[str]:
        return sorted(self.binding.all())

    def attach(self, epr: Any) -> str:
        """Take the ResourceId and Address of a createJob reply for the later calls."""
        parameters = epr.ReferenceParameters._value_1 or []
        found = [p for p in parameters if p._xsd_type.qname == f"{{{CORE}}}ResourceId"]
        check(len(found) == 1, f"the EPR holds no uwscore:ResourceId: {parameters!r}")
        resource_id = found[0]._value_1
        check(isinstance(resource_id, str) and resource_id, "the uwscore:ResourceId is empty")
        self.resource_id = resource_id
        self.address = epr.Address._value_1
        self.service = self.client.create_service(self.binding.name, self.address)
        return resource_id

    def headers(self) -> list[etree._Element]:
        if self.resource_id is None:
            return []
        reference = etree.Element(f"{{{CORE}}}ResourceId", nsmap={"uwscore": CORE, "wsa": WSA})
        reference.set(f"{{{WSA}}}IsReferenceParameter", "true")
        reference.text = self.resource_id
        return [reference]

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``operation``; check the reply's wsa:RelatesTo, faults included."""
        try:
            return getattr(self.service, operation)(*args, _soapheaders=self.headers(), **kwargs)
        finally:
            self.check_relates_to()

    def check_relates_to(self) -> None:
        sent = self.history.last_sent["envelope"]
        received = self.history.last_received["envelope"]
        message_id = sent.findtext(f"{{{SOAP_ENV}}}Header/{{{WSA}}}MessageID")
        relates = received.findtext(f"{{{SOAP_ENV}}}Header/{{{WSA}}}RelatesTo")
        check(message_id, "zeep sent no wsa:MessageID")
        check(relates == message_id, f"wsa:RelatesTo {relates!r} is not {message_id!r}")
        self.replies += 1

    def property(self, namespace: str, local: str) -> list[Any]:
        """GetResourceProperty; the property elements as zeep parsed them."""
        reply = self.call("GetResourceProperty", etree.QName(namespace, local))
        values = reply if isinstance(reply, list) else [reply]
        check(values, f"GetResourceProperty {local} answered nothing")
        return values

    def phase(self) -> str:
        phase = self.property(CORE, "Phase")[0]
        check(phase in PHASES, f"uwscore:Phase is {phase!r}")
        return str(phase)

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

    def fault_of(self, error: Fault) -> tuple[str, str]:
        check(error.detail is not None and len(error.detail), f"the fault has no detail: {error}")
        return qname(error.detail[0]), str(error.code)


def steps_scenario(steps: Contract, endpoint: str) -> None:
    emit("wsdl", version=zeep.__version__, operations=steps.operations(), header_style=HEADER_STYLE)

    job = steps.client.get_element(f"{{{STEPS}}}job")(steps=2, stepSeconds="0.1")
    epr = steps.call("createJob", job=job)
    resource_id = steps.attach(epr)
    emit("createJob", resource_id=resource_id, address=steps.address)

    emit("startJob", phase=str(steps.call("startJob")))

    phase, polls = steps.wait()
    emit("waitCompleted", phase=phase, polls=polls)

    state = steps.property(CORE, "JobState")[0]
    results = [{"name": r.name, "href": r.href, "size": r.size} for r in state.Result or []]
    check(results, "JobState lists no result")
    emit("jobState", phase=state.Phase, results=results)

    first = results[0]
    response = steps.client.transport.session.get(first["href"], timeout=30)
    emit(
        "download",
        name=first["name"],
        href=first["href"],
        status=response.status_code,
        bytes=len(response.content),
    )

    summary = steps.property(UWS, "job")[0]
    emit("getJob", job_id=summary.jobId, phase=summary.phase)

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
        steps.call("GetResourceProperty", etree.QName(CORE, "Phase"))
    except Fault as error:
        fault, code = steps.fault_of(error)
        emit("afterDestroy", fault=fault, faultcode=code)
    else:
        raise CheckFailed("GetResourceProperty after Destroy answered without a fault")

    steps.resource_id, steps.address = None, endpoint
    steps.service = steps.client.service
    job = steps.client.get_element(f"{{{STEPS}}}job")(steps=0, stepSeconds="0.1")
    try:
        steps.call("createJob", job=job)
    except Fault as error:
        fault, code = steps.fault_of(error)
        emit("invalidJdl", fault=fault, faultcode=code)
    else:
        raise CheckFailed("createJob with <steps>0</steps> answered without a fault")


def adql_scenario(adql: Contract) -> None:
    job = adql.client.get_element(f"{{{ADQL}}}job")(query=QUERY, format="TABLEDATA")
    resource_id = adql.attach(adql.call("createJob", job=job))
    emit("adqlCreate", resource_id=resource_id)

    phase = str(adql.call("startJob"))
    check(phase in PHASES, f"startJob answered {phase!r}")
    phase, polls = adql.wait()
    emit("adqlRun", phase=phase, polls=polls)

    reply = adql.call("exposeRows", start=5, end=10)
    exposed = reply.exposedRows
    # xs:any (lax) whose namespace no loaded schema declares: zeep hands the lxml element.
    table = exposed._value_1
    check(
        isinstance(table, etree._Element) and table.tag == f"{{{VOTABLE}}}VOTABLE",
        f"exposedRows holds no VOTable: {exposed!r}",
    )
    rows = table.iterfind(f".//{{{VOTABLE}}}TABLEDATA/{{{VOTABLE}}}TR")
    values = [int(row.findtext(f"{{{VOTABLE}}}TD")) for row in rows]
    emit("exposeRows", rows=reply.rows, start=exposed.start, end=exposed.end, values=values)

    adql.call("Destroy")
    emit("adqlDestroy")


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: zeep_client.py STEPS_ENDPOINT ADQL_ENDPOINT", file=sys.stderr)
        return 2
    steps_endpoint, adql_endpoint = (url.rstrip("/") for url in sys.argv[1:])
    try:
        steps = Contract(steps_endpoint)
        steps_scenario(steps, steps_endpoint)
        adql = Contract(adql_endpoint)
        adql_scenario(adql)
        emit("done", relates_to_checked=True, replies=steps.replies + adql.replies)
    except Exception as error:  # every failure becomes one machine-readable line
        line = {"stack": STACK, "step": "error", "ok": False, "error": repr(error)}
        print(json.dumps(line), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
