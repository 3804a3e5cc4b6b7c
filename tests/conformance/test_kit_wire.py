"""The kit's wire: replies, faults and headers read from crafted XML; HTTP limits; helpers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

from wsrf_uws.conformance.checks.jobs import identifier_bits
from wsrf_uws.conformance.checks.owners import indistinguishable
from wsrf_uws.conformance.names import BF, CORE, WSA, WSA_2004, R
from wsrf_uws.conformance.options import SAMPLE_CONTRACTS, builtin_sample
from wsrf_uws.conformance.outcomes import CheckFailed
from wsrf_uws.conformance.protocol import resource_reference
from wsrf_uws.conformance.replies import parse_time
from wsrf_uws.conformance.wire import (
    Addressing,
    HttpReply,
    WireError,
    http_request,
    read_reply,
)
from wsrf_uws.published import compile_schemas, schema_path

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def fault_envelope(
    *,
    code: str = "soap:Client",
    description: str = "no resource 'abc' is known",
    timestamp: str = "2026-01-02T03:04:05Z",
    relates_to: str | None = "urn:uuid:1",
) -> bytes:
    related = f"<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>" if relates_to else ""
    return f"""<?xml version="1.0"?>
<soap:Envelope xmlns:soap="{SOAP}" xmlns:wsa="{WSA}" xmlns:other="urn:other">
  <soap:Header><wsa:Action>urn:fault</wsa:Action>{related}</soap:Header>
  <soap:Body><soap:Fault>
    <faultcode>{code}</faultcode><faultstring>{description}</faultstring>
    <detail><r:ResourceUnknownFault xmlns:r="{R}" xmlns:bf="{BF}">
      <bf:Timestamp>{timestamp}</bf:Timestamp><bf:Description>{description}</bf:Description>
    </r:ResourceUnknownFault></detail>
  </soap:Fault></soap:Body>
</soap:Envelope>""".encode()


def reply(data: bytes, status: int = 500, message_id: str | None = "urn:uuid:1"):  # type: ignore[no-untyped-def]
    return read_reply(HttpReply(status, data, "text/xml"), request_message_id=message_id)


def test_a_fault_is_read_whole() -> None:
    fault = reply(fault_envelope()).fault
    assert fault is not None
    assert fault.is_code("Client") and not fault.is_code("Server")
    assert fault.detail_tag == f"{{{R}}}ResourceUnknownFault"
    assert fault.timestamp == "2026-01-02T03:04:05Z"
    assert fault.descriptions == ["no resource 'abc' is known"]


@pytest.mark.parametrize(
    ("code", "client"),
    [("soap:Client", True), ("soap:Client.Authentication", True), ("other:Client", False),
     ("Client", False), ("soap:Server", False)],
)  # fmt: skip
def test_the_faultcode_must_be_in_the_envelope_namespace(code: str, client: bool) -> None:
    fault = reply(fault_envelope(code=code)).fault
    assert fault is not None
    assert fault.is_code("Client") is client


def test_headers_are_read_by_name() -> None:
    answer = reply(fault_envelope(relates_to="urn:uuid:1"))
    assert answer.header(WSA, "Action") == "urn:fault"
    assert answer.header_texts(WSA, "RelatesTo") == ["urn:uuid:1"]
    assert answer.header(WSA_2004, "Action") is None
    assert reply(fault_envelope(relates_to=None)).header_texts(WSA, "RelatesTo") == []


def test_a_successful_reply_has_no_fault() -> None:
    data = f'<s:Envelope xmlns:s="{SOAP}"><s:Body><x:ok xmlns:x="urn:x"/></s:Body></s:Envelope>'
    answer = reply(data.encode(), status=200)
    assert answer.fault is None
    assert answer.body is not None and answer.body.tag == "{urn:x}ok"
    assert answer.headers == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty body"),
        (b"<html>not soap</html>", "not a SOAP 1.1 Envelope"),
        (b"this is not XML", "not well-formed XML"),
        (
            b'<!DOCTYPE s:Envelope [<!ENTITY x "y">]><s:Envelope xmlns:s="'
            + SOAP.encode()
            + b'"/>',
            "DOCTYPE",
        ),
        (b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"/>', "not a SOAP 1.1"),
    ],
)
def test_a_reply_that_is_no_soap_11_envelope_is_a_wire_error(data: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        reply(data)


def test_reference_parameters_are_marked_in_1_0_only() -> None:
    epr = resource_reference("http://x/uws/steps", "abc")
    for namespace, marker in ((WSA, "1"), (WSA_2004, None)):
        blocks = Addressing(
            to="http://x/uws/steps",
            action="urn:a",
            namespace=namespace,
            reference_parameters=epr.reference_parameters,
            is_reference_parameter="1",
            must_understand=True,
        ).headers()
        tags = [etree.QName(b).localname for b in blocks]
        assert tags == ["To", "Action", "MessageID", "ResourceId"]
        resource = blocks[-1]
        assert resource.tag == f"{{{CORE}}}ResourceId" and resource.text == "abc"
        assert resource.get(f"{{{WSA}}}IsReferenceParameter") == marker
        assert blocks[0].get(f"{{{SOAP}}}mustUnderstand") == "1"
        assert blocks[2].get(f"{{{SOAP}}}mustUnderstand") is None


def test_indistinguishable_answers_may_differ_in_ids_and_timestamps() -> None:
    theirs = reply(
        fault_envelope(description="no resource 'mine' is known", timestamp="2026-01-01T00:00:00Z")
    )
    unknown = reply(fault_envelope(description="no resource 'rand' is known"))
    assert "unknown id" in indistinguishable(theirs, unknown, their_id="mine", unknown_id="rand")


def test_an_answer_naming_the_owner_is_told_apart() -> None:
    theirs = reply(fault_envelope(description="resource 'mine' belongs to alice"))
    unknown = reply(fault_envelope(description="no resource 'rand' is known"))
    with pytest.raises(CheckFailed, match="faultstring"):
        indistinguishable(theirs, unknown, their_id="mine", unknown_id="rand")


def test_a_status_difference_is_told_apart() -> None:
    theirs = reply(fault_envelope(), status=403)
    unknown = reply(fault_envelope(), status=500)
    with pytest.raises(CheckFailed, match="HTTP status"):
        indistinguishable(theirs, unknown, their_id="mine", unknown_id="rand")


@pytest.mark.parametrize(
    ("identifier", "bits"),
    [
        ("5f0c8b1e-3c5e-4a6b-9d2f-0e1d2c3b4a59", 122),
        ("0123456789abcdef0123456789abcdef", 128),
        ("6ugfzbinqu6m3qtoqvons6sqxjbme7ap", 192),
        ("17", 8),
    ],
)
def test_identifier_capacity(identifier: str, bits: int) -> None:
    assert identifier_bits(identifier) == bits


@pytest.mark.parametrize(
    ("text", "valid"),
    [("2026-01-02T03:04:05Z", True), ("2026-01-02T03:04:05.25Z", True),
     ("2026-01-02T03:04:05+00:00", False), ("2026-01-02T03:04:05", False),
     ("2026-13-02T03:04:05Z", False)],
)  # fmt: skip
def test_times_must_be_utc_with_z(text: str, valid: bool) -> None:
    if valid:
        assert parse_time(text, what="t").tzinfo is not None
    else:
        with pytest.raises(CheckFailed):
            parse_time(text, what="t")


class _Big(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/elsewhere":
            self.send_response(302)
            self.send_header("Location", "http://192.0.2.1/not-the-service")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"x" * 5000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def big_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Big)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_reply_beyond_the_limit_is_refused_or_truncated(big_server: str) -> None:
    with pytest.raises(WireError, match="larger than 1000 bytes"):
        http_request(big_server, timeout=5, limit=1000)
    start = http_request(big_server, timeout=5, limit=1000, truncate=True)
    assert (start.status, len(start.body), start.truncated) == (200, 1000, True)
    assert len(http_request(big_server, timeout=5).body) == 5000


def test_redirects_are_answers_not_followed(big_server: str) -> None:
    answer = http_request(big_server + "elsewhere", timeout=5)
    assert answer.status == 302


def test_only_http_urls_are_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("local file")
    with pytest.raises(WireError, match="only http and https"):
        http_request(secret.as_uri(), timeout=5)


@pytest.mark.parametrize("contract", SAMPLE_CONTRACTS)
def test_every_builtin_sample_is_a_valid_job_description(contract: str) -> None:
    namespace = f"urn:wsrf-uws:{contract}:v1"
    schema = compile_schemas({namespace: schema_path(f"{contract}.xsd")})
    for kind in ("", "restart", "held"):
        sample = builtin_sample(contract, kind)
        if sample is None:
            assert kind, f"contract {contract} has no lifecycle sample"
            continue
        root = etree.fromstring(sample)
        assert root.tag == f"{{{namespace}}}job"
        assert schema.validate(root), (contract, kind, schema.error_log)
