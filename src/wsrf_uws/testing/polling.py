"""Waiting in tests for something another process or thread brings about.

A test of real processes cannot be told when a job has started or a node has taken the
lead: it asks again until the answer is yes. :func:`eventually` does that, with a
deadline that is only a guard against hanging, never a measurement.

Example::

    job = eventually(lambda: store.get(resource_id), what="the job is recorded")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None], *, what: str, timeout: float = 60.0, pause: float = 0.05
) -> T:
    """Call ``check`` every ``pause`` seconds until it returns something true; that value.

    Raises AssertionError (a test failure, naming ``what`` and the last value) when
    ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {timeout} s (last: {value!r})")
        time.sleep(pause)
