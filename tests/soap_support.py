"""Helpers for the SOAP tests: raw envelopes, and validation of every message on the wire.

:class:`MessageCheck` validates each header block and body child (and fault detail) of
an envelope against the project's own schemas and, where ``../shared`` is present, the
genuine standard schemas. :class:`RecordingPlugin` hands it every message zeep sends
and receives; :func:`post` does the same for hand-written requests.
"""

from __future__ import annotations

import functools
import sys
import time
import urllib.error
import urllib.request
import uuid
from copy import deepcopy
from pathlib import Path
from typing import Any

from lxml import etree
from zeep import Plugin

from wsrf_uws.published import AddressingVersion, compile_schemas, schema_path
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.testing.server import RunningServer

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
CORE = "urn:wsrf-uws:core:v1"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
RL = "http://docs.oasis-open.org/wsrf/rl-2"
R = "http://docs.oasis-open.org/wsrf/r-2"
BF = "http://docs.oasis-open.org/wsrf/bf-2"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
STEPS = "urn:wsrf-uws:steps:v1"
CEA = "urn:wsrf-uws:cea:v1"
IMAGE = "urn:wsrf-uws:image:v1"
ADQL = "urn:wsrf-uws:adql:v1"
VOSPACE = "urn:wsrf-uws:vospace:v1"

SHARED_TOOLS = Path(__file__).resolve().parents[2] / "shared" / "tools"


def _genuine_validator() -> Any:
    if not SHARED_TOOLS.is_dir():
        return None
    sys.path.insert(0, str(SHARED_TOOLS))
    try:
        from validate_xml import Validator
    finally:
        sys.path.remove(str(SHARED_TOOLS))
    return Validator()


class MessageCheck:
    """Validates SOAP envelopes against our schemas and the genuine standard ones."""

    def __init__(self) -> None:
        # Every shipped contract's schema, so any contract's messages can be checked.
        contracts = {
            STEPS: schema_path("steps.xsd"),
            CEA: schema_path("cea.xsd"),
            IMAGE: schema_path("image.xsd"),
            ADQL: schema_path("adql.xsd"),
            VOSPACE: schema_path("vospace.xsd"),
        }
        # The published documents exist once per WS-Addressing version; a message is
        # judged by the set its client would have generated code from.
        self.ours = compile_schemas(contracts)
        self.ours_2004 = compile_schemas(contracts, addressing=AddressingVersion.MEMBER_SUBMISSION)
        self.genuine = _genuine_validator()
        self.checked = 0

    def parts(self, envelope: etree._Element) -> list[etree._Element]:
        """The header blocks, the body child, and what a fault's detail holds."""
        assert envelope.tag == f"{{{SOAP}}}Envelope", envelope.tag
        found: list[etree._Element] = []
        for part in ("Header", "Body"):
            container = envelope.find(f"{{{SOAP}}}{part}")
            for child in container if container is not None else []:
                if not isinstance(child.tag, str):
                    continue
                if child.tag == f"{{{SOAP}}}Fault":
                    detail = child.find("detail")
                    if detail is not None:
                        found.extend(d for d in detail if isinstance(d.tag, str))
                else:
                    found.append(child)
        return found

    def errors(self, envelope: etree._Element) -> list[str]:
        problems = []
        parts = self.parts(envelope)
        member_submission = any(
            etree.QName(node).namespace == WSA_2004
            for part in parts
            for node in part.iter()
            if isinstance(node.tag, str)
        )
        ours = self.ours_2004 if member_submission else self.ours
        for element in parts:
            # A foreign-namespace header we do not declare (WS-Security) is not ours to judge.
            namespace = etree.QName(element).namespace or ""
            if namespace.startswith("http://docs.oasis-open.org/wss/"):
                continue
            if not ours.validate(element):
                problems.append(f"ours: {element.tag}: {ours.error_log.last_error}")
            if self.genuine is not None:
                genuine = self.genuine.errors(_as_genuine(element, member_submission))
                if genuine:
                    problems.append(f"genuine: {element.tag}: {genuine[:2]}")
            self.checked += 1
        return problems

    def assert_valid(self, envelope: etree._Element | bytes) -> None:
        if isinstance(envelope, bytes):
            envelope = etree.fromstring(envelope)
        problems = self.errors(envelope)
        assert not problems, "\n".join(problems) + "\n" + etree.tostring(envelope).decode()


def _as_genuine(element: etree._Element, member_submission: bool) -> etree._Element:
    """``element`` as the genuine standard schemas can judge it.

    WS-BaseFaults 1.2 types a fault's Originator as a WS-Addressing 1.0 EPR; a 2004/08
    caller gets it in its own version (as its WSDL variant declares), which only the
    project's variant schemas describe, so the genuine check leaves it out.
    """
    originators = element.findall(f"{{{BF}}}Originator")
    if not member_submission or not originators:
        return element
    copy = deepcopy(element)
    for originator in copy.findall(f"{{{BF}}}Originator"):
        copy.remove(originator)
    return copy


@functools.cache
def shared_check() -> MessageCheck:
    """One compiled :class:`MessageCheck` per test process (compiling takes a moment)."""
    return MessageCheck()


class RecordingPlugin(Plugin):  # type: ignore[misc]
    """A zeep plugin that validates every envelope zeep sends and receives."""

    def __init__(self, check: MessageCheck) -> None:
        self.check = check
        self.sent: list[etree._Element] = []
        self.received: list[etree._Element] = []

    def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
        self.check.assert_valid(envelope)
        self.sent.append(envelope)
        return envelope, http_headers

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        self.check.assert_valid(envelope)
        self.received.append(envelope)
        return envelope, http_headers


def addressing(
    to: str,
    action: str,
    resource_id: str | None = None,
    *,
    namespace: str = WSA,
    is_reference: str | None = "true",
    message_id: str | None = None,
) -> str:
    """WS-Addressing header blocks as XML text."""
    headers = (
        f'<wsa:To xmlns:wsa="{namespace}">{to}</wsa:To>'
        f'<wsa:Action xmlns:wsa="{namespace}">{action}</wsa:Action>'
        f'<wsa:MessageID xmlns:wsa="{namespace}">{message_id or f"urn:uuid:{uuid.uuid4()}"}'
        "</wsa:MessageID>"
    )
    if resource_id is not None:
        marker = f' wsa:IsReferenceParameter="{is_reference}"' if is_reference else ""
        headers += (
            f'<uwscore:ResourceId xmlns:uwscore="{CORE}" xmlns:wsa="{WSA}"{marker}>'
            f"{resource_id}</uwscore:ResourceId>"
        )
    return headers


def envelope(body: str, headers: str = "") -> bytes:
    """A SOAP 1.1 envelope as bytes."""
    header = f"<soap:Header>{headers}</soap:Header>" if headers else ""
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}">{header}<soap:Body>{body}</soap:Body></soap:Envelope>'
    ).encode()


def post(
    url: str,
    data: bytes,
    *,
    check: MessageCheck | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, etree._Element]:
    """POST ``data``; the HTTP status and the parsed reply (validated when ``check`` is given)."""
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "text/xml; charset=utf-8", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    root = etree.fromstring(body)
    if check is not None:
        check.assert_valid(root)
    return status, root


def fault_detail(root: etree._Element) -> etree._Element:
    """The element inside the fault's ``detail``."""
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None, etree.tostring(root)
    detail = fault.find("detail")
    assert detail is not None and len(detail) == 1, etree.tostring(fault)
    return detail[0]


def error_code(root: etree._Element) -> str:
    """The WS-BaseFaults ErrorCode of a fault reply."""
    return fault_detail(root).findtext(f"{{{BF}}}ErrorCode") or ""


def header(root: etree._Element, name: str, namespace: str = WSA) -> str | None:
    """The text of reply header ``name``."""
    return root.findtext(f"{{{SOAP}}}Header/{{{namespace}}}{name}")


def stored_jobs(server: RunningServer) -> int:
    """How many resources the server's store holds (read beside the running server)."""
    store = SQLiteJobStore(server.data_dir / "wsrf-uws.sqlite")
    try:
        return store.count()
    finally:
        store.close()


VOTABLE = "http://www.ivoa.net/xml/VOTable/v1.3"
VOTABLE_XSD = SHARED_TOOLS.parent / "schemas" / "ivoa-votable-1.4" / "VOTable.xsd"


@functools.cache
def _votable_schema() -> etree.XMLSchema | None:
    return etree.XMLSchema(etree.parse(str(VOTABLE_XSD))) if VOTABLE_XSD.is_file() else None


def assert_valid_votable(table: etree._Element) -> None:
    """A VOTABLE element is valid against the genuine VOTable 1.4 schema, where ../shared is."""
    schema = _votable_schema()
    if schema is not None:
        assert schema.validate(table), schema.error_log.last_error


def contract_state(document_of: Any, state: str) -> etree._Element:
    """The contract's state element ``state`` (a Clark name) of a job's property document.

    ``document_of`` is a client :class:`~wsrf_uws.client.Job`. The whole document is first
    checked against our schemas, each standard property against the genuine schemas, and
    every VOTable in the state against the genuine VOTable 1.4 schema (the last two where
    ../shared is present).
    """
    document = document_of.document()
    check = shared_check()
    assert check.ours.validate(document), check.ours.error_log.last_error
    if check.genuine is not None:
        for child in document:
            assert not check.genuine.errors(child), (child.tag, check.genuine.errors(child))
    found = document.find(state)
    assert found is not None, etree.tostring(document)[:2000]
    for table in found.iter(f"{{{VOTABLE}}}VOTABLE"):
        assert_valid_votable(table)
    return found


def wait_for_phase(job: Any, phases: set[str], *, timeout: float = 60.0, poll: float = 0.05) -> str:
    """Poll a client :class:`~wsrf_uws.client.Job` until its phase is one of ``phases``.

    ``timeout`` only guards against a hang; it is never a measurement.
    """
    deadline = time.monotonic() + timeout
    while (phase := job.phase) not in phases:
        assert time.monotonic() < deadline, f"{job} still {phase}"
        time.sleep(poll)
    return str(phase)
