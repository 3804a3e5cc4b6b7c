"""Start, or kill and start again, a ``wsrf-uws serve`` process on a fixed port and data directory.

The conformance kit's restart checks need a restart that keeps the endpoint's URL, so
the service must come back on the same port; ``RunningServer`` picks a new one. The
kit runs ``restart`` as its ``--restart-command``; the test runs ``start`` first::

    python restart_server.py start   --port P --data DIR --pid-file F --log L
    python restart_server.py restart --port P --data DIR --pid-file F --log L

``restart`` SIGKILLs the process named in the pid file (as a crash would), waits until
it is gone, and starts a new one. Both return once the service answers. The service
runs in a session of its own, so it outlives this script; the pid file names it for
whoever stops it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

READY_TIMEOUT = 60.0


def serving(pid: int, data: Path) -> bool:
    """Whether ``pid`` is a live ``wsrf-uws serve`` of ``data`` (never signal anything else)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and str(data) in process.cmdline()
    except psutil.NoSuchProcess:
        return False


def start(port: int, data: Path, pid_file: Path, log: Path) -> int:
    """Start the service and wait until it answers; its pid."""
    command = [sys.executable, "-m", "wsrf_uws.cli", "serve", "--port", str(port)]
    command += ["--data", str(data), "--log-level", "WARNING"]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=output, start_new_session=True
        )
    pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with status {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return process.pid
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise SystemExit(f"the service did not answer within {READY_TIMEOUT} s; see {log}")


def kill(pid_file: Path, data: Path) -> None:
    """SIGKILL the service in ``pid_file`` and wait until it is gone."""
    pid = int(pid_file.read_text())
    if not serving(pid, data):
        return
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while serving(pid, data):
        if time.monotonic() > deadline:
            raise SystemExit(f"process {pid} survived SIGKILL")
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "restart"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--pid-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    if args.action == "restart":
        kill(args.pid_file, args.data)
    pid = start(args.port, args.data, args.pid_file, args.log)
    print(pid, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
