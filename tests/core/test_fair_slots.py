"""Fair slots on a real server: one owner's queue cannot keep another's job waiting.

The executor gives a free slot to the owner with the fewest running jobs (round-robin
among equals), so an owner with many queued jobs does not hold every slot while others
wait.
"""

from __future__ import annotations

from pathlib import Path

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import Service
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import running_server

from soap_support import wait_for_phase


def test_a_free_slot_goes_to_the_owner_who_waits_not_to_the_longest_queue(
    tmp_path: Path,
) -> None:
    for name in ("alice", "bob"):
        UsersFile.add(tmp_path / "users", name, f"{name}-secret")
    env = {"WSRF_UWS_USERS_FILE": str(tmp_path / "users"), "WSRF_UWS_SLOTS": "1"}
    with running_server(tmp_path / "data", env=env) as server:
        alice = Service(server.url("steps"), username="alice", password="alice-secret")
        bob = Service(server.url("steps"), username="bob", password="bob-secret")
        # alice fills the only slot and queues five more slow jobs.
        slow = [alice.create(steps_jdl(1, 600)) for _ in range(6)]
        for job in slow:
            job.start()
        assert wait_for_phase(slow[0], {"EXECUTING"}) == "EXECUTING"
        # bob's one quick job is queued last...
        quick = bob.create(steps_jdl(1, 0))
        quick.start()
        assert quick.phase == "QUEUED"
        # ...and runs as soon as the slot frees, before alice's queued ones.
        slow[0].destroy()
        assert wait_for_phase(quick, {"COMPLETED", "ERROR", "ABORTED"}) == "COMPLETED"
        started = [job for job in slow[1:] if job.phase != "QUEUED"]
        assert started in ([], [slow[1]])  # at most alice's next, after bob's
        for job in slow[1:]:
            job.destroy()
