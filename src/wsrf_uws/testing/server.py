"""A real ``wsrf-uws serve`` process on a free loopback port, for tests and tools.

Example::

    with running_server(tmp_path) as server:
        client = Service(server.url("steps"))
        ...
        server.kill()       # SIGKILL, as a crash would
        server.start()      # the same data directory, a new process (and port)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

_READY = re.compile(r"wsrf-uws serving .* at (?P<base>\S+)/uws/\{contract\}")

#: What a test server runs with unless the test's ``env`` says otherwise: a short kill
#: grace, so stopping jobs is quick, live-job quotas no test of other things reaches (a
#: module's tests share one server and create many jobs, mostly anonymous ones), and no
#: request-rate limit (every test client is 127.0.0.1).
TEST_ENVIRONMENT = {
    "WSRF_UWS_KILL_GRACE": "0.5",
    "WSRF_UWS_QUOTAS__MAX_LIVE_JOBS": "1000000",
    "WSRF_UWS_QUOTAS__MAX_ANONYMOUS_LIVE_JOBS": "1000000",
    # Tests poll and create as fast as the service answers, all from 127.0.0.1.
    "WSRF_UWS_HTTP__CLIENT_REQUESTS_PER_SECOND": "0",
    "WSRF_UWS_HTTP__MAX_REQUESTS_IN_FLIGHT_PER_CLIENT": "0",
}


class ServiceProcess:
    """A ``wsrf-uws`` command run as a process of its own, ready once its log says so;
    restartable. What :class:`RunningServer` and the cluster's
    :class:`~wsrf_uws.testing.cluster.RunningWorker` have in common.

    The process gets :data:`TEST_ENVIRONMENT` beneath ``env``.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        ready_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.env = {**os.environ, **TEST_ENVIRONMENT, **(env or {})}
        self.args = args
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[str] | None = None
        #: Everything the process wrote on stderr (its log), across restarts.
        self.log: list[str] = []

    @property
    def pid(self) -> int | None:
        """The process id while the process runs (None once stopped or killed)."""
        return None if self.process is None else self.process.pid

    def _launch(self, command: list[str], ready: re.Pattern[str], what: str) -> re.Match[str]:
        """Start ``command`` and wait until a line of its log matches ``ready``; the match.

        RuntimeError (with the end of the log) if the process ends or the wait times out
        before that.
        """
        process = subprocess.Popen(
            command, env=self.env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.process = process
        seen = threading.Event()
        found: list[re.Match[str]] = []

        def read_log() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                self.log.append(line)
                if not found and (match := ready.search(line)):
                    found.append(match)
                    seen.set()
            seen.set()  # the process ended

        threading.Thread(target=read_log, daemon=True).start()
        if not seen.wait(self.ready_timeout) or not found:
            self.kill()
            raise RuntimeError(f"{what} did not start:\n" + "".join(self.log[-40:]))
        return found[0]

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait: the clean shutdown. Returns the exit status."""
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            self.process = None

    def kill(self) -> None:
        """SIGKILL, with no chance to clean up."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class RunningServer(ServiceProcess):
    """One ``wsrf-uws serve`` process on a data directory, on a free port; restartable.

    A test of quotas sets them in ``env`` (the environment outranks a configuration file).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(data_dir, env=env, args=args, ready_timeout=ready_timeout)
        self.base_url = ""

    def url(self, contract: str) -> str:
        """The endpoint of ``contract``."""
        return f"{self.base_url}/uws/{contract}"

    def start(self) -> None:
        """Start the process and wait until it serves."""
        command = [sys.executable, "-m", "wsrf_uws.cli", "serve", "--port", "0"]
        command += ["--data", str(self.data_dir), *self.args]
        self.base_url = self._launch(command, _READY, "the server")["base"]

    def log_since(self, start: int = 0, *, timeout: float = 30.0) -> list[str]:
        """Every line the process wrote since ``len(self.log)`` was ``start``, up to now.

        The log reaches the test through a pipe and a reader thread, so a line may not be
        in :attr:`log` yet when the answer it precedes is. A marker request, sent now, is
        logged after every line written before; once its line is in, so are they.
        RuntimeError if it is not in within ``timeout`` seconds.
        """
        marker = f"/health?log={uuid.uuid4().hex}"
        try:
            url = self.base_url + marker  # http: the base URL this process logged
            with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310
                answer.read()
        except urllib.error.HTTPError:
            pass  # an unhealthy service (503) logs the request all the same
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log[start:]
            end = next((i for i, line in enumerate(lines) if marker in line), None)
            if end is not None:
                return lines[:end]
            if time.monotonic() > deadline:
                raise RuntimeError(f"the marker request {marker} never reached the log")
            time.sleep(0.01)

    def access_log_since(self, start: int, *, timeout: float = 30.0) -> list[str]:
        """The access-log lines (one per request answered) of :meth:`log_since`.

        The server writes a request's line before it sends the answer, so every request
        answered before this call is there.
        """
        lines = self.log_since(start, timeout=timeout)
        return [line for line in lines if "wsrf_uws.access" in line]


@contextmanager
def running_server(
    data_dir: Path, *, env: Mapping[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[RunningServer]:
    """A started :class:`RunningServer`, stopped at the end of the block."""
    server = RunningServer(data_dir, env=env, args=args)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.stop()
