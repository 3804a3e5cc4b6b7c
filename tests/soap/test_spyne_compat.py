"""Pins what ``soap/spyne_compat.py`` works around, through the WSGI application in-process.

If a Spyne upgrade (or its removal) changes any of this, these tests say which seam moved.
The published WSDL itself is pinned by ``test_soap.py`` (the committed ``wsdl/steps.wsdl``).
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.soap.application import SoapApplication
from wsrf_uws.testing import build_test_service

from soap_support import BF, CORE, RL, RP, SOAP, STEPS, WSA, addressing, envelope

BASE = "http://uws.example.org"
ENDPOINT = f"{BASE}/uws/steps"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[SoapApplication]:
    service = build_test_service(tmp_path / "data")
    service.startup()
    yield SoapApplication(
        service=service,
        base_url=BASE,
        authenticate=lambda *, headers, environ: ANONYMOUS,
    )
    service.shutdown()


def call(
    app: SoapApplication,
    data: bytes,
    path: str = "/uws/steps",
    content_type: str = "text/xml; charset=utf-8",
) -> tuple[str, bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status
        seen["headers"] = dict(headers)

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
    }
    body = b"".join(app(environ, start_response))
    assert seen["headers"]["Content-Length"] == str(len(body))
    return seen["status"], body


def create(app: SoapApplication) -> str:
    status, body = call(
        app,
        envelope(
            f'<s:createJob xmlns:s="{STEPS}"><s:job><s:steps>1</s:steps>'
            "<s:stepSeconds>0</s:stepSeconds></s:job></s:createJob>"
        ),
    )
    assert status.startswith("200"), body
    return str(etree.fromstring(body).findtext(f".//{{{CORE}}}ResourceId"))


def test_the_python_3_12_import_shim_lets_spyne_import_in_a_fresh_interpreter() -> None:
    code = (
        "import wsrf_uws.soap.spyne_compat as s, sys\n"
        "import spyne.util.six.moves.urllib.parse\n"
        "print(any(type(f).__name__ == '_SixMovesFinder' for f in sys.meta_path))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == str(sys.version_info >= (3, 12))


def test_foreign_namespace_bodies_are_routed(app: SoapApplication) -> None:
    resource_id = create(app)
    status, body = call(
        app,
        envelope(
            f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:c="{CORE}">'
            "c:Phase</r:GetResourceProperty>",
            addressing(ENDPOINT, "a", resource_id),
        ),
    )
    assert status == "200 OK"
    reply = etree.fromstring(body)
    assert reply.findtext(f".//{{{RP}}}GetResourcePropertyResponse/{{{CORE}}}Phase") == "PENDING"


def test_the_reply_is_written_as_the_binding_built_it(app: SoapApplication) -> None:
    resource_id = create(app)
    status, body = call(
        app,
        envelope(
            f'<r:Destroy xmlns:r="{RL}"/>', addressing(ENDPOINT, "a", resource_id, message_id="m-1")
        ),
    )
    assert status == "200 OK"
    reply = etree.fromstring(body)
    assert reply.prefix == "soap"
    headers = [etree.QName(h).localname for h in reply.find(f"{{{SOAP}}}Header")]
    assert headers == ["Action", "MessageID", "RelatesTo"]
    assert [child.tag for child in reply.find(f"{{{SOAP}}}Body")] == [f"{{{RL}}}DestroyResponse"]


def test_faults_are_500_with_one_base_fault_in_detail_and_no_spyne_subcodes(
    app: SoapApplication,
) -> None:
    status, body = call(app, envelope(f'<r:Unknown xmlns:r="{RP}"/>'))
    assert status == "500 Internal Server Error"  # Spyne alone would answer 404
    fault = etree.fromstring(body).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault.findtext("faultcode") == "soap:Client"
    detail = fault.find("detail")
    assert [child.tag for child in detail] == [f"{{{BF}}}BaseFault"]
    assert detail[0].findtext(f"{{{BF}}}ErrorCode") == "unknown-operation"
    assert fault.find("faultactor") is None


def test_soap_encoding_hrefs_are_not_resolved(app: SoapApplication) -> None:
    data = envelope(
        f'<s:startJob xmlns:s="{STEPS}" id="loop"><s:x href="#loop"/></s:startJob>',
        addressing(ENDPOINT, "a", "x"),
    )
    status, body = call(app, data)
    assert status.startswith("500")
    assert b"invalid-request" in body  # a schema fault, not a RecursionError


def test_client_faults_do_not_log_tracebacks(
    app: SoapApplication, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        call(app, b"<broken")
        call(app, envelope(f'<r:Unknown xmlns:r="{RP}"/>'))
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


def test_an_unexpected_error_is_a_server_fault_with_a_reference(
    app: SoapApplication, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource_id = create(app)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.service, "destroy_job", broken)
    with caplog.at_level(logging.ERROR):
        status, body = call(
            app, envelope(f'<r:Destroy xmlns:r="{RL}"/>', addressing(ENDPOINT, "a", resource_id))
        )
    assert status.startswith("500")
    assert b"<faultcode>soap:Server</faultcode>" in body
    assert b"disk on fire" not in body and b"Traceback" not in body
    reference = (
        etree.fromstring(body).findtext(f".//{{{BF}}}Description").split("reference ")[1][:12]
    )
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)


def test_the_oversize_check_answers_413_before_reading(app: SoapApplication) -> None:
    app.max_body_bytes = 100
    status, body = call(app, envelope("<a>" + "x" * 200 + "</a>"))
    assert status.startswith("413")
    assert etree.fromstring(body).findtext(f".//{{{BF}}}ErrorCode") == "request-too-large"
    assert etree.fromstring(body).find(f".//{{{WSA}}}Action") is not None


def test_a_body_with_two_elements_is_refused(app: SoapApplication) -> None:
    status, body = call(app, envelope(f'<r:Destroy xmlns:r="{RL}"/><r:Destroy xmlns:r="{RL}"/>'))
    assert status.startswith("500")
    assert etree.fromstring(body).findtext(f".//{{{BF}}}ErrorCode") == "invalid-request"


def test_multipart_bodies_never_reach_spynes_mime_code(app: SoapApplication) -> None:
    """Spyne's MTOM/SwA code re-parsed the SOAP part with lxml's default parser."""
    part = b'<!DOCTYPE e [<!ENTITY x "EXPANDED">]>' + envelope(
        f'<r:GetResourceProperty xmlns:r="{RP}">&x;</r:GetResourceProperty>'
    )
    data = b"--b\r\nContent-ID: <root>\r\n\r\n" + part + b"\r\n--b--\r\n"
    status, body = call(app, data, content_type="multipart/related; boundary=b")
    assert status == "415 Unsupported Media Type"
    assert etree.fromstring(body).findtext(f".//{{{BF}}}ErrorCode") == "unsupported-media-type"
    assert b"EXPANDED" not in body


DESTROY = envelope(f'<r:Destroy xmlns:r="{RL}"/>')


@pytest.mark.parametrize(
    ("charset", "data", "code"),
    [
        # decoded as the header says: the operation runs (and finds no ResourceId)
        ("utf-16", DESTROY.decode().encode("utf-16"), "resource-unknown"),
        ("UTF-8", DESTROY.replace(b"Destroy", b"D\xffy"), "malformed-xml"),
        ("latin-1", DESTROY, "unsupported-charset"),
    ],
)
def test_the_charset_is_the_binding_s_not_spynes(
    app: SoapApplication, charset: str, data: bytes, code: str
) -> None:
    """Spyne decoded with any codec named, and a bad byte or name was an internal error."""
    status, body = call(app, data, content_type=f"text/xml; charset={charset}")
    assert status.startswith("500")
    assert etree.fromstring(body).findtext(f".//{{{BF}}}ErrorCode") == code
