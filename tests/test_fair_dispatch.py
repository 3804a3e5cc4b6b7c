"""``waitress_compat.FairTaskDispatcher``: one client address cannot take every request thread.

Real threads of the real dispatcher; the tasks are stand-ins for waitress's channels (what
the dispatcher runs is ``task.service()``, and it tells clients apart by ``task.addr``),
which block until the test lets them finish, so which ran first is certain.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wsrf_uws.testing.server import running_server
from wsrf_uws.waitress_compat import FairTaskDispatcher


class Task:
    def __init__(self, host: str, started: list[str], finish: threading.Event) -> None:
        self.addr = (host, 40000)
        self.started = started
        self.finish = finish
        self.cancelled = False

    def service(self) -> None:
        self.started.append(self.addr[0])
        self.finish.wait(10)

    def cancel(self) -> None:
        self.cancelled = True


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def run(
    dispatcher: FairTaskDispatcher, hosts: list[str], *, threads: int, at_once: int
) -> list[str]:
    """Start ``threads`` threads, queue a task per host, and return what started at once
    (waiting for ``at_once`` of them, then a little more for any that should not)."""
    started: list[str] = []
    finish = threading.Event()
    dispatcher.set_thread_count(threads)
    try:
        for host in hosts:
            dispatcher.add_task(Task(host, started, finish))
        wait_until(lambda: len(started) >= at_once)
        time.sleep(0.1)  # a thread that should not take a task has had time to
        first = list(started)
        finish.set()
        wait_until(lambda: len(started) == len(hosts))  # the others ran after
    finally:
        finish.set()
        dispatcher.shutdown(timeout=5)
    return first


def test_a_client_over_its_share_waits_while_another_goes_ahead() -> None:
    dispatcher = FairTaskDispatcher(max_in_flight=1)
    a, b = "192.0.2.1", "192.0.2.2"
    # Three of a's requests were queued first; b's still runs on the second thread.
    assert sorted(run(dispatcher, [a, a, a, b], threads=2, at_once=2)) == [a, b]
    assert not dispatcher.in_flight  # every share given back


def test_an_ipv6_network_is_one_client() -> None:
    dispatcher = FairTaskDispatcher(max_in_flight=1)
    hosts = ["2001:db8::1", "2001:db8::2", "2001:db8:0:1::1"]
    assert run(dispatcher, hosts, threads=3, at_once=2) == ["2001:db8::1", "2001:db8:0:1::1"]


def test_no_cap_runs_as_waitress_does() -> None:
    dispatcher = FairTaskDispatcher(max_in_flight=0)
    assert run(dispatcher, ["192.0.2.1"] * 3, threads=3, at_once=3) == ["192.0.2.1"] * 3


def test_a_real_server_with_a_share_of_one_answers_every_parallel_request(
    tmp_path: Path,
) -> None:
    # The dispatcher as `serve` installs it: parallel requests of one address are taken in
    # turn, one at a time, and every one is answered.
    env = {"WSRF_UWS_HTTP__MAX_REQUESTS_IN_FLIGHT_PER_CLIENT": "1"}
    with running_server(tmp_path, env=env) as server:

        def fetch(_: int) -> int:
            with urllib.request.urlopen(server.url("steps") + "?wsdl", timeout=30) as reply:
                reply.read()
                return int(reply.status)

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(fetch, range(16))) == [200] * 16
