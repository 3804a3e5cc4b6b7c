"""Identity over the wire: WS-Security UsernameToken and HTTP Basic against a users file.

A real server with ``users_file`` set and anonymous access off; zeep's own
UsernameToken (text and digest) and requests' Basic auth, as clients send them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from wsrf_uws.accounts import UsersFile
from wsrf_uws.testing.server import RunningServer, running_server

from soap_support import CORE, STEPS, UWS, WSA, R, RecordingPlugin, shared_check


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("identity")
    users = folder / "users"
    UsersFile.add(users, "alice", "alice-secret", digest=True)
    UsersFile.add(users, "bob", "bob-secret")
    env = {"WSRF_UWS_USERS_FILE": str(users), "WSRF_UWS_ALLOW_ANONYMOUS": "false"}
    with running_server(folder / "data", env=env) as running:
        yield running


def client(server: RunningServer, **options: object) -> zeep.Client:
    session = requests.Session()
    if "basic" in options:
        session.auth = options.pop("basic")  # type: ignore[assignment]
    return zeep.Client(
        server.url("steps") + "?wsdl",
        transport=Transport(session=session),
        plugins=[RecordingPlugin(shared_check())],
        **options,  # type: ignore[arg-type]
    )


def rid_header(resource_id: str) -> etree._Element:
    element = etree.Element(f"{{{CORE}}}ResourceId", nsmap={"c": CORE, "wsa": WSA})
    element.set(f"{{{WSA}}}IsReferenceParameter", "true")
    element.text = resource_id
    return element


def create(c: zeep.Client) -> str:
    job = c.get_element(f"{{{STEPS}}}job")(steps=1, stepSeconds=0)
    epr = c.service.createJob(job=job)
    return str(epr.ReferenceParameters._value_1[0]._value_1)


def fault_tag(call: object) -> str:
    with pytest.raises(Fault) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.detail[0].tag)


def test_a_text_token_creates_a_job_owned_by_its_user(server: RunningServer) -> None:
    alice = client(server, wsse=UsernameToken("alice", "alice-secret"))
    resource_id = create(alice)
    job = alice.service.GetResourceProperty(
        etree.QName(UWS, "job"), _soapheaders=[rid_header(resource_id)]
    )[0]
    assert job.ownerId == "alice"


def test_a_digest_token_works_for_a_user_with_a_digest_secret(server: RunningServer) -> None:
    alice = client(server, wsse=UsernameToken("alice", "alice-secret", use_digest=True))
    resource_id = create(alice)
    phase = alice.service.GetResourceProperty(
        etree.QName(CORE, "Phase"), _soapheaders=[rid_header(resource_id)]
    )
    assert phase == ["PENDING"]


def test_a_digest_token_fails_for_a_user_without_one(server: RunningServer) -> None:
    bob = client(server, wsse=UsernameToken("bob", "bob-secret", use_digest=True))
    assert fault_tag(lambda: create(bob)) == f"{{{CORE}}}NotAuthenticatedFault"


def test_basic_authentication(server: RunningServer) -> None:
    bob = client(server, basic=("bob", "bob-secret"))
    assert len(create(bob)) == 32


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"wsse": UsernameToken("alice", "wrong")},
        {"wsse": UsernameToken("mallory", "alice-secret")},
        {"basic": ("bob", "wrong")},
    ],
    ids=["no credentials", "wrong password", "unknown user", "wrong basic password"],
)
def test_refused_callers_get_not_authenticated(server: RunningServer, options: dict) -> None:
    assert fault_tag(lambda: create(client(server, **options))) == (
        f"{{{CORE}}}NotAuthenticatedFault"
    )


def test_another_owners_job_looks_unknown(server: RunningServer) -> None:
    alice = client(server, wsse=UsernameToken("alice", "alice-secret"))
    bob = client(server, basic=("bob", "bob-secret"))
    resource_id = create(alice)
    with pytest.raises(Fault) as theirs:
        bob.service.Destroy(_soapheaders=[rid_header(resource_id)])
    with pytest.raises(Fault) as unknown:
        bob.service.Destroy(_soapheaders=[rid_header("z" * 32)])
    assert (
        theirs.value.detail[0].tag == unknown.value.detail[0].tag == f"{{{R}}}ResourceUnknownFault"
    )
    assert theirs.value.message.replace(resource_id, "ID") == unknown.value.message.replace(
        "z" * 32, "ID"
    )
    # alice's job is still there
    assert alice.service.GetResourceProperty(
        etree.QName(CORE, "Phase"), _soapheaders=[rid_header(resource_id)]
    ) == ["PENDING"]


def test_a_replayed_token_is_refused(server: RunningServer) -> None:
    # A token with a fixed nonce and creation time: what an eavesdropper would resend.
    token = UsernameToken(
        "alice",
        "alice-secret",
        use_digest=True,
        nonce="once-only-nonce",
        created=datetime.now(UTC),
    )
    replaying = client(server, wsse=token)
    create(replaying)
    assert fault_tag(lambda: create(replaying)) == f"{{{CORE}}}NotAuthenticatedFault"


def test_results_are_downloaded_by_their_owner_only(server: RunningServer, tmp_path: Path) -> None:
    alice = client(server, wsse=UsernameToken("alice", "alice-secret"))
    resource_id = create(alice)
    alice.service.startJob(_soapheaders=[rid_header(resource_id)])
    deadline = time.monotonic() + 30
    while alice.service.GetResourceProperty(
        etree.QName(CORE, "Phase"), _soapheaders=[rid_header(resource_id)]
    ) != ["COMPLETED"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    url = f"{server.base_url}/results/{resource_id}/step-1.txt"
    assert requests.get(url, auth=("alice", "alice-secret"), timeout=10).content == (
        b"step 1 of run 1\n"
    )
    assert requests.get(url, auth=("bob", "bob-secret"), timeout=10).status_code == 404
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
