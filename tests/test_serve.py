"""``wsrf-uws serve`` as a process: start-up, the public URL, request logging, SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import zeep

from wsrf_uws.published import wsdl_path
from wsrf_uws.testing.server import RunningServer


def test_sigterm_stops_cleanly_and_every_request_was_logged(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data")
    server.start()
    with urllib.request.urlopen(server.url("steps") + "?wsdl&anything=1", timeout=10) as reply:
        assert reply.read().startswith(b"<?xml")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{server.base_url}/nothing%0Aforged", timeout=10)
    assert missing.value.code == 404
    assert server.stop() == 0
    log = "".join(server.log)
    assert '"GET /uws/steps?wsdl&anything=1" 200' in log
    assert "stopping" in log
    # a request cannot forge a log line: the newline in the path is escaped
    assert not any(line.startswith("forged") for line in log.splitlines())
    assert "Traceback" not in log


def test_a_wildcard_bind_needs_a_public_url(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "wsrf_uws.cli", "serve", "--host", "0.0.0.0"]
    done = subprocess.run(
        [*command, "--port", "0", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "public URL" in done.stderr


def test_the_public_url_is_what_clients_are_given(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data", args=("--public-url", "https://uws.example.org/"))
    server.start()  # its ready line names the public URL, not the loopback port
    try:
        assert server.base_url == "https://uws.example.org"
    finally:
        server.kill()


@pytest.mark.parametrize("name", ["steps", "cea", "image", "adql", "vospace"])
def test_the_committed_wsdl_loads_offline_from_the_repository(name: str) -> None:
    client = zeep.Client(str(wsdl_path(f"{name}.wsdl")))
    operations = set(client.service._binding._operations)
    assert {"createJob", "GetResourceProperty", "SetTerminationTime", "Destroy"} <= operations
    assert client.service._binding_options["address"] == f"http://localhost:8080/uws/{name}"


def test_waitress_reads_bodies_as_large_as_the_largest_vospace_space() -> None:
    from wsrf_uws.server import largest_request
    from wsrf_uws.settings import Settings, SpaceLimits, VospaceSettings

    small = Settings(max_request_bytes=4096, vospace=VospaceSettings(max_space_bytes=1000))
    # every other route is held to its own limit as the request arrives
    assert largest_request(small) == 4096
    assert largest_request(Settings(contracts=["steps"])) == 2 * 1024 * 1024
    spaces = VospaceSettings(
        max_space_bytes=10**6, owners={"big": SpaceLimits(max_space_bytes=5 * 10**9)}
    )
    assert largest_request(Settings(vospace=spaces)) == 5 * 10**9
