"""``GET /metrics`` of a real service: jobs by contract and phase, request times by
operation, the executor, quota refusals; no owner in it; who may read it."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from wsrf_uws.client import QuotaExceeded, Service
from wsrf_uws.observability.health import HealthCheck
from wsrf_uws.observability.http import OperatorRoutes
from wsrf_uws.observability.metrics import ServiceMetrics
from wsrf_uws.testing import build_test_service
from wsrf_uws.testing.server import RunningServer

STEPS_JDL = (
    b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>1</steps><stepSeconds>0.05</stepSeconds></job>'
)


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _scrape(server: RunningServer) -> str:
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=30) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(reply.read().decode())


def test_metrics_count_jobs_requests_and_refusals_without_owners(tmp_path: Path) -> None:
    # anonymous callers may hold 2 live jobs: the third createJob is refused
    server = RunningServer(tmp_path / "data", env={"WSRF_UWS_QUOTAS__MAX_ANONYMOUS_LIVE_JOBS": "2"})
    server.start()
    try:
        client = Service(server.url("steps"))
        finished = client.create(STEPS_JDL)
        finished.start()
        finished.wait(timeout=60)
        client.create(STEPS_JDL)  # stays PENDING
        with pytest.raises(QuotaExceeded):
            client.create(STEPS_JDL)
        for path in ("/rest/steps", f"/rest/steps/{finished.resource_id}/phase"):
            with urllib.request.urlopen(f"{server.base_url}{path}", timeout=30) as reply:
                assert reply.status == 200
        text = _scrape(server)
    finally:
        server.stop()
    samples = _samples(text)
    assert (
        samples[("wsrf_uws_jobs", frozenset({("contract", "steps"), ("phase", "COMPLETED")}))] == 1
    )
    assert samples[("wsrf_uws_jobs", frozenset({("contract", "steps"), ("phase", "PENDING")}))] == 1
    refused = (
        "wsrf_uws_quota_refusals_total",
        frozenset({("contract", "steps"), ("quota", "live_jobs")}),
    )
    assert samples[refused] == 1
    created = ("wsrf_uws_request_seconds_count", frozenset({("operation", "createJob")}))
    assert samples[created] == 3
    assert samples[("wsrf_uws_request_seconds_count", frozenset({("operation", "startJob")}))] == 1
    # The REST requests under the route's own label, not under the job's.
    assert samples[("wsrf_uws_request_seconds_count", frozenset({("operation", "rest")}))] == 2
    assert finished.resource_id not in text
    assert samples[("wsrf_uws_executor_slots", frozenset())] == 2
    assert samples[("wsrf_uws_executor_running", frozenset())] == 0
    ended = ("wsrf_uws_job_events_total", frozenset({("event", "ended"), ("contract", "steps")}))
    assert samples[ended] == 1
    assert "anonymous" not in text  # no owner, as a label or otherwise
    assert finished.resource_id not in text


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data", env={"WSRF_UWS_METRICS_ACCESS": "off"})
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            _scrape(server)
    finally:
        server.stop()
    assert refused.value.code == 404


@pytest.mark.parametrize(
    ("access", "address", "served"),
    [
        ("loopback", "127.0.0.1", True),
        ("loopback", "::1", True),
        ("loopback", "::ffff:127.0.0.1", True),
        ("loopback", "192.0.2.7", False),
        ("loopback", "2001:db8::7", False),
        ("public", "192.0.2.7", True),
        ("off", "127.0.0.1", False),
    ],
)
def test_who_may_read_the_metrics(tmp_path: Path, access: str, address: str, served: bool) -> None:
    with build_test_service(tmp_path) as service:
        metrics = ServiceMetrics()
        metrics.bind(service)
        seen: list[str] = []

        def inner(environ: object, start_response: object) -> list[bytes]:
            seen.append("application")
            return []

        routes = OperatorRoutes(
            inner,
            health=HealthCheck(service),
            metrics=metrics,
            operations={"createJob"},
            metrics_access=access,  # type: ignore[arg-type]
        )
        statuses: list[str] = []
        body = routes(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "REMOTE_ADDR": address},
            lambda status, headers: statuses.append(status),
        )
    if served:
        assert statuses == ["200 OK"]
        assert b"wsrf_uws_jobs" in b"".join(body)
    else:
        assert seen == ["application"]  # refused: the request goes on, to a 404


def test_an_unknown_soap_action_is_counted_as_other(tmp_path: Path) -> None:
    with build_test_service(tmp_path) as service:
        routes = OperatorRoutes(
            lambda environ, start_response: [],
            health=HealthCheck(service),
            metrics=ServiceMetrics(),
            operations={"createJob", "GetResourceProperty"},
        )
        post = {"REQUEST_METHOD": "POST", "PATH_INFO": "/uws/steps"}
        made_up = {**post, "HTTP_SOAPACTION": '"urn:x/anything-a-caller-likes"'}
        assert routes.operation(made_up) == "other"
        create = {**post, "HTTP_SOAPACTION": '"urn:wsrf-uws:steps:v1/createJob"'}
        assert routes.operation(create) == "createJob"
        wsrf = (
            "http://docs.oasis-open.org/wsrf/rpw-2/GetResourceProperty/GetResourcePropertyRequest"
        )
        assert routes.operation({**post, "HTTP_SOAPACTION": wsrf}) == "GetResourceProperty"
        assert routes.operation({"REQUEST_METHOD": "GET", "PATH_INFO": "/results/x/y"}) == "results"


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        ("GET", "/rest", "rest"),
        ("GET", "/rest/steps", "rest"),
        ("POST", "/rest/steps/3f2a9c/phase", "rest"),
        ("GET", "/tap/sync", "tap_sync"),
        ("POST", "/tap/sync", "tap_sync"),
        ("GET", "/tap/async/3f2a9c/results/result", "tap_async"),
        ("GET", "/tap/tables", "tap"),
        ("GET", "/tap", "tap"),
        ("GET", "/results/3f2a9c/out.txt", "results"),
        ("GET", "/restless", "other"),
        ("GET", "/tapestry/sync", "other"),
        ("GET", "/", "other"),
    ],
)
def test_requests_are_timed_under_their_route(
    tmp_path: Path, method: str, path: str, label: str
) -> None:
    with build_test_service(tmp_path) as service:
        metrics = ServiceMetrics()
        routes = OperatorRoutes(
            lambda environ, start_response: [],
            health=HealthCheck(service),
            metrics=metrics,
            operations={"createJob"},
        )
        routes({"REQUEST_METHOD": method, "PATH_INFO": path}, lambda *args: None)
        samples = _samples(metrics.render().decode())
    assert samples[("wsrf_uws_request_seconds_count", frozenset({("operation", label)}))] == 1
