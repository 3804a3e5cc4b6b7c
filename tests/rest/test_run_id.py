"""UWS 1.1 ``RUNID`` on the REST binding (``/rest/{contract}``), on a real service: given
at creation, shown as ``uws:runId`` (read by pyvo's UWS parser too), changed by ``POST
{job}/parameters`` while PENDING only; the job's description never is."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree
from pyvo.io.uws import parse_job

from wsrf_uws.testing.server import running_server
from wsrf_uws.wire.namespaces import UWS

ROOT = Path(__file__).resolve().parents[2]
UWS_SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "schemas" / "uws-1.1.xsd")))
STEPS = b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>2</steps><stepSeconds>0.2</stepSeconds></job>'


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"WSRF_UWS_CONTRACTS": '["steps"]'}
    folder = tmp_path_factory.mktemp("rest-runid")
    with running_server(folder / "data", env=env) as running:
        yield f"{running.base_url}/rest/steps"


def create(jobs: str, **params: str) -> str:
    response = requests.post(
        jobs,
        data=STEPS,
        params=params,
        headers={"Content-Type": "text/xml"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def document(job_url: str) -> etree._Element:
    root = etree.fromstring(requests.get(job_url, timeout=30).content)
    UWS_SCHEMA.assertValid(root)
    return root


def test_runid_at_creation_is_shown_and_pyvo_reads_it(jobs: str) -> None:
    job_url = create(jobs, RUNID="survey 7 \u00e9")
    root = document(job_url)
    assert root.findtext(f"{{{UWS}}}runId") == "survey 7 \u00e9"
    # runId sits right after jobId, where UWS 1.1 puts it, and the REST face keeps jobInfo.
    assert [etree.QName(child).localname for child in root][:3] == ["jobId", "runId", "ownerId"]
    assert root.find(f"{{{UWS}}}jobInfo") is not None
    assert parse_job(io.BytesIO(requests.get(job_url, timeout=30).content)).runid == (
        "survey 7 \u00e9"
    )
    without = document(create(jobs))
    assert without.find(f"{{{UWS}}}runId") is None
    requests.delete(job_url, timeout=30)


def test_runid_changes_while_pending_alone_and_then_never(jobs: str) -> None:
    job_url = create(jobs)
    changed = requests.post(
        f"{job_url}/parameters", data={"RUNID": "later"}, allow_redirects=False, timeout=30
    )
    assert changed.status_code == 303
    assert document(job_url).findtext(f"{{{UWS}}}runId") == "later"
    empty = requests.post(f"{job_url}/parameters", data={"RUNID": ""}, timeout=30)
    assert empty.status_code == 200  # followed to the job
    assert document(job_url).find(f"{{{UWS}}}runId") is None  # an empty RUNID clears it
    nothing = requests.post(f"{job_url}/parameters", timeout=30)
    assert nothing.status_code == 400 and "RUNID" in nothing.text
    other = requests.post(f"{job_url}/parameters", data={"steps": "9", "RUNID": "x"}, timeout=30)
    assert other.status_code == 403 and "STEPS cannot be changed" in other.text
    assert document(job_url).find(f"{{{UWS}}}runId") is None
    too_long = requests.post(f"{job_url}/parameters", data={"RUNID": "y" * 257}, timeout=30)
    assert too_long.status_code == 400 and "at most 256" in too_long.text
    requests.post(f"{job_url}/phase", data={"PHASE": "RUN"}, timeout=30)
    requests.get(job_url, params={"WAIT": "30", "PHASE": "EXECUTING"}, timeout=60)
    ended = requests.get(job_url, params={"WAIT": "30", "PHASE": "EXECUTING"}, timeout=60)
    assert ended.status_code == 200
    late = requests.post(f"{job_url}/parameters", data={"RUNID": "late"}, timeout=30)
    assert late.status_code == 409
    late_other = requests.post(f"{job_url}/parameters", data={"STEPS": "1"}, timeout=30)
    assert late_other.status_code == 409  # after PENDING the phase is the reason
    assert document(job_url).find(f"{{{UWS}}}runId") is None
    requests.delete(job_url, timeout=30)
