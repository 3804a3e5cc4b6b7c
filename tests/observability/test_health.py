"""``GET /health`` of a real service: 200 with the store and executor status, 503 once the
PostgreSQL store is gone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.testing.postgres import Cluster, server_binaries
from wsrf_uws.testing.server import RunningServer


def _health(server: RunningServer) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{server.base_url}/health", timeout=30) as reply:
            assert reply.headers["Content-Type"] == "application/json"
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_healthy_service_says_so(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data", env={"WSRF_UWS_SLOTS": "3"})
    server.start()
    try:
        status, report = _health(server)
    finally:
        server.stop()
    assert status == 200
    assert report["status"] == "ok"
    assert report["store"]["status"] == "ok"
    assert report["store"]["latency_ms"] >= 0
    assert report["executor"] == {"running": 0, "queued": 0, "slots": 3}
    assert "node" not in report


@pytest.fixture
def own_postgres(postgres_cluster: Cluster) -> Any:
    """A PostgreSQL server of this test's own, which the test stops (the session's is shared)."""
    binaries = server_binaries()
    assert binaries is not None  # postgres_cluster has checked
    cluster = Cluster(binaries)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_503_when_the_store_is_unreachable(tmp_path: Path, own_postgres: Cluster) -> None:
    server = RunningServer(
        tmp_path / "data", env={"WSRF_UWS_DATABASE_URL": own_postgres.new_schema()}
    )
    server.start()
    try:
        status, report = _health(server)
        assert status == 200, report
        assert report["node"]  # a cluster node says which
        own_postgres.stop()  # the database goes away under the running service
        status, report = _health(server)
    finally:
        server.kill()
    assert status == 503
    assert report["status"] == "unavailable"
    assert report["store"]["status"] == "unreachable"
    assert "postgres" not in json.dumps(report).lower()  # no host or URL in a public answer
