"""The CDS UWS tutorial's steps, with ``curl``, against the REST binding.

The tutorial's "timers" job list becomes ``/rest/steps``: list the jobs, create one
(the JDL as the body), read the job and each attribute, change its execution duration
and destruction time, run it, abort another, and delete them (DELETE and
ACTION=DELETE), each answer checked as the tutorial describes it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from wsrf_uws.testing.server import RunningServer, running_server
from wsrf_uws.wire.namespaces import UWS

JDL = '<job xmlns="urn:wsrf-uws:steps:v1"><steps>2</steps><stepSeconds>0.2</stepSeconds></job>'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if shutil.which("curl") is None:
        pytest.fail("curl is needed for the CDS tutorial walkthrough")
    env = {"WSRF_UWS_CONTRACTS": '["steps"]'}
    with running_server(tmp_path_factory.mktemp("cds") / "data", env=env) as running:
        yield running


def curl(*args: str) -> tuple[int, str, str]:
    """Run curl; the status code, the redirect's Location (no following) and the body."""
    done = subprocess.run(
        ["curl", "-s", "-w", "\n%{http_code} %{redirect_url}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    body, _, tail = done.stdout.rpartition("\n")
    status, _, location = tail.partition(" ")
    return int(status), location.strip(), body


def test_the_tutorial_steps(server: RunningServer, tmp_path: Path) -> None:
    jobs = f"{server.base_url}/rest/steps"
    # 1. List the jobs of the job list: a uws:jobs document.
    status, _, body = curl(jobs)
    assert status == 200
    assert etree.fromstring(body.encode()).tag == f"{{{UWS}}}jobs"
    # 2. Create a job: 303 to its summary.
    jdl = tmp_path / "job.xml"
    jdl.write_text(JDL)
    status, job, _ = curl(
        "-X", "POST", "-H", "Content-Type: text/xml", "--data-binary", f"@{jdl}", jobs
    )
    assert status == 303 and job.startswith(jobs + "/")
    # 3. Its summary, then each attribute: text/plain, or XML for the last three.
    status, _, body = curl(job)
    assert etree.fromstring(body.encode()).findtext(f"{{{UWS}}}phase") == "PENDING"
    texts = {name: curl(f"{job}/{name}")[2] for name in ("phase", "executionduration", "owner")}
    assert texts["phase"] == "PENDING" and texts["executionduration"].isdigit()
    assert curl(f"{job}/quote")[0] == 200
    for name in ("error", "results", "parameters"):
        assert curl(f"{job}/{name}")[0] == 200
    # 4. Change the two writable attributes while PENDING: 303 back to the job.
    status, location, _ = curl("-d", "EXECUTIONDURATION=30", f"{job}/executionduration")
    assert (status, location) == (303, job)
    assert curl(f"{job}/executionduration")[2] == "30"
    status, location, _ = curl("-d", "DESTRUCTION=2099-01-01T00:00:00Z", f"{job}/destruction")
    assert (status, location) == (303, job)
    assert curl(f"{job}/destruction")[2].endswith("Z")
    # 5. Run it: PENDING → QUEUED → EXECUTING → COMPLETED, waited for with WAIT.
    assert curl("-d", "PHASE=RUN", f"{job}/phase")[:2] == (303, job)
    phase = curl(f"{job}/phase")[2]
    while phase in {"QUEUED", "EXECUTING"}:
        curl(f"{job}?WAIT=30")
        phase = curl(f"{job}/phase")[2]
    assert phase == "COMPLETED"
    # Attributes cannot change once the job ran.
    assert curl("-d", "EXECUTIONDURATION=60", f"{job}/executionduration")[0] == 409
    # 6. Abort another job, a long one, started at its creation.
    long_jdl = tmp_path / "long.xml"
    long_jdl.write_text(JDL.replace("<steps>2</steps>", "<steps>100</steps>"))
    status, other, _ = curl(
        "-H", "Content-Type: text/xml", "--data-binary", f"@{long_jdl}", f"{jobs}?PHASE=RUN"
    )
    assert status == 303
    assert curl("-d", "PHASE=ABORT", f"{other}/phase")[:2] == (303, other)
    assert curl(f"{other}/phase")[2] == "ABORTED"
    # 7. Delete both: DELETE, and POST ACTION=DELETE; 303 to the job list.
    assert curl("-X", "DELETE", job)[:2] == (303, jobs)
    assert curl("-d", "ACTION=DELETE", other)[:2] == (303, jobs)
    assert curl(job)[0] == 404 and curl(other)[0] == 404
