"""Job event log lines (created, queued, started, ended, destroyed) from a real service,
in the text format and in ``--log-format json``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.client import Service
from wsrf_uws.testing.cluster import running_cluster
from wsrf_uws.testing.server import RunningServer

STEPS_JDL = (
    b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>2</steps><stepSeconds>0.1</stepSeconds></job>'
)
LONG_JDL = (
    b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>600</steps><stepSeconds>0.1</stepSeconds></job>'
)


def _run_jobs(server: RunningServer) -> tuple[str, str]:
    """One job run to completion and destroyed; one destroyed while it runs."""
    client = Service(server.url("steps"))
    done = client.create(STEPS_JDL)
    done.start()
    assert done.wait(timeout=60).phase == "COMPLETED"
    done.destroy()
    running = client.create(LONG_JDL)
    running.start()
    while running.state.phase != "EXECUTING":
        time.sleep(0.05)
    # Well into its steps: a job stopped as its process starts may print a traceback of
    # its own on the service's stderr, which is no log line.
    time.sleep(0.5)
    running.destroy()
    return done.resource_id, running.resource_id


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--log-format", "json"), {}), ((), {"WSRF_UWS_LOG_FORMAT": "json"})],
    ids=["option", "setting"],
)
def test_every_log_line_is_json_and_each_job_event_has_one(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    server = RunningServer(tmp_path / "data", args=args, env=env)
    server.start()
    try:
        completed, destroyed = _run_jobs(server)
    finally:
        assert server.stop() == 0
    entries = [_json_line(line) for line in server.log if line.strip()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any("wsrf-uws serving" in entry["message"] for entry in entries)
    assert any(entry["logger"] == "wsrf_uws.access" for entry in entries)
    events = _job_events(entries)

    lived = events[completed]
    assert [e["event"] for e in lived] == ["created", "queued", "started", "ended", "destroyed"]
    assert all(e["contract"] == "steps" and e["owner"] == "anonymous" for e in lived)
    ended = lived[3]
    assert ended["phase"] == "COMPLETED"
    assert ended["duration"] >= 0.2  # two steps of 0.1 s
    assert lived[4]["phase"] == "COMPLETED"

    cut = events[destroyed]
    assert [e["event"] for e in cut] == ["created", "queued", "started", "ended", "destroyed"]
    assert cut[3]["phase"] == "ABORTED"
    assert cut[3]["reason"] == "destroyed"


def test_text_lines_name_the_job_its_contract_and_owner(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data")
    server.start()
    try:
        client = Service(server.url("steps"))
        job = client.create(STEPS_JDL)
        job.start()
        job.wait(timeout=60)
    finally:
        assert server.stop() == 0
    lines = [line for line in server.log if f"job {job.resource_id} " in line]
    assert len(lines) == 4, lines
    assert "wsrf_uws.jobs: job " in lines[0]
    assert f"job {job.resource_id} created contract=steps owner=anonymous phase=PENDING" in lines[0]
    assert " ended contract=steps owner=anonymous phase=COMPLETED duration=" in lines[3]


def _json_line(line: str) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError:
        raise AssertionError(f"not a JSON line: {line!r}") from None
    assert isinstance(entry, dict)
    return entry


def _job_events(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    events: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry["logger"] == "wsrf_uws.jobs":
            job = entry["job"]
            events.setdefault(job["resource_id"], []).append(job)
    return events


def test_on_a_cluster_each_node_logs_the_events_it_made(tmp_path: Path, postgres_url: str) -> None:
    with running_cluster(
        tmp_path / "data", database_url=postgres_url, frontends=1, workers=1
    ) as cluster:
        client = Service(cluster.frontends[0].url("steps"))
        job = client.create(STEPS_JDL)
        job.start()
        assert job.wait(timeout=60).phase == "COMPLETED"
        job.destroy()
        cluster.stop()
        frontend = "".join(cluster.frontends[0].log)
        worker = "".join(cluster.workers[0].log)
    made_by = {
        event: [name for name, log in (("frontend", frontend), ("worker", worker))
                if f"job {job.resource_id} {event} " in log]
        for event in ("created", "queued", "started", "ended", "destroyed")
    }  # fmt: skip
    assert made_by == {
        "created": ["frontend"],
        "queued": ["frontend"],
        "started": ["worker"],
        "ended": ["worker"],
        "destroyed": ["frontend"],
    }
