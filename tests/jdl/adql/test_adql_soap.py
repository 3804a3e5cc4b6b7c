"""The ``adql`` contract end to end: a real ``wsrf-uws serve`` on its default catalogue
(Hipparcos 2, built into the data folder on the first job), SOAP through the project's
client, ``exposeRows`` pages, and the whole result downloaded over HTTP.

Expected answers come from the catalogue's source file read here with numpy, not from
the service.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from astropy.io.votable import parse as parse_votable
from lxml import etree

from wsrf_uws.client import InvalidJobDescription, InvalidPhase, Job, Service, UwsFault
from wsrf_uws.testing.server import RunningServer, running_server

# The module's fixtures, shared: imported under their own names for pytest to find.
from adql_support import hipparcos as hipparcos
from soap_support import (
    ADQL,
    VOTABLE,
    assert_valid_votable,
    contract_state,
    shared_check,
    stored_jobs,
)

#: Sirius, and a 12-degree cone around it (a few hundred stars).
CENTRE = (101.287155, -16.716116)
RADIUS = 12.0
CONE = (
    "SELECT hip, ra, dec, hpmag FROM hipparcos.main WHERE "
    f"1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {CENTRE[0]}, {CENTRE[1]}, {RADIUS}))"
)


def cone_answer(stars: dict[str, np.ndarray]) -> set[int]:
    ra0, dec0 = np.radians(CENTRE)
    ra, dec = np.radians(stars["ra"]), np.radians(stars["dec"])
    cos_distance = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    inside = np.degrees(np.arccos(np.clip(cos_distance, -1, 1))) <= RADIUS
    return {int(h) for h in stars["hip"][inside]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"WSRF_UWS_ADQL__MAX_EXPOSED_ROWS": "5000"}
    with running_server(tmp_path_factory.mktemp("adql") / "data", env=env) as running:
        yield running


@pytest.fixture(scope="module")
def adql(server: RunningServer) -> Service:
    return Service(server.url("adql"))


def job_xml(query: str, *, maxrec: int | None = None, fmt: str | None = None) -> str:
    parts = f"<query>{query.replace('<', '&lt;')}</query>"
    parts += f"<maxrec>{maxrec}</maxrec>" if maxrec is not None else ""
    parts += f"<format>{fmt}</format>" if fmt else ""
    return f'<job xmlns="{ADQL}">{parts}</job>'


def completed(service: Service, document: str) -> Job:
    job = service.create(document)
    job.start()
    state = job.wait(timeout=120, poll=0.1)
    assert state.phase == "COMPLETED", state.error
    return job


def state_of(job: Job) -> etree._Element:
    """``adql:state``, the property document and any VOTable in it checked first."""
    return contract_state(job, f"{{{ADQL}}}state")


def expose(job: Job, start: int, end: int) -> tuple[int, etree._Element]:
    """exposeRows; the total row count and the page's VOTable, checked against the schemas."""
    reply = job.invoke("exposeRows", start=start, end=end)
    response = reply if reply.tag == f"{{{ADQL}}}exposeRowsResponse" else reply[0]
    check = shared_check()
    assert check.ours.validate(response), check.ours.error_log.last_error
    exposed = response.find(f"{{{ADQL}}}exposedRows")
    assert exposed is not None
    table = exposed.find(f"{{{VOTABLE}}}VOTABLE")
    assert table is not None
    assert_valid_votable(table)
    return int(response.findtext(f"{{{ADQL}}}rows") or -1), table


def rows(table: etree._Element) -> list[tuple[object, ...]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = parse_votable(io.BytesIO(etree.tostring(table))).get_first_table().to_table()
    return [tuple(row) for row in parsed]


# -- the cursor ---------------------------------------------------------------------------


def test_a_cone_is_cached_and_paged_with_expose_rows(
    adql: Service, hipparcos: dict[str, np.ndarray]
) -> None:
    expected = cone_answer(hipparcos)
    assert 200 < len(expected) < 5000
    job = completed(adql, job_xml(CONE + " ORDER BY hip"))
    state = state_of(job)
    total = int(state.findtext(f"{{{ADQL}}}rows") or -1)
    assert total == len(expected)
    assert state.findtext(f"{{{ADQL}}}overflow") == "false"
    columns = state.findall(f"{{{ADQL}}}columns/{{{ADQL}}}column")
    assert [c.get("name") for c in columns] == ["hip", "ra", "dec", "hpmag"]
    assert columns[1].get("unit") == "deg" and columns[1].get("ucd") == "pos.eq.ra;meta.main"
    assert state.find(f"{{{ADQL}}}exposedRows") is None

    # The whole result, as one VOTable.
    result = job.state.result("result")
    assert result is not None
    download = requests.get(result.href, timeout=30)
    assert download.status_code == 200
    whole = rows(etree.fromstring(download.content))
    assert {int(r[0]) for r in whole} == expected
    assert [r[0] for r in whole] == sorted(r[0] for r in whole)

    # Pages at the start, the middle and the end equal the same rows of the whole.
    middle = total // 2
    for start, end in ((0, 100), (middle - 50, middle + 50), (total - 100, total)):
        count, table = expose(job, start, end)
        assert count == total
        assert rows(table) == whole[start:end]
        exposed = state_of(job).find(f"{{{ADQL}}}exposedRows")
        assert exposed is not None
        assert (exposed.get("start"), exposed.get("end")) == (str(start), str(end))
        assert rows(exposed[0]) == whole[start:end]

    # Past the end is clamped; an empty range is an empty table.
    count, table = expose(job, total - 10, total + 1000)
    assert rows(table) == whole[total - 10 :]
    assert rows(expose(job, total + 5, total + 9)[1]) == []


def test_non_ascii_text_and_timestamps_reach_the_votable(adql: Service) -> None:
    job = completed(
        adql,
        job_xml(
            "SELECT TOP 3 hip, 'Ångström' AS word, UPPER('café') AS loud, 'plain' AS ascii, "
            "CAST('2024-05-01 12:30:00' AS TIMESTAMP) AS seen FROM hipparcos.main ORDER BY hip"
        ),
    )
    columns = {
        c.get("name"): c for c in state_of(job).findall(f"{{{ADQL}}}columns/{{{ADQL}}}column")
    }
    assert columns["word"].get("datatype") == "unicodeChar"
    assert columns["loud"].get("datatype") == "unicodeChar"
    assert columns["ascii"].get("datatype") == "char"
    assert (columns["seen"].get("datatype"), columns["seen"].get("xtype")) == ("char", "timestamp")
    result = job.state.result("result")
    assert result is not None
    document = etree.fromstring(requests.get(result.href, timeout=30).content)
    fields = {f.get("name"): f for f in document.iter(f"{{{VOTABLE}}}FIELD")}
    assert fields["word"].get("datatype") == "unicodeChar"
    assert fields["seen"].get("xtype") == "timestamp"
    assert [r[1:] for r in rows(document)] == [
        ("Ångström", "CAFÉ", "plain", "2024-05-01T12:30:00.000000")
    ] * 3
    _, page = expose(job, 1, 2)
    assert [r[1:3] for r in rows(page)] == [("Ångström", "CAFÉ")]


def test_an_uploaded_list_is_crossmatched_end_to_end(
    adql: Service, hipparcos: dict[str, np.ndarray]
) -> None:
    from astropy.io.votable import from_table, writeto
    from astropy.table import Table

    stars = [0, 5000, 90_000]  # rows of hip2.dat; their positions, nudged by 1 arcsecond
    table = Table(
        {
            "id": np.array([1, 2, 3, 4], dtype=np.int32),
            "ra": np.append(hipparcos["ra"][stars] + 1 / 3600, 12.0),
            "dec": np.append(hipparcos["dec"][stars], -89.0),
        }
    )
    out = io.BytesIO()
    writeto(from_table(table), out)
    votable = out.getvalue().decode().split("?>", 1)[1]  # without the XML declaration
    query = (
        "SELECT l.id, h.hip FROM TAP_UPLOAD.targets AS l JOIN hipparcos.main AS h "
        "ON 1 = CONTAINS(POINT(h.ra, h.dec), CIRCLE(l.ra, l.dec, 3/3600.)) ORDER BY l.id"
    )
    document = (
        f'<job xmlns="{ADQL}"><query>{query}</query><upload name="targets">{votable}</upload></job>'
    )
    job = completed(adql, document)
    result = job.state.result("result")
    assert result is not None
    found = rows(etree.fromstring(requests.get(result.href, timeout=30).content))
    expected = [(i + 1, int(hipparcos["hip"][row])) for i, row in enumerate(stars)]
    assert [(int(a), int(b)) for a, b in found] == expected


def test_pages_read_with_pyvo(adql: Service) -> None:
    from pyvo.dal import DALResults

    job = completed(adql, job_xml(CONE + " ORDER BY hpmag", fmt="TABLEDATA"))
    _, table = expose(job, 5, 25)
    assert b"<TABLEDATA>" in etree.tostring(table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = DALResults(parse_votable(io.BytesIO(etree.tostring(table))))
    assert len(results) == 20
    magnitudes = [float(m) for m in results["hpmag"]]
    assert magnitudes == sorted(magnitudes)
    assert list(results.fieldnames) == ["hip", "ra", "dec", "hpmag"]


def test_maxrec_overflow_is_flagged_as_tap_clients_expect(adql: Service) -> None:
    from pyvo.dal import DALOverflowWarning, DALResults

    job = completed(adql, job_xml(CONE, maxrec=10))
    state = state_of(job)
    assert state.findtext(f"{{{ADQL}}}rows") == "10"
    assert state.findtext(f"{{{ADQL}}}overflow") == "true"
    result = job.state.result("result")
    assert result is not None
    content = requests.get(result.href, timeout=30).content
    with pytest.warns(DALOverflowWarning):
        results = DALResults(parse_votable(io.BytesIO(content)))
    assert len(results) == 10


def test_expose_rows_before_the_result_exists_is_an_invalid_phase(adql: Service) -> None:
    job = adql.create(job_xml("SELECT TOP 5 hip FROM hipparcos.main"))
    with pytest.raises(InvalidPhase):
        job.invoke("exposeRows", start=0, end=5)


def test_bad_ranges_are_refused(adql: Service) -> None:
    job = completed(adql, job_xml("SELECT TOP 50 hip FROM hipparcos.main"))
    job_large = completed(adql, job_xml("SELECT TOP 10000 hip FROM hipparcos.main"))
    with pytest.raises(UwsFault, match="at most 5000"):
        job_large.invoke("exposeRows", start=0, end=10_000)
    with pytest.raises(UwsFault, match="before start"):
        job.invoke("exposeRows", start=10, end=5)
    # The limit counts the rows there are: a range far past the end of 50 rows is fine.
    count, table = expose(job, 0, 10**9)
    assert count == 50
    assert len(rows(table)) == 50


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "reason", "line"),
    [
        ("SELECT hip,\n  nonsense FROM hipparcos.main", "no column 'nonsense'", 2),
        ("SELECT * FROM nowhere.stars", "no schema 'nowhere'", 1),
        ("DROP TABLE hipparcos.main", "starts with SELECT (or WITH); found 'DROP'", 1),
        ("SELECT hip FROM hipparcos.main; SELECT 1", "column 33 of the query): only one", 1),
        ("SELECT * FROM read_csv('/etc/passwd')", "is not a table", 1),
        ("SELEKT hip FROM hipparcos.main", "found 'SELEKT'", 1),
        # A type error, found when DuckDB binds the translated query at createJob.
        ("SELECT hip FROM hipparcos.main WHERE hip = 'x' || 1 + 'y'", "Binder Error", 1),
    ],
)
def test_bad_queries_are_refused_with_the_position_and_nothing_is_created(
    adql: Service, server: RunningServer, query: str, reason: str, line: int
) -> None:
    before = stored_jobs(server)
    with pytest.raises(InvalidJobDescription) as refused:
        adql.create(job_xml(query))
    assert "ADQL" in str(refused.value)
    assert reason in str(refused.value)
    assert refused.value.line == line
    assert stored_jobs(server) == before


def test_maxrec_beyond_the_limit_is_refused(adql: Service, server: RunningServer) -> None:
    before = stored_jobs(server)
    with pytest.raises(InvalidJobDescription, match="beyond this service's limit"):
        adql.create(job_xml("SELECT hip FROM hipparcos.main", maxrec=10**9))
    assert stored_jobs(server) == before


# -- execution duration ------------------------------------------------------------------


def test_execution_duration_interrupts_a_long_query(adql: Service) -> None:
    job = adql.create(
        # 1.6e15 rows of a triple cross join: hours of work.
        f'<job xmlns="{ADQL}"><query>SELECT COUNT(*) FROM hipparcos.main AS a, '
        "hipparcos.main AS b, hipparcos.main AS c WHERE a.hpmag + b.hpmag + c.hpmag &lt; 20"
        "</query>"
        "<executionDuration>1</executionDuration></job>"
    )
    job.start()
    started = time.monotonic()
    state = job.wait(timeout=60, poll=0.1)
    assert state.phase == "ABORTED", state
    assert time.monotonic() - started < 30
    assert "execution duration" in (state.error_message or "")


def test_the_result_goes_with_the_resource(adql: Service, server: RunningServer) -> None:
    job = completed(adql, job_xml("SELECT TOP 3 hip FROM hipparcos.main"))
    result = job.state.result("result")
    assert result is not None
    folder = next((server.data_dir / "jobs").glob(f"*/{job.resource_id}"))
    assert (folder / "cursor.arrow").is_file()
    job.destroy()
    assert requests.get(result.href, timeout=30).status_code == 404
    assert not folder.exists()


def test_a_sample_catalogue_can_be_served(tmp_path: Path) -> None:
    """``wsrf-uws catalog synthetic`` builds a catalogue a service then answers from."""
    import subprocess
    import sys

    catalogue = tmp_path / "synthetic.duckdb"
    built = subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", "catalog", "synthetic", str(catalogue),
         "--rows", "5000"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    running = RunningServer(tmp_path / "data", env={"WSRF_UWS_ADQL__CATALOG": str(catalogue)})
    running.start()
    try:
        service = Service(running.url("adql"))
        job = completed(service, job_xml("SELECT COUNT(*) AS n FROM synthetic.main"))
        _, table = expose(job, 0, 1)
        assert rows(table) == [(5000,)]
        with pytest.raises(InvalidJobDescription, match="hipparcos"):
            service.create(job_xml("SELECT hip FROM hipparcos.main"))
    finally:
        running.stop()
