"""One service per data directory: ``wsrf-uws serve`` holds a lock for its whole life.

A second service on the same directory used to run restart recovery, which put the
first one's EXECUTING jobs in HELD for good. Now it stops at once, naming the directory
and the process that holds it, and changes nothing; once that process is gone (even by
``kill -9``), the next service takes over and recovers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from wsrf_uws.data_lock import LOCK_FILE, DataDirectoryInUseError, DataDirectoryLock
from wsrf_uws.testing.server import RunningServer

from soap_support import CORE, RP, STEPS, addressing, envelope, post

ENV = {"WSRF_UWS_CONTRACTS": '["steps"]'}


def phase(server: RunningServer, resource_id: str) -> str | None:
    body = f'<r:GetResourceProperty xmlns:r="{RP}" xmlns:c="{CORE}">c:Phase</r:GetResourceProperty>'
    status, reply = post(server.url("steps"), envelope(body, addressing("a", "a", resource_id)))
    assert status == 200, etree.tostring(reply)
    return reply.findtext(f".//{{{CORE}}}Phase")


def executing_job(server: RunningServer) -> str:
    """A job that is not isolated (it would go to HELD at a restart), executing."""
    body = (
        f'<s:createJob xmlns:s="{STEPS}"><s:job isolated="false"><s:steps>600</s:steps>'
        "<s:stepSeconds>1</s:stepSeconds></s:job></s:createJob>"
    )
    status, reply = post(server.url("steps"), envelope(body, addressing("a", "a")))
    assert status == 200
    resource_id = str(reply.findtext(f".//{{{CORE}}}ResourceId"))
    start = envelope(f'<s:startJob xmlns:s="{STEPS}"/>', addressing("a", "a", resource_id))
    assert post(server.url("steps"), start)[0] == 200
    deadline = time.monotonic() + 30
    while phase(server, resource_id) != "EXECUTING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return resource_id


def serve_again(data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "wsrf_uws.cli", "serve", "--port", "0"]
    return subprocess.run(
        [*command, "--data", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**RunningServer(data_dir, env=ENV).env},
    )


def test_a_second_service_refuses_the_directory_until_the_first_is_gone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = RunningServer(data, env=ENV)
    first.start()
    try:
        assert first.process is not None
        resource_id = executing_job(first)
        second = serve_again(data)
        assert second.returncode == 2
        assert str(data) in second.stderr
        assert f"process {first.process.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        # no recovery ran: the first service's job still runs
        assert phase(first, resource_id) == "EXECUTING"
        time.sleep(1)
        assert phase(first, resource_id) == "EXECUTING"

        # reading the store beside the running service is fine
        listed = subprocess.run(
            [sys.executable, "-m", "wsrf_uws.cli", "jobs", "--data", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0 and resource_id in listed.stdout

        # kill -9: the kernel releases the lock, and the next service recovers
        first.kill()
        first.start()
        assert phase(first, resource_id) == "HELD"
    finally:
        first.kill()


def test_the_lock_records_its_holder_and_a_refusal_writes_nothing(tmp_path: Path) -> None:
    with DataDirectoryLock.acquire(tmp_path / "new") as lock:
        path = lock.data_dir / LOCK_FILE
        recorded = path.read_bytes()
        assert recorded.strip().isdigit()
        with pytest.raises(DataDirectoryInUseError) as refused:
            DataDirectoryLock.acquire(tmp_path / "new")
        assert refused.value.pid == int(recorded)
        assert path.read_bytes() == recorded
    with DataDirectoryLock.acquire(tmp_path / "new"):  # released: free again
        pass
