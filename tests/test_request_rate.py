"""The request rate of one client address is bounded; other addresses are not affected.

Unit tests of the token bucket with a clock of their own, then a real server with a small
rate: a flood from one address gets HTTP 429 with Retry-After before any parsing, another
address is answered meanwhile, and the project's client waits and retries by itself.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsrf_uws import request_rate
from wsrf_uws.client import Service
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.request_rate import UNIT_BYTES, RequestRate, client_key
from wsrf_uws.testing.server import RunningServer, running_server


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_per_address() -> None:
    clock = Clock()
    rate = RequestRate(rate=2, burst=3, clock=clock)
    assert [rate.take("a") for _ in range(4)] == [0, 0, 0, 0.5]
    assert rate.take("b") == 0  # another address has its own bucket
    clock.now += 0.5  # one token at 2 a second
    assert rate.take("a") == 0
    assert rate.take("a") > 0
    clock.now += 60  # refilled, but only up to the burst
    assert [rate.take("a") == 0 for _ in range(4)] == [True, True, True, False]


def test_a_large_body_costs_more_but_never_more_than_the_burst() -> None:
    clock = Clock()
    rate = RequestRate(rate=1, burst=10, clock=clock)
    assert rate.cost(0) == 1
    assert rate.cost(UNIT_BYTES * 5) == 6
    assert rate.cost(UNIT_BYTES * 10_000) == 10  # a large upload: the burst, no debt
    assert rate.take("a", body_bytes=UNIT_BYTES * 5) == 0
    assert rate.take("a", body_bytes=UNIT_BYTES * 5) == pytest.approx(2)  # 4 left of 6
    assert rate.take("b", body_bytes=UNIT_BYTES * 10_000) == 0
    assert rate.take("b") == pytest.approx(1)  # the bucket is empty, not in debt
    clock.now += 1
    assert rate.take("b") == 0


def test_an_ipv6_network_is_one_client_and_forgotten_clients_start_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("2001:db8:0:1::1") != client_key("2001:db8::1")
    assert client_key("192.0.2.7") == "192.0.2.7"
    rate = RequestRate(rate=1, burst=1, clock=Clock())
    assert rate.take("2001:db8::1") == 0
    assert rate.take("2001:db8::2") > 0  # the same /64
    monkeypatch.setattr(request_rate, "MAX_TRACKED_CLIENTS", 3)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert rate.take(address) == 0
    assert rate.take("2001:db8::3") == 0  # the least recently seen: forgotten, so afresh
    assert len(rate._buckets) == 3


def test_a_refused_client_is_held_for_its_retry_after_and_no_one_else_is() -> None:
    clock = Clock()
    rate = RequestRate(rate=4, burst=2, clock=clock)
    assert rate.take("a") == rate.take("a") == 0
    assert rate.held_for("a") == 0  # at its rate, not over it
    assert rate.take("a") == pytest.approx(0.25)
    assert rate.held_for("a") == 1  # told "Retry-After: 1": a whole second
    assert rate.held_for("b") == 0
    clock.now += 0.6
    assert rate.held_for("a") == pytest.approx(0.4)
    clock.now += 0.4
    assert rate.held_for("a") == 0
    assert rate.take("a") == 0  # four tokens came back in that second


def test_a_limit_needs_a_rate_and_a_burst() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestRate(rate=0, burst=1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "WSRF_UWS_HTTP__CLIENT_REQUESTS_PER_SECOND": "4",
        "WSRF_UWS_HTTP__CLIENT_REQUEST_BURST": "8",
    }
    with running_server(tmp_path_factory.mktemp("rate"), env=env) as running:
        yield running


def get_wsdl(server: RunningServer, source: str) -> http.client.HTTPResponse:
    host, port = server.base_url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.sock = socket.create_connection((host, int(port)), 10, (source, 0))
    connection.request("GET", "/uws/steps?wsdl")
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_a_flood_from_one_address_gets_429_and_another_is_answered(
    server: RunningServer,
) -> None:
    # Sent back to back, ignoring Retry-After: after a refusal the address is held, so
    # the next request waits unread until the second it was told has passed.
    started = time.monotonic()
    answers = [get_wsdl(server, "127.0.0.1") for _ in range(20)]
    took = time.monotonic() - started
    statuses = [response.status for response in answers]
    assert statuses[:8] == [200] * 8  # the burst
    refused = [response for response in answers if response.status == 429]
    assert refused, statuses
    assert all(int(response.headers["Retry-After"]) >= 1 for response in refused)
    # Never more than the burst plus the rate of 4 a second, however fast it asks.
    assert statuses.count(200) <= 8 + 4 * took + 1, (statuses, took)
    # Each refusal held the address for a second: at most one refusal per second.
    assert len(refused) <= took + 1, (statuses, took)
    assert get_wsdl(server, "127.0.0.2").status == 200


def test_a_large_body_spends_the_budget_of_many_small_requests(server: RunningServer) -> None:
    host, port = server.base_url.split("//")[1].split(":")
    padding = "x" * (600 * 1024)  # ten units of 64 KiB: the whole burst of 8

    def post(body: str) -> int:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.sock = socket.create_connection((host, int(port)), 10, ("127.0.0.3", 0))
        connection.request("POST", "/uws/steps", body.encode(), {"Content-Type": "text/xml"})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status

    assert post(f"<a>{padding}</a>") == 500  # read, and refused by the endpoint
    assert post("<a/>") == 429  # the large one emptied this address's bucket


def test_the_client_waits_and_retries_when_told_to(server: RunningServer) -> None:
    service = Service(server.url("steps"))
    jobs = [service.create(steps_jdl(1, 0)) for _ in range(12)]  # beyond the burst of 8
    assert len({job.resource_id for job in jobs}) == 12
    for job in jobs:
        job.destroy()


def test_the_server_log_has_no_traceback(server: RunningServer, tmp_path: Path) -> None:
    assert not any("Traceback" in line for line in server.log)
