"""Helpers for the REST tests: a real server whose users sign in with HTTP Basic, and jobs
created over REST as a browser or a script would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from wsrf_uws.accounts import UsersFile
from wsrf_uws.testing.server import RunningServer, running_server

ALICE = ("alice", "s3cret")
BOB = ("bob", "hunter2")

#: What ``requests`` takes as HTTP Basic credentials: text, or bytes (sent as they are).
Credentials = tuple[str, str] | tuple[bytes, bytes]


@contextmanager
def server_with_users(
    folder: Path, *users: tuple[str, str], allow_anonymous: bool
) -> Iterator[RunningServer]:
    """A running ``wsrf-uws serve`` offering ``steps``, its users file in ``folder`` holding
    ``users`` (name, password), anonymous callers let in only if ``allow_anonymous``."""
    for name, password in users:
        UsersFile.add(folder / "users", name, password)
    env = {
        "WSRF_UWS_CONTRACTS": '["steps"]',
        "WSRF_UWS_USERS_FILE": str(folder / "users"),
        "WSRF_UWS_ALLOW_ANONYMOUS": "true" if allow_anonymous else "false",
    }
    with running_server(folder / "data", env=env) as running:
        yield running


def post_job(jobs: str, jdl: bytes, *, auth: Credentials | None) -> str:
    """Create a job by POSTing its description to the job list ``jobs``; the job's URL
    (from the 303 answer, which must be one)."""
    created = requests.post(
        jobs,
        data=jdl,
        headers={"Content-Type": "text/xml"},
        auth=auth,
        allow_redirects=False,
        timeout=30,
    )
    assert created.status_code == 303, created.text
    return created.headers["Location"]
