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

from wsrf_uws.client import Service
from wsrf_uws.testing.server import RunningServer, running_server

from tap_support import cone_query, cone_truth, hipparcos_stars, query_status


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("tap-async") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def tap(server: RunningServer) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(f"{server.base_url}/tap")


@pytest.fixture(scope="module")
def stars() -> dict[str, np.ndarray]:
    return hipparcos_stars()


def test_run_async_equals_run_sync_and_numpy(
    tap: pyvo.dal.TAPService, stars: dict[str, np.ndarray]
) -> None:
    query = cone_query(1.5)
    expected = cone_truth(stars, 1.5)
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


def test_parameters_of_a_job_are_not_changed_and_say_why(server: RunningServer) -> None:
    """UWS 1.1 ``POST {job}/parameters``: a PENDING job's description stays as created (403),
    a job past PENDING takes no change at all (409)."""
    created = requests.post(
        f"{server.base_url}/tap/async",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 hip FROM hipparcos.main"},
        allow_redirects=False,
        timeout=30,
    )
    job_url = created.headers["Location"]
    pending = requests.post(f"{job_url}/parameters", data={"RUNID": "mine"}, timeout=30)
    assert pending.status_code == 403
    assert "RUNID cannot be changed" in pending.text
    requests.post(f"{job_url}/phase", data={"PHASE": "RUN"}, timeout=30)
    requests.get(job_url, params={"WAIT": "60", "PHASE": "QUEUED"}, timeout=90)
    requests.get(job_url, params={"WAIT": "60", "PHASE": "EXECUTING"}, timeout=90)
    started = requests.post(f"{job_url}/parameters", data={"RUNID": "mine"}, timeout=30)
    assert started.status_code == 409
    assert "only while a job is PENDING" in started.text
    assert requests.get(f"{job_url}/phase", timeout=30).text != "PENDING"
    requests.delete(job_url, timeout=30)


def test_csv_is_refused_for_async_with_a_dali_error(server: RunningServer) -> None:
    response = requests.post(
        f"{server.base_url}/tap/async",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 hip FROM hipparcos.main", "FORMAT": "csv"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 400
    status, text = query_status(response.content)
    assert status == "ERROR"
    assert text is not None and "/tap/sync only" in text


def _votable(table: Table) -> bytes:
    import io

    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    return buffer.getvalue()
