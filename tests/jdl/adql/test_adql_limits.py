"""Hostile load on the ``adql`` contract: what a query may cost the service, bounded.

Real ``wsrf-uws serve`` processes answer real SOAP. Two bounds are tested:

- the query text, parsed at createJob in the service process: length, tokens and nesting
  are measured before the parser runs, and whatever still trips the parser or the
  translation is an ``InvalidJobDescriptionFault``, never an internal error;
- the run: a worker's DuckDB has a memory limit and spills into the job's folder up to a
  bound, so a query that needs more ends in ERROR saying so, with the worker's memory
  (measured with psutil) bounded, and its spill folder removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from wsrf_uws.client import InvalidJobDescription, Job, Service
from wsrf_uws.jdl.adql.catalog import Catalog
from wsrf_uws.jdl.adql.query import QueryOutOfMemory, execute, translate
from wsrf_uws.testing.server import RunningServer

from adql_support import catalog_path
from soap_support import ADQL, stored_jobs

MIB = 1024**2

#: Every pair of Hipparcos stars as a group: some 14 billion groups, far beyond any memory.
CROSS_JOIN_GROUPS = (
    "SELECT a.hip AS h1, b.hip AS h2, COUNT(*) AS n FROM hipparcos.main AS a, "
    "hipparcos.main AS b GROUP BY a.hip, b.hip"
)
#: Some 3.8 million groups (stars with HIP below 2000, in pairs): more than 64 MiB of
#: hash table, less than 64 MiB of memory and 128 MiB of spill together.
SPILLING_GROUPS = (
    "SELECT a.hip AS h1, b.hip AS h2, COUNT(*) AS n FROM hipparcos.main AS a, "
    "hipparcos.main AS b WHERE a.hip < 2000 AND b.hip < 2000 GROUP BY a.hip, b.hip"
)


def job_xml(
    query: str, *, duration: int | None = None, maxrec: int | None = None, fmt: str = "BINARY2"
) -> str:
    text = query.replace("&", "&amp;").replace("<", "&lt;")
    rows = f"<maxrec>{maxrec}</maxrec>" if maxrec is not None else ""
    limit = f"<executionDuration>{duration}</executionDuration>" if duration else ""
    return f'<job xmlns="{ADQL}"><query>{text}</query>{rows}<format>{fmt}</format>{limit}</job>'


def serve(folder: Path, catalogue: Path, **adql: str) -> RunningServer:
    """A started server of the contract ``adql`` alone (quicker to start), with ``[adql]``
    settings ``adql`` and the session's catalogue (built once, not per server)."""
    env = {
        "WSRF_UWS_CONTRACTS": '["adql"]',
        "WSRF_UWS_ADQL__CATALOG": str(catalogue),
        **{f"WSRF_UWS_ADQL__{name.upper()}": value for name, value in adql.items()},
    }
    server = RunningServer(folder, env=env)
    server.start()
    return server


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return catalog_path(tmp_path_factory)


@pytest.fixture(scope="module")
def default_server(
    tmp_path_factory: pytest.TempPathFactory, catalogue: Path
) -> Iterator[RunningServer]:
    """A server with the default limits: what a data centre gets out of the box."""
    server = serve(tmp_path_factory.mktemp("adql-defaults") / "data", catalogue)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def small_server(
    tmp_path_factory: pytest.TempPathFactory, catalogue: Path
) -> Iterator[RunningServer]:
    """A server with small limits, so that queries cross them quickly."""
    server = serve(
        tmp_path_factory.mktemp("adql-small") / "data",
        catalogue,
        query_memory_bytes=str(64 * MIB),
        max_spill_bytes=str(128 * MIB),
        max_result_bytes=str(1 * MIB),
        max_query_chars="400",
        max_query_tokens="60",
        max_query_depth="4",
    )
    yield server
    server.stop()


def log_problems(server: RunningServer, since: int) -> list[str]:
    """Lines of the service's log since line ``since`` that tell of an internal error."""
    return [line for line in server.log[since:] if "Traceback" in line or "internal error" in line]


# -- the query text at createJob -------------------------------------------------------------

#: (query, what the refusal says): each once measured at seconds of the service's time,
#: hundreds of megabytes, or an internal error (a RecursionError in the parser).
PATHOLOGICAL = [
    pytest.param(
        "SELECT hip FROM hipparcos.main WHERE hip IN ("
        + ", ".join(str(i) for i in range(150_000))
        + ")",
        "at most 65536 characters",
        id="an IN list of 150k literals",
    ),
    pytest.param(
        "SELECT CASE "
        + " ".join(f"WHEN hip = {i} THEN {i}" for i in range(20_000))
        + " ELSE 0 END AS c FROM hipparcos.main",
        "at most 65536 characters",
        id="a CASE of 20k branches",
    ),
    pytest.param(
        "SELECT hip FROM hipparcos.main WHERE hip IN ("
        + ",".join(str(i) for i in range(8_000))
        + ")",
        "reads at most 10000",
        id="an IN list of 8k literals (16k tokens)",
    ),
    pytest.param(
        "SELECT hip FROM hipparcos.main WHERE hip = " + "(" * 3000 + "1" + ")" * 3000,
        "nest more than 20 deep",
        id="3000 nested parentheses",
    ),
    pytest.param(
        "SELECT hip FROM hipparcos.main WHERE hip IN "
        + "(SELECT hip FROM hipparcos.main WHERE hip IN " * 400
        + "(1)"
        + ")" * 400,
        "nest more than 20 deep",
        id="400 nested subqueries",
    ),
    pytest.param(
        "SELECT CASE WHEN hip = 1 THEN " * 30 + "1" + " END" * 30 + " AS c FROM hipparcos.main",
        "nest more than 20 deep",
        id="30 nested CASE",
    ),
    pytest.param(
        "SELECT hip FROM hipparcos.main WHERE " + " OR ".join(f"hip = {i}" for i in range(2400)),
        "nests too deeply",
        id="a chain of 2400 ORs",
    ),
    pytest.param(
        "SELECT hip FROM hipparcos.main WHERE " + "NOT " * 2000 + "hip = 1",
        "nests too deeply",
        id="2000 NOTs",
    ),
]


@pytest.mark.parametrize(("query", "reason"), PATHOLOGICAL)
def test_pathological_queries_are_refused_cleanly_and_nothing_is_created(
    default_server: RunningServer, query: str, reason: str
) -> None:
    service = Service(default_server.url("adql"))
    before, log_start = stored_jobs(default_server), len(default_server.log)
    with pytest.raises(InvalidJobDescription) as refused:
        service.create(job_xml(query))
    assert reason in str(refused.value)
    assert stored_jobs(default_server) == before
    assert log_problems(default_server, log_start) == []


def test_the_refusal_points_at_where_the_bound_was_crossed(default_server: RunningServer) -> None:
    service = Service(default_server.url("adql"))
    nested = "SELECT hip FROM hipparcos.main\nWHERE hip = " + "(" * 25 + "1" + ")" * 25
    with pytest.raises(InvalidJobDescription) as refused:
        service.create(job_xml(nested))
    # "WHERE hip = " takes 12 columns: the 21st parenthesis is in column 33.
    assert "line 2, column 33 of the query" in str(refused.value)


def test_a_long_query_within_the_bounds_is_accepted(default_server: RunningServer) -> None:
    service = Service(default_server.url("adql"))
    values = ", ".join(str(i) for i in range(1, 4001))  # 4000 values: 8011 tokens
    job = service.create(job_xml(f"SELECT hip FROM hipparcos.main WHERE hip IN ({values})"))
    assert job.phase == "PENDING"
    job.destroy()


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("SELECT hip FROM hipparcos.main WHERE hip IN (" + "1, " * 150 + "1)", "at most 400"),
        ("SELECT hip FROM hipparcos.main WHERE hip IN (" + "1," * 40 + "1)", "at most 60"),
        ("SELECT hip FROM hipparcos.main WHERE hip = ((((((1))))))", "more than 4 deep"),
    ],
)
def test_the_text_bounds_follow_the_settings(
    small_server: RunningServer, query: str, reason: str
) -> None:
    service = Service(small_server.url("adql"))
    with pytest.raises(InvalidJobDescription) as refused:
        service.create(job_xml(query))
    assert reason in str(refused.value)


# -- the run --------------------------------------------------------------------------------


def worker_peak_rss(server: RunningServer, job: Job, *, timeout: float) -> tuple[str, int]:
    """Wait for ``job`` to end; its final phase and the largest RSS of any process the
    service started (the worker running the job) meanwhile, sampled every 20 ms."""
    assert server.process is not None
    service = psutil.Process(server.process.pid)
    peak, deadline, next_poll = 0, time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        for child in service.children(recursive=True):
            try:
                peak = max(peak, child.memory_info().rss)
            except psutil.Error:
                continue  # the worker ended meanwhile
        if time.monotonic() >= next_poll:
            phase = job.phase
            if phase not in ("QUEUED", "EXECUTING"):
                return phase, peak
            next_poll = time.monotonic() + 0.5
        time.sleep(0.02)
    return job.phase, peak


def job_folder(server: RunningServer, job: Job) -> Path:
    return next((server.data_dir / "jobs").glob(f"*/{job.resource_id}"))


def test_a_query_beyond_memory_and_spill_ends_in_error_with_the_worker_bounded(
    small_server: RunningServer,
) -> None:
    service = Service(small_server.url("adql"))
    # executionDuration is the safety net: without the limits the query would run to it.
    job = service.create(job_xml(CROSS_JOIN_GROUPS, duration=60))
    job.start()
    phase, peak = worker_peak_rss(small_server, job, timeout=90)
    state = job.state
    assert phase == "ERROR", state
    assert state.error is not None
    assert state.error.message.startswith("out of memory:"), state.error
    assert "64 MiB of memory and 128 MiB of disk" in state.error.message
    assert state.error.detail is None  # no traceback for the caller
    # The worker: Python, pyarrow and the catalogue (some 200 MiB), plus the 64 MiB.
    assert peak < 512 * MIB, f"the worker reached {peak / MIB:.0f} MiB"
    assert not (job_folder(small_server, job) / ".duckdb-spill").exists()
    job.destroy()


def test_a_query_beyond_memory_but_within_spill_completes(small_server: RunningServer) -> None:
    service = Service(small_server.url("adql"))
    job = service.create(job_xml(SPILLING_GROUPS, duration=60, maxrec=10))
    job.start()
    state = job.wait(timeout=90, poll=0.2)
    assert state.phase == "COMPLETED", state.error
    assert not (job_folder(small_server, job) / ".duckdb-spill").exists()
    job.destroy()


def test_without_spilling_the_query_fails_at_the_memory_limit(catalogue: Path) -> None:
    """``max_spill_bytes = 0``: the engine keeps everything in memory, and says so."""
    with Catalog.open(catalogue, threads=1, memory_bytes=64 * MIB, spill_bytes=0) as catalog:
        translated = translate(SPILLING_GROUPS, metadata=catalog.metadata, maxrec=10)
        with pytest.raises(QueryOutOfMemory) as failed:
            execute(catalog, translated).read_all()
    assert str(failed.value).startswith(
        "out of memory: the query needs more than the 64 MiB of memory this service gives"
    )


@pytest.mark.parametrize(
    ("query", "fmt", "kept"),
    [
        # 60000 rows of four numbers: 1.6 MiB of rows to cache.
        ("SELECT TOP 60000 hip, ra, dec, hpmag FROM hipparcos.main", "BINARY2", "rows"),
        # 20000 rows of three numbers: 0.3 MiB of rows, but some 1.5 MiB as TABLEDATA.
        ("SELECT TOP 20000 hip, ra, dec FROM hipparcos.main", "TABLEDATA", "VOTable"),
    ],
)
def test_a_result_beyond_its_byte_limit_ends_in_error_and_is_removed(
    small_server: RunningServer, query: str, fmt: str, kept: str
) -> None:
    service = Service(small_server.url("adql"))
    job = service.create(job_xml(query, fmt=fmt))
    job.start()
    state = job.wait(timeout=60, poll=0.2)
    assert state.phase == "ERROR", f"{kept}: {state}"
    assert state.error is not None
    assert state.error.message.startswith("the result is larger than the 1 MiB"), state.error
    assert [path.name for path in job_folder(small_server, job).iterdir()] == []
    job.destroy()
