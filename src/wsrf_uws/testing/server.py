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


class RunningServer:
    """One service process on a data directory; restartable.

    The process gets :data:`TEST_ENVIRONMENT` beneath ``env``; a test of quotas sets them
    in ``env`` (the environment outranks a configuration file).
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
        self.base_url = ""
        #: Everything the process wrote on stderr (its log), across restarts.
        self.log: list[str] = []

    def url(self, contract: str) -> str:
        """The endpoint of ``contract``."""
        return f"{self.base_url}/uws/{contract}"

    def start(self) -> None:
        """Start the process and wait until it serves."""
        command = [sys.executable, "-m", "wsrf_uws.cli", "serve", "--port", "0"]
        command += ["--data", str(self.data_dir), *self.args]
        self.process = subprocess.Popen(
            command, env=self.env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        ready = threading.Event()
        threading.Thread(target=self._read_log, args=(self.process, ready), daemon=True).start()
        if not ready.wait(self.ready_timeout) or not self.base_url:
            self.kill()
            raise RuntimeError("the server did not start:\n" + "".join(self.log[-40:]))

    def _read_log(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.log.append(line)
            match = _READY.search(line)
            if match:
                self.base_url = match["base"]
                ready.set()
        ready.set()  # the process ended

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait: the clean shutdown."""
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
