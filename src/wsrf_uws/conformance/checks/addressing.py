"""WS-Addressing on the wire (DESIGN §2): reference parameters, reply headers, both versions.

What stacks send differs (``IsReferenceParameter`` ``true`` or ``1``, MessageID forms,
``mustUnderstand`` on To and Action, the 2004/08 member submission); a service must
accept all of it and answer every request, faults too, with Action, MessageID and a
RelatesTo naming the request, in the addressing version the client used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lxml import etree

from ..names import PHASE, RESOURCE_UNKNOWN, SOAP11, UNKNOWN, WSA, WSA_2004, WSRF_ACTIONS, q, short
from ..outcomes import CheckSkipped, require
from ..protocol import EndpointReference, read_endpoint_reference
from ..replies import expect_fault, expect_response, property_values
from ..wire import Reply
from .base import Check, Context, Group, Recorder, SharedJob, cleanup
from .jobs import random_resource_id

REFERENCE_TRUE = Check(
    "addressing.reference-parameter-true",
    "WS-Addressing 1.0 SOAP Binding (reference parameters); DESIGN §2",
    'the ResourceId header with wsa:IsReferenceParameter="true" is accepted',
)
REFERENCE_ONE = Check(
    "addressing.reference-parameter-1",
    "DESIGN §2 (accept 1 as well as true); XML Schema xs:boolean",
    'the ResourceId header with wsa:IsReferenceParameter="1" is accepted',
)
RELATES_TO = Check(
    "addressing.relates-to",
    "WS-Addressing 1.0 Core §3.4 (reply messages); DESIGN §2",
    "a reply's wsa:RelatesTo is the request's MessageID",
)
RELATES_TO_FAULT = Check(
    "addressing.relates-to-fault",
    "WS-Addressing 1.0 Core §3.4 (faults are replies too); DESIGN §2",
    "a fault's wsa:RelatesTo is the request's MessageID",
)
REPLY_ACTION = Check(
    "addressing.reply-action",
    "WS-Addressing 1.0 Core §3.2 [action]; DESIGN §2 (standard WS-RF action URIs; fault "
    "Action .../soap/fault unless the WSDL gives the fault its own)",
    "replies carry wsa:Action (the WS-RP response action for GetResourceProperty); faults "
    "the generic fault Action or one the WSDL declares",
)
REPLY_MESSAGE_ID = Check(
    "addressing.reply-message-id",
    "DESIGN §2 (replies carry wsa:MessageID, faults too)",
    "replies and faults carry a wsa:MessageID of their own",
)
MESSAGE_ID_FORMS = Check(
    "addressing.message-id-forms",
    "DESIGN §2 (accept any MessageID form); WS-Addressing 1.0 Core §3.2 (an IRI)",
    "a uuid: MessageID is accepted and echoed in RelatesTo",
)
WSA2004_CREATE = Check(
    "addressing.wsa2004-create",
    "DESIGN §2 (WS-Addressing 2004/08: EPR and reply headers in 2004/08)",
    "createJob with 2004/08 headers answers 2004/08 reply headers and a 2004/08 EPR",
)
WSA2004_CALL = Check(
    "addressing.wsa2004-call",
    "DESIGN §2 (accept the 2004/08 member-submission namespace)",
    "GetResourceProperty through the 2004/08 EPR works and answers in 2004/08",
)
WSA2004_FAULT = Check(
    "addressing.wsa2004-fault",
    "DESIGN §2 (faults too carry Action, MessageID and RelatesTo in the client's version)",
    "a fault answering a 2004/08 request carries its addressing headers in 2004/08",
)
MUST_UNDERSTAND = Check(
    "addressing.must-understand-unknown",
    "SOAP 1.1 §4.2.3 mustUnderstand, §4.4.1 MustUnderstand fault code",
    'an unknown header with soapenv:mustUnderstand="1" answers a soapenv:MustUnderstand fault',
)
MUST_UNDERSTAND_WSA = Check(
    "addressing.must-understand-addressing",
    "SOAP 1.1 §4.2.3; DESIGN §2 (some stacks mark To and Action mustUnderstand)",
    'wsa:To and wsa:Action marked mustUnderstand="1" are accepted',
)

CHECKS = (
    REFERENCE_TRUE,
    REFERENCE_ONE,
    RELATES_TO,
    RELATES_TO_FAULT,
    REPLY_ACTION,
    REPLY_MESSAGE_ID,
    MESSAGE_ID_FORMS,
    WSA2004_CREATE,
    WSA2004_CALL,
    WSA2004_FAULT,
    MUST_UNDERSTAND,
    MUST_UNDERSTAND_WSA,
)

_GRP_RESPONSE = WSRF_ACTIONS["GetResourceProperty"][1]
#: The fault action of WS-Addressing 1.0's SOAP binding (DESIGN §2: unless the WSDL gives one).
_FAULT_ACTION = f"{WSA}/soap/fault"


def _phase_reply(reply: Reply, what: str) -> str:
    values = property_values(reply, PHASE, operation=what)
    require(len(values) == 1, f"{what} returned {len(values)} uwscore:Phase elements")
    return (values[0].text or "").strip()


def reply_headers_in(reply: Reply, namespace: str) -> list[str]:
    """What is missing from or wrong with ``reply``'s addressing headers in ``namespace``."""
    problems = []
    for name in ("Action", "MessageID"):
        if not reply.header(namespace, name):
            problems.append(f"no {short(q(namespace, name))}")
    related = reply.header_texts(namespace, "RelatesTo")
    if related != [reply.request_message_id]:
        problems.append(f"RelatesTo {related} is not [{reply.request_message_id}]")
    other = WSA if namespace == WSA_2004 else WSA_2004
    stray = [short(str(h.tag)) for h in reply.headers if etree.QName(h).namespace == other]
    if stray:
        problems.append(f"headers in the other addressing version: {', '.join(stray)}")
    return problems


@dataclass
class _Addressing(SharedJob):
    epr_2004: EndpointReference | None = None

    def unknown(self) -> EndpointReference:
        return self.endpoint.reference(random_resource_id())

    def reference(self, marker: str) -> str:
        reply = self.endpoint.get_property(self.job(), PHASE, is_reference_parameter=marker)
        phase = _phase_reply(reply, f'GetResourceProperty with IsReferenceParameter="{marker}"')
        return f"answered the phase {phase}"

    def reference_true(self) -> str:
        return self.reference("true")

    def reference_one(self) -> str:
        return self.reference("1")

    def relates_to(self) -> str:
        reply = self.endpoint.get_property(self.job(), PHASE)
        _phase_reply(reply, "GetResourceProperty")
        related = reply.header_texts(WSA, "RelatesTo")
        require(
            related == [reply.request_message_id],
            f"the reply's wsa:RelatesTo is {related or 'absent'}, not [{reply.request_message_id}]",
        )
        return "RelatesTo names the request"

    def relates_to_fault(self) -> str:
        reply = self.endpoint.get_property(self.unknown(), PHASE)
        expect_fault(reply, (RESOURCE_UNKNOWN,), operation="GetResourceProperty (unknown id)")
        related = reply.header_texts(WSA, "RelatesTo")
        require(
            related == [reply.request_message_id],
            f"the fault's wsa:RelatesTo is {related or 'absent'}, not [{reply.request_message_id}]",
        )
        return "the fault's RelatesTo names the request"

    def reply_action(self) -> str:
        reply = self.endpoint.get_property(self.job(), PHASE)
        _phase_reply(reply, "GetResourceProperty")
        action = reply.header(WSA, "Action")
        require(
            action == _GRP_RESPONSE,
            f"the reply's wsa:Action is {action!r}, not {_GRP_RESPONSE}",
        )
        fault = self.endpoint.get_property(self.unknown(), PHASE)
        expect_fault(fault, (RESOURCE_UNKNOWN,), operation="GetResourceProperty (unknown id)")
        fault_action = fault.header(WSA, "Action")
        require(fault_action, "the fault carries no wsa:Action")
        declared = self.context.fault_actions
        if declared is None:
            return f"reply {action}; fault {fault_action} (no WSDL to compare it with)"
        allowed = {_FAULT_ACTION, *declared}
        require(
            fault_action in allowed,
            f"the fault's wsa:Action {fault_action!r} is neither {_FAULT_ACTION} nor an "
            "Action the WSDL gives a fault",
        )
        return f"reply {action}; fault {fault_action}"

    def reply_message_id(self) -> str:
        replies = [("reply", self.endpoint.get_property(self.job(), PHASE))]
        replies.append(("fault", self.endpoint.get_property(self.unknown(), PHASE)))
        for kind, reply in replies:
            identifiers = reply.header_texts(WSA, "MessageID")
            require(len(identifiers) == 1, f"the {kind} has {len(identifiers)} wsa:MessageID")
            require(
                identifiers[0] and identifiers[0] != reply.request_message_id,
                f"the {kind}'s MessageID {identifiers[0]!r} is empty or the request's own",
            )
        return "replies and faults carry their own MessageID"

    def message_id_forms(self) -> str:
        identifier = f"uuid:{os.urandom(16).hex()}"
        reply = self.endpoint.get_property(self.job(), PHASE, message_id=identifier)
        _phase_reply(reply, f"GetResourceProperty with MessageID {identifier}")
        related = reply.header_texts(WSA, "RelatesTo")
        require(related == [identifier], f"RelatesTo is {related}, not [{identifier}]")
        return "a uuid: MessageID is answered"

    def wsa2004_create(self) -> str:
        reply = self.endpoint.create_job(self.description(), namespace=WSA_2004)
        body = expect_response(
            reply, q(self.endpoint.namespace, "createJobResponse"), operation="createJob (2004/08)"
        )
        references = [child for child in body if isinstance(child.tag, str)]
        for reference in references:
            if etree.QName(reference).localname == "EndpointReference":
                self.created.append(read_endpoint_reference(reference))
        tags = [short(str(r.tag)) for r in references]
        require(
            [str(r.tag) for r in references] == [q(WSA_2004, "EndpointReference")],
            f"createJobResponse holds {tags or 'nothing'}, not one wsa04:EndpointReference",
        )
        self.epr_2004 = self.created[-1]
        problems = reply_headers_in(reply, WSA_2004)
        require(not problems, "reply headers: " + "; ".join(problems))
        return "2004/08 reply headers and EPR"

    def wsa2004_call(self) -> str:
        if self.epr_2004 is None:
            raise CheckSkipped("no 2004/08 EPR (see addressing.wsa2004-create)")
        reply = self.endpoint.get_property(self.epr_2004, PHASE, namespace=WSA_2004)
        phase = _phase_reply(reply, "GetResourceProperty (2004/08)")
        problems = reply_headers_in(reply, WSA_2004)
        require(not problems, "reply headers: " + "; ".join(problems))
        return f"answered {phase} in 2004/08"

    def wsa2004_fault(self) -> str:
        unknown = self.unknown()
        epr = EndpointReference(
            address=unknown.address,
            namespace=WSA_2004,
            reference_parameters=unknown.reference_parameters,
        )
        reply = self.endpoint.get_property(epr, PHASE, namespace=WSA_2004)
        expect_fault(reply, (RESOURCE_UNKNOWN,), operation="GetResourceProperty (2004/08)")
        problems = reply_headers_in(reply, WSA_2004)
        require(not problems, "fault headers: " + "; ".join(problems))
        return "the fault's headers are in 2004/08"

    def must_understand(self) -> str:
        header = etree.Element(q(UNKNOWN, "Unknown"), nsmap={"x": UNKNOWN, "soapenv": SOAP11})
        header.set(q(SOAP11, "mustUnderstand"), "1")
        header.text = "a header no service understands"
        try:
            target = self.job()
        except CheckSkipped:
            target = self.unknown()  # the fault code tells the answers apart all the same
        reply = self.endpoint.get_property(target, PHASE, extra_headers=[header])
        fault = reply.fault
        require(
            fault is not None,
            f"the request was processed though a header it must understand was ignored: "
            f"{reply.describe()}",
        )
        assert fault is not None
        require(
            fault.is_code("MustUnderstand"),
            f"faultcode {fault.code!r} in {fault.code_namespace}, not soapenv:MustUnderstand",
        )
        require(reply.http_status == 500, f"the fault came with HTTP {reply.http_status}")
        return "soapenv:MustUnderstand fault"

    def must_understand_addressing(self) -> str:
        reply = self.endpoint.get_property(self.job(), PHASE, must_understand=True)
        phase = _phase_reply(reply, 'GetResourceProperty with To/Action mustUnderstand="1"')
        return f"answered the phase {phase}"


def run(context: Context, recorder: Recorder) -> None:
    """Run the addressing checks."""
    endpoint = context.endpoint()
    checks = _Addressing.for_context(context, endpoint)
    with cleanup(endpoint, checks.created):
        recorder.run(REFERENCE_TRUE, checks.reference_true)
        recorder.run(REFERENCE_ONE, checks.reference_one)
        recorder.run(RELATES_TO, checks.relates_to)
        recorder.run(RELATES_TO_FAULT, checks.relates_to_fault)
        recorder.run(REPLY_ACTION, checks.reply_action)
        recorder.run(REPLY_MESSAGE_ID, checks.reply_message_id)
        recorder.run(MESSAGE_ID_FORMS, checks.message_id_forms)
        recorder.run(WSA2004_CREATE, checks.wsa2004_create)
        recorder.run(WSA2004_CALL, checks.wsa2004_call)
        recorder.run(WSA2004_FAULT, checks.wsa2004_fault)
        recorder.run(MUST_UNDERSTAND, checks.must_understand)
        recorder.run(MUST_UNDERSTAND_WSA, checks.must_understand_addressing)


GROUP = Group("addressing", CHECKS, run)
