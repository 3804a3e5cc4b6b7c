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


def test_the_event_loop_takes_a_large_body_in_few_reads(tmp_path: Path) -> None:
    """Each read is a turn of the event loop, which asks every connection whether it is
    readable: with waitress's 8 KiB reads a 1 MiB body took 128 turns at least."""
    import socket
    import threading

    from wsrf_uws.server import RECEIVE_BYTES, build_application, http_server
    from wsrf_uws.settings import Settings

    settings = Settings()
    service = build_test_service(tmp_path, contracts=[StepsContract])
    listener = socket.create_server(("127.0.0.1", 0))
    server = http_server(settings, build_application(settings, service), listener)
    assert server.adj.recv_bytes == RECEIVE_BYTES
    reads: list[int] = []
    guarded = server.channel_class

    class CountingChannel(guarded):  # type: ignore[misc, valid-type]
        def recv(self, buffer_size: int) -> bytes:
            data: bytes = super().recv(buffer_size)
            reads.append(len(data))
            return data

    server.channel_class = CountingChannel
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    body = b"<x>" + b" " * (1024 * 1024) + b"</x>"
    try:
        port = listener.getsockname()[1]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/uws/steps",
            data=body,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:  # not SOAP: a fault
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code in (400, 500)
    finally:
        stop.set()
        thread.join(10)
        server.close()
        server.task_dispatcher.shutdown()
        service.shutdown()
    assert sum(reads) >= len(body)
    assert len(reads) < len(body) // (8 * 1024), len(reads)


def test_the_service_is_built_without_importing_the_contracts_run_libraries(
    tmp_path: Path,
) -> None:
    """A restart must serve again within 2 s (issue 18), and the libraries the ``image``
    and ``adql`` contracts run with take about 0.7 s to import (astropy 0.3 s; pyarrow,
    DuckDB and sqlglot 0.4 s): those contracts and the TAP service import them on first
    use. Builds the service and its WSGI application, every contract installed, in a
    fresh interpreter, as ``serve`` does before it listens."""
    heavy = ("astropy", "cdshealpix", "pyarrow", "duckdb", "sqlglot")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from wsrf_uws.runtime import build_service\n"
        "from wsrf_uws.server import build_application\n"
        "from wsrf_uws.settings import Settings\n"
        "settings = Settings(data_dir=Path(sys.argv[1]))\n"
        "service = build_service(settings)\n"
        "build_application(settings, service)\n"
        "print(sorted(service.registry.names()))\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))\n"
        "service.store.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    contracts, imported = done.stdout.splitlines()[-2:]
    assert "'image'" in contracts and "'adql'" in contracts
    assert imported == "[]"
