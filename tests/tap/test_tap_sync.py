"""``/tap/sync`` on a real ``wsrf-uws serve``: pyvo's TAPService, requests, the SOAP path.

Answers are compared with numpy truths from ``hip2.dat`` and with the same query run as a
job over SOAP; errors are DALI error documents pyvo reads; the limits (time, answer
size, MAXREC) end a query with a clear message and leave the service answering.
"""

from __future__ import annotations

import contextlib
import csv
import io
import threading
from collections.abc import Iterator

import numpy as np
import psutil
import pytest
import pyvo
import requests
from astropy.table import Table

from wsrf_uws.client import Service
from wsrf_uws.testing.server import RunningServer, running_server

from tap_support import (
    cone_query,
    cone_truth,
    query_status,
    read_votable,
    soap_rows,
)
from tap_support import hipparcos as hipparcos


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        # Small limits, so the tests can reach them: one worker, 3 s, 256 kB answers.
        "WSRF_UWS_ADQL__SYNC_WORKERS": "1",
        "WSRF_UWS_ADQL__SYNC_SECONDS": "3",
        "WSRF_UWS_ADQL__SYNC_MAX_RESULT_BYTES": str(256 * 1024),
        "WSRF_UWS_ADQL__MAX_MAXREC": "5000",
        "WSRF_UWS_ADQL__DEFAULT_MAXREC": "1000",
    }
    with running_server(tmp_path_factory.mktemp("tap") / "data", env=env) as running:
        yield running


@pytest.fixture(scope="module")
def tap(server: RunningServer) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(f"{server.base_url}/tap")


def sync(server: RunningServer, **parameters: str) -> requests.Response:
    return requests.post(f"{server.base_url}/tap/sync", data=parameters, timeout=60)


def test_a_cone_through_pyvo_equals_numpy_and_the_same_query_over_soap(
    server: RunningServer, tap: pyvo.dal.TAPService, hipparcos: dict[str, np.ndarray]
) -> None:
    query = cone_query(2.0)
    expected = cone_truth(hipparcos, 2.0)
    assert 10 < len(expected) < 1000
    result = tap.run_sync(query).to_table()
    assert list(result["hip"]) == expected
    assert result["ra"].unit == "deg"
    over_soap = soap_rows(Service(server.url("adql")), query)
    assert list(over_soap["hip"]) == expected
    np.testing.assert_array_equal(np.asarray(result["ra"]), np.asarray(over_soap["ra"]))
    np.testing.assert_array_equal(np.asarray(result["dec"]), np.asarray(over_soap["dec"]))


@pytest.mark.parametrize("fmt", ["votable", "votable/td", "text/csv", "tsv"])
def test_every_response_format_carries_the_same_rows(
    server: RunningServer, hipparcos: dict[str, np.ndarray], fmt: str
) -> None:
    expected = cone_truth(hipparcos, 1.0)
    response = sync(server, LANG="ADQL", QUERY=cone_query(1.0), RESPONSEFORMAT=fmt)
    assert response.status_code == 200, response.text
    if fmt.startswith("votable"):
        assert response.headers["Content-Type"].startswith("application/x-votable+xml")
        serialization = "TABLEDATA" if fmt.endswith("/td") else "BINARY2"
        assert f"<{serialization}>" in response.text
        hips = [int(h) for h in read_votable(response.content)["hip"]]
    else:
        delimiter = "," if "csv" in fmt else "\t"
        assert response.headers["Content-Type"].startswith(
            "text/csv" if "csv" in fmt else "text/tab"
        )
        rows = list(csv.reader(io.StringIO(response.text), delimiter=delimiter))
        assert rows[0] == ["hip", "ra", "dec"]
        hips = [int(row[0]) for row in rows[1:]]
    assert hips == expected


def test_format_is_an_alias_and_get_works_too(server: RunningServer) -> None:
    response = requests.get(
        f"{server.base_url}/tap/sync",
        params={"lang": "ADQL", "query": "SELECT TOP 2 hip FROM hipparcos.main", "format": "csv"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.text.splitlines()[0] == '"hip"'
    assert len(response.text.splitlines()) == 3


def test_maxrec_cuts_the_result_and_says_overflow(tap: pyvo.dal.TAPService) -> None:
    result = tap.run_sync("SELECT hip FROM hipparcos.main ORDER BY hip", maxrec=7)
    assert list(result.to_table()["hip"]) == [1, 2, 3, 4, 5, 6, 7]
    assert result.query_status == "OVERFLOW"
    exact = tap.run_sync("SELECT TOP 7 hip FROM hipparcos.main ORDER BY hip", maxrec=7)
    assert exact.query_status == "OK"


def test_maxrec_beyond_the_limit_gets_the_limit(server: RunningServer) -> None:
    response = sync(server, LANG="ADQL", QUERY="SELECT hip FROM hipparcos.main", MAXREC="999999")
    assert response.status_code == 200
    assert query_status(response.content)[0] == "OVERFLOW"
    assert len(read_votable(response.content)) == 5000


def test_tap_schema_is_queryable(tap: pyvo.dal.TAPService) -> None:
    tables = tap.run_sync("SELECT table_name FROM tap_schema.tables").to_table()
    names = {str(name) for name in tables["table_name"]}
    assert {"hipparcos.main", "tap_schema.tables", "tap_schema.columns"} <= names
    columns = tap.run_sync(
        "SELECT column_name, unit FROM tap_schema.columns WHERE table_name = 'hipparcos.main'"
    ).to_table()
    units = {str(row["column_name"]): str(row["unit"]) for row in columns}
    assert units["ra"] == "deg"


def test_an_inline_upload_is_joined_with_the_catalogue(
    tap: pyvo.dal.TAPService, hipparcos: dict[str, np.ndarray]
) -> None:
    picked = [0, 10, 20]
    mine = Table(
        {
            "id": np.array([1, 2, 3], dtype=np.int32),
            "ra": hipparcos["ra"][picked],
            "dec": hipparcos["dec"][picked],
        }
    )
    result = tap.run_sync(
        "SELECT m.id, h.hip FROM TAP_UPLOAD.mine AS m JOIN hipparcos.main AS h "
        "ON 1 = CONTAINS(POINT('ICRS', h.ra, h.dec), CIRCLE('ICRS', m.ra, m.dec, 0.0001)) "
        "ORDER BY m.id",
        uploads={"mine": mine},
    ).to_table()
    assert list(result["id"]) == [1, 2, 3]
    assert list(result["hip"]) == [int(hipparcos["hip"][i]) for i in picked]


def test_an_upload_by_url_is_fetched_from_the_allowed_demo_data(
    server: RunningServer, tap: pyvo.dal.TAPService
) -> None:
    """``UPLOAD=name,URL`` under the default ``[adql] fetch_allow``: the service's own
    ``/demo/`` data; the rows are those of the file, read here with astropy."""
    from wsrf_uws.jdl.adql.contract import AdqlContract

    assert AdqlContract.demo_data is not None
    truth = read_votable((AdqlContract.demo_data / "bright-stars.vot").read_bytes())
    expected = sorted(
        str(name) for name, dec in zip(truth["name"], truth["dec"], strict=True) if dec < 0
    )
    response = sync(
        server,
        LANG="ADQL",
        QUERY="SELECT name FROM TAP_UPLOAD.stars WHERE dec < 0 ORDER BY name",
        UPLOAD=f"stars,{server.base_url}/demo/adql/bright-stars.vot",
    )
    assert response.status_code == 200, response.text
    assert [str(name) for name in read_votable(response.content)["name"]] == expected
    assert expected


#: An upload as STILTS and TOPCAT send them: arrays (fixed and variable length), bits and a
#: timestamp, in BINARY2 would be the same; TABLEDATA keeps the truths readable here.
ARRAYS = b"""<?xml version="1.0"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE><TABLE>
<FIELD name="id" datatype="int"/>
<FIELD name="fixed" datatype="double" arraysize="2"/>
<FIELD name="counts" datatype="int" arraysize="*"/>
<FIELD name="flags" datatype="bit" arraysize="3"/>
<FIELD name="stamp" datatype="char" arraysize="*" xtype="timestamp"/>
<DATA><TABLEDATA>
<TR><TD>1</TD><TD>0.5 1.5</TD><TD>3 4 5</TD><TD>101</TD><TD>2000-01-01T00:00:00</TD></TR>
<TR><TD>2</TD><TD>2.5 3.5</TD><TD>6</TD><TD>011</TD><TD>2000-01-02T00:00:00</TD></TR>
</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"""


def upload_arrays(server: RunningServer, query: str) -> requests.Response:
    return requests.post(
        f"{server.base_url}/tap/sync",
        data={"LANG": "ADQL", "QUERY": query, "UPLOAD": "t,param:t"},
        files={"t": ("t.xml", ARRAYS, "application/x-votable+xml")},
        timeout=60,
    )


def test_an_upload_with_arrays_and_bits_comes_back_as_sent(server: RunningServer) -> None:
    response = upload_arrays(
        server,
        "SELECT id, fixed, counts, stamp FROM TAP_UPLOAD.t WHERE flags IS NOT NULL "
        "ORDER BY id DESC",
    )
    assert response.status_code == 200, response.text
    table = read_votable(response.content)
    assert list(table["id"]) == [2, 1]
    assert [list(cell) for cell in table["fixed"]] == [[2.5, 3.5], [0.5, 1.5]]
    assert [list(cell) for cell in table["counts"]] == [[6], [3, 4, 5]]
    assert [str(cell) for cell in table["stamp"]] == ["2000-01-02T00:00:00", "2000-01-01T00:00:00"]
    # An array of bits is uploaded and queried, but the VOTable writer has no boolean arrays.
    refused = upload_arrays(server, "SELECT flags FROM TAP_UPLOAD.t")
    assert refused.status_code == 400
    assert "arrays of boolean are not supported" in (query_status(refused.content)[1] or "")


def test_tap_schema_names_size_delimited_and_holds_its_own_foreign_keys(
    tap: pyvo.dal.TAPService,
) -> None:
    names = tap.run_sync(
        "SELECT column_name FROM tap_schema.columns WHERE table_name = 'tap_schema.columns'"
    ).to_table()
    assert '"size"' in {str(name) for name in names["column_name"]}
    # A query names the column as TAP_SCHEMA lists it.
    sizes = tap.run_sync(
        "SELECT \"size\" FROM tap_schema.columns WHERE table_name = 'tap_schema.columns'"
    ).to_table()
    assert len(sizes) == len(names)
    keys = tap.run_sync(
        "SELECT k.from_table, k.target_table, c.from_column, c.target_column "
        "FROM tap_schema.keys AS k JOIN tap_schema.key_columns AS c ON k.key_id = c.key_id"
    ).to_table()
    found = {tuple(str(value) for value in row) for row in keys}
    assert found == {
        ("tap_schema.tables", "tap_schema.schemas", "schema_name", "schema_name"),
        ("tap_schema.columns", "tap_schema.tables", "table_name", "table_name"),
        ("tap_schema.keys", "tap_schema.tables", "from_table", "table_name"),
        ("tap_schema.keys", "tap_schema.tables", "target_table", "table_name"),
        ("tap_schema.key_columns", "tap_schema.keys", "key_id", "key_id"),
    }


# -- errors ---------------------------------------------------------------------------------


def test_bad_adql_is_a_dali_error_pyvo_reads(tap: pyvo.dal.TAPService) -> None:
    with pytest.raises(pyvo.dal.DALQueryError, match="no column 'nosuch'"):
        tap.run_sync("SELECT nosuch FROM hipparcos.main")


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"QUERY": "SELECT 1 FROM hipparcos.main"}, "LANG is missing"),
        ({"LANG": "SQL", "QUERY": "SELECT 1 FROM hipparcos.main"}, "LANG=SQL is not supported"),
        ({"LANG": "ADQL"}, "QUERY is missing"),
        ({"LANG": "ADQL", "QUERY": "SELECT hip FROM hipparcos.main", "MAXREC": "x"}, "MAXREC"),
        (
            {"LANG": "ADQL", "QUERY": "SELECT hip FROM hipparcos.main", "RESPONSEFORMAT": "fits"},
            "RESPONSEFORMAT 'fits' is not supported",
        ),
        (
            {"LANG": "ADQL", "QUERY": "SELECT 1 FROM TAP_UPLOAD.t", "UPLOAD": "t,http://x/t.xml"},
            "[adql] fetch_allow",
        ),
        (
            {"LANG": "ADQL", "QUERY": "SELECT 1 FROM TAP_UPLOAD.t", "UPLOAD": "t,ftp://x/t.xml"},
            "give param:part",
        ),
    ],
)
def test_bad_parameters_are_dali_errors(
    server: RunningServer, parameters: dict[str, str], reason: str
) -> None:
    response = sync(server, **parameters)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/x-votable+xml")
    status, text = query_status(response.content)
    assert status == "ERROR"
    assert text is not None and reason in text


# -- limits ---------------------------------------------------------------------------------

#: A cross join of Hipparcos with itself, a nested loop over 10^10 pairs: minutes of work.
SLOW = (
    "SELECT COUNT(*) AS n FROM hipparcos.main AS a, hipparcos.main AS b WHERE SIN(a.ra * b.dec) > 2"
)


def test_a_long_query_is_stopped_at_the_time_limit_and_the_next_one_is_answered(
    server: RunningServer, tap: pyvo.dal.TAPService
) -> None:
    response = sync(server, LANG="ADQL", QUERY=SLOW)
    assert response.status_code == 400, response.text
    status, text = query_status(response.content)
    assert status == "ERROR"
    assert text is not None and "sync_seconds" in text and "/tap/async" in text
    after = tap.run_sync("SELECT TOP 1 hip FROM hipparcos.main ORDER BY hip").to_table()
    assert list(after["hip"]) == [1]
    assert any("TAP sync query stopped" in line for line in server.log_since())


def test_an_answer_beyond_the_size_limit_is_refused(server: RunningServer) -> None:
    response = sync(
        server,
        LANG="ADQL",
        QUERY="SELECT hip, ra, dec, hpmag, 'a long text on every row' AS t FROM hipparcos.main",
        MAXREC="5000",
        RESPONSEFORMAT="votable/td",
    )
    assert response.status_code == 400
    status, text = query_status(response.content)
    assert status == "ERROR"
    assert text is not None and "larger than the 262144 bytes" in text


def test_a_query_waits_for_the_busy_worker_rather_than_running_in_the_request_thread(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """One worker, a 4 s limit: a second query that cannot get the worker within 2 s is
    refused with 503, never run beside the first."""
    env = {"WSRF_UWS_ADQL__SYNC_WORKERS": "1", "WSRF_UWS_ADQL__SYNC_SECONDS": "4"}
    with running_server(tmp_path_factory.mktemp("tap-busy") / "data", env=env) as busy:
        warm = sync(busy, LANG="ADQL", QUERY="SELECT TOP 1 hip FROM hipparcos.main")
        assert warm.status_code == 200, warm.text
        first: list[requests.Response] = []
        runner = threading.Thread(target=lambda: first.append(sync(busy, LANG="ADQL", QUERY=SLOW)))
        runner.start()
        try:
            second = None
            for _ in range(50):  # until the first holds the worker
                second = sync(busy, LANG="ADQL", QUERY="SELECT TOP 1 hip FROM hipparcos.main")
                if second.status_code == 503:
                    break
            assert second is not None and second.status_code == 503
            assert second.headers.get("Retry-After")
            status, text = query_status(second.content)
            assert status == "ERROR" and text is not None and "busy" in text
        finally:
            runner.join(timeout=60)
        assert first and first[0].status_code == 400


def test_the_workers_end_with_the_service_even_in_the_middle_of_a_query(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {"WSRF_UWS_ADQL__SYNC_WORKERS": "2", "WSRF_UWS_ADQL__SYNC_SECONDS": "60"}
    busy = RunningServer(tmp_path_factory.mktemp("tap-kill") / "data", env=env)
    busy.start()
    try:
        assert sync(busy, LANG="ADQL", QUERY="SELECT TOP 1 hip FROM hipparcos.main").ok
        assert busy.pid is not None
        workers = [
            child
            for child in psutil.Process(busy.pid).children()
            if "multiprocessing.spawn" in " ".join(child.cmdline())
        ]
        assert len(workers) == 1  # started on the first query, one per query at once
        threading.Thread(target=_quietly, args=(busy, SLOW), daemon=True).start()
        # The query goes to the idle worker; the service dies while the worker runs it.
        workers[0].cpu_percent()
        for _ in range(100):
            if workers[0].cpu_percent(interval=0.1) > 50:
                break
        else:
            pytest.fail("the worker never started the query")
    finally:
        busy.kill()
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert alive == [], alive
    assert len(gone) == len(workers) >= 1


def _quietly(server: RunningServer, query: str) -> None:
    """A query whose answer never comes (the service is killed under it)."""
    with contextlib.suppress(requests.ConnectionError):
        sync(server, LANG="ADQL", QUERY=query)


def test_text_that_is_not_ascii_comes_back_as_sent(tap: pyvo.dal.TAPService) -> None:
    names = Table({"name": np.array(["Sirius", "Bételgeuse", "Алголь"])})
    result = tap.run_sync(
        "SELECT name FROM TAP_UPLOAD.names ORDER BY name", uploads={"names": names}
    )
    assert [str(n) for n in result.to_table()["name"]] == sorted(names["name"])
    assert result.fielddescs[0].datatype == "unicodeChar"  # VOTable char is ASCII
