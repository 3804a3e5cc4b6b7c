"""The faults DESIGN §2 names, each provoked on purpose and judged whole.

Every fault must be a SOAP 1.1 fault with HTTP 500, ``faultcode`` ``soapenv:Client``
(these are all the caller's errors) and a WS-BaseFaults detail with its Timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lxml import etree

from ..names import (
    FINAL_PHASES,
    INVALID_JDL,
    INVALID_PHASE,
    INVALID_QNAME,
    PHASE,
    RESOURCE_UNKNOWN,
    RL,
    TERMINATION_REJECTED,
    TERMINATION_TIME,
    UNABLE_TO_SET_TERMINATION,
    UNKNOWN,
    WSA,
    WSA_2004,
    q,
    short,
)
from ..outcomes import CheckFailed, require
from ..protocol import read_endpoint_reference
from ..replies import expect_fault, expect_response, format_time, parse_time, wait_for_phase
from ..wire import Addressing, envelope
from .base import Check, Context, Group, Recorder, SharedJob, cleanup
from .jobs import random_resource_id, server_now, single_property

UNKNOWN_RESOURCE = Check(
    "faults.resource-unknown",
    "DESIGN §2 faults; WS-Resource 1.2 ResourceUnknownFault; SOAP 1.1 §4.4, §6.2",
    "an unknown ResourceId answers wsrfr:ResourceUnknownFault (HTTP 500, soapenv:Client, "
    "WS-BaseFaults Timestamp)",
)
INVALID_JOB = Check(
    "faults.invalid-jdl",
    "pattern §2.1.1; DESIGN §2 createJob (invalid JDL: a fault, nothing created)",
    "createJob holding a wrong root element answers uwscore:InvalidJobDescriptionFault "
    "with a reason, and no EPR",
)
UNKNOWN_PROPERTY = Check(
    "faults.unknown-property",
    "WS-ResourceProperties 1.2 GetResourceProperty; DESIGN §2 faults",
    "GetResourceProperty of an unknown QName answers wsrfrp:InvalidResourcePropertyQNameFault",
)
BEYOND_CAP = Check(
    "faults.termination-beyond-cap",
    "pattern §2.1.5; DESIGN §4 lifetime cap",
    "SetTerminationTime 100 years ahead answers wsrfrl:TerminationTimeChangeRejectedFault "
    "(UnableToSetTerminationTimeFault is accepted) and leaves the termination time",
)
INITIAL_BEYOND_CAP = Check(
    "faults.initial-termination-beyond-cap",
    "DESIGN §2 (an InitialTerminationTime beyond the cap: TerminationTimeChangeRejectedFault "
    "and nothing created)",
    "createJob with an InitialTerminationTime 100 years ahead answers "
    "wsrfrl:TerminationTimeChangeRejectedFault (UnableToSetTerminationTimeFault is accepted) "
    "and no EPR",
)
INVALID_PHASE_CHECK = Check(
    "faults.invalid-phase",
    "DESIGN §4 startJob in a final phase; DESIGN §2 faults",
    "startJob on a finished job answers uwscore:InvalidPhaseFault as a whole SOAP 1.1 fault",
)
PAST = Check(
    "faults.termination-past",
    "pattern §2.1.5; DESIGN §2 (a past time destroys, still answers SetTerminationTimeResponse)",
    "SetTerminationTime in the past answers SetTerminationTimeResponse (NewTerminationTime "
    "= the time asked, CurrentTime) and the resource is then unknown",
)
DOCTYPE = Check(
    "faults.doctype",
    "DESIGN §2 (any DOCTYPE is refused with a fault); WS-I BP 1.1 R1008",
    "a createJob request carrying a DOCTYPE is refused with a SOAP fault and creates nothing",
)

CHECKS = (
    UNKNOWN_RESOURCE,
    INVALID_JOB,
    UNKNOWN_PROPERTY,
    BEYOND_CAP,
    INITIAL_BEYOND_CAP,
    INVALID_PHASE_CHECK,
    PAST,
    DOCTYPE,
)


def no_endpoint_reference(envelope_root: etree._Element) -> bool:
    """Whether a reply carries no endpoint reference at all (so nothing was created)."""
    return not any(
        True for ns in (WSA, WSA_2004) for _ in envelope_root.iter(q(ns, "EndpointReference"))
    )


@dataclass
class _Faults(SharedJob):
    pass

    def unknown_resource(self) -> str:
        epr = self.endpoint.reference(random_resource_id())
        fault = expect_fault(
            self.endpoint.get_property(epr, PHASE),
            (RESOURCE_UNKNOWN,),
            operation="GetResourceProperty on an unknown resource",
        )
        return f"answered {short(fault.detail_tag)}"

    def invalid_jdl(self) -> str:
        wrong = etree.Element(q(UNKNOWN, "notAJob"), nsmap={"x": UNKNOWN})
        etree.SubElement(wrong, q(UNKNOWN, "steps")).text = "1"
        reply = self.endpoint.create_job(wrong)
        if reply.fault is None:  # a job was created after all: tidy up, then fail
            for reference in reply.envelope.iter(q(WSA, "EndpointReference")):
                self.created.append(read_endpoint_reference(reference))
        fault = expect_fault(reply, (INVALID_JDL,), operation="createJob with a wrong root")
        require(no_endpoint_reference(reply.envelope), "the fault carries an endpoint reference")
        detail = fault.detail
        reason = "" if detail is None else " ".join(str(t).strip() for t in detail.itertext())
        require(fault.descriptions or reason, "the fault does not say what is wrong")
        return f"answered {short(fault.detail_tag)}"

    def unknown_property(self) -> str:
        fault = expect_fault(
            self.endpoint.get_property(self.job(), q(UNKNOWN, "NoSuchProperty")),
            (INVALID_QNAME,),
            operation="GetResourceProperty of an unknown QName",
        )
        return f"answered {short(fault.detail_tag)}"

    def beyond_cap(self) -> str:
        epr = self.job()
        before = single_property(self.endpoint, epr, TERMINATION_TIME)
        far = server_now(self.endpoint, epr) + timedelta(days=365 * 100)
        reply = self.endpoint.set_termination_time(epr, format_time(far))
        if reply.fault is None:
            raise CheckFailed(
                f"SetTerminationTime {format_time(far)} was accepted: the service has no "
                f"lifetime cap ({reply.describe()})"
            )
        fault = expect_fault(
            reply,
            (TERMINATION_REJECTED, UNABLE_TO_SET_TERMINATION),
            operation="SetTerminationTime 100 years ahead",
        )
        after = single_property(self.endpoint, epr, TERMINATION_TIME)
        require(
            (after.text or "") == (before.text or ""),
            f"the refused change moved the termination time from {before.text} to {after.text}",
        )
        if fault.detail_tag == UNABLE_TO_SET_TERMINATION:
            return (
                "answered wsrfrl:UnableToSetTerminationTimeFault (accepted; DESIGN §2 asks for "
                "TerminationTimeChangeRejectedFault)"
            )
        return f"answered {short(fault.detail_tag)}"

    def initial_beyond_cap(self) -> str:
        epr = self.job()  # its clock says what "100 years ahead" is
        far = server_now(self.endpoint, epr) + timedelta(days=365 * 100)
        reply = self.endpoint.create_job(
            self.description(), initial_termination_time=format_time(far)
        )
        if reply.fault is None:
            for reference in reply.envelope.iter(q(WSA, "EndpointReference")):
                self.created.append(read_endpoint_reference(reference))
            raise CheckFailed(
                f"createJob with InitialTerminationTime {format_time(far)} created a job: "
                "the service has no lifetime cap"
            )
        fault = expect_fault(
            reply,
            (TERMINATION_REJECTED, UNABLE_TO_SET_TERMINATION),
            operation="createJob 100 years ahead",
        )
        require(no_endpoint_reference(reply.envelope), "the fault carries an endpoint reference")
        if fault.detail_tag == UNABLE_TO_SET_TERMINATION:
            return (
                "answered wsrfrl:UnableToSetTerminationTimeFault (accepted; DESIGN §2 asks for "
                "TerminationTimeChangeRejectedFault)"
            )
        return f"answered {short(fault.detail_tag)}; nothing created"

    def invalid_phase(self) -> str:
        epr = self.job()
        self.endpoint.start_job(epr)
        phase, _ = wait_for_phase(
            self.endpoint, epr, FINAL_PHASES, timeout=self.context.options.timeout
        )
        fault = expect_fault(
            self.endpoint.start_job(epr), (INVALID_PHASE,), operation=f"startJob on a {phase} job"
        )
        return f"answered {short(fault.detail_tag)} in {phase}"

    def past(self) -> str:
        epr = self.job()
        asked = (server_now(self.endpoint, epr) - timedelta(hours=1)).replace(microsecond=0)
        body = expect_response(
            self.endpoint.set_termination_time(epr, format_time(asked)),
            q(RL, "SetTerminationTimeResponse"),
            operation="SetTerminationTime in the past",
        )
        new = parse_time(body.findtext(q(RL, "NewTerminationTime")), what="NewTerminationTime")
        parse_time(body.findtext(q(RL, "CurrentTime")), what="CurrentTime")
        require(
            abs((new - asked).total_seconds()) <= 1,
            f"NewTerminationTime {format_time(new)} is not the time asked, {format_time(asked)}",
        )
        expect_fault(
            self.endpoint.get_property(epr, PHASE),
            (RESOURCE_UNKNOWN,),
            operation="GetResourceProperty after a past termination time",
        )
        self.created.remove(epr)
        return "answered SetTerminationTimeResponse; the resource is gone"

    def doctype(self) -> str:
        body = etree.Element(q(self.endpoint.namespace, "createJob"))
        body.append(etree.fromstring(etree.tostring(self.description())))
        addressing = Addressing(to=self.endpoint.url, action=self.endpoint.action("createJob"))
        message = envelope(body, addressing.headers())
        declaration, _, rest = message.partition(b"?>")
        entities = b'<!DOCTYPE soapenv:Envelope [<!ENTITY conformance "x">]>'
        data = declaration + b"?>\n" + entities + rest
        reply = self.endpoint.post(self.endpoint.url, data, action=addressing.action)
        if reply.fault is None:
            for reference in reply.envelope.iter(q(WSA, "EndpointReference")):
                self.created.append(read_endpoint_reference(reference))
            raise CheckFailed(f"a request with a DOCTYPE was processed: {reply.describe()}")
        require(reply.http_status == 500, f"the fault came with HTTP {reply.http_status}")
        fault = reply.fault
        assert fault is not None
        require(fault.is_code("Client"), f"faultcode {fault.code!r}, not soapenv:Client")
        require(no_endpoint_reference(reply.envelope), "the fault carries an endpoint reference")
        return f"refused: {fault.describe()}"


def run(context: Context, recorder: Recorder) -> None:
    """Run the fault checks."""
    endpoint = context.endpoint()
    checks = _Faults.for_context(context, endpoint)
    with cleanup(endpoint, checks.created):
        recorder.run(UNKNOWN_RESOURCE, checks.unknown_resource)
        recorder.run(INVALID_JOB, checks.invalid_jdl)
        recorder.run(UNKNOWN_PROPERTY, checks.unknown_property)
        recorder.run(BEYOND_CAP, checks.beyond_cap)
        recorder.run(INITIAL_BEYOND_CAP, checks.initial_beyond_cap)
        recorder.run(INVALID_PHASE_CHECK, checks.invalid_phase)
        recorder.run(PAST, checks.past)
        recorder.run(DOCTYPE, checks.doctype)


GROUP = Group("faults", CHECKS, run)
