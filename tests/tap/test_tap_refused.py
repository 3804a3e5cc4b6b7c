"""``/tap/async`` on a real ``wsrf-uws serve``: a query that cannot be run is a job that
ends in ERROR saying why (TAP 1.1, DALI), read by pyvo and by plain HTTP.

Refused before a description could be written (an unknown ``LANG``, a format only
``/tap/sync`` has) or by the contract (ADQL it cannot parse): either way the job is an
ordinary ``adql`` job, seen through ``/rest/adql`` too, its ``/error`` a DALI error
document, and destroyed like any other. ``/rest/adql`` itself keeps refusing a bad
description at creation (400), as SOAP's createJob does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pyvo
import requests
from lxml import etree

from wsrf_uws.testing.server import RunningServer, running_server
from wsrf_uws.wire.namespaces import UWS

from tap_support import ADQL, UWS_SCHEMA, query_status


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("tap-refused") / "data") as running:
        yield running


def submit(server: RunningServer, **parameters: str) -> str:
    """POST ``parameters`` to ``/tap/async``; the new job's URL (the answer must be 303)."""
    response = requests.post(
        f"{server.base_url}/tap/async", data=parameters, allow_redirects=False, timeout=30
    )
    assert response.status_code == 303, response.text
    return response.headers["Location"]


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"LANG": "ADQL", "QUERY": "DUFF QUERY"}, "invalid job description"),
        ({"LANG": "PQL", "QUERY": "SELECT TOP 1 * FROM TAP_SCHEMA.tables"}, "LANG=PQL"),
        ({"LANG": "ADQL"}, "QUERY is missing"),
        ({"LANG": "ADQL", "QUERY": "SELECT 1", "MAXREC": "many"}, "MAXREC=many"),
        ({"LANG": "ADQL", "QUERY": "SELECT 1", "FORMAT": "csv"}, "/tap/sync only"),
        ({"LANG": "ADQL", "QUERY": "SELECT \x01 1"}, "XML cannot carry"),
    ],
    ids=["bad ADQL", "unknown LANG", "no QUERY", "bad MAXREC", "CSV", "control character"],
)
def test_a_query_that_cannot_run_is_a_job_in_error_saying_why(
    server: RunningServer, parameters: dict[str, str], reason: str
) -> None:
    job_url = submit(server, **parameters, PHASE="RUN", RUNID="mine")
    document = etree.fromstring(requests.get(job_url, timeout=30).content)
    UWS_SCHEMA.assertValid(document)
    assert document.findtext(f"{{{UWS}}}phase") == "ERROR"
    assert document.findtext(f"{{{UWS}}}runId") == "mine"
    message = document.findtext(f"{{{UWS}}}errorSummary/{{{UWS}}}message")
    assert message is not None and reason in message
    # /error is a DALI error document on the TAP face, plain text on the REST binding's.
    error = requests.get(f"{job_url}/error", timeout=30)
    assert error.headers["Content-Type"].startswith("application/x-votable+xml")
    assert query_status(error.content) == ("ERROR", message)
    resource_id = job_url.rsplit("/", 1)[1]
    rest_url = f"{server.base_url}/rest/adql/{resource_id}"
    assert requests.get(f"{rest_url}/error", timeout=30).text == message
    # Its description shows the query as sent (what could be written of it).
    description = etree.fromstring(requests.get(f"{rest_url}/parameters/jdl", timeout=30).content)
    assert description.tag == f"{{{ADQL}}}job"
    sent = parameters.get("QUERY", "").replace("\x01", "\ufffd")
    assert description.findtext(f"{{{ADQL}}}query") == sent
    # Starting it again changes nothing; it is destroyed like any job.
    again = requests.post(f"{job_url}/phase", data={"PHASE": "RUN"}, allow_redirects=False)
    assert again.status_code == 303
    assert requests.get(f"{job_url}/phase", timeout=30).text == "ERROR"
    assert requests.delete(job_url, allow_redirects=False, timeout=30).status_code == 303
    assert requests.get(rest_url, timeout=30).status_code == 404


def test_pyvo_run_async_raises_the_dali_error_of_the_job(server: RunningServer) -> None:
    tap = pyvo.dal.TAPService(f"{server.base_url}/tap")
    with pytest.raises(pyvo.dal.DALQueryError) as raised:
        tap.run_async("SELECT nothing FROM nowhere.at_all")
    assert "nowhere" in str(raised.value)
    job = tap.submit_job("DUFF QUERY")
    job.run().wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "ERROR"
    with pytest.raises(pyvo.dal.DALQueryError, match="invalid job description"):
        job.raise_if_error()
    job.delete()


def test_a_request_that_cannot_be_read_is_still_refused(server: RunningServer) -> None:
    """No job without parameters to read: a body that is no form is a 400 DALI error."""
    response = requests.post(
        f"{server.base_url}/tap/async",
        data=b"<query/>",
        headers={"Content-Type": "text/xml"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 400
    status, text = query_status(response.content)
    assert status == "ERROR" and text is not None and "not a form" in text


def test_the_rest_binding_refuses_a_bad_description_at_creation(server: RunningServer) -> None:
    jobs = f"{server.base_url}/rest/adql"
    before = len(etree.fromstring(requests.get(jobs, timeout=30).content))
    response = requests.post(
        jobs,
        data=f'<job xmlns="{ADQL}"><query>DUFF QUERY</query></job>'.encode(),
        headers={"Content-Type": "text/xml"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 400
    assert "invalid job description" in response.text
    assert len(etree.fromstring(requests.get(jobs, timeout=30).content)) == before
