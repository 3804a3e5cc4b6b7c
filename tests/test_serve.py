"""``wsrf-uws serve`` as a process: start-up, the public URL, request logging, SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import zeep

from wsrf_uws.jdl.steps.contract import StepsContract
from wsrf_uws.published import wsdl_path
from wsrf_uws.testing import build_test_service
from wsrf_uws.testing.server import RunningServer

SERVE = [sys.executable, "-m", "wsrf_uws.cli", "serve"]


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
    done = subprocess.run(
        [*SERVE, "--host", "0.0.0.0", "--port", "0", "--data", str(tmp_path)],
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


def test_waitress_reads_bodies_as_large_as_the_largest_vospace_space(tmp_path: Path) -> None:
    """The vospace contract's upload route declares the largest space as its body limit."""
    from wsrf_uws.jdl.vospace.contract import VospaceContract
    from wsrf_uws.jdl.vospace.settings import SpaceLimits, VospaceSettings
    from wsrf_uws.server import build_application
    from wsrf_uws.settings import Settings

    def largest_body(folder: Path, contracts: list[type[Any]], **settings: Any) -> int:
        service = build_test_service(folder, contracts=contracts, **settings)
        try:
            return build_application(Settings(**settings), service).largest_body()
        finally:
            service.shutdown()

    small = VospaceSettings(max_space_bytes=1000)
    # every other route is held to its own limit as the request arrives
    assert (
        largest_body(tmp_path / "a", [VospaceContract], max_request_bytes=4096, vospace=small)
        == 4096
    )
    assert largest_body(tmp_path / "b", [StepsContract]) == 2 * 1024 * 1024
    spaces = VospaceSettings(
        max_space_bytes=10**6, owners={"big": SpaceLimits(max_space_bytes=5 * 10**9)}
    )
    assert largest_body(tmp_path / "c", [VospaceContract], vospace=spaces) == 5 * 10**9


def test_an_invalid_contract_section_stops_the_start(tmp_path: Path) -> None:
    """A typo in a contract's settings is loud: the service does not start, and says why."""
    config = tmp_path / "wsrf-uws.toml"
    config.write_text(
        "[adql]\ndefault_maxrec = 10\nmax_maxrec = 5\n[vospace]\nmax_spaec_bytes = 1\n"
    )
    done = subprocess.run(
        [*SERVE, "--port", "0", "--data", str(tmp_path / "data"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "the configuration of the contracts is not valid" in done.stderr
    assert "adql: the settings [adql] are not valid: adql.default_maxrec must not exceed" in (
        done.stderr
    )
    assert "vospace: the settings [vospace] are not valid: max_spaec_bytes: Extra inputs" in (
        done.stderr
    )
    assert "wsrf-uws serving" not in done.stderr


def test_a_section_naming_no_contract_is_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "wsrf-uws.toml"
    config.write_text("[adqll]\ncatalog = 'x'\n")
    server = RunningServer(tmp_path / "data", args=("--config", str(config)))
    server.start()
    try:
        assert server.stop() == 0
    finally:
        server.kill()
    assert "the settings section [adqll] names no installed contract" in "".join(server.log)
