"""The Python client (:mod:`wsrf_uws.client`) against a real ``wsrf-uws serve`` process.

Every Job method and every typed fault the service can be made to send is exercised
over the wire; the faults it cannot be made to send here (quota, not destroyed) are
checked by feeding the service's own fault builder to the client's fault parser.
"""

from __future__ import annotations

import base64
import dataclasses
import http.server
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import (
    CURRENT_TIME,
    INFINITE,
    JOB_STATE,
    PHASE,
    TERMINATION_TIME,
    UWS_JOB,
    InvalidJobDescription,
    InvalidPhase,
    InvalidResourcePropertyQName,
    Job,
    JobState,
    NotAuthenticated,
    QuotaExceeded,
    ResourceNotDestroyed,
    ResourceUnknown,
    ResultUnavailable,
    Service,
    ServiceUnavailable,
    TerminationTimeChangeRejected,
    TransportError,
    UnableToSetTerminationTime,
    UwsFault,
)
from wsrf_uws.client import channel as client_channel
from wsrf_uws.client.errors import fault_from
from wsrf_uws.client.state import Result
from wsrf_uws.core import errors as core_errors
from wsrf_uws.jdl.steps.contract import NAMESPACE as STEPS
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.soap.faults import InvalidPropertyError, fault_for
from wsrf_uws.testing.server import RunningServer, running_server
from wsrf_uws.wire.namespaces import CORE, PASSWORD_DIGEST, PASSWORD_TEXT, RL, UWS, WSA

from soap_support import stored_jobs, wait_for_phase

MULTILINE_BAD_JDL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<job xmlns="urn:wsrf-uws:steps:v1">\n'
    b"  <steps>2</steps>\n"
    b"  <stepSeconds>-1</stepSeconds>\n"
    b"</job>\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("client")) as running:
        yield running


@pytest.fixture(scope="module")
def service(server: RunningServer) -> Service:
    return Service(server.url("steps"))


def finished(service: Service, steps: int = 1, seconds: float = 0.0, **options: object) -> Job:
    """A job that has run to its end."""
    job = service.create(steps_jdl(steps, seconds, **options))
    job.start()
    job.wait(timeout=30, poll=0.05)
    return job


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def loopback_http(
    body: bytes, *, hold: threading.Event | None = None
) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A tiny HTTP server on another loopback port: (its base URL, the headers of every
    GET it received). It answers ``body``; with ``hold``, only once that is set."""
    received: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            received.append(dict(self.headers.items()))
            if hold is not None:
                hold.wait(30)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        if hold is not None:
            hold.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def record_requests(service: Service) -> list[requests.PreparedRequest]:
    """Every HTTP request ``service`` sends from now on, as it went out (headers and body)."""
    sent: list[requests.PreparedRequest] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        sent.append(response.request)

    service._channel.session.hooks["response"].append(hook)
    return sent


# -- service and creation -----------------------------------------------------------------


def test_endpoint_from_base_url_and_contract(server: RunningServer) -> None:
    service = Service(server.base_url, "steps")
    assert service.endpoint == server.url("steps")
    assert service.namespace == STEPS
    with pytest.raises(ValueError, match="contract"):
        Service(server.base_url)


def test_create_returns_the_endpoint_reference(service: Service, server: RunningServer) -> None:
    job = service.create(steps_jdl(1, 0))
    assert job.address == server.url("steps")
    assert len(job.resource_id) >= 22  # at least 128 random bits
    assert job.phase == "PENDING"
    assert service.job(job.resource_id).phase == "PENDING"


def test_create_takes_text_and_elements_without_touching_them(service: Service) -> None:
    assert service.create(steps_jdl(1, 0).decode()).phase == "PENDING"
    declared = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + steps_jdl(1, 0).decode()
    assert service.create(declared).phase == "PENDING"
    holder = etree.Element("holder")
    holder.append(etree.fromstring(steps_jdl(2, 0)))
    job = service.create(holder[0])
    assert len(holder) == 1  # the caller's element stays where it was
    assert job.state.estimated_duration == timedelta(0)


def test_create_with_a_termination_time(service: Service) -> None:
    wanted = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    job = service.create(steps_jdl(1, 0), termination_time=wanted)
    assert job.termination_time == wanted


def test_create_beyond_the_maximum_lifetime_is_rejected(service: Service) -> None:
    too_late = datetime.now(UTC) + timedelta(days=60)
    with pytest.raises(TerminationTimeChangeRejected):
        service.create(steps_jdl(1, 0), termination_time=too_late)


def test_create_forever_is_refused_by_default_and_leaves_nothing(
    service: Service, server: RunningServer
) -> None:
    before = stored_jobs(server)
    with pytest.raises(UnableToSetTerminationTime):
        service.create(steps_jdl(1, 0), termination_time=INFINITE)
    assert stored_jobs(server) == before


def test_create_forever_where_infinite_lifetimes_are_allowed(tmp_path: Path) -> None:
    env = {"WSRF_UWS_ALLOW_INFINITE_LIFETIME": "true"}
    with running_server(tmp_path, env=env) as forever_server:
        job = Service(forever_server.url("steps")).create(
            steps_jdl(1, 0), termination_time=INFINITE
        )
        assert job.termination_time is None


def test_requests_carry_ws_addressing_once(service: Service) -> None:
    job = service.job("some-id", address="http://node-7.example/uws/steps")
    envelope = service._channel.message("startJob", address=job.address, resource_id="some-id")
    header = envelope[0]
    tags = [child.tag for child in header]
    for name in ("Action", "MessageID", "To"):
        assert tags.count(f"{{{WSA}}}{name}") == 1
    assert header.findtext(f"{{{WSA}}}Action") == f"{STEPS}/startJob"
    assert header.findtext(f"{{{WSA}}}To") == "http://node-7.example/uws/steps"
    assert (header.findtext(f"{{{WSA}}}MessageID") or "").startswith("urn:uuid:")
    resource = header.find(f"{{{CORE}}}ResourceId")
    assert resource is not None and resource.text == "some-id"
    assert resource.get(f"{{{WSA}}}IsReferenceParameter") == "true"


# -- invalid job descriptions ---------------------------------------------------------------


def test_invalid_value_names_the_line_of_the_callers_document(service: Service) -> None:
    with pytest.raises(InvalidJobDescription) as caught:
        service.create(MULTILINE_BAD_JDL)
    fault = caught.value
    assert fault.line == 4
    assert fault.message_line is not None
    assert "stepSeconds" in fault.reason
    assert fault.code == "Client"
    assert fault.error_code == "invalid-job-description"
    assert fault.detail is not None and fault.detail.tag == f"{{{CORE}}}InvalidJobDescriptionFault"


def test_wrong_root_element_is_an_invalid_job_description(service: Service) -> None:
    with pytest.raises(InvalidJobDescription) as caught:
        service.create(b'<task xmlns="urn:wsrf-uws:steps:v1"><steps>1</steps></task>')
    assert "task" in caught.value.reason
    assert caught.value.line == 1


def test_malformed_xml_is_refused_before_sending(service: Service) -> None:
    with pytest.raises(InvalidJobDescription) as caught:
        service.create(b'<job xmlns="urn:wsrf-uws:steps:v1">\n<steps>1</steps\n</job>')
    assert caught.value.error_code == "not-well-formed"
    assert caught.value.line == 3
    assert caught.value.detail is None


# -- running, waiting, state ------------------------------------------------------------------


def test_wait_reports_rising_progress(service: Service) -> None:
    job = service.create(steps_jdl(5, 0.2))
    assert job.start() in ("QUEUED", "EXECUTING")
    seen: list[JobState] = []
    final = job.wait(timeout=60, poll=0.05, progress=seen.append)
    assert final.phase == "COMPLETED"
    assert seen[-1] is final
    fractions = [state.fraction for state in seen if state.fraction is not None]
    assert fractions == sorted(fractions)
    assert len(set(fractions)) >= 3
    assert fractions[-1] == 1.0
    assert [step.status for step in final.steps] == ["done"] * 5
    assert [result.name for result in final.results] == [f"step-{i}.txt" for i in range(1, 6)]


def test_state_holds_times_estimates_and_results(service: Service) -> None:
    job = service.create(steps_jdl(2, 0.1))
    pending = job.state
    assert pending.phase == "PENDING"
    assert pending.start_time is None and pending.results == ()
    assert pending.estimated_duration == timedelta(seconds=0.2)
    assert pending.estimated_cost == {"cpu-seconds": pytest.approx(0.2)}
    job.start()
    state = job.wait(timeout=30, poll=0.05)
    assert state.is_final and state.error is None
    assert state.start_time is not None and state.end_time is not None
    assert state.creation_time <= state.start_time <= state.end_time
    assert state.run_count == 1
    assert state.results[0].href.endswith(f"/results/{job.resource_id}/step-1.txt")
    assert state.results[0] == state.result("step-1.txt")
    assert state.results[0].mime_type == "text/plain" and state.results[0].size == 16
    assert state.contract is not None and state.contract.tag == f"{{{STEPS}}}state"
    assert state.contract.findtext(f"{{{STEPS}}}results") == "2"


def test_a_failed_job_reports_its_error(service: Service) -> None:
    state = finished(service, fail="the disk is full").state
    assert state.phase == "ERROR"
    assert state.error is not None and state.error.type == "fatal"
    assert state.error_message == "the disk is full"


def test_wait_gives_up_after_its_timeout(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))  # never started: stays PENDING
    with pytest.raises(TimeoutError, match="PENDING"):
        job.wait(timeout=0.3, poll=0.05)


def test_start_of_an_ended_job_is_an_invalid_phase(service: Service) -> None:
    job = finished(service)
    with pytest.raises(InvalidPhase) as caught:
        job.start()
    assert caught.value.phase == "COMPLETED"
    assert caught.value.operation == "startJob"


def test_resume_of_a_running_job_answers_its_phase(service: Service) -> None:
    job = service.create(steps_jdl(2, 1))
    job.start()
    assert job.resume() in ("QUEUED", "EXECUTING", "COMPLETED")


def test_resume_of_a_job_never_started_is_an_invalid_phase(service: Service) -> None:
    with pytest.raises(InvalidPhase) as caught:
        service.create(steps_jdl(1, 0)).resume()
    assert caught.value.phase == "PENDING"


# -- resource properties ----------------------------------------------------------------------


def test_property_answers_elements(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    (phase,) = job.property(PHASE)
    assert phase.tag == PHASE and phase.text == "PENDING"
    (state,) = job.property(etree.QName(CORE, "JobState"))
    assert state.tag == JOB_STATE


def test_properties_answers_in_the_order_asked(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    elements = job.properties(TERMINATION_TIME, PHASE, CURRENT_TIME)
    assert [element.tag for element in elements] == [TERMINATION_TIME, PHASE, CURRENT_TIME]
    with pytest.raises(ValueError, match="at least one"):
        job.properties()


def test_document_holds_every_property(service: Service) -> None:
    document = service.create(steps_jdl(1, 0)).document()
    assert document.tag == f"{{{STEPS}}}JobProperties"
    tags = {child.tag for child in document}
    assert tags == {JOB_STATE, PHASE, UWS_JOB, CURRENT_TIME, TERMINATION_TIME, f"{{{STEPS}}}state"}


def test_uws_job_is_the_uws_summary(service: Service) -> None:
    job = finished(service)
    summary = job.uws_job()
    assert summary.tag == f"{{{UWS}}}job"
    assert summary.findtext(f"{{{UWS}}}jobId") == job.resource_id
    parsed = job.uws_summary()  # pyvo.io.uws
    assert parsed.jobid == job.resource_id
    assert parsed.phase == "COMPLETED"


def test_unknown_property_name_is_refused(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    with pytest.raises(InvalidResourcePropertyQName):
        job.property("{urn:nowhere}Nothing")


# -- lifetime ---------------------------------------------------------------------------------


def test_extend_until_a_time(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    wanted = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    change = job.extend(until=wanted)
    assert change.new_termination_time == wanted
    assert abs(change.current_time - datetime.now(UTC)) < timedelta(minutes=1)
    assert job.termination_time == wanted


def test_extend_lifetime_counts_from_the_services_now(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    change = job.extend(lifetime=timedelta(hours=2))
    assert change.new_termination_time is not None
    lifetime = change.new_termination_time - change.current_time
    assert abs(lifetime - timedelta(hours=2)) < timedelta(seconds=1)


def test_extend_by_adds_to_the_termination_time(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    before = job.termination_time
    assert before is not None
    change = job.extend(by=timedelta(hours=2))
    assert change.new_termination_time == before + timedelta(hours=2) == job.termination_time


def test_extend_needs_exactly_one_of_until_by_and_lifetime(service: Service) -> None:
    job = service.job("unused")
    with pytest.raises(ValueError, match="exactly one"):
        job.extend()
    with pytest.raises(ValueError, match="exactly one"):
        job.extend(until=datetime.now(UTC), by=timedelta(hours=1))
    with pytest.raises(ValueError, match="exactly one"):
        job.extend(lifetime=timedelta(hours=1), by=timedelta(hours=1))


def test_extend_beyond_the_maximum_is_rejected(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    with pytest.raises(TerminationTimeChangeRejected) as caught:
        job.extend(lifetime=timedelta(days=40))
    assert caught.value.detail is not None
    assert caught.value.detail.tag == f"{{{RL}}}TerminationTimeChangeRejectedFault"


def test_extend_forever_is_refused_by_default(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    with pytest.raises(UnableToSetTerminationTime):
        job.extend(until=INFINITE)


def test_extend_into_the_past_destroys(service: Service) -> None:
    job = service.create(steps_jdl(1, 0))
    job.extend(until=datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(ResourceUnknown):
        job.phase  # noqa: B018


def test_destroy_forgets_the_job(service: Service) -> None:
    job = finished(service)
    job.destroy()
    for operation in (lambda: job.state, job.start, job.destroy, job.document):
        with pytest.raises(ResourceUnknown):
            operation()


def test_unknown_resource(service: Service) -> None:
    with pytest.raises(ResourceUnknown) as caught:
        service.job("no-such-job").phase  # noqa: B018
    fault = caught.value
    assert fault.code == "Client"
    assert fault.error_code == "resource-unknown"
    assert "no-such-job" in fault.description
    assert isinstance(fault, UwsFault)


# -- results ----------------------------------------------------------------------------------


def test_download_to_a_file_object_and_to_a_path(service: Service, tmp_path: Path) -> None:
    job = finished(service, 2)
    buffer = io.BytesIO()
    assert job.download("step-1.txt", buffer) == 16
    assert buffer.getvalue() == b"step 1 of run 1\n"
    target = tmp_path / "second.txt"
    assert job.download("step-2.txt", target) == 16
    assert target.read_bytes() == b"step 2 of run 1\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["second.txt"]


def test_download_of_a_missing_result(service: Service, tmp_path: Path) -> None:
    job = finished(service)
    with pytest.raises(ResultUnavailable):
        job.download("step-9.txt", tmp_path / "nothing")
    assert not list(tmp_path.iterdir())


# -- transport failures -----------------------------------------------------------------------


def test_no_service_listening() -> None:
    url = f"http://127.0.0.1:{free_port()}/uws/steps"
    with pytest.raises(ServiceUnavailable, match="cannot connect") as caught:
        Service(url)
    assert caught.value.url == f"{url}?wsdl"


def test_unknown_contract(server: RunningServer) -> None:
    with pytest.raises(TransportError, match="no contract") as caught:
        Service(server.base_url, "nope")
    assert caught.value.status_code == 404


def test_oversized_request(service: Service) -> None:
    with pytest.raises(TransportError, match="too large") as caught:
        service.create(steps_jdl(1, 0, fail="x" * (3 * 1024 * 1024)))
    assert caught.value.status_code == 413


def test_service_gone_and_back(tmp_path: Path) -> None:
    """A killed service is unavailable; after a restart a non-isolated job waits in HELD
    (wait() stops there) until resumed, and then runs to its end."""
    with running_server(tmp_path / "data") as server:
        job = Service(server.url("steps")).create(steps_jdl(3, 1, isolated=False))
        job.start()
        wait_for_phase(job, {"EXECUTING"}, timeout=30)
        server.kill()
        with pytest.raises(ServiceUnavailable):
            job.phase  # noqa: B018
        server.start()
        again = Service(server.url("steps")).job(job.resource_id)
        held = again.wait(timeout=30, poll=0.05)
        assert held.phase == "HELD"
        assert held.note
        assert again.resume() in ("QUEUED", "EXECUTING")
        done = again.wait(timeout=60, poll=0.05)
        assert done.phase == "COMPLETED"
        buffer = io.BytesIO()
        again.download("step-3.txt", buffer)
        assert buffer.getvalue() == b"step 3 of run 2\n"


# -- credentials ------------------------------------------------------------------------------


ZOE_PASSWORD = "pässwörd €"  # beyond Latin-1: HTTP Basic must be UTF-8, as the service reads it


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("secured")
    UsersFile.add(folder / "users", "alice", "s3cret", digest=True)
    UsersFile.add(folder / "users", "zoë", ZOE_PASSWORD)
    env = {"WSRF_UWS_USERS_FILE": str(folder / "users"), "WSRF_UWS_ALLOW_ANONYMOUS": "false"}
    with running_server(folder / "data", env=env) as running:
        yield running


@pytest.mark.parametrize("digest", [False, True])
def test_credentials_work_for_soap_and_downloads(secured: RunningServer, digest: bool) -> None:
    service = Service(secured.url("steps"), username="alice", password="s3cret", digest=digest)
    job = finished(service)
    assert job.uws_job().findtext(f"{{{UWS}}}ownerId") == "alice"
    buffer = io.BytesIO()
    job.download("step-1.txt", buffer)
    assert buffer.getvalue() == b"step 1 of run 1\n"
    with pytest.raises(NotAuthenticated):
        Service(secured.url("steps")).job(job.resource_id).download("step-1.txt", io.BytesIO())


def test_wrong_password_is_not_authenticated(secured: RunningServer) -> None:
    service = Service(secured.url("steps"), username="alice", password="guess")
    with pytest.raises(NotAuthenticated) as caught:
        service.create(steps_jdl(1, 0))
    assert caught.value.error_code == "not-authenticated"


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


@pytest.mark.parametrize("digest", [False, True])
def test_soap_requests_carry_only_the_username_token(secured: RunningServer, digest: bool) -> None:
    """No SOAP post has an Authorization header: with PasswordDigest, the password never
    leaves the client; downloads from the service itself send Basic and succeed."""
    service = Service(secured.url("steps"), username="alice", password="s3cret", digest=digest)
    sent = record_requests(service)
    job = finished(service)
    buffer = io.BytesIO()
    assert job.download("step-1.txt", buffer) == 16

    posts = [request for request in sent if request.method == "POST"]
    assert len(posts) >= 3  # createJob, startJob, GetResourceProperty...
    for request in posts:
        assert "Authorization" not in request.headers
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        assert b"UsernameToken" in body
        assert (PASSWORD_DIGEST if digest else PASSWORD_TEXT).encode() in body
        assert (b"s3cret" in body) is not digest
    (download,) = [request for request in sent if request.method == "GET"]
    assert download.url == job.state.results[0].href
    assert download.headers["Authorization"] == basic_header("alice", "s3cret")


def test_basic_credentials_for_downloads_are_utf8(secured: RunningServer) -> None:
    service = Service(secured.url("steps"), username="zoë", password=ZOE_PASSWORD)
    job = finished(service)
    assert job.uws_job().findtext(f"{{{UWS}}}ownerId") == "zoë"
    buffer = io.BytesIO()
    job.download("step-1.txt", buffer)
    assert buffer.getvalue() == b"step 1 of run 1\n"


def test_a_result_on_another_origin_gets_no_credentials(
    secured: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result link names any host; the password must not follow it there. The other
    server here differs from the service only in its port."""
    service = Service(secured.url("steps"), username="alice", password="s3cret")
    job = finished(service)
    real = job.state
    with loopback_http(b"stored elsewhere\n") as (elsewhere, received):
        href = f"{elsewhere}/archive/{job.resource_id}/step-1.txt"
        moved = dataclasses.replace(real, results=(Result("step-1.txt", href, "text/plain", 17),))
        monkeypatch.setattr(Job, "state", property(lambda self: moved))
        buffer = io.BytesIO()
        assert job.download("step-1.txt", buffer) == 17
    assert buffer.getvalue() == b"stored elsewhere\n"
    assert len(received) == 1
    assert "Authorization" not in received[0]
    assert not any(value.startswith("Basic") for value in received[0].values())


def test_credentials_go_to_the_endpoints_origin_only(secured: RunningServer) -> None:
    channel = Service(secured.url("steps"), username="alice", password="s3cret")._channel
    own = secured.base_url  # http://127.0.0.1:{port}
    port = own.rsplit(":", 1)[1]
    for same in (f"{own}/results/x/y.txt", "HTTP" + own[4:] + "/r"):
        assert channel.credentials_for(same) is not None, same
    for foreign in (
        f"http://127.0.0.1:{int(port) + 1}/results/x/y.txt",  # another port
        f"https://127.0.0.1:{port}/results/x/y.txt",  # another scheme
        f"http://localhost:{port}/results/x/y.txt",  # another host name
        f"http://127.0.0.1.evil.example:{port}/r",
        f"http://127.0.0.1:{port}@evil.example/r",  # userinfo, not the host
        "/results/x/y.txt",  # no origin at all
        f"http://127.0.0.1:{port}x/r",  # no valid port
    ):
        assert channel.credentials_for(foreign) is None, foreign
    anonymous = Service(secured.url("steps"))._channel
    assert anonymous.credentials_for(f"{own}/results/x/y.txt") is None


def test_origins_fill_in_default_ports() -> None:
    origin = client_channel.origin
    assert origin("http://Example.org/a") == origin("http://example.org:80/b") is not None
    assert origin("https://example.org/") == ("https", "example.org", 443)
    assert origin("https://example.org/") != origin("http://example.org:443/")
    assert origin("http://example.org:8080/") != origin("http://example.org/")
    assert origin("ftp://example.org/") is None


def transport(timeout: float) -> Any:
    """A fresh zeep transport, as a Channel makes one."""
    return zeep.Transport(timeout=timeout)  # type: ignore[no-untyped-call]


def test_a_slow_wsdl_does_not_hold_up_another(server: RunningServer) -> None:
    """Documents load under a lock per URL: one service that hangs blocks no other."""
    hold = threading.Event()
    failures: list[Exception] = []

    def load_slow(url: str) -> None:
        try:
            client_channel.load_document(url, transport(30))
        except TransportError as error:
            failures.append(error)

    with loopback_http(b"not a WSDL", hold=hold) as (slow, received):
        stuck = threading.Thread(target=load_slow, args=(f"{slow}/uws/steps?wsdl",), daemon=True)
        stuck.start()
        deadline = time.monotonic() + 10
        while not received:
            assert time.monotonic() < deadline, "the slow server was never asked"
            time.sleep(0.01)
        # A URL nobody loaded yet (the service reads ?WSDL as ?wsdl): fetched at once.
        url = f"{server.url('steps')}?WSDL"
        started = time.monotonic()
        document = client_channel.load_document(url, transport(10))
        assert time.monotonic() - started < 5
        assert stuck.is_alive()  # still waiting for its answer
        assert client_channel.load_document(url, transport(10)) is document
        hold.set()
        stuck.join(10)
    assert not stuck.is_alive()
    assert len(failures) == 1 and "does not answer a WSDL" in str(failures[0])


# -- every fault the service can send maps to its class ------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (core_errors.ResourceUnknownError("x"), ResourceUnknown),
        (core_errors.InvalidJobDescriptionError("bad", line=3, column=7), InvalidJobDescription),
        (core_errors.InvalidPhaseError("startJob", "ERROR"), InvalidPhase),
        (InvalidPropertyError("{urn:x}y"), InvalidResourcePropertyQName),
        (core_errors.UnableToSetTerminationTimeError("no"), UnableToSetTerminationTime),
        (
            core_errors.TerminationTimeRejectedError(
                datetime(2030, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)
            ),
            TerminationTimeChangeRejected,
        ),
        (core_errors.ResourceNotDestroyedError("busy"), ResourceNotDestroyed),
        (core_errors.NotAuthenticatedError("who?"), NotAuthenticated),
        (core_errors.QuotaExceededError("enough"), QuotaExceeded),
        (RuntimeError("boom"), UwsFault),
    ],
)
def test_service_faults_map_to_client_exceptions(
    error: Exception, expected: type[UwsFault]
) -> None:
    fault = fault_for(error, now=datetime.now(UTC))
    detail = etree.Element("detail")
    assert fault.detail is not None
    detail.append(fault.detail)
    parsed = fault_from(
        faultcode=f"soap:{fault.faultcode}", faultstring=fault.faultstring, detail=detail
    )
    assert type(parsed) is expected
    assert parsed.code == fault.faultcode
    assert parsed.description == fault.faultstring
    if isinstance(parsed, InvalidJobDescription):
        assert (parsed.reason, parsed.line, parsed.column) == ("bad", 3, 7)
    if isinstance(parsed, InvalidPhase):
        assert (parsed.phase, parsed.operation) == ("ERROR", "startJob")
