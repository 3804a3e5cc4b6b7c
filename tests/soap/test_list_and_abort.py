"""``listJobs`` and ``abortJob``, the core extension operations, on a real ``wsrf-uws serve``.

Two users and anonymous callers on one server; our client (zeep on the published WSDL)
and zeep's generic client, every message each sends and receives validated against the
published schemas (and the genuine standard ones, where ../shared is present).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zeep
from lxml import etree
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import Service
from wsrf_uws.client.errors import InvalidPhase, ResourceUnknown, UwsFault
from wsrf_uws.client.listing import JobListings
from wsrf_uws.testing.server import RunningServer, running_server

from soap_support import (
    CORE,
    STEPS,
    WSA,
    WSA_2004,
    R,
    RecordingPlugin,
    addressing,
    envelope,
    error_code,
    post,
    shared_check,
)

LIST_ACTION = "urn:wsrf-uws:core:v1/listJobs"
ABORT_ACTION = "urn:wsrf-uws:core:v1/abortJob"
#: The server's limit of one answer, small so that tests reach it.
MAX_LISTED = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("listing")
    users = folder / "users"
    UsersFile.add(users, "alice", "alice-secret")
    UsersFile.add(users, "bob", "bob-secret")
    env = {
        "WSRF_UWS_USERS_FILE": str(users),
        "WSRF_UWS_MAX_LISTED_JOBS": str(MAX_LISTED),
    }
    with running_server(folder / "data", env=env) as running:
        yield running


def service(server: RunningServer, user: str, contract: str = "steps") -> Service:
    return Service(server.url(contract), username=user, password=f"{user}-secret")


def steps_jdl(steps: int = 1, seconds: float = 0.0) -> bytes:
    return (
        f'<job xmlns="{STEPS}"><steps>{steps}</steps><stepSeconds>{seconds}</stepSeconds></job>'
    ).encode()


def checked_zeep(server: RunningServer, user: str, contract: str = "steps") -> zeep.Client:
    """zeep's generic client on a contract's published WSDL, validating every message."""
    return zeep.Client(
        server.url(contract) + "?wsdl",
        wsse=UsernameToken(user, f"{user}-secret"),
        plugins=[RecordingPlugin(shared_check())],
    )


def wait_phase(job: object, phases: set[str]) -> str:
    deadline = time.monotonic() + 60
    while (phase := job.phase) not in phases:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"{job} still {phase}"
        time.sleep(0.05)
    return str(phase)


# -- listJobs ---------------------------------------------------------------------------


def test_list_jobs_answers_the_callers_own_jobs_newest_first(
    server: RunningServer,
) -> None:
    alice = service(server, "alice")
    mine = [alice.create(steps_jdl()) for _ in range(3)]
    theirs = service(server, "bob").create(steps_jdl())
    listed = alice.list_jobs()
    ids = [listing.resource_id for listing in listed]
    assert ids[:3] == [job.resource_id for job in reversed(mine)]
    assert theirs.resource_id not in ids
    first = listed[0]
    assert first.phase == "PENDING"
    assert first.contract == "steps"
    assert first.address == server.url("steps")
    assert first.termination_time is not None
    assert first.termination_time > first.creation_time
    assert isinstance(listed, JobListings)
    # Anonymous callers see none of the users' jobs.
    anonymous = [job.resource_id for job in Service(server.url("steps")).list_jobs()]
    assert not set(anonymous) & {*ids, theirs.resource_id}


def test_list_jobs_filters_by_phase_after_and_last(server: RunningServer) -> None:
    bob = service(server, "bob")
    started = bob.create(steps_jdl())
    pending = bob.create(steps_jdl())
    started.start()
    wait_phase(started, {"COMPLETED"})
    completed = [job.resource_id for job in bob.list_jobs(phases=["COMPLETED"])]
    assert started.resource_id in completed and pending.resource_id not in completed
    both = {job.resource_id for job in bob.list_jobs(phases=["completed", "PENDING"])}
    assert {started.resource_id, pending.resource_id} <= both
    newest = bob.list_jobs(last=1)
    assert [job.resource_id for job in newest] == [pending.resource_id]
    cut = bob.list_jobs()[1].creation_time
    after = [job.resource_id for job in bob.list_jobs(after=cut)]
    assert after == [pending.resource_id]
    assert bob.list_jobs(after=datetime.now(UTC) + timedelta(days=1)) == []


def test_list_jobs_lists_every_contract_at_every_endpoint(
    server: RunningServer,
) -> None:
    alice_cea = service(server, "alice", "cea")
    steps_job = service(server, "alice").create(steps_jdl())
    listed = {job.resource_id: job for job in alice_cea.list_jobs(last=MAX_LISTED)}
    assert listed[steps_job.resource_id].address == server.url("steps")
    assert listed[steps_job.resource_id].contract == "steps"


def test_a_long_list_is_cut_at_the_limit_and_says_so(server: RunningServer) -> None:
    alice = service(server, "alice")
    for _ in range(MAX_LISTED + 1):
        alice.create(steps_jdl())
    listed = alice.list_jobs()
    assert len(listed) == MAX_LISTED
    assert listed.truncated
    assert not alice.list_jobs(last=2).truncated


def test_a_last_beyond_the_limit_is_refused_with_a_precise_fault(
    server: RunningServer,
) -> None:
    with pytest.raises(UwsFault) as refused:
        service(server, "alice").list_jobs(last=MAX_LISTED + 1)
    assert refused.value.error_code == "too-many-jobs"
    assert f"at most {MAX_LISTED}" in refused.value.description


def test_zeep_calls_list_jobs_with_the_wrapped_parameters(
    server: RunningServer,
) -> None:
    bob = checked_zeep(server, "bob", "cea")
    reply = bob.service.listJobs(Phase=["PENDING", "COMPLETED"], Last=2)
    assert len(reply.Job) == 2
    assert reply.Truncated is False
    entry = reply.Job[0]
    assert entry.Phase in {"PENDING", "COMPLETED"}
    assert entry.CreationTime.tzinfo is not None
    assert entry.EndpointReference.Address._value_1 == server.url("steps")


def test_a_member_submission_caller_gets_its_own_endpoint_references(
    server: RunningServer,
) -> None:
    check = shared_check()
    body = (
        f'<uwscore:listJobs xmlns:uwscore="{CORE}">'
        "<uwscore:Last>1</uwscore:Last></uwscore:listJobs>"
    )
    headers = addressing(server.url("steps"), LIST_ACTION, namespace=WSA_2004)
    status, reply = post(server.url("steps"), envelope(body, headers), check=check)
    assert status == 200
    response = reply.find(f".//{{{CORE}}}listJobsResponse")
    assert response is not None
    for entry in response.iter(f"{{{CORE}}}Job"):
        assert entry.find(f"{{{WSA_2004}}}EndpointReference") is not None
        assert entry.find(f"{{{WSA}}}EndpointReference") is None


def test_an_invalid_filter_is_refused(server: RunningServer) -> None:
    body = (
        f'<uwscore:listJobs xmlns:uwscore="{CORE}"><uwscore:Phase>DONE</uwscore:Phase>'
        "</uwscore:listJobs>"
    )
    status, reply = post(
        server.url("steps"),
        envelope(body, addressing(server.url("steps"), LIST_ACTION)),
        check=shared_check(),
    )
    assert status == 500
    assert error_code(reply) == "invalid-request"


# -- abortJob ---------------------------------------------------------------------------


def test_abort_stops_an_executing_job_and_keeps_its_results(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = service(server, "alice")
    job = alice.create(steps_jdl(steps=20, seconds=0.5))
    job.start()
    deadline = time.monotonic() + 60
    while not job.state.results:
        assert time.monotonic() < deadline, "no result appeared"
        time.sleep(0.05)
    assert job.abort() == "ABORTED"
    state = job.state
    assert state.phase == "ABORTED"
    assert state.end_time is not None
    assert 1 <= len(state.results) < 20
    first = state.results[0].name
    assert job.download(first, tmp_path / first) > 0
    # Nothing runs on: the results stay as they were at the abort.
    time.sleep(1.0)
    assert len(job.state.results) == len(state.results)
    listed = {entry.resource_id: entry.phase for entry in alice.list_jobs(phases=["ABORTED"])}
    assert listed[job.resource_id] == "ABORTED"


def test_abort_of_a_pending_job_and_again_answers_aborted(
    server: RunningServer,
) -> None:
    job = service(server, "bob").create(steps_jdl())
    assert job.abort() == "ABORTED"
    assert job.abort() == "ABORTED"  # a retried abort succeeds
    with pytest.raises(InvalidPhase):
        job.start()


def test_abort_of_a_completed_job_is_an_invalid_phase_fault(
    server: RunningServer,
) -> None:
    job = service(server, "bob").create(steps_jdl())
    job.start()
    wait_phase(job, {"COMPLETED"})
    with pytest.raises(InvalidPhase) as refused:
        job.abort()
    assert refused.value.phase == "COMPLETED"
    assert refused.value.operation == "abortJob"
    assert job.phase == "COMPLETED"


def test_abort_of_another_owners_job_is_resource_unknown(server: RunningServer) -> None:
    job = service(server, "alice").create(steps_jdl())
    with pytest.raises(ResourceUnknown):
        service(server, "bob").job(job.resource_id).abort()
    assert job.phase == "PENDING"


def test_zeep_aborts_with_the_resource_header_and_gets_the_phase(
    server: RunningServer,
) -> None:
    job = service(server, "alice").create(steps_jdl())
    zeep_client = checked_zeep(server, "alice")
    header = etree.Element(f"{{{CORE}}}ResourceId", nsmap={"uwscore": CORE, "wsa": WSA})
    header.set(f"{{{WSA}}}IsReferenceParameter", "true")
    header.text = job.resource_id
    assert zeep_client.service.abortJob(_soapheaders=[header]) == "ABORTED"
    with pytest.raises(Fault) as missing:
        zeep_client.service.abortJob()
    assert missing.value.detail[0].tag == f"{{{R}}}ResourceUnknownFault"


def test_abort_answers_its_action_and_relates_to_the_request(
    server: RunningServer,
) -> None:
    job = service(server, "bob").create(steps_jdl())
    body = f'<uwscore:abortJob xmlns:uwscore="{CORE}"/>'
    headers = addressing(server.url("steps"), ABORT_ACTION, job.resource_id, message_id="urn:x:1")
    token = (
        '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken>'
        "<wsse:Username>bob</wsse:Username><wsse:Password>bob-secret</wsse:Password>"
        "</wsse:UsernameToken></wsse:Security>"
    )
    status, reply = post(server.url("steps"), envelope(body, headers + token), check=shared_check())
    assert status == 200, etree.tostring(reply)
    assert reply.findtext(f".//{{{WSA}}}Action") == ABORT_ACTION + "Response"
    assert reply.findtext(f".//{{{WSA}}}RelatesTo") == "urn:x:1"
    assert reply.findtext(f".//{{{CORE}}}abortJobResponse/{{{CORE}}}Phase") == "ABORTED"


def test_a_job_is_unknown_at_another_contracts_endpoint(server: RunningServer) -> None:
    job = service(server, "alice").create(steps_jdl())
    elsewhere = service(server, "alice", contract="cea").job(job.resource_id)
    with pytest.raises(ResourceUnknown):
        elsewhere.phase  # noqa: B018
    with pytest.raises(ResourceUnknown):
        elsewhere.abort()
    with pytest.raises(ResourceUnknown):
        elsewhere.destroy()
    assert job.phase == "PENDING"  # at its own endpoint, untouched
