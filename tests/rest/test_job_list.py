"""The UWS 1.1 REST binding on a real server: documents, changes, SOAP and REST on the
same jobs, and pyvo's UWS client (``pyvo.io.uws``, ``AsyncTAPJob``) driving a job."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from lxml import etree
from pyvo.dal.tap import AsyncTAPJob
from pyvo.io.uws import parse_job, parse_job_list

from wsrf_uws.client import Service
from wsrf_uws.testing.server import RunningServer, running_server
from wsrf_uws.wire.namespaces import CORE, UWS, WSA

ROOT = Path(__file__).resolve().parents[2]
UWS_SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "schemas" / "uws-1.1.xsd")))


def steps_jdl(steps: int = 2, seconds: float = 0.2) -> bytes:
    return (
        f'<job xmlns="urn:wsrf-uws:steps:v1"><steps>{steps}</steps>'
        f"<stepSeconds>{seconds}</stepSeconds></job>"
    ).encode()


def valid_uws(document: bytes) -> etree._Element:
    root = etree.fromstring(document)
    UWS_SCHEMA.assertValid(root)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("rest")
    env = {"WSRF_UWS_CONTRACTS": '["steps"]', "WSRF_UWS_MAX_LISTED_JOBS": "20"}
    with running_server(folder / "data", env=env) as running:
        yield running


@pytest.fixture
def jobs(server: RunningServer) -> str:
    return f"{server.base_url}/rest/steps"


def create(jobs: str, jdl: bytes, **params: str) -> requests.Response:
    return requests.post(
        jobs,
        data=jdl,
        params=params,
        headers={"Content-Type": "text/xml"},
        allow_redirects=False,
        timeout=30,
    )


def test_post_creates_a_pending_job_and_redirects_to_it(jobs: str) -> None:
    created = create(jobs, steps_jdl())
    assert created.status_code == 303
    location = created.headers["Location"]
    assert location.startswith(jobs + "/")
    document = requests.get(location, timeout=30)
    assert document.headers["Content-Type"].startswith("text/xml")
    job = valid_uws(document.content)
    assert job.get("version") == "1.1"
    assert job.findtext(f"{{{UWS}}}phase") == "PENDING"
    assert job.findtext(f"{{{UWS}}}jobId") == location.rsplit("/", 1)[1]
    assert parse_job(location).phase == "PENDING"  # pyvo's parser, from the URL


def test_phase_run_at_creation_queues_before_the_redirect(jobs: str) -> None:
    created = create(jobs, steps_jdl(), PHASE="RUN")
    phase = requests.get(created.headers["Location"] + "/phase", timeout=30)
    assert phase.headers["Content-Type"].startswith("text/plain")
    assert phase.text in {"QUEUED", "EXECUTING", "COMPLETED"}


def test_an_execution_duration_at_creation_is_recorded_and_a_bad_one_creates_nothing(
    jobs: str,
) -> None:
    created = create(jobs, steps_jdl(), PHASE="RUN", EXECUTIONDURATION="77")
    assert created.status_code == 303
    location = created.headers["Location"]
    assert requests.get(location + "/executionduration", timeout=30).text == "77"
    job = valid_uws(requests.get(location, timeout=30).content)
    assert job.findtext(f"{{{UWS}}}executionDuration") == "77"
    assert job.findtext(f"{{{UWS}}}phase") in {"QUEUED", "EXECUTING", "COMPLETED"}
    before = datetime.now(UTC)
    for bad in ("soon", "-5"):
        refused = create(jobs, steps_jdl(), PHASE="RUN", EXECUTIONDURATION=bad)
        assert refused.status_code == 400
        assert "EXECUTIONDURATION" in refused.text
    listing = requests.get(jobs, params={"AFTER": before.isoformat()}, timeout=30)
    assert list(valid_uws(listing.content)) == []  # nothing half-created


def test_pyvo_drives_a_job_to_its_results(jobs: str) -> None:
    job = AsyncTAPJob(create(jobs, steps_jdl()).headers["Location"])
    assert job.phase == "PENDING"
    job.execution_duration = 120
    assert requests.get(f"{job.url}/executionduration", timeout=30).text == "120"
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    job.destruction = later
    assert job.destruction == later
    job.run()
    job.wait(timeout=60)
    assert job.phase == "COMPLETED"
    names = [result.id_ for result in job.results]
    assert names == ["step-1.txt", "step-2.txt"]
    first = requests.get(job.results[0].href, timeout=30)
    assert first.content == b"step 1 of run 1\n"
    # The result below the job is the file itself (no redirect to follow), ranges too.
    linked = requests.get(f"{job.url}/results/step-2.txt", timeout=30)
    assert (linked.status_code, linked.history) == (200, [])
    assert linked.content == b"step 2 of run 1\n"
    assert linked.headers["Content-Disposition"] == 'attachment; filename="step-2.txt"'
    part = requests.get(f"{job.url}/results/step-2.txt", headers={"Range": "bytes=5-5"}, timeout=30)
    assert (part.status_code, part.content) == (206, b"2")
    assert requests.head(f"{job.url}/results/step-2.txt", timeout=30).headers[
        "Content-Length"
    ] == str(len(linked.content))
    assert requests.get(f"{job.url}/results/nothing", timeout=30).status_code == 404
    url = job.url
    job.delete()
    assert requests.get(url, timeout=30).status_code == 404


def test_abort_keeps_the_job_aborted(jobs: str) -> None:
    location = create(jobs, steps_jdl(steps=50, seconds=1), PHASE="RUN").headers["Location"]
    aborted = requests.post(location + "/phase", data={"PHASE": "ABORT"}, allow_redirects=False)
    assert (aborted.status_code, aborted.headers["Location"]) == (303, location)
    assert requests.get(location + "/phase", timeout=30).text == "ABORTED"
    again = requests.post(location + "/phase", data={"PHASE": "RUN"}, timeout=30)
    assert again.status_code == 409
    assert "ABORTED" in again.text


def test_the_job_list_filters_by_phase_after_and_last(jobs: str) -> None:
    before = datetime.now(UTC)
    pending = create(jobs, steps_jdl()).headers["Location"].rsplit("/", 1)[1]
    running = create(jobs, steps_jdl(steps=50, seconds=1), PHASE="RUN")
    queued = running.headers["Location"].rsplit("/", 1)[1]
    listing = requests.get(jobs, params={"AFTER": before.isoformat()}, timeout=30)
    root = valid_uws(listing.content)
    assert root.get("version") == "1.1"
    ids = [ref.get("id") for ref in root]
    assert ids == [queued, pending]  # newest first
    only_pending = requests.get(
        jobs, params={"AFTER": before.isoformat(), "PHASE": "PENDING"}, timeout=30
    )
    assert [j.jobid for j in parse_job_list(io.BytesIO(only_pending.content))] == [pending]
    last = requests.get(jobs, params={"LAST": "1"}, timeout=30)
    assert [ref.get("id") for ref in etree.fromstring(last.content)] == [queued]
    requests.post(running.headers["Location"] + "/phase", data={"PHASE": "ABORT"}, timeout=30)


def test_a_soap_job_is_driven_through_rest_and_a_rest_job_through_soap(
    server: RunningServer, jobs: str
) -> None:
    soap = Service(server.url("steps"))
    job = soap.create(steps_jdl())
    rest_url = f"{jobs}/{job.resource_id}"
    assert requests.get(rest_url + "/phase", timeout=30).text == "PENDING"
    requests.post(rest_url + "/phase", data={"PHASE": "RUN"}, timeout=30)
    assert job.wait(timeout=60).phase == "COMPLETED"
    # Its uws:job, from either binding, names both addresses.
    summary = job.uws_job()
    reference = summary.find(f"{{{UWS}}}jobInfo/{{{CORE}}}JobReference")
    assert reference is not None
    assert reference.findtext(f"{{{CORE}}}RestUrl") == rest_url
    assert reference.findtext(f"{{{WSA}}}EndpointReference/{{{WSA}}}Address") == server.url("steps")
    # The other way: created over REST, destroyed over SOAP.
    location = create(jobs, steps_jdl()).headers["Location"]
    other = soap.job(location.rsplit("/", 1)[1])
    assert other.state.phase == "PENDING"
    other.destroy()
    assert requests.get(location, timeout=30).status_code == 404


def test_sub_resources_answer_text_and_documents(jobs: str) -> None:
    location = create(jobs, steps_jdl()).headers["Location"]
    assert requests.get(location + "/owner", timeout=30).text == ""  # anonymous
    assert requests.get(location + "/error", timeout=30).text == ""
    assert requests.get(location + "/executionduration", timeout=30).text.isdigit()
    destruction = requests.get(location + "/destruction", timeout=30).text
    assert destruction.endswith("Z")
    parameters = valid_uws(requests.get(location + "/parameters", timeout=30).content)
    reference = parameters.find(f"{{{UWS}}}parameter")
    assert reference is not None and reference.get("byReference") == "true"
    assert requests.get(reference.text or "", timeout=30).content == steps_jdl()
    results = valid_uws(requests.get(location + "/results", timeout=30).content)
    assert results.tag == f"{{{UWS}}}results" and len(results) == 0


def test_form_posts_and_delete_by_action(jobs: str) -> None:
    created = requests.post(
        jobs, data={"JDL": steps_jdl().decode(), "PHASE": "RUN"}, allow_redirects=False
    )
    assert created.status_code == 303
    location = created.headers["Location"]
    deleted = requests.post(location, data={"ACTION": "DELETE"}, allow_redirects=False)
    assert (deleted.status_code, deleted.headers["Location"]) == (303, jobs)
    assert requests.get(location, timeout=30).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("GET", "/nosuchjob", None, 404),
        ("GET", "?LAST=0", None, 400),
        ("GET", "?LAST=21", None, 400),  # beyond max_listed_jobs
        ("GET", "?PHASE=RUNNING", None, 400),
        ("GET", "?AFTER=yesterday", None, 400),
        ("POST", "", {"PHASE": "RUN"}, 400),  # no JDL
        ("PUT", "", None, 405),
    ],
)
def test_bad_requests_are_refused_with_plain_text(
    jobs: str, method: str, path: str, data: dict[str, str] | None, status: int
) -> None:
    answer = requests.request(method, jobs + path, data=data, timeout=30)
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text.strip()


def test_bad_changes_of_a_job_are_refused(jobs: str) -> None:
    location = create(jobs, steps_jdl()).headers["Location"]
    invalid = create(jobs, b"<job xmlns='urn:wsrf-uws:steps:v1'><steps>x</steps></job>")
    assert invalid.status_code == 400 and "invalid job description" in invalid.text
    past = requests.post(location + "/destruction", data={"DESTRUCTION": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400
    far = requests.post(
        location + "/destruction", data={"DESTRUCTION": "2999-01-01T00:00:00Z"}, timeout=30
    )
    assert far.status_code == 200  # followed: the time brought within the lifetime policy
    assert requests.get(location + "/destruction", timeout=30).text < "2999"
    duration = requests.post(location + "/executionduration", data={"EXECUTIONDURATION": "-5"})
    assert duration.status_code == 400
    unknown = requests.post(location + "/phase", data={"PHASE": "SUSPEND"}, timeout=30)
    assert unknown.status_code == 400


def test_an_oversized_body_is_refused(jobs: str) -> None:
    padding = b"<!--" + b"x" * (3 * 1024 * 1024) + b"-->"
    answer = create(jobs, steps_jdl() + padding)
    assert answer.status_code == 413


def test_rest_names_its_job_lists_and_refuses_unknown_contracts(server: RunningServer) -> None:
    index = requests.get(f"{server.base_url}/rest", timeout=30)
    assert f"steps: {server.base_url}/rest/steps" in index.text
    unknown = requests.get(f"{server.base_url}/rest/nope", timeout=30)
    assert unknown.status_code == 404
    assert "installed: steps" in unknown.text
