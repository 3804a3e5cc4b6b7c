"""The SOAP binding end to end: a real ``wsrf-uws serve`` process, zeep on the published WSDL.

Every envelope zeep sends or receives, and every reply to a hand-written request, is
validated against the project's schemas and the genuine standard schemas
(:mod:`soap_support`).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zeep
from lxml import etree
from zeep.exceptions import Fault

from wsrf_uws.testing.server import RunningServer, running_server

from soap_support import (
    BF,
    CORE,
    RL,
    RP,
    STEPS,
    UWS,
    WSA,
    WSA_2004,
    MessageCheck,
    R,
    RecordingPlugin,
    addressing,
    envelope,
    error_code,
    fault_detail,
    header,
    post,
    shared_check,
    stored_jobs,
)

GRP_ACTION = "http://docs.oasis-open.org/wsrf/rpw-2/GetResourceProperty/GetResourcePropertyRequest"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("soap")) as running:
        yield running


@pytest.fixture(scope="module")
def check() -> MessageCheck:
    return shared_check()


def checked_client(server: RunningServer) -> zeep.Client:
    """zeep on the published WSDL, validating every message it sends and receives."""
    return zeep.Client(server.url("steps") + "?wsdl", plugins=[RecordingPlugin(shared_check())])


@pytest.fixture(scope="module")
def client(server: RunningServer) -> zeep.Client:
    return checked_client(server)


def resource_header(resource_id: str, marker: str = "true") -> etree._Element:
    element = etree.Element(f"{{{CORE}}}ResourceId", nsmap={"uwscore": CORE, "wsa": WSA})
    element.set(f"{{{WSA}}}IsReferenceParameter", marker)
    element.text = resource_id
    return element


def create(client: zeep.Client, steps: int = 2, seconds: float = 0.05) -> str:
    job = client.get_element(f"{{{STEPS}}}job")(steps=steps, stepSeconds=seconds)
    # The wrapped convention: zeep returns the response wrapper's only child, the EPR.
    reference = client.service.createJob(job=job)
    return str(reference.ReferenceParameters._value_1[0]._value_1)


def wait_phase(client: zeep.Client, resource_id: str, phases: set[str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        phase = client.service.GetResourceProperty(
            etree.QName(CORE, "Phase"), _soapheaders=[resource_header(resource_id)]
        )[0]
        if phase in phases:
            return str(phase)
        time.sleep(0.05)
    raise AssertionError(f"{resource_id} never reached {phases}")


# -- the published contract ----------------------------------------------------------


def test_zeep_loads_the_published_wsdl_with_every_operation(client: zeep.Client) -> None:
    operations = set(client.service._binding._operations)
    assert operations == {
        "createJob",
        "startJob",
        "resumeJob",
        "readResult",
        "abortJob",
        "listJobs",
        "GetResourcePropertyDocument",
        "GetResourceProperty",
        "GetMultipleResourceProperties",
        "SetTerminationTime",
        "Destroy",
    }
    grp = client.service._binding._operations["GetResourceProperty"]
    assert grp.abstract.wsa_action == GRP_ACTION
    assert grp.soapaction == GRP_ACTION


def test_the_wsdl_names_the_public_url_whatever_the_host_header(server: RunningServer) -> None:
    request = urllib.request.Request(
        server.url("steps") + "?wsdl", headers={"Host": "attacker.invalid"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        wsdl = response.read()
    assert b"attacker.invalid" not in wsdl
    assert f'location="{server.url("steps")}"'.encode() in wsdl


def served_documents(server: RunningServer, wsdl_url: str) -> dict[str, etree._Element]:
    """The WSDL at ``wsdl_url`` and every document it imports, transitively, by URL."""
    seen: dict[str, etree._Element] = {}
    pending = [wsdl_url]
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        assert url.startswith(server.base_url), f"{url} is not served by the service"
        with urllib.request.urlopen(url, timeout=10) as response:
            root = etree.fromstring(response.read())
        assert root.getroottree().docinfo.doctype == ""
        seen[url] = root
        for element in root.iter(etree.Element):
            location = element.get("schemaLocation") or (
                element.get("location") if etree.QName(element).localname == "import" else None
            )
            if location:
                pending.append(location)
    return seen


#: The namespaces of each WS-Addressing version, as documents name them.
ADDRESSING_FAMILIES = {
    "1.0": {
        WSA,
        "http://www.w3.org/2006/05/addressing/wsdl",
        "http://www.w3.org/2007/05/addressing/metadata",
    },
    "2004-08": {WSA_2004},
}


@pytest.mark.parametrize("addressing", ["1.0", "2004-08"])
def test_every_document_the_wsdl_imports_is_served_for_one_addressing_version(
    server: RunningServer, addressing: str
) -> None:
    query = "?wsdl" if addressing == "1.0" else f"?wsdl&addressing={addressing}"
    documents = served_documents(server, server.url("steps") + query)
    assert len(documents) >= 10  # WSDL, common WSDL, core, steps, bf, r, rp, rl, wsa, uws, xlink...
    used = {
        namespace
        for root in documents.values()
        for element in root.iter(etree.Element)
        for namespace in [*element.nsmap.values(), element.get("namespace")]
        if namespace
    }
    (other,) = set(ADDRESSING_FAMILIES) - {addressing}
    assert used & ADDRESSING_FAMILIES[addressing]
    assert not used & ADDRESSING_FAMILIES[other], sorted(used & ADDRESSING_FAMILIES[other])


def test_a_wsdl_for_an_unknown_addressing_version_is_a_clear_400(server: RunningServer) -> None:
    url = server.url("steps") + "?wsdl&addressing=2003-03"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 400
    assert b"2004-08" in refused.value.read()


@pytest.mark.parametrize("name", ["steps", "cea", "image", "adql", "vospace"])
def test_the_committed_wsdl_is_what_the_service_renders(name: str) -> None:
    from wsrf_uws.core.registry import ContractRegistry
    from wsrf_uws.published import wsdl_path
    from wsrf_uws.soap.documents import committed_wsdl

    contract = ContractRegistry.from_entry_points(enabled=[name]).get(name)
    assert wsdl_path(f"{name}.wsdl").read_bytes() == committed_wsdl(contract), (
        f"regenerate: python -m wsrf_uws.soap.documents {name} > wsdl/{name}.wsdl"
    )


# -- the operations through zeep -------------------------------------------------------


def test_a_job_round_trip(client: zeep.Client) -> None:
    resource_id = create(client, steps=2)
    assert len(resource_id) == 32
    headers = [resource_header(resource_id)]
    assert client.service.GetResourceProperty(etree.QName(CORE, "Phase"), _soapheaders=headers) == [
        "PENDING"
    ]
    assert client.service.startJob(_soapheaders=headers) in ("QUEUED", "EXECUTING", "COMPLETED")
    assert wait_phase(client, resource_id, {"COMPLETED"}) == "COMPLETED"
    state = client.service.GetResourceProperty(etree.QName(CORE, "JobState"), _soapheaders=headers)[
        0
    ]
    assert state.FractionComplete == 1.0
    assert [r.name for r in state.Result] == ["step-1.txt", "step-2.txt"]
    document = client.service.GetResourcePropertyDocument(_soapheaders=headers)
    assert document.Phase == "COMPLETED"
    assert document.job.jobId == resource_id
    assert document.state.results == 2


def test_get_multiple_resource_properties(client: zeep.Client) -> None:
    resource_id = create(client)
    values = client.service.GetMultipleResourceProperties(
        ResourceProperty=[
            etree.QName(CORE, "Phase"),
            etree.QName(RL, "TerminationTime"),
            etree.QName(RL, "CurrentTime"),
        ],
        _soapheaders=[resource_header(resource_id)],
    )
    assert values[0] == "PENDING"
    assert len(values) == 3


def test_set_termination_time_by_time_and_by_duration(client: zeep.Client) -> None:
    resource_id = create(client)
    headers = [resource_header(resource_id)]
    wanted = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    answer = client.service.SetTerminationTime(
        RequestedTerminationTime=wanted, _soapheaders=headers
    )
    assert answer.NewTerminationTime == wanted
    answer = client.service.SetTerminationTime(
        RequestedLifetimeDuration=timedelta(hours=3), _soapheaders=headers
    )
    assert timedelta(hours=2, minutes=59) < answer.NewTerminationTime - answer.CurrentTime
    termination = client.service.GetResourceProperty(
        etree.QName(RL, "TerminationTime"), _soapheaders=headers
    )[0]
    assert termination._value_1 == answer.NewTerminationTime


def test_a_past_termination_time_destroys_and_still_answers(client: zeep.Client) -> None:
    resource_id = create(client)
    headers = [resource_header(resource_id)]
    past = datetime.now(UTC) - timedelta(minutes=1)
    answer = client.service.SetTerminationTime(RequestedTerminationTime=past, _soapheaders=headers)
    assert answer.NewTerminationTime == past.replace(microsecond=past.microsecond)
    with pytest.raises(Fault) as caught:
        client.service.GetResourceProperty(etree.QName(CORE, "Phase"), _soapheaders=headers)
    assert caught.value.detail[0].tag == f"{{{R}}}ResourceUnknownFault"


@pytest.mark.parametrize(
    ("request_kwargs", "fault"),
    [
        ({"RequestedTerminationTime": zeep.xsd.SkipValue}, "UnableToSetTerminationTimeFault"),
        ({"RequestedLifetimeDuration": timedelta(days=400)}, "TerminationTimeChangeRejectedFault"),
    ],
    ids=["nil", "beyond the cap"],
)
def test_refused_termination_times(client: zeep.Client, request_kwargs: dict, fault: str) -> None:
    resource_id = create(client)
    headers = [resource_header(resource_id)]
    if "RequestedTerminationTime" in request_kwargs:
        request_kwargs = {"RequestedTerminationTime": zeep.xsd.Nil}
    with pytest.raises(Fault) as caught:
        client.service.SetTerminationTime(**request_kwargs, _soapheaders=headers)
    assert caught.value.detail[0].tag == f"{{{RL}}}{fault}"
    assert caught.value.code == "soap:Client"


def test_destroy_forgets_the_job_and_its_results(
    client: zeep.Client, server: RunningServer
) -> None:
    resource_id = create(client, steps=1, seconds=0)
    headers = [resource_header(resource_id)]
    client.service.startJob(_soapheaders=headers)
    wait_phase(client, resource_id, {"COMPLETED"})
    url = f"{server.base_url}/results/{resource_id}/step-1.txt"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"step 1 of run 1\n"
    assert client.service.Destroy(_soapheaders=headers) is None
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(url, timeout=10)
    assert missing.value.code == 404
    with pytest.raises(Fault) as caught:
        client.service.Destroy(_soapheaders=headers)
    assert caught.value.detail[0].tag == f"{{{R}}}ResourceUnknownFault"


def test_start_in_a_final_phase_is_an_invalid_phase_fault(client: zeep.Client) -> None:
    resource_id = create(client, steps=1, seconds=0)
    headers = [resource_header(resource_id)]
    client.service.startJob(_soapheaders=headers)
    wait_phase(client, resource_id, {"COMPLETED"})
    with pytest.raises(Fault) as caught:
        client.service.startJob(_soapheaders=headers)
    detail = caught.value.detail[0]
    assert detail.tag == f"{{{CORE}}}InvalidPhaseFault"
    assert detail.findtext(f"{{{CORE}}}Phase") == "COMPLETED"
    # resumeJob on a job that ran and ended answers its phase (pattern §2.4)
    assert client.service.resumeJob(_soapheaders=headers) == "COMPLETED"


def test_a_contract_extra_operation(client: zeep.Client) -> None:
    resource_id = create(client, steps=2, seconds=0)
    headers = [resource_header(resource_id)]
    client.service.startJob(_soapheaders=headers)
    wait_phase(client, resource_id, {"COMPLETED"})
    assert client.service.readResult(name="step-2.txt", _soapheaders=headers) == (
        "step 2 of run 1\n"
    )
    with pytest.raises(Fault) as caught:
        client.service.readResult(name="nope.txt", _soapheaders=headers)
    assert caught.value.detail[0].tag == f"{{{BF}}}BaseFault"
    assert "nope.txt" in caught.value.message
    with pytest.raises(Fault) as unknown:
        client.service.readResult(name="step-1.txt", _soapheaders=[resource_header("x" * 32)])
    assert unknown.value.detail[0].tag == f"{{{R}}}ResourceUnknownFault"


def test_an_unknown_property_is_an_invalid_qname_fault(client: zeep.Client) -> None:
    resource_id = create(client)
    with pytest.raises(Fault) as caught:
        client.service.GetResourceProperty(
            etree.QName(CORE, "NoSuchThing"), _soapheaders=[resource_header(resource_id)]
        )
    assert caught.value.detail[0].tag == f"{{{RP}}}InvalidResourcePropertyQNameFault"


def test_uws_job_is_parseable_by_pyvo(client: zeep.Client, server: RunningServer) -> None:
    pyvo_uws = pytest.importorskip("pyvo.io.uws")
    resource_id = create(client, steps=1, seconds=0)
    data = envelope(
        f'<wsrfrp:GetResourceProperty xmlns:wsrfrp="{RP}" xmlns:uws="{UWS}">uws:job'
        "</wsrfrp:GetResourceProperty>",
        addressing(server.url("steps"), GRP_ACTION, resource_id),
    )
    status, reply = post(server.url("steps"), data, check=shared_check())
    assert status == 200
    job_element = reply.find(f".//{{{UWS}}}job")
    assert job_element is not None
    job = pyvo_uws.parse_job(__import__("io").BytesIO(etree.tostring(job_element)))
    assert job.jobid == resource_id
    assert job.phase == "PENDING"
    assert job.ownerid is None


# -- WS-Addressing ----------------------------------------------------------------------


def test_replies_relate_to_the_request(server: RunningServer, check: MessageCheck) -> None:
    resource_id = create(checked_client(server))
    data = envelope(
        f'<wsrfrp:GetResourceProperty xmlns:wsrfrp="{RP}" xmlns:c="{CORE}">c:Phase'
        "</wsrfrp:GetResourceProperty>",
        addressing(server.url("steps"), GRP_ACTION, resource_id, message_id="uuid:not-a-urn-42"),
    )
    status, reply = post(server.url("steps"), data, check=check)
    assert status == 200
    assert header(reply, "RelatesTo") == "uuid:not-a-urn-42"
    assert header(reply, "Action") == GRP_ACTION.replace("Request", "Response")
    assert (header(reply, "MessageID") or "").startswith("urn:uuid:")


@pytest.mark.parametrize("marker", ["true", "1", None], ids=["true", "1", "absent"])
def test_reference_parameter_markers_are_accepted(
    server: RunningServer, check: MessageCheck, marker: str | None
) -> None:
    resource_id = create(checked_client(server))
    data = envelope(
        f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:p="{CORE}">p:Phase</r:GetResourceProperty>',
        addressing(server.url("steps"), GRP_ACTION, resource_id, is_reference=marker),
    )
    status, reply = post(server.url("steps"), data, check=check)
    assert status == 200
    assert reply.findtext(f".//{{{CORE}}}Phase") == "PENDING"


def test_a_wrapped_reference_parameter_is_accepted(server: RunningServer) -> None:
    resource_id = create(checked_client(server))
    headers = addressing(server.url("steps"), GRP_ACTION) + (
        f'<wsa:ReferenceParameters xmlns:wsa="{WSA}"><c:ResourceId xmlns:c="{CORE}">'
        f"{resource_id}</c:ResourceId></wsa:ReferenceParameters>"
    )
    body = f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:c="{CORE}">c:Phase</r:GetResourceProperty>'
    status, reply = post(server.url("steps"), envelope(body, headers))
    assert status == 200
    assert reply.findtext(f".//{{{CORE}}}Phase") == "PENDING"


def test_the_2004_08_submission_is_answered_in_kind(
    server: RunningServer, check: MessageCheck
) -> None:
    body = (
        f'<s:createJob xmlns:s="{STEPS}"><s:job><s:steps>1</s:steps>'
        "<s:stepSeconds>0</s:stepSeconds></s:job></s:createJob>"
    )
    headers = addressing(server.url("steps"), f"{STEPS}/createJob", namespace=WSA_2004)
    status, reply = post(server.url("steps"), envelope(body, headers), check=check)
    assert status == 200
    assert reply.find(f".//{{{WSA_2004}}}EndpointReference") is not None
    assert reply.find(f".//{{{WSA}}}EndpointReference") is None
    assert header(reply, "RelatesTo", WSA_2004) is not None
    assert header(reply, "Action", WSA_2004) == f"{STEPS}/createJobResponse"
    assert header(reply, "To", WSA_2004) == f"{WSA_2004}/role/anonymous"
    resource_id = reply.findtext(f".//{{{CORE}}}ResourceId")
    query = (
        f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:c="{CORE}">c:Phase</r:GetResourceProperty>'
    )
    headers = addressing(
        server.url("steps"), GRP_ACTION, resource_id, namespace=WSA_2004, is_reference=None
    )
    status, reply = post(server.url("steps"), envelope(query, headers), check=check)
    assert status == 200
    assert reply.findtext(f".//{{{CORE}}}Phase") == "PENDING"

    # A fault names its originator in the caller's version too (the 2004-08 WSDL says so).
    headers = addressing(server.url("steps"), GRP_ACTION, "unknown", namespace=WSA_2004)
    status, reply = post(server.url("steps"), envelope(query, headers), check=check)
    assert status == 500
    originator = fault_detail(reply).find(f"{{{BF}}}Originator")
    assert originator is not None
    assert originator.findtext(f"{{{WSA_2004}}}Address") == server.url("steps")
    assert header(reply, "RelatesTo", WSA_2004) is not None


# -- faults for bad input -------------------------------------------------------------

_STEPS_URL_PLACEHOLDER = "ENDPOINT"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<not-xml", "malformed-xml"),
        (b"", "malformed-xml"),
        (
            b'<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + envelope(f'<r:Destroy xmlns:r="{RL}"/>'),
            "doctype-forbidden",
        ),
        (
            b'<!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
            + envelope(f'<r:Destroy xmlns:r="{RL}">&d;</r:Destroy>'),
            "doctype-forbidden",
        ),
        (envelope(f'<r:Nope xmlns:r="{RL}"/>'), "unknown-operation"),
        (envelope(""), "empty-body"),
        (b"<a/>", "not-soap"),
        (
            envelope(f'<r:GetResourceProperty xmlns:r="{RP}"><x/></r:GetResourceProperty>'),
            "invalid-request",
        ),
        (
            envelope(
                f'<s:startJob xmlns:s="{STEPS}" xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/"'
                ' id="a"><s:x href="#a"/></s:startJob>'
            ),
            "invalid-request",
        ),
    ],
    ids=[
        "malformed",
        "empty request",
        "external entity",
        "entity expansion",
        "unknown operation",
        "empty body",
        "not SOAP",
        "schema-invalid body",
        "self-referencing href",
    ],
)
def test_bad_requests_get_a_client_fault(
    server: RunningServer, check: MessageCheck, data: bytes, code: str
) -> None:
    status, reply = post(server.url("steps"), data, check=check)
    assert status == 500
    assert reply.findtext(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault/faultcode") == (
        "soap:Client"
    )
    assert error_code(reply) == code
    assert fault_detail(reply).findtext(f"{{{BF}}}Timestamp")


def test_an_oversized_request_gets_413(server: RunningServer) -> None:
    padding = "x" * (2 * 1024 * 1024 + 1000)
    status, reply = post(server.url("steps"), envelope(f"<a>{padding}</a>"))
    assert status == 413
    assert error_code(reply) == "request-too-large"


def test_invalid_job_descriptions_name_the_line_and_create_nothing(
    server: RunningServer, check: MessageCheck
) -> None:
    before = stored_jobs(server)
    body = (
        f'<s:createJob xmlns:s="{STEPS}">\n<s:job>\n<s:steps>-3</s:steps>\n'
        "<s:stepSeconds>0</s:stepSeconds></s:job></s:createJob>"
    )
    headers = addressing(server.url("steps"), f"{STEPS}/createJob")
    status, reply = post(server.url("steps"), envelope(body, headers), check=check)
    assert status == 500
    detail = fault_detail(reply)
    assert detail.tag == f"{{{CORE}}}InvalidJobDescriptionFault"
    assert detail.findtext(f"{{{CORE}}}Line") == "3"
    assert "steps" in (detail.findtext(f"{{{CORE}}}Reason") or "")
    assert stored_jobs(server) == before


def test_a_nil_initial_termination_time_is_refused_and_creates_nothing(
    server: RunningServer, check: MessageCheck
) -> None:
    """Not nillable (DESIGN §2): generated clients sent nil for the unset field."""
    before = stored_jobs(server)
    body = (
        f'<s:createJob xmlns:s="{STEPS}" xmlns:c="{CORE}" xmlns:xsi="{XSI}"><s:job>'
        "<s:steps>1</s:steps><s:stepSeconds>0</s:stepSeconds></s:job>"
        '<c:InitialTerminationTime xsi:nil="true"/></s:createJob>'
    )
    headers = addressing(server.url("steps"), f"{STEPS}/createJob")
    status, reply = post(server.url("steps"), envelope(body, headers))
    assert status == 500
    assert error_code(reply) == "invalid-request"
    description = fault_detail(reply).findtext(f"{{{BF}}}Description") or ""
    assert "not nillable" in description
    assert "SetTerminationTime" in description
    assert stored_jobs(server) == before


def test_a_wrong_jdl_root_is_an_invalid_job_description(server: RunningServer) -> None:
    body = f'<s:createJob xmlns:s="{STEPS}"><s:other/></s:createJob>'
    status, reply = post(server.url("steps"), envelope(body))
    assert fault_detail(reply).tag == f"{{{CORE}}}InvalidJobDescriptionFault"
    assert status == 500


def test_a_request_without_a_resource_id_is_resource_unknown(server: RunningServer) -> None:
    body = f'<r:Destroy xmlns:r="{RL}"/>'
    status, reply = post(server.url("steps"), envelope(body, addressing(server.url("steps"), "x")))
    assert status == 500
    assert fault_detail(reply).tag == f"{{{R}}}ResourceUnknownFault"
    assert "ResourceId" in (fault_detail(reply).findtext(f"{{{BF}}}Description") or "")
    assert header(reply, "Action") == "http://docs.oasis-open.org/wsrf/fault"
    assert header(reply, "RelatesTo") is not None


def test_an_unknown_contract_is_404(server: RunningServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.base_url}/uws/nope?wsdl", timeout=10)
    assert caught.value.code == 404


def test_no_traceback_reached_the_log(server: RunningServer) -> None:
    log = "".join(server.log)
    assert "Traceback" not in log, log[-3000:]


# -- restart over SOAP ------------------------------------------------------------------


def test_jobs_survive_kill_9_of_the_server(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data")
    server.start()
    try:
        client = checked_client(server)
        pending = create(client)
        isolated = create(client, steps=20, seconds=0.2)
        held = (
            client.service.createJob(
                job=client.get_element(f"{{{STEPS}}}job")(steps=20, stepSeconds=0.2, isolated=False)
            )
            .ReferenceParameters._value_1[0]
            ._value_1
        )
        for resource_id in (isolated, held):
            client.service.startJob(_soapheaders=[resource_header(resource_id)])
            wait_phase(client, resource_id, {"EXECUTING"})
        server.kill()
        server.start()
        client = checked_client(server)

        def phase(resource_id: str) -> str:
            return str(
                client.service.GetResourceProperty(
                    etree.QName(CORE, "Phase"), _soapheaders=[resource_header(resource_id)]
                )[0]
            )

        assert phase(pending) == "PENDING"
        assert wait_phase(client, isolated, {"COMPLETED"}) == "COMPLETED"
        assert phase(held) == "HELD"
        state = client.service.GetResourceProperty(
            etree.QName(CORE, "JobState"), _soapheaders=[resource_header(held)]
        )[0]
        assert "restart" in (state.Note or "").lower()
        assert client.service.resumeJob(_soapheaders=[resource_header(held)]) == "QUEUED"
        assert wait_phase(client, held, {"COMPLETED"}) == "COMPLETED"
        isolated_state = client.service.GetResourceProperty(
            etree.QName(CORE, "JobState"), _soapheaders=[resource_header(isolated)]
        )[0]
        assert isolated_state.RunCount == 2
    finally:
        server.kill()


def test_an_unknown_mandatory_header_is_a_must_understand_fault(
    server: RunningServer, check: MessageCheck
) -> None:
    body = (
        f'<s:createJob xmlns:s="{STEPS}"><s:job><s:steps>1</s:steps>'
        "<s:stepSeconds>0</s:stepSeconds></s:job></s:createJob>"
    )
    soap = "http://schemas.xmlsoap.org/soap/envelope/"
    headers = (
        addressing(server.url("steps"), f"{STEPS}/createJob")
        + f'<x:Bogus xmlns:x="urn:x" xmlns:soap="{soap}" soap:mustUnderstand="1">y</x:Bogus>'
    )
    count = stored_jobs(server)
    status, reply = post(server.url("steps"), envelope(body, headers), check=check)
    assert status == 500
    assert reply.findtext(f".//{{{soap}}}Fault/faultcode") == "soap:MustUnderstand"
    assert error_code(reply) == "must-understand"
    assert stored_jobs(server) == count
    # the same header for another actor, or not mandatory, is ignored
    for attributes in (
        'soap:mustUnderstand="1" soap:actor="urn:some-other-node"',
        'soap:mustUnderstand="0"',
    ):
        relaxed = addressing(server.url("steps"), f"{STEPS}/createJob") + (
            f'<x:Bogus xmlns:x="urn:x" xmlns:soap="{soap}" {attributes}>y</x:Bogus>'
        )
        status, reply = post(server.url("steps"), envelope(body, relaxed))
        assert status == 200, etree.tostring(reply)


# -- result downloads -------------------------------------------------------------------


def test_result_downloads_have_type_length_and_ranges(
    client: zeep.Client, server: RunningServer
) -> None:
    resource_id = create(client, steps=1, seconds=0)
    client.service.startJob(_soapheaders=[resource_header(resource_id)])
    wait_phase(client, resource_id, {"COMPLETED"})
    url = f"{server.base_url}/results/{resource_id}/step-1.txt"
    whole = b"step 1 of run 1\n"

    def get(range_header: str | None = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url)
        if range_header:
            request.add_header("Range", range_header)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    status, headers, body = get()
    assert (status, body) == (200, whole)
    assert headers["Content-Type"] == "text/plain"
    assert headers["Content-Length"] == str(len(whole))
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "sandbox"
    status, headers, body = get("bytes=5-6")
    assert (status, body, headers["Content-Range"]) == (206, b"1 ", f"bytes 5-6/{len(whole)}")
    status, headers, body = get("bytes=-4")
    assert (status, body) == (206, b"n 1\n")
    status, headers, body = get("bytes=10-")
    assert (status, body) == (206, whole[10:])
    status, headers, _ = get("bytes=100-")
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(whole)}")
    status, _, body = get("bytes=6-2")  # not a valid range: ignored
    assert (status, body) == (200, whole)
    status, _, _ = get()
    missing = urllib.request.Request(f"{server.base_url}/results/{resource_id}/nope.txt")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(missing, timeout=10)
    assert caught.value.code == 404


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=2-", 10, (2, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=5-100", 10, (5, 9)),
        ("bytes=0-1,3-4", 10, None),
        ("items=0-1", 10, None),
        ("bytes=4-2", 10, None),
        ("bytes=-", 10, None),
        ("Bytes=1-2", 10, (1, 2)),
    ],
)
def test_byte_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    from wsrf_uws.wire.ranges import byte_range

    assert byte_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-0", 10), ("bytes=-5", 0)])
def test_unsatisfiable_byte_ranges(header: str, size: int) -> None:
    from wsrf_uws.wire.ranges import RangeNotSatisfiable, byte_range

    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, size)


def test_concurrent_faults_quote_their_own_request(server: RunningServer) -> None:
    """Validators are shared between the server's threads; their error logs must not be."""
    resource_id = create(checked_client(server))

    def attempt(n: int) -> bool:
        value = f"NOT-A-TIME-{n}"
        body = (
            f'<rl:SetTerminationTime xmlns:rl="{RL}">'
            f"<rl:RequestedTerminationTime>{value}</rl:RequestedTerminationTime>"
            "</rl:SetTerminationTime>"
        )
        headers = addressing(server.url("steps"), "a", resource_id)
        _, reply = post(server.url("steps"), envelope(body, headers))
        return value in (fault_detail(reply).findtext(f"{{{BF}}}Description") or "")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, range(400)))
    assert all(answers), f"{answers.count(False)} of {len(answers)} faults quoted another request"
