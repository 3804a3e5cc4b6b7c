"""The installed template served by ``wsrf-uws serve`` beside the built-in contracts.

Jobs go over SOAP: with the project's client (``wsrf_uws.client``) and with plain zeep
from the WSDL alone, as any other client would.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree
from uws_template.contract import ChecksumContract
from zeep.exceptions import Fault

from wsrf_uws.client import InvalidJobDescription, InvalidPhase, QuotaExceeded, Service
from wsrf_uws.testing.server import RunningServer

from conftest import ENVIRONMENT, jdl, wsrf_uws

NS = "urn:wsrf-uws:checksum:v1"
CORE = "urn:wsrf-uws:core:v1"
BUILT_IN = ("adql", "cea", "image", "steps", "vospace")
# The installed copy: the demo files are package data.
STARS = Path(ChecksumContract.demo_data or "") / "stars.csv"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def checksum(server: RunningServer) -> Service:
    return Service(server.url("checksum"))


def test_the_template_is_listed_beside_the_built_in_contracts(service_folder: Path) -> None:
    listed = wsrf_uws("contracts", "--config", "wsrf-uws.toml", cwd=service_folder)
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert names >= {*BUILT_IN, "checksum"}
    assert "urn:wsrf-uws:checksum:v1" in listed
    assert "FAILED" not in listed


def test_the_service_serves_it_beside_the_built_in_contracts(server: RunningServer) -> None:
    for name in (*BUILT_IN, "checksum"):
        reply = requests.get(server.url(name) + "?wsdl", timeout=30)
        assert reply.status_code == 200, name
        assert f'targetNamespace="urn:wsrf-uws:{name}:v1"' in reply.text, name
    schema = requests.get(f"{server.base_url}/schemas/contracts/checksum.xsd", timeout=30)
    assert schema.status_code == 200
    assert "checksums" in schema.text
    demo = requests.get(f"{server.base_url}/demo/checksum/stars.csv", timeout=30)
    assert demo.content == STARS.read_bytes()


def test_settings_come_from_the_file_and_the_environment(service_folder: Path) -> None:
    printed = wsrf_uws(
        "settings", "--config", "wsrf-uws.toml", cwd=service_folder, env=_environment()
    )
    assert "max_inputs" in printed
    assert "300000" in printed  # the environment's max_job_bytes, not the file's 500000
    assert "500000" not in printed


def _environment() -> dict[str, str]:
    return {**os.environ, **ENVIRONMENT}


def test_a_job_over_soap_with_the_client(
    server: RunningServer, checksum: Service, tmp_path: Path
) -> None:
    document = jdl(
        texts={"greeting.txt": "hello, world"}, urls=(f"{server.base_url}/demo/checksum/stars.csv",)
    )
    job = checksum.create(document)
    try:
        assert job.phase == "PENDING"
        pending = job.state
        assert pending.estimated_cost == {"bytes": 12.0 + STARS.stat().st_size}
        assert job.start() in {"QUEUED", "EXECUTING", "COMPLETED"}
        state = job.wait(timeout=60)
        assert state.phase == "COMPLETED", state.error_message
        assert state.fraction == 1.0
        assert [step.status for step in state.steps] == ["done", "done"]
        assert state.contract is not None
        assert state.contract.findtext(f"{{{NS}}}digested") == "2"
        manifest = state.contract.findtext(f"{{{NS}}}manifest")
        assert manifest == state.result("checksums.txt").href  # type: ignore[union-attr]
        job.download("checksums.txt", tmp_path / "checksums.txt")
        assert (tmp_path / "checksums.txt").read_text() == (
            f"{sha256(b'hello, world')}  greeting.txt\n{sha256(STARS.read_bytes())}  stars.csv\n"
        )
        reply = job.invoke("verify", digest=sha256(STARS.read_bytes()))
        assert [match.text for match in reply.iter(f"{{{NS}}}match")] == ["stars.csv"]
        reply = job.invoke("verify", digest=sha256(b"something else"))
        assert list(reply.iter(f"{{{NS}}}match")) == []
    finally:
        job.destroy()


def test_verify_before_the_end_is_an_invalid_phase(checksum: Service) -> None:
    job = checksum.create(jdl(texts={"a": "1"}))
    try:
        with pytest.raises(InvalidPhase):
            job.invoke("verify", digest=sha256(b"1"))
    finally:
        job.destroy()


def test_the_settings_section_refuses_jobs_with_the_right_fault(checksum: Service) -> None:
    # [checksum] max_inputs = 4, from the file.
    with pytest.raises(InvalidJobDescription, match="at most 4"):
        checksum.create(jdl(texts={str(n): "x" for n in range(5)}))
    # WSRF_UWS_CHECKSUM__MAX_INPUT_BYTES=100000, from the environment.
    with pytest.raises(InvalidJobDescription, match="at most 100000 per input"):
        checksum.create(jdl(texts={"big": "x" * 100_001}))
    # max_job_bytes: 500000 in the file, 300000 in the environment, which wins.
    with pytest.raises(QuotaExceeded, match="at most 300000"):
        checksum.create(jdl(texts={str(n): "x" * 90_000 for n in range(4)}))
    # algorithms = ["sha256", "sha512", "md5"], from the file.
    with pytest.raises(InvalidJobDescription, match="'blake2b' is not offered"):
        checksum.create(jdl(texts={"a": "1"}, algorithm="blake2b"))


def test_a_job_with_plain_zeep(server: RunningServer) -> None:
    endpoint = server.url("checksum")
    client = zeep.Client(endpoint + "?wsdl")
    request = client.get_element(f"{{{NS}}}checksums")(
        algorithm="sha512", _value_1=[{"text": {"_value_1": "abc", "name": "abc.txt"}}]
    )
    epr = client.service.createJob(checksums=request)
    resource_id = epr.ReferenceParameters._value_1[0]._value_1
    service = client.create_service(f"{{{NS}}}ChecksumSoapBinding", epr.Address._value_1)
    header = etree.Element(f"{{{CORE}}}ResourceId", nsmap={"uwscore": CORE})
    header.set("{http://www.w3.org/2005/08/addressing}IsReferenceParameter", "true")
    header.text = resource_id
    call = {"_soapheaders": [header]}
    try:
        assert service.startJob(**call) in {"QUEUED", "EXECUTING", "COMPLETED"}
        phase = _wait(lambda: service.GetResourceProperty(etree.QName(CORE, "Phase"), **call)[0])
        assert phase == "COMPLETED"
        state = service.GetResourceProperty(etree.QName(CORE, "JobState"), **call)[0]
        [result] = state.Result
        data = client.transport.session.get(result.href, timeout=30).content
        assert data == f"{hashlib.sha512(b'abc').hexdigest()}  abc.txt\n".encode()
        reply = service.verify(digest=hashlib.sha512(b"abc").hexdigest(), **call)
        assert reply == ["abc.txt"]
    finally:
        service.Destroy(**call)
    with pytest.raises(Fault) as unknown:
        service.GetResourceProperty(etree.QName(CORE, "Phase"), **call)
    assert etree.QName(unknown.value.detail[0]).localname == "ResourceUnknownFault"


def test_plain_zeep_gets_the_invalid_job_description_fault(server: RunningServer) -> None:
    client = zeep.Client(server.url("checksum") + "?wsdl")
    request = client.get_element(f"{{{NS}}}checksums")(
        algorithm="crc", _value_1=[{"text": {"_value_1": "abc", "name": "abc.txt"}}]
    )
    with pytest.raises(Fault) as refused:
        client.service.createJob(checksums=request)
    assert etree.QName(refused.value.detail[0]).localname == "InvalidJobDescriptionFault"
    assert "'crc' is not offered" in str(refused.value.message)


def _wait(read_phase: Callable[[], str], timeout: float = 60.0) -> str:
    """Poll ``read_phase()`` until the job has ended."""
    deadline = time.monotonic() + timeout
    while (phase := read_phase()) not in {"COMPLETED", "ERROR", "ABORTED"}:
        assert time.monotonic() < deadline, f"still {phase}"
        time.sleep(0.1)
    return str(phase)
