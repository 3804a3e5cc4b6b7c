"""Owners over REST, as over SOAP: HTTP Basic with the users file, anonymous where
allowed, and another owner's job answered like an unknown one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from lxml import etree

from wsrf_uws.client import Service
from wsrf_uws.testing.server import RunningServer

from rest_support import ALICE, post_job, server_with_users

JDL = b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>1</steps><stepSeconds>0.1</stepSeconds></job>'
ZOE = ("zoë", "pässwörd €")  # beyond Latin-1: HTTP Basic is read as UTF-8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("owners")
    with server_with_users(folder, ALICE, ZOE, allow_anonymous=True) as running:
        yield running


def basic(user: tuple[str, str]) -> tuple[bytes, bytes]:
    return (user[0].encode(), user[1].encode())


def create(jobs: str, auth: tuple[bytes, bytes] | None) -> str:
    return post_job(jobs, JDL, auth=auth)


def listed(jobs: str, auth: tuple[bytes, bytes] | None) -> list[str]:
    answer = requests.get(jobs, auth=auth, timeout=30)
    assert answer.status_code == 200
    return [ref.get("id") or "" for ref in etree.fromstring(answer.content)]


def test_each_owner_sees_and_drives_only_their_jobs(server: RunningServer) -> None:
    jobs = f"{server.base_url}/rest/steps"
    alices = create(jobs, basic(ALICE))
    zoes = create(jobs, basic(ZOE))
    anonymous = create(jobs, None)
    assert requests.get(alices + "/owner", auth=basic(ALICE), timeout=30).text == "alice"
    assert requests.get(zoes + "/owner", auth=basic(ZOE), timeout=30).text == ZOE[0]
    for url, stranger in ((alices, basic(ZOE)), (zoes, None), (anonymous, basic(ALICE))):
        assert requests.get(url, auth=stranger, timeout=30).status_code == 404
        refused = requests.post(url + "/phase", data={"PHASE": "RUN"}, auth=stranger, timeout=30)
        assert refused.status_code == 404
        assert requests.delete(url, auth=stranger, timeout=30).status_code == 404
    ids = {url.rsplit("/", 1)[1] for url in (alices, zoes, anonymous)}
    assert set(listed(jobs, basic(ALICE))) & ids == {alices.rsplit("/", 1)[1]}
    assert set(listed(jobs, None)) & ids == {anonymous.rsplit("/", 1)[1]}


def test_soap_and_rest_share_owners(server: RunningServer) -> None:
    jobs = f"{server.base_url}/rest/steps"
    job = Service(server.url("steps"), username=ALICE[0], password=ALICE[1]).create(JDL)
    url = f"{jobs}/{job.resource_id}"
    assert requests.get(url, timeout=30).status_code == 404  # anonymous
    assert requests.get(url + "/owner", auth=basic(ALICE), timeout=30).text == "alice"


def test_wrong_credentials_get_a_basic_challenge(server: RunningServer) -> None:
    jobs = f"{server.base_url}/rest/steps"
    answer = requests.get(jobs, auth=(b"alice", b"wrong"), timeout=30)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert "wrong password" in answer.text


def test_without_anonymous_access_credentials_are_required(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("closed")
    with server_with_users(folder, ALICE, allow_anonymous=False) as closed:
        jobs = f"{closed.base_url}/rest/steps"
        refused = requests.post(jobs, data=JDL, headers={"Content-Type": "text/xml"}, timeout=30)
        assert refused.status_code == 401
        assert "requires authentication" in refused.text
        assert listed(jobs, basic(ALICE)) == []
