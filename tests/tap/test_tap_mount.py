"""The TAP application is built at its first request (``tap/mount.py``): once, whichever
of several concurrent first requests comes first, and again after a build that failed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from wsrf_uws.tap.mount import BuiltOnFirstRequest


def answering(text: bytes) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [text]

    return application


def call(application: Any) -> bytes:
    statuses: list[str] = []
    body = b"".join(application({"PATH_INFO": "/tap"}, lambda s, h: statuses.append(s)))
    assert statuses == ["200 OK"]
    return body


def test_concurrent_first_requests_build_it_once() -> None:
    builds: list[int] = []
    entered = threading.Event()
    release = threading.Event()

    def build() -> Any:
        builds.append(1)
        entered.set()
        release.wait(10)  # holds the first build while the other requests arrive
        return answering(b"tap")

    lazy = BuiltOnFirstRequest(build)
    answers: list[bytes] = []
    threads = [threading.Thread(target=lambda: answers.append(call(lazy))) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert entered.wait(10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert answers == [b"tap"] * 8
    assert builds == [1]
    assert call(lazy) == b"tap" and builds == [1]


def test_a_failed_build_fails_its_request_and_the_next_builds_again() -> None:
    attempts: list[int] = []

    def build() -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("the catalogue is not there yet")
        return answering(b"tap")

    lazy = BuiltOnFirstRequest(build)
    with pytest.raises(RuntimeError, match="not there yet"):
        call(lazy)
    assert call(lazy) == b"tap"
    assert len(attempts) == 2
