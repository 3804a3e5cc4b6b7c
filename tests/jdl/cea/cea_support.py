"""Helpers for the cea tests: an ApplicationRun outside any worker process, misbehaving
applications, and ports that do not answer HTTP."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from wsrf_uws.core.contract import JobContext
from wsrf_uws.core.model import ProgressStep, Result
from wsrf_uws.jdl.cea.application import Application
from wsrf_uws.jdl.cea.jdl import CeaJob
from wsrf_uws.jdl.cea.runner import ApplicationRun, RunPolicy
from wsrf_uws.jdl.cea.state import CeaState
from wsrf_uws.jdl.cea.transfer import TransferPolicy

#: What the unit tests' runs may fetch from and deliver to.
POLICY = TransferPolicy.parse(["http://127.0.0.1:*", "https://*"])


class FakeContext:
    """A stand-in for the worker's JobContext (only what ApplicationRun uses): a folder,
    the stored state, and reports that are recorded rather than sent to the service."""

    def __init__(self, workdir: Path, jdl_state: dict[str, Any] | None = None) -> None:
        self.resource_id = "test-job"
        self.run_count = 1
        self.workdir = workdir
        self.jdl_state: dict[str, Any] = jdl_state or {}
        self.results: list[Result] = []
        self.states: list[dict[str, Any]] = []
        self.fractions: list[float | None] = []

    def progress(
        self, fraction: float | None = None, *, steps: tuple[ProgressStep, ...] | None = None
    ) -> None:
        self.fractions.append(fraction)

    def set_state(self, state: dict[str, Any]) -> None:
        self.states.append(state)

    def add_result(self, result: Result) -> None:
        self.results.append(result)


def run_policy() -> RunPolicy:
    """Small limits and :data:`POLICY` for both directions."""
    return RunPolicy(
        max_cpu_seconds=10,
        max_memory_bytes=1 << 30,
        max_file_bytes=1 << 26,
        max_input_bytes=1 << 20,
        inline_bytes=4096,
        transfer_timeout=5.0,
        fetch=POLICY,
        deliver=POLICY,
    )


def application_run(
    application: Application, workdir: Path, job: CeaJob | None = None
) -> tuple[ApplicationRun, FakeContext]:
    """A run of ``job`` (default: ``application`` with no parameters) and its context."""
    job = job or CeaJob(application, inputs=(), outputs=())
    context = FakeContext(workdir, CeaState.for_job(job).to_dict())
    return ApplicationRun(job, cast(JobContext, context), run_policy()), context


# Forks until ``sys.argv[1]`` children run or a fork is refused (exit status 1); the
# children's last argument is the marker the test gives (for textwrap.dedent).
FORK_STORM = """
    import os, sys, time
    started = 0
    for _ in range(int(sys.argv[1])):
        try:
            pid = os.fork()
        except OSError as exc:
            print(f"refused after {started}: {exc}", flush=True)
            sys.exit(1)
        if pid == 0:
            time.sleep(5)
            os._exit(0)
        started += 1
    print(f"started {started}", flush=True)
    time.sleep(2)
"""

# A daemon as the books write it: fork, setsid, fork again, the middle process exits; the
# grandchild (its last argument is the marker) belongs to no one the run knows of.
DAEMON = """
    import os, sys, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            sleeper = "import time; time.sleep(60)"
            os.execv(sys.executable, [sys.executable, "-c", sleeper, sys.argv[1]])
        os._exit(0)
    time.sleep(0.3)
    print("daemon started")
"""


@contextmanager
def silent_port() -> Iterator[socket.socket]:
    """A port that accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock


@contextmanager
def banner_port() -> Iterator[int]:
    """A port that answers in another protocol (an SSH banner) and hangs up."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.settimeout(0.2)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    connection, _ = sock.accept()
                except OSError:
                    continue
                with connection:
                    connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        yield int(sock.getsockname()[1])
        stop.set()
        thread.join(5)
