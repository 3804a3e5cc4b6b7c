"""``/tap/async`` on a real ``wsrf-uws serve``: pyvo's asynchronous TAP over the UWS job list.

The jobs are the ``adql`` contract's: the same job is read through ``/rest/adql`` and
SOAP, and its result equals the synchronous answer and the numpy truth.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import pyvo
import requests
from astropy.table import Table
from lxml import etree

from wsrf_uws.client import Service
from wsrf_uws.testing.server import RunningServer, running_server
from wsrf_uws.wire.namespaces import CORE, UWS, WSA

from tap_support import UWS_SCHEMA, cone_query, cone_truth
from tap_support import hipparcos as hipparcos


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("tap-async") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def tap(server: RunningServer) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(f"{server.base_url}/tap")


def test_run_async_equals_run_sync_and_numpy(
    tap: pyvo.dal.TAPService, hipparcos: dict[str, np.ndarray]
) -> None:
    query = cone_query(1.5)
    expected = cone_truth(hipparcos, 1.5)
    assert len(expected) > 5
    asynchronous = tap.run_async(query).to_table()
    synchronous = tap.run_sync(query).to_table()
    assert list(asynchronous["hip"]) == expected
    np.testing.assert_array_equal(np.asarray(asynchronous["ra"]), np.asarray(synchronous["ra"]))


def test_a_job_is_submitted_waited_for_fetched_and_deleted(
    server: RunningServer, tap: pyvo.dal.TAPService
) -> None:
    job = tap.submit_job("SELECT TOP 4 hip FROM hipparcos.main ORDER BY hip", maxrec=3)
    assert job.phase == "PENDING"
    resource_id = job.url.rstrip("/").rsplit("/", 1)[1]
    # The same job through the other bindings: the REST job list and SOAP.
    assert requests.get(f"{server.base_url}/rest/adql/{resource_id}/phase", timeout=30).text == (
        "PENDING"
    )
    assert Service(server.url("adql")).job(resource_id).phase == "PENDING"
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=120)
    assert job.phase == "COMPLETED"
    result = job.fetch_result()
    assert list(result.to_table()["hip"]) == [1, 2, 3]
    assert result.query_status == "OVERFLOW"
    job.delete()
    gone = requests.get(f"{server.base_url}/tap/async/{resource_id}", timeout=30)
    assert gone.status_code == 404


def test_phase_run_at_creation_and_an_upload(
    tap: pyvo.dal.TAPService, server: RunningServer
) -> None:
    mine = Table({"n": np.array([5, 6], dtype=np.int32)})
    response = requests.post(
        f"{server.base_url}/tap/async",
        data={
            "LANG": "ADQL",
            "QUERY": "SELECT n * 2 AS twice FROM TAP_UPLOAD.mine ORDER BY n",
            "UPLOAD": "mine,param:table",
            "PHASE": "RUN",
        },
        files={"table": ("mine.xml", _votable(mine), "application/x-votable+xml")},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, response.text
    job = pyvo.dal.AsyncTAPJob(response.headers["Location"])
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=120)
    assert job.phase == "COMPLETED"
    assert list(job.fetch_result().to_table()["twice"]) == [10, 12]
    job.delete()


def test_an_upload_by_url_is_fetched_by_the_jobs_run(server: RunningServer) -> None:
    """``UPLOAD=name,URL`` becomes an upload by URI of the job (the default allow-list: the
    service's own demo data); the job's result holds the file's rows."""
    from astropy.io.votable import parse

    from wsrf_uws.jdl.adql.contract import AdqlContract

    assert AdqlContract.demo_data is not None
    truth = parse(str(AdqlContract.demo_data / "bright-stars.vot")).get_first_table().to_table()
    response = requests.post(
        f"{server.base_url}/tap/async",
        data={
            "LANG": "ADQL",
            "QUERY": "SELECT COUNT(*) AS n FROM TAP_UPLOAD.stars",
            "UPLOAD": f"stars,{server.base_url}/demo/adql/bright-stars.vot",
            "PHASE": "RUN",
        },
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, response.text
    job = pyvo.dal.AsyncTAPJob(response.headers["Location"])
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=120)
    assert job.phase == "COMPLETED", job.errorsummary
    assert list(job.fetch_result().to_table()["n"]) == [len(truth)]
    job.delete()


def test_runid_is_kept_and_changed_while_pending_the_query_is_not(
    server: RunningServer,
) -> None:
    """UWS 1.1 ``RUNID``: given at creation, shown as ``uws:runId``, changed by ``POST
    {job}/parameters`` while PENDING (as taplint does); the query itself is not (403, and
    nothing of the request is applied); after PENDING nothing changes (409)."""
    created = requests.post(
        f"{server.base_url}/tap/async",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 hip FROM hipparcos.main", "RUNID": "one"},
        allow_redirects=False,
        timeout=30,
    )
    assert created.status_code == 303, created.text
    job_url = created.headers["Location"]
    resource_id = job_url.rsplit("/", 1)[1]
    assert run_id(job_url) == "one"
    changed = requests.post(
        f"{job_url}/parameters", data={"runId": "two"}, allow_redirects=False, timeout=30
    )
    assert changed.status_code == 303 and changed.headers["Location"] == job_url
    assert run_id(job_url) == "two"
    # The same job through the REST binding and SOAP shows the same label.
    assert run_id(f"{server.base_url}/rest/adql/{resource_id}") == "two"
    soap = Service(server.url("adql")).job(resource_id).uws_job()
    assert soap.findtext(f"{{{UWS}}}runId") == "two"
    query = requests.post(
        f"{job_url}/parameters", data={"RUNID": "three", "QUERY": "SELECT 1"}, timeout=30
    )
    assert query.status_code == 403
    assert "QUERY cannot be changed" in query.text
    assert run_id(job_url) == "two"
    requests.post(f"{job_url}/phase", data={"PHASE": "RUN"}, timeout=30)
    requests.get(job_url, params={"WAIT": "60", "PHASE": "QUEUED"}, timeout=90)
    started = requests.post(f"{job_url}/parameters", data={"RUNID": "late"}, timeout=30)
    assert started.status_code == 409
    assert "changing the RUNID is not allowed while the job is" in started.text
    assert run_id(job_url) == "two"
    requests.delete(job_url, timeout=30)


def test_a_runid_that_cannot_be_kept_is_refused_at_creation(server: RunningServer) -> None:
    created = requests.post(
        f"{server.base_url}/tap/async",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 hip FROM hipparcos.main", "RUNID": "x" * 300},
        allow_redirects=False,
        timeout=30,
    )
    assert created.status_code == 400
    assert "RUNID has 300 characters" in created.text


def test_the_tap_face_serves_plain_uws_documents_and_rest_the_full_one(
    server: RunningServer,
) -> None:
    """``/tap/async/{id}`` is a plain UWS 1.1 ``uws:job`` (no ``jobInfo``: nothing in a
    namespace the IVOA schemas do not describe); ``/rest/adql/{id}``, the same job, keeps
    the EPR, the REST URL and the contract's state in its ``jobInfo``."""
    created = requests.post(
        f"{server.base_url}/tap/async",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 hip FROM hipparcos.main"},
        allow_redirects=False,
        timeout=30,
    )
    job_url = created.headers["Location"]
    resource_id = job_url.rsplit("/", 1)[1]
    plain = etree.fromstring(requests.get(job_url, timeout=30).content)
    UWS_SCHEMA.assertValid(plain)
    assert plain.find(f"{{{UWS}}}jobInfo") is None
    assert {etree.QName(element).namespace for element in plain.iter()} == {UWS}
    full = etree.fromstring(
        requests.get(f"{server.base_url}/rest/adql/{resource_id}", timeout=30).content
    )
    UWS_SCHEMA.assertValid(full)
    info = full.find(f"{{{UWS}}}jobInfo")
    assert info is not None and info.find("{urn:wsrf-uws:adql:v1}state") is not None
    reference = info.find(f"{{{CORE}}}JobReference")
    assert reference is not None
    rest_url = f"{server.base_url}/rest/adql/{resource_id}"
    assert reference.findtext(f"{{{CORE}}}RestUrl") == rest_url
    address = reference.findtext(f"{{{WSA}}}EndpointReference/{{{WSA}}}Address")
    assert address == server.url("adql")
    requests.delete(job_url, timeout=30)


def run_id(job_url: str) -> str | None:
    """The ``uws:runId`` of the job document at ``job_url``."""
    document = etree.fromstring(requests.get(job_url, timeout=30).content)
    return document.findtext(f"{{{UWS}}}runId")


def _votable(table: Table) -> bytes:
    import io

    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    return buffer.getvalue()
