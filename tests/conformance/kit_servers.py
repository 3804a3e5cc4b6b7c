"""Servers for the kit's tests and a way to run the kit and read what it printed.

- :class:`RestartableServer`: our service on a fixed port, restartable by a shell
  command (``restart_server.py``), for the kit's ``--restart-command``.
- :class:`BrokenServer`: our service behind one of ``broken_server.py``'s defects.
- :func:`run_kit`: ``wsrf-uws conformance`` as a subprocess; its lines, parsed.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
LINE = re.compile(r"^(PASS|FAIL|SKIP)  (\S+) +(.*)  \[(.*)\]$")
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$")


def free_port() -> int:
    """A TCP port nothing listens on right now (the service binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RestartableServer:
    """``wsrf-uws serve`` on a fixed port; :attr:`restart_command` restarts it in place."""

    def __init__(self, folder: Path, *, env: Mapping[str, str]) -> None:
        self.port = free_port()
        self.data = folder / "data"
        self.pid_file = folder / "server.pid"
        self.log = folder / "server.log"
        self.env = dict(env)
        arguments = [
            "--port", str(self.port), "--data", str(self.data),
            "--pid-file", str(self.pid_file), "--log", str(self.log),
        ]  # fmt: skip
        self.script = [sys.executable, str(HERE / "restart_server.py")]
        self.arguments = arguments
        #: The shell command the kit runs to restart the service.
        self.restart_command = shlex.join([*self.script, "restart", *arguments])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, contract: str) -> str:
        return f"{self.base_url}/uws/{contract}"

    def start(self) -> None:
        subprocess.run(
            [*self.script, "start", *self.arguments], env=self.env, check=True, timeout=120
        )

    def stop(self) -> None:
        """SIGTERM the process the pid file names (whichever restart started it)."""
        if not self.pid_file.exists():
            return
        pid = int(self.pid_file.read_text())
        try:
            process = psutil.Process(pid)
            if str(self.data) not in process.cmdline():
                return  # not ours (the pid was reused)
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            process.kill()


class BrokenServer:
    """Our service behind the defect ``variant`` of ``broken_server.py``."""

    def __init__(self, folder: Path, variant: str, *, env: Mapping[str, str]) -> None:
        command = [sys.executable, str(HERE / "broken_server.py"), "--variant", variant]
        command += ["--data", str(folder / "data")]
        self.process = subprocess.Popen(
            command, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.base_url = ""
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(90) or not self.base_url:
            self.stop()
            raise RuntimeError(f"broken_server {variant} did not start")

    def _read(self, ready: threading.Event) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("broken_server ready at "):
                self.base_url = line.split()[-1]
                ready.set()
        ready.set()

    def url(self, contract: str) -> str:
        return f"{self.base_url}/uws/{contract}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class KitRun:
    """What one run of the kit printed, parsed."""

    returncode: int
    stdout: str
    stderr: str
    #: check id → (status, reason)
    checks: dict[str, tuple[str, str]]
    #: (passed, failed, skipped) from the summary line
    summary: tuple[int, int, int]

    def status(self, check: str) -> str:
        return self.checks[check][0]

    def with_status(self, status: str) -> set[str]:
        return {check for check, (seen, _) in self.checks.items() if seen == status}

    def explain(self, checks: set[str] | None = None) -> str:
        """The lines of ``checks`` (default: every check that did not pass), for messages."""
        chosen = checks if checks is not None else set(self.checks) - self.with_status("PASS")
        return "\n".join(f"{self.checks[c][0]} {c}: {self.checks[c][1]}" for c in sorted(chosen))


def run_kit(url: str, *arguments: str, env: Mapping[str, str], timeout: float = 300) -> KitRun:
    """``python -m wsrf_uws.cli conformance URL ARGUMENTS``, parsed."""
    done = subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", "conformance", url, *arguments],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    checks: dict[str, tuple[str, str]] = {}
    summary = (-1, -1, -1)
    for line in done.stdout.splitlines():
        match = LINE.match(line)
        if match:
            assert match[2] not in checks, f"{match[2]} reported twice"
            checks[match[2]] = (match[1], match[3])
        elif SUMMARY.match(line):
            found = SUMMARY.match(line)
            assert found is not None
            summary = (int(found[1]), int(found[2]), int(found[3]))
    return KitRun(done.returncode, done.stdout, done.stderr, checks, summary)
