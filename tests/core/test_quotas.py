"""Per-owner quotas on a real server: live jobs, executing jobs, bytes a job may stage.

The table row of issue 14: 3 000 createJob calls in 8 s were all accepted, with no
per-owner cap, each to live 7 days. Now each owner holds at most its quota of live
jobs (anonymous callers share one, small quota), counted atomically with the insert.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import QuotaExceeded, Service
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import RunningServer, running_server

from plugin_contracts import MIB, plugin_environment
from soap_support import (
    STEPS,
    addressing,
    envelope,
    error_code,
    fault_detail,
    post,
    stored_jobs,
    wait_for_phase,
)

SAFETY = 60.0  # seconds: only a guard against hanging, never a measurement
CORE = "urn:wsrf-uws:core:v1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("quotas")
    users = folder / "users"
    for name in ("alice", "bob"):
        UsersFile.add(users, name, f"{name}-secret")
    env = {
        **plugin_environment(folder / "plugins"),
        "WSRF_UWS_USERS_FILE": str(users),
        "WSRF_UWS_QUOTAS__MAX_LIVE_JOBS": "3",
        "WSRF_UWS_QUOTAS__MAX_ANONYMOUS_LIVE_JOBS": "5",
        "WSRF_UWS_QUOTAS__OWNERS": json.dumps({"bob": {"max_live_jobs": 4}}),
        "WSRF_UWS_QUOTAS__MAX_JOB_BYTES": str(8 * MIB),
        "WSRF_UWS_QUOTAS__MAX_ANONYMOUS_JOB_BYTES": str(2 * MIB),
    }
    with running_server(folder / "data", env=env) as running:
        yield running


def service(server: RunningServer, user: str | None = None, contract: str = "steps") -> Service:
    if user is None:
        return Service(server.url(contract))
    return Service(server.url(contract), username=user, password=f"{user}-secret")


def test_a_flood_of_anonymous_createjob_stops_at_the_quota(server: RunningServer) -> None:
    url = server.url("steps")
    body = (
        f'<t:createJob xmlns:t="{STEPS}"><t:job><t:steps>1</t:steps>'
        "<t:stepSeconds>0</t:stepSeconds></t:job></t:createJob>"
    )

    def create(_: int) -> tuple[int, str]:
        """The HTTP status, and the new ResourceId or the fault."""
        status, reply = post(url, envelope(body, addressing(url, f"{STEPS}/createJob")))
        if status == 200:
            return status, reply.findtext(f".//{{{CORE}}}ResourceId") or ""
        return status, f"{fault_detail(reply).tag} {error_code(reply)}"

    # Eight at a time, as fast as the server answers: the count and the insert must be
    # one step, or parallel requests would overshoot.
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(create, range(60)))
    accepted = [o for o in outcomes if o[0] == 200]
    refused = {o for o in outcomes if o[0] != 200}
    assert len(accepted) == 5, (sorted(set(outcomes) - set(accepted)), server.log[-60:])
    # On a failure, the service's log says what else went wrong.
    assert refused == {(500, f"{{{CORE}}}QuotaExceededFault quota-exceeded")}, server.log[-60:]
    assert stored_jobs(server) == 5
    anonymous = service(server)
    with pytest.raises(QuotaExceeded) as caught:
        anonymous.create(steps_jdl())
    assert "anonymous callers together hold the most live jobs allowed, 5" in str(caught.value)
    # At the quota, the contract never sees the request: an invalid description is
    # refused as over the quota, before it would be parsed.
    with pytest.raises(QuotaExceeded):
        anonymous.create(b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>0</steps></job>')
    # A destroyed job makes room again.
    anonymous.job(accepted[0][1]).destroy()
    accepted[0] = (200, anonymous.create(steps_jdl()).resource_id)
    log = "".join(server.log)
    assert "Traceback" not in log, log[-3000:]
    for _, resource_id in accepted:
        anonymous.job(resource_id).destroy()  # the next tests start with no live jobs


def test_each_user_has_a_quota_of_their_own(server: RunningServer) -> None:
    alice, bob = service(server, "alice"), service(server, "bob")
    jobs = [alice.create(steps_jdl()) for _ in range(3)]
    with pytest.raises(QuotaExceeded) as caught:
        alice.create(steps_jdl())
    assert "user 'alice' holds the most live jobs allowed, 3" in str(caught.value)
    # bob's own quota (owners.bob) is larger, and alice's jobs do not count for him.
    bobs = [bob.create(steps_jdl()) for _ in range(4)]
    with pytest.raises(QuotaExceeded):
        bob.create(steps_jdl())
    jobs[0].destroy()
    jobs[0] = alice.create(steps_jdl())
    for job in [*jobs, *bobs]:
        job.destroy()  # the next tests start with no live jobs


def test_a_job_quoted_beyond_the_owners_bytes_is_refused(server: RunningServer) -> None:
    before = stored_jobs(server)
    with pytest.raises(QuotaExceeded) as caught:
        service(server, "alice", "stager").create(steps_jdl(9))
    assert "the job would stage 9 MiB" in str(caught.value)
    assert "may stage at most 8 MiB" in str(caught.value)
    assert "a job of user 'alice'" in str(caught.value)
    with pytest.raises(QuotaExceeded) as caught:
        service(server, contract="stager").create(steps_jdl(3))
    assert "a job of an anonymous caller may stage at most 2 MiB" in str(caught.value)
    assert stored_jobs(server) == before  # nothing half-created


def test_jobs_beyond_the_executing_quota_wait_queued(tmp_path: Path) -> None:
    UsersFile.add(tmp_path / "users", "carol", "carol-secret")
    env = {
        "WSRF_UWS_USERS_FILE": str(tmp_path / "users"),
        "WSRF_UWS_SLOTS": "3",
        "WSRF_UWS_QUOTAS__MAX_ANONYMOUS_EXECUTING_JOBS": "1",
    }
    with running_server(tmp_path / "data", env=env) as server:
        anonymous = service(server)
        first, second = (anonymous.create(steps_jdl(1, 600)) for _ in range(2))
        first.start()
        second.start()
        # A third owner's job, started after both: once it executes, the executor has
        # filled its slots, and would have started the second anonymous job before it.
        carol = Service(server.url("steps"), username="carol", password="carol-secret")
        other = carol.create(steps_jdl(1, 600))
        other.start()
        assert wait_for_phase(first, {"EXECUTING"}) == "EXECUTING"
        assert wait_for_phase(other, {"EXECUTING"}) == "EXECUTING"
        assert second.phase == "QUEUED"  # a free slot, but the owner's quota is used
        first.destroy()
        assert wait_for_phase(second, {"EXECUTING"}) == "EXECUTING"
        for job in (second, other):
            job.destroy()


def test_the_live_jobs_count_is_atomic_with_the_insert(tmp_path: Path) -> None:
    """Threads inserting for one owner at once never overshoot (the store alone)."""
    from wsrf_uws.core.ports import LiveJobsLimitError
    from wsrf_uws.store import SQLiteJobStore

    from factories import make_job

    store = SQLiteJobStore(tmp_path / "store.sqlite")
    barrier = threading.Barrier(8)
    accepted: list[str] = []

    def insert(i: int) -> None:
        barrier.wait()
        for j in range(10):
            job = make_job(resource_id=f"job-{i}-{j}", owner="flooder")
            try:
                store.insert(job, max_owner_jobs=7)
                accepted.append(job.resource_id)
            except LiveJobsLimitError:
                pass

    threads = [threading.Thread(target=insert, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SAFETY)
    assert len(accepted) == 7
    assert len(store.list_jobs(owner="flooder")) == 7
    store.insert(make_job(resource_id="someone-else", owner="other"), max_owner_jobs=7)
    store.close()
