"""Blocking WAIT on a real server: woken by the job's phase change, honouring PHASE,
and bounded (its longest block, and how many block at once)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from lxml import etree

from wsrf_uws.testing.server import RunningServer, running_server
from wsrf_uws.wire.namespaces import UWS

JDL = b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>2</steps><stepSeconds>0.2</stepSeconds></job>'


def create(jobs: str) -> str:
    created = requests.post(
        jobs, data=JDL, headers={"Content-Type": "text/xml"}, allow_redirects=False, timeout=30
    )
    assert created.status_code == 303
    return created.headers["Location"]


def phase_of(answer: requests.Response) -> str:
    assert answer.status_code == 200
    return etree.fromstring(answer.content).findtext(f"{{{UWS}}}phase") or ""


class Waiter(threading.Thread):
    """A GET of ``url`` with ``params``, in a thread of its own."""

    def __init__(self, url: str, params: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.params = url, params
        self.answer: requests.Response | None = None

    def run(self) -> None:
        self.answer = requests.get(self.url, params=self.params, timeout=150)


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """WAIT may block 100 s, two requests at once."""
    env = {
        "WSRF_UWS_CONTRACTS": '["steps"]',
        "WSRF_UWS_REST__MAX_WAIT": "100",
        "WSRF_UWS_REST__MAX_WAITERS": "2",
    }
    with running_server(tmp_path_factory.mktemp("patient") / "data", env=env) as running:
        yield running


@pytest.fixture(scope="module")
def hasty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """WAIT may block 1 s, one request at a time."""
    env = {
        "WSRF_UWS_CONTRACTS": '["steps"]',
        "WSRF_UWS_REST__MAX_WAIT": "1",
        "WSRF_UWS_REST__MAX_WAITERS": "1",
    }
    with running_server(tmp_path_factory.mktemp("hasty") / "data", env=env) as running:
        yield running


def test_wait_returns_when_the_phase_changes(patient: RunningServer) -> None:
    location = create(f"{patient.base_url}/rest/steps")
    waiter = Waiter(location, {"WAIT": "100"})
    waiter.start()
    waiter.join(timeout=1)
    assert waiter.is_alive()  # a PENDING job blocks the WAIT
    requests.post(location + "/phase", data={"PHASE": "RUN"}, timeout=30)
    # Woken by the change long before its 100 s (a poll-less wait has no other way out).
    waiter.join(timeout=50)
    assert not waiter.is_alive()
    assert waiter.answer is not None
    assert phase_of(waiter.answer) in {"QUEUED", "EXECUTING", "COMPLETED"}


def test_wait_with_another_phase_or_a_final_phase_answers_at_once(
    patient: RunningServer,
) -> None:
    location = create(f"{patient.base_url}/rest/steps")
    other = requests.get(location, params={"WAIT": "100", "PHASE": "EXECUTING"}, timeout=50)
    assert phase_of(other) == "PENDING"
    requests.post(location + "/phase", data={"PHASE": "ABORT"}, timeout=30)
    final = requests.get(location, params={"WAIT": "100"}, timeout=50)
    assert phase_of(final) == "ABORTED"
    bad = requests.get(location, params={"WAIT": "soon"}, timeout=30)
    assert bad.status_code == 400


def test_a_wait_is_cut_at_max_wait(hasty: RunningServer) -> None:
    location = create(f"{hasty.base_url}/rest/steps")
    answer = requests.get(location, params={"WAIT": "-1"}, timeout=50)
    assert phase_of(answer) == "PENDING"  # answered at max_wait (1 s), not never


def test_waiters_beyond_max_waiters_are_answered_at_once(patient: RunningServer) -> None:
    jobs = f"{patient.base_url}/rest/steps"
    held = [create(jobs) for _ in range(2)]
    waiters = [Waiter(location, {"WAIT": "100"}) for location in held]
    for waiter in waiters:
        waiter.start()
    try:
        for waiter in waiters:
            waiter.join(timeout=1)
        assert all(waiter.is_alive() for waiter in waiters)  # both slots taken
        third = requests.get(create(jobs), params={"WAIT": "100"}, timeout=50)
        assert phase_of(third) == "PENDING"
        # Answered while both others still block: not after a wait of its own.
        assert all(waiter.is_alive() for waiter in waiters)
    finally:
        for location in held:
            requests.post(location + "/phase", data={"PHASE": "ABORT"}, timeout=30)
    for waiter in waiters:
        waiter.join(timeout=50)
        assert waiter.answer is not None and phase_of(waiter.answer) == "ABORTED"


def test_a_wait_ends_when_its_job_is_deleted(patient: RunningServer) -> None:
    location = create(f"{patient.base_url}/rest/steps")
    waiter = Waiter(location, {"WAIT": "100"})
    waiter.start()
    waiter.join(timeout=1)
    assert waiter.is_alive()
    requests.delete(location, timeout=30)
    waiter.join(timeout=50)
    assert not waiter.is_alive()
    assert waiter.answer is not None and waiter.answer.status_code == 404
