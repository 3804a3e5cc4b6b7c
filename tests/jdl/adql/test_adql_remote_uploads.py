"""Uploads by URI end to end: a real ``wsrf-uws serve`` fetches a job's table from its own
``/demo/adql/`` route and from a local HTTP server, under ``[adql] fetch_allow``, and
refuses or fails precisely otherwise.

Expected crossmatches come from numpy over ``hip2.dat``, not from the service.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from astropy.io.votable import from_table, parse, writeto
from astropy.table import Table
from lxml import etree

from wsrf_uws.client import InvalidJobDescription, Job, Service
from wsrf_uws.jdl.adql.contract import AdqlContract
from wsrf_uws.testing.http_files import PROXY_VARIABLES, FileServer
from wsrf_uws.testing.server import RunningServer, running_server

# The module's fixtures, shared: imported under their own names for pytest to find.
from adql_support import hipparcos as hipparcos
from adql_support import separation
from soap_support import ADQL

MAX_UPLOAD_BYTES = 65536
XLINK = "http://www.w3.org/1999/xlink"
DEMO_TABLE = "bright-stars.vot"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy the environment may name."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    with FileServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, files: FileServer) -> Iterator[RunningServer]:
    allowed = ["{public_url}/demo/", f"{files.url}/lists/"]
    env = {
        "WSRF_UWS_ADQL__FETCH_ALLOW": json.dumps(allowed),
        "WSRF_UWS_ADQL__MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    }
    with running_server(tmp_path_factory.mktemp("adql-remote") / "data", env=env) as running:
        yield running


@pytest.fixture(scope="module")
def adql(server: RunningServer) -> Service:
    return Service(server.url("adql"))


def job_xml(query: str, **uploads: str) -> str:
    parts = "".join(
        f'<upload name="{name}" xlink:href="{href}"/>' for name, href in uploads.items()
    )
    return (
        f'<job xmlns="{ADQL}" xmlns:xlink="{XLINK}">'
        f"<query>{query.replace('<', '&lt;')}</query>{parts}</job>"
    )


def finished(service: Service, document: str) -> Job:
    job = service.create(document)
    job.start()
    job.wait(timeout=120, poll=0.1)
    return job


def result_rows(job: Job) -> list[tuple[object, ...]]:
    state = job.state
    assert state.phase == "COMPLETED", state.error
    result = state.result("result")
    assert result is not None
    content = requests.get(result.href, timeout=30).content
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = parse(io.BytesIO(content)).get_first_table().to_table()
    return [tuple(row) for row in table]


def error_of(job: Job) -> str:
    state = job.state
    assert state.phase == "ERROR"
    assert state.error is not None
    return str(state.error.message)


def votable_bytes(table: Table) -> bytes:
    out = io.BytesIO()
    writeto(from_table(table), out)
    return out.getvalue()


def nearest(hipparcos: dict[str, np.ndarray], ra: float, dec: float) -> tuple[int, float]:
    """The HIP number of the star nearest (ra, dec), and its separation in degrees."""
    distances = separation(hipparcos["ra"], hipparcos["dec"], ra, dec)
    index = int(np.argmin(distances))
    return int(hipparcos["hip"][index]), float(distances[index])


def test_the_demo_table_is_fetched_from_the_services_own_route(
    adql: Service, server: RunningServer, hipparcos: dict[str, np.ndarray]
) -> None:
    demo = AdqlContract.demo_data
    assert demo is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stars = parse(str(demo / DEMO_TABLE)).get_first_table().to_table()
    expected = []
    for name, ra, dec in zip(stars["name"], stars["ra"], stars["dec"], strict=True):
        hip, distance = nearest(hipparcos, float(ra), float(dec))
        assert distance < 0.1 / 3600
        expected.append((str(name), hip))
    assert len(expected) == 16
    job = finished(
        adql,
        job_xml(
            "SELECT s.name, h.hip FROM TAP_UPLOAD.stars AS s JOIN hipparcos.main AS h "
            "ON DISTANCE(s.ra, s.dec, h.ra, h.dec) < 1/3600. ORDER BY h.hip",
            stars=f"/demo/adql/{DEMO_TABLE}",
        ),
    )
    assert [(str(n), int(h)) for n, h in result_rows(job)] == sorted(expected, key=lambda e: e[1])


def test_a_list_is_fetched_from_another_server_and_crossmatched(
    adql: Service, files: FileServer, hipparcos: dict[str, np.ndarray]
) -> None:
    rng = np.random.default_rng(11)
    rows = rng.choice(len(hipparcos["hip"]), size=60, replace=False)
    ra = np.append(hipparcos["ra"][rows] + 1 / 3600, rng.uniform(0, 360, 40))
    dec = np.append(hipparcos["dec"][rows], rng.uniform(-60, 60, 40))
    table = Table({"id": np.arange(100, dtype=np.int32), "ra": ra, "dec": dec})
    url = files.add("/lists/mine.vot", votable_bytes(table))
    radius = 4 / 3600
    job = finished(
        adql,
        job_xml(
            "SELECT l.id, h.hip FROM TAP_UPLOAD.mine AS l JOIN hipparcos.main AS h "
            f"ON 1 = CONTAINS(POINT(h.ra, h.dec), CIRCLE(l.ra, l.dec, {radius})) ORDER BY l.id",
            mine=url,
        ),
    )
    expected = set()
    for number, ra_i, dec_i in zip(table["id"], ra, dec, strict=True):
        close = separation(hipparcos["ra"], hipparcos["dec"], float(ra_i), float(dec_i)) < radius
        expected |= {(int(number), int(h)) for h in hipparcos["hip"][close]}
    assert {(int(i), int(h)) for i, h in result_rows(job)} == expected
    assert len(expected) >= 60


def test_a_uri_outside_the_allow_list_is_refused_at_create_job(
    adql: Service, files: FileServer
) -> None:
    outside = files.url + "/elsewhere/x.vot"
    with pytest.raises(InvalidJobDescription, match=r"path '/elsewhere/x.vot' is not allowed"):
        adql.create(job_xml("SELECT * FROM TAP_UPLOAD.x", x=outside))
    with pytest.raises(InvalidJobDescription, match=r"TAP_UPLOAD.y is not an upload of this job"):
        adql.create(job_xml("SELECT * FROM TAP_UPLOAD.y", x=files.url + "/lists/x.vot"))
    assert ("GET", "/elsewhere/x.vot") not in files.requests


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/lists/gone.vot", "answered HTTP 404 Not Found"),
        ("/lists/huge.vot", r"larger than the limit of 64 KiB.*\[adql\] max_upload_bytes"),
        ("/lists/escape.vot", r"redirect to http://127\.0\.0\.1:\d+/elsewhere/x\.vot refused"),
    ],
)
def test_a_failed_fetch_ends_the_job_in_error_saying_why(
    adql: Service, files: FileServer, path: str, reason: str
) -> None:
    files.fail("/lists/gone.vot", 404)
    files.stream("/lists/huge.vot", total_bytes=4 * MAX_UPLOAD_BYTES)
    files.redirect("/lists/escape.vot", files.url_for("/elsewhere/x.vot"))
    job = finished(adql, job_xml("SELECT * FROM TAP_UPLOAD.x", x=files.url_for(path)))
    message = error_of(job)
    assert message.startswith("upload 'x': ")
    assert re.search(reason, message), message


def test_the_schema_takes_an_upload_by_uri() -> None:
    """The published schema takes xlink:href without content, and no bare href."""
    from wsrf_uws.published import schema_path

    schema = etree.XMLSchema(etree.parse(str(schema_path("adql.xsd"))))
    by_uri = etree.fromstring(job_xml("SELECT 1 AS one", x="http://example.org/x.vot"))
    assert schema.validate(by_uri), schema.error_log.last_error
    bare = etree.fromstring(
        f'<job xmlns="{ADQL}"><query>q</query><upload name="x" href="/x"/></job>'
    )
    assert not schema.validate(bare)
    nameless = etree.fromstring(f'<job xmlns="{ADQL}"><query>q</query><upload/></job>')
    assert not schema.validate(nameless)
