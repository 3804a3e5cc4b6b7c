"""The ``vospace`` contract end to end: a real ``wsrf-uws serve`` with a users file, the
space negotiated over SOAP (the project's client, WS-Security UsernameToken), then used
over the same server's VOSpace 2.1 endpoint (HTTP Basic, the same users), and CADC's
real ``vos`` client against that endpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from lxml import etree

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import (
    Job,
    NotAuthenticated,
    QuotaExceeded,
    ResourceUnknown,
    Service,
    TerminationTimeChangeRejected,
)
from wsrf_uws.testing.server import RunningServer

from soap_support import VOSPACE, contract_state, stored_jobs
from vospace_support import CORE, PASSWORDS, properties_of, transfer_xml, vos

AUTHORITY = "example.org"
ALICE = ("alice", PASSWORDS["alice"])
BOB = ("bob", PASSWORDS["bob"])

#: The policy the server runs with: 1 MB spaces, 1.5 MB per owner, two days; bob 1000 bytes.
POLICY = {
    "WSRF_UWS_AUTHORITY": AUTHORITY,
    "WSRF_UWS_VOSPACE__MAX_SPACE_BYTES": "1000000",
    "WSRF_UWS_VOSPACE__MAX_OWNER_BYTES": "1500000",
    "WSRF_UWS_VOSPACE__MAX_LIFETIME": "P2D",
    "WSRF_UWS_VOSPACE__OWNERS": json.dumps({"bob": {"max_space_bytes": 1000}}),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("vospace")
    users = root / "users"
    for name, password in PASSWORDS.items():
        UsersFile.add(users, name, password)
    running = RunningServer(root / "data", env={**POLICY, "WSRF_UWS_USERS_FILE": str(users)})
    running.start()
    yield running
    running.stop()


def service(server: RunningServer, user: tuple[str, str] | None = ALICE) -> Service:
    if user is None:
        return Service(server.url("vospace"))
    return Service(server.url("vospace"), username=user[0], password=user[1])


def job_xml(size: int, lifetime: str | None = None) -> str:
    life = f"<lifetime>{lifetime}</lifetime>" if lifetime else ""
    return f'<job xmlns="{VOSPACE}"><size>{size}</size>{life}</job>'


def state_of(job: Job) -> etree._Element:
    """``vospace:state``, the property document checked first (soap_support)."""
    return contract_state(job, f"{{{VOSPACE}}}state")


def started(job: Job) -> etree._Element:
    job.start()
    final = job.wait(timeout=60, poll=0.1)
    assert final.phase == "COMPLETED", final.error
    return state_of(job)


def node_url(server: RunningServer, path: str) -> str:
    return f"{server.base_url}/vospace/nodes/{path}"


def transfer(server: RunningServer, path: str, direction: str, protocol: str, auth) -> str:
    """Negotiate a synchronous transfer; the data URL it offers."""
    answer = requests.post(
        f"{server.base_url}/vospace/synctrans",
        data=transfer_xml(f"vos://{AUTHORITY}!vospace/{path}", direction, protocol),
        auth=auth,
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303, answer.text
    details = requests.get(answer.headers["Location"], auth=auth, timeout=30)
    assert details.status_code == 200, details.text
    urls = [e.text for e in etree.fromstring(details.content).iter(vos("endpoint"))]
    assert urls, details.text
    return str(urls[0])


def upload(server: RunningServer, path: str, data: bytes, auth=ALICE) -> requests.Response:
    url = transfer(server, path, "pushToVoSpace", "httpput", auth)
    return requests.put(url, data=data, timeout=30)


def download(server: RunningServer, path: str, auth=ALICE) -> bytes:
    url = transfer(server, path, "pullFromVoSpace", "httpget", auth)
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200
    return answer.content


def make_folder(server: RunningServer, path: str, auth=ALICE) -> requests.Response:
    document = (
        f'<vos:node xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'uri="vos://{AUTHORITY}!vospace/{path}" xsi:type="vos:ContainerNode"/>'
    )
    return requests.put(
        node_url(server, path),
        data=document,
        headers={"Content-Type": "text/xml"},
        auth=auth,
        timeout=30,
    )


# -- negotiation, use, lifetime, destruction ----------------------------------------------


def test_a_space_is_negotiated_used_extended_and_destroyed(server: RunningServer) -> None:
    alice = service(server)
    job = alice.create(job_xml(5_000_000, "P10D"))
    pending = state_of(job)
    offer = pending.find(f"{{{VOSPACE}}}offer")
    assert offer is not None
    # Both cut down by the policy, and the reasons said.
    assert offer.get("size") == "1000000"
    assert offer.get("lifetime") == "P2D"
    reasons = [r.text or "" for r in offer.findall(f"{{{VOSPACE}}}reason")]
    assert any("1000000 bytes" in r for r in reasons) and any("P2D" in r for r in reasons)
    termination = job.termination_time
    assert termination is not None
    assert abs(termination - datetime.now(UTC) - timedelta(days=2)) < timedelta(minutes=1)
    # Nothing exists before startJob.
    assert pending.find(f"{{{VOSPACE}}}space") is None
    assert (
        requests.get(node_url(server, job.resource_id), auth=ALICE, timeout=30).status_code == 404
    )

    state = started(job)
    space = state.find(f"{{{VOSPACE}}}space")
    assert space is not None
    identifier = space.findtext(f"{{{VOSPACE}}}identifier")
    assert identifier == f"vos://{AUTHORITY}!vospace/{job.resource_id}"
    assert space.findtext(f"{{{VOSPACE}}}node") == node_url(server, job.resource_id)
    assert space.findtext(f"{{{VOSPACE}}}available") == "1000000"

    # Upload, list, download: the same bytes and MD5.
    data = os.urandom(300_000)
    assert make_folder(server, f"{job.resource_id}/results").status_code == 201
    assert upload(server, f"{job.resource_id}/results/table.bin", data).status_code in (200, 201)
    listing = requests.get(node_url(server, f"{job.resource_id}/results"), auth=ALICE, timeout=30)
    assert [c.get("uri") for c in etree.fromstring(listing.content).iter(vos("node"))][1:] == [
        f"vos://{AUTHORITY}!vospace/{job.resource_id}/results/table.bin"
    ]
    node = requests.get(
        node_url(server, f"{job.resource_id}/results/table.bin"), auth=ALICE, timeout=30
    )
    props = properties_of(node.content)
    assert props[CORE + "MD5"][0] == hashlib.md5(data).hexdigest()
    assert props[CORE + "length"][0] == str(len(data))
    assert props[CORE + "creator"][0] == "alice"
    assert download(server, f"{job.resource_id}/results/table.bin") == data
    used = state_of(job).find(f"{{{VOSPACE}}}space")
    assert used is not None
    assert used.findtext(f"{{{VOSPACE}}}used") == str(len(data))
    assert used.findtext(f"{{{VOSPACE}}}available") == str(1_000_000 - len(data))

    # The lifetime is renegotiated within the policy; beyond it, refused.
    change = job.extend(lifetime=timedelta(days=1, hours=12))
    assert change.new_termination_time is not None
    root_props = properties_of(
        requests.get(node_url(server, job.resource_id), auth=ALICE, timeout=30).content
    )
    expires = root_props[f"ivo://{AUTHORITY}/vospace#expires"][0]
    assert abs(
        datetime.fromisoformat(expires.replace("Z", "+00:00")) - change.new_termination_time
    ) < timedelta(seconds=1)
    with pytest.raises(TerminationTimeChangeRejected):
        job.extend(lifetime=timedelta(days=3))

    # Destroy: the container and everything in it are gone.
    job.destroy()
    for path in (job.resource_id, f"{job.resource_id}/results/table.bin"):
        assert requests.get(node_url(server, path), auth=ALICE, timeout=30).status_code == 404


def test_the_offer_honours_each_owners_policy(server: RunningServer) -> None:
    bob = service(server, BOB)
    job = bob.create(job_xml(50_000))
    offer = state_of(job).find(f"{{{VOSPACE}}}offer")
    assert offer is not None
    assert offer.get("size") == "1000"  # bob's own limit
    assert offer.get("lifetime") == "P7D" or offer.get("lifetime") == "P2D"

    # alice's spaces together stay within 1.5 MB: a second 1 MB space gets what is left.
    alice = service(server)
    first = alice.create(job_xml(1_000_000))
    started(first)
    second = alice.create(job_xml(1_000_000))
    second_offer = state_of(second).find(f"{{{VOSPACE}}}offer")
    assert second_offer is not None
    granted = int(second_offer.get("size") or 0)
    assert 0 < granted <= 500_000
    # Offers are not reservations: of two offers for the rest, only the first started
    # gets its space; the second ends in ERROR, and nothing is created for it.
    third = alice.create(job_xml(granted))
    started(third)
    second.start()
    refused = second.wait(timeout=60, poll=0.1)
    assert refused.phase == "ERROR"
    assert "was not created" in (refused.error_message or "")
    assert (
        requests.get(node_url(server, second.resource_id), auth=ALICE, timeout=30).status_code
        == 404
    )
    before = stored_jobs(server)
    with pytest.raises(QuotaExceeded, match="no space left"):
        alice.create(job_xml(10))
    assert stored_jobs(server) == before
    for job in (first, second, third):
        job.destroy()


def test_an_initial_termination_time_goes_through_the_policy(server: RunningServer) -> None:
    alice = service(server)
    before = stored_jobs(server)
    with pytest.raises(TerminationTimeChangeRejected):
        alice.create(job_xml(1000), termination_time=datetime.now(UTC) + timedelta(days=3))
    assert stored_jobs(server) == before
    job = alice.create(job_xml(1000), termination_time=datetime.now(UTC) + timedelta(hours=5))
    termination = job.termination_time
    assert termination is not None
    assert abs(termination - datetime.now(UTC) - timedelta(hours=5)) < timedelta(minutes=1)
    job.destroy()


def test_an_anonymous_caller_gets_no_space(server: RunningServer) -> None:
    before = stored_jobs(server)
    with pytest.raises(NotAuthenticated, match="belongs to a user"):
        service(server, None).create(job_xml(1000))
    assert stored_jobs(server) == before


def test_over_quota_uploads_are_refused_whole_and_others_are_refused(
    server: RunningServer,
) -> None:
    job = service(server).create(job_xml(10_000))
    started(job)
    space = job.resource_id
    # Announced in the transfer: refused at negotiation, before anything is created.
    announced = requests.post(
        f"{server.base_url}/vospace/synctrans",
        data=transfer_xml(
            f"vos://{AUTHORITY}!vospace/{space}/big.bin", "pushToVoSpace", "httpput", length=10_001
        ),
        auth=ALICE,
        allow_redirects=False,
        timeout=30,
    )
    assert announced.status_code == 303
    transfer_job = announced.headers["Location"].rsplit("/results/", 1)[0]
    assert requests.get(f"{transfer_job}/phase", auth=ALICE, timeout=30).text == "ERROR"
    error = requests.get(f"{transfer_job}/error", auth=ALICE, timeout=30).text
    assert error.startswith("QuotaExceeded")
    assert (
        requests.get(node_url(server, f"{space}/big.bin"), auth=ALICE, timeout=30).status_code
        == 404
    )
    # Not announced: the data is refused whole as soon as it goes beyond the space.
    refused = upload(server, f"{space}/big.bin", b"x" * 10_001)
    assert refused.status_code == 413
    chunked = requests.put(
        transfer(server, f"{space}/big.bin", "pushToVoSpace", "httpput", ALICE),
        data=iter([b"y" * 6000, b"y" * 6000]),
        timeout=30,
    )
    assert chunked.status_code == 413
    node = requests.get(node_url(server, space), auth=ALICE, timeout=30)
    assert properties_of(node.content)[CORE + "availableSpace"][0] == "10000"
    big = requests.get(node_url(server, f"{space}/big.bin"), auth=ALICE, timeout=30)
    assert properties_of(big.content).get(CORE + "length", ("0", False))[0] == "0"
    assert not [
        p
        for p in (server.data_dir / "vospace").rglob("*")
        if p.is_file()
        and p.stat().st_size >= 6000
        and p.suffix != ".sqlite"
        and "sqlite" not in p.name
    ]
    # Another user may neither write nor read: to bob the space answers as one that does
    # not exist; anonymous callers are refused any write, whatever the path.
    intruder = make_folder(server, f"{space}/bobs", auth=BOB)
    assert (intruder.status_code, intruder.text) == (
        404,
        f"ContainerNotFound /{space} does not exist\n",
    )
    read = requests.get(node_url(server, space), auth=BOB, timeout=30)
    assert (read.status_code, read.text) == (404, f"NodeNotFound /{space} does not exist\n")
    assert make_folder(server, f"{space}/anon", auth=None).status_code == 403
    # Bob's SOAP calls on alice's job: as if it did not exist.
    with pytest.raises(ResourceUnknown, match="is known to this service"):
        service(server, BOB).job(job.resource_id).destroy()
    job.destroy()


def test_expiry_deletes_the_space(server: RunningServer) -> None:
    job = service(server).create(job_xml(1000))
    started(job)
    assert upload(server, f"{job.resource_id}/note.txt", b"short-lived").status_code in (200, 201)
    job.extend(lifetime=timedelta(seconds=1))
    deadline = time.monotonic() + 20
    url = node_url(server, job.resource_id)
    while (
        time.monotonic() < deadline and requests.get(url, auth=ALICE, timeout=30).status_code != 404
    ):
        time.sleep(0.2)
    assert requests.get(url, auth=ALICE, timeout=30).status_code == 404
    spaces = server.data_dir / "vospace"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(p.is_file() for p in (spaces / "blobs").rglob("*")):
        time.sleep(0.2)
    assert not any(p.is_file() for p in (spaces / "blobs").rglob("*"))


# -- restarts -------------------------------------------------------------------------------


def test_after_kill_9_during_a_start_the_job_waits_for_resume(tmp_path: Path) -> None:
    users = tmp_path / "users"
    UsersFile.add(users, "alice", PASSWORDS["alice"])
    running = RunningServer(tmp_path / "data", env={**POLICY, "WSRF_UWS_USERS_FILE": str(users)})
    running.start()
    try:
        job = service(running).create(job_xml(2000))
        job.start()
        running.kill()  # at once: the start is queued or under way
        running.start()
        job = service(running).job(job.resource_id)
        state = job.wait(timeout=30, poll=0.1)
        assert state.phase == "HELD", state
        assert state.note and "resume" in state.note.lower()
        assert job.resume() in ("QUEUED", "EXECUTING", "COMPLETED")
        final = job.wait(timeout=60, poll=0.1)
        assert final.phase == "COMPLETED", final.error
        space = state_of(job).find(f"{{{VOSPACE}}}space")
        assert space is not None
        assert upload(running, f"{job.resource_id}/after.txt", b"resumed").status_code in (200, 201)
        assert download(running, f"{job.resource_id}/after.txt") == b"resumed"
    finally:
        running.stop()


# -- CADC's client ------------------------------------------------------------------------


CLIENT = r"""
import json, os, sys
space, workdir = sys.argv[1:3]
import vos

steps = {}
def step(name, action):
    try:
        steps[name] = {"ok": True, "value": action()}
    except Exception as error:
        steps[name] = {"ok": False, "error": type(error).__name__ + ": " + str(error)[:300]}

base = "vos://%s~vospace/%s" % (os.environ["VOS_AUTHORITY"], space)
client = vos.Client()
step("mkdir", lambda: client.mkdir(base + "/data"))
step("listdir", lambda: client.listdir(base, force=True))
step("copy_up", lambda: client.copy(os.path.join(workdir, "up.bin"), base + "/data/up.bin"))
step("md5", lambda: client.get_node(base + "/data/up.bin", force=True).props.get("MD5"))
step("copy_down", lambda: client.copy(base + "/data/up.bin", os.path.join(workdir, "down.bin")))
step("delete", lambda: client.delete(base + "/data/up.bin"))
step("listdir_after", lambda: client.listdir(base + "/data", force=True))
print(json.dumps(steps))
"""


def test_cadcs_vos_client_uses_a_negotiated_space(server: RunningServer, tmp_path: Path) -> None:
    pytest.importorskip("vos", reason="CADC's vos client is not installed")
    job = service(server).create(job_xml(500_000))
    started(job)
    home = tmp_path / "home"
    registry = home / ".config" / "cadc-registry"
    registry.mkdir(parents=True)
    # The client finds the service through the registry; this server answers it too.
    caps = requests.get(f"{server.base_url}/reg/resource-caps", timeout=30)
    assert caps.status_code == 200
    (registry / "resource-caps").write_text(caps.text)
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {PASSWORDS['alice']}\n")
    netrc.chmod(0o600)
    data = os.urandom(200_000)
    (tmp_path / "up.bin").write_bytes(data)
    environment = {k: v for k, v in os.environ.items() if k not in ("VOSPACE_WEBSERVICE",)}
    environment.update(HOME=str(home), VOS_AUTHORITY=AUTHORITY)
    finished = subprocess.run(
        [sys.executable, "-c", CLIENT, job.resource_id, str(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    steps = json.loads(finished.stdout.strip().splitlines()[-1])
    assert all(step["ok"] for step in steps.values()), steps
    assert steps["listdir"]["value"] == ["data"]
    assert steps["copy_up"]["value"] == len(data)
    assert steps["md5"]["value"] == hashlib.md5(data).hexdigest()
    assert (tmp_path / "down.bin").read_bytes() == data
    assert steps["listdir_after"]["value"] == []
    job.destroy()
