"""Hostile applications and hostile remote inputs on a real ``wsrf-uws serve`` (issue 14).

What a client can make the ``cea`` contract spend or reach: the service's own network
through remote inputs (the default fetch policy allows only the service's demonstration
data, path tricks do not leave it, and failures do not map ports), processes that outlive
their job or multiply (a subreaper, a cgroup or a count), and standard output that fills
the disk (a cap, then the job fails).
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from wsrf_uws.client import InvalidJobDescription, Job, JobState, Service
from wsrf_uws.jdl.cea.library import DEMO_LIBRARY
from wsrf_uws.jdl.cea.transfer import UNREACHABLE
from wsrf_uws.testing.server import RunningServer

from cea_support import DAEMON, FORK_STORM, banner_port, silent_port
from soap_support import CEA, stored_jobs

MIB = 1 << 20


def python_application(name: str, code: str, *inputs: str) -> str:
    """An application running ``code`` with Python, ``inputs`` as its positional text inputs."""
    parameters = "".join(
        f'<input name="{p}" type="text"><position>{i}</position></input>'
        for i, p in enumerate(inputs, start=1)
    )
    return (
        f'<application xmlns="{CEA}" name="{name}"><title>{name}</title>'
        f"<executable>{sys.executable}</executable><argument>-c</argument>"
        f"<argument>{escape(textwrap.dedent(code))}</argument>{parameters}</application>"
    )


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_library(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for description in DEMO_LIBRARY.glob("*.xml"):
        shutil.copy(description, folder)
    applications = {
        "storm": python_application("storm", FORK_STORM, "count", "marker"),
        "daemon": python_application("daemon", DAEMON, "marker"),
        "chatty": python_application(
            "chatty", "import sys\nfor _ in range(100): sys.stdout.buffer.write(b'x' * 1048576)"
        ),
        "catfile": (
            f'<application xmlns="{CEA}" name="catfile"><title>cat</title>'
            "<executable>/bin/cat</executable>"
            '<input name="file" type="binary"><position>1</position></input></application>'
        ),
    }
    for name, text in applications.items():
        (folder / f"{name}.xml").write_text(text)
    return folder


def job_xml(application: str, *parts: str) -> str:
    return f'<job xmlns="{CEA}"><application>{application}</application>{"".join(parts)}</job>'


def remote(uri: str) -> str:
    return f'<input name="file" locality="remote">{escape(uri)}</input>'


def run(service: Service, document: str) -> tuple[Job, JobState]:
    job = service.create(document)
    job.start()
    return job, job.wait(timeout=60, poll=0.1)


def marked(text: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose last argument is ``text``."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        last = (proc.info["cmdline"] or [])[-1:]
        if last == [text] and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique argument for one test's processes; any left at the end are killed."""
    text = f"wsrf-uws-test-{time.monotonic_ns()}"
    yield text
    for proc in marked(text):
        proc.kill()


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("cea-hostile") / "library")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, library: Path) -> Iterator[RunningServer]:
    """The default settings, but for the library and a small process limit."""
    env = {"WSRF_UWS_CEA__LIBRARY": str(library), "WSRF_UWS_CEA__MAX_PROCESSES": "20"}
    running = RunningServer(tmp_path_factory.mktemp("default") / "data", env=env)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory, library: Path) -> Iterator[RunningServer]:
    """A deployment that trusts every loopback port and may not make cgroups."""
    env = {
        "WSRF_UWS_CEA__LIBRARY": str(library),
        "WSRF_UWS_CEA__FETCH_ALLOW": json.dumps(["http://127.0.0.1:*"]),
        "WSRF_UWS_CEA__TRANSFER_TIMEOUT": "1",
        "WSRF_UWS_CEA__MAX_PROCESSES": "20",
        "WSRF_UWS_CEA__PROCESS_CGROUP": "none",
    }
    running = RunningServer(tmp_path_factory.mktemp("trusting") / "data", env=env)
    running.start()
    yield running
    running.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- remote inputs ------------------------------------------------------------------------------


def test_the_default_fetch_policy_allows_only_the_services_own_demonstration_data(
    server: RunningServer,
) -> None:
    cea = Service(server.url("cea"))
    own = f"{server.base_url}/demo/cea/starfield-a.fits"
    _, final = run(cea, job_xml("fitsinfo", remote(own)))
    assert final.phase == "COMPLETED", final.error

    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    other_port = free_port()
    refused = {
        f"http://{host}:{other_port}/demo/cea/x.fits": f"port {other_port} is not allowed",
        f"http://localhost:{port}/demo/cea/starfield-a.fits": "host 'localhost' is not allowed",
        f"{server.base_url}/uws/cea": "is not allowed",
        "https://archive.example.org/x.fits": "scheme 'https' is not allowed",
        "http://archive.example.org/x.fits": "host 'archive.example.org' is not allowed",
    }
    before = stored_jobs(server)
    for uri, reason in refused.items():
        with pytest.raises(InvalidJobDescription, match=reason):
            cea.create(job_xml("fitsinfo", remote(uri)))
    assert stored_jobs(server) == before


@pytest.mark.parametrize(
    "trick",
    [
        "/demo/..;/uws/cea",
        "/demo/%252e%252e/uws/cea",
        "/demo/%2e%2e/uws/cea",
        "/demo/%5c..%5cuws/cea",
        "/demo//..//uws/cea",
        "/demo%2f..%2fuws/cea",
    ],
)
def test_path_tricks_do_not_leave_the_demonstration_data(server: RunningServer, trick: str) -> None:
    cea = Service(server.url("cea"))
    before = stored_jobs(server)
    with pytest.raises(
        InvalidJobDescription, match=r"input 'file': .* refused: path '.*' (has|is)"
    ):
        cea.create(job_xml("catfile", remote(server.base_url + trick)))
    assert stored_jobs(server) == before


@pytest.fixture(scope="module")
def silent() -> Iterator[int]:
    with silent_port() as sock:
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def banner() -> Iterator[int]:
    with banner_port() as port:
        yield port


def test_unreachable_inputs_fail_alike_and_only_the_log_tells_why(
    trusting: RunningServer, silent: int, banner: int
) -> None:
    cea = Service(trusting.url("cea"))
    ports = {"closed": free_port(), "silent": silent, "not HTTP": banner}
    messages = {}
    jobs = {}
    for kind, port in ports.items():
        uri = f"http://127.0.0.1:{port}/x"
        job, final = run(cea, job_xml("catfile", remote(uri)))
        assert final.phase == "ERROR"
        assert final.error is not None
        messages[kind] = final.error.message.replace(str(port), "PORT")
        jobs[kind] = job.resource_id
    assert set(messages.values()) == {f"input 'file': http://127.0.0.1:PORT/x {UNREACHABLE}"}
    # The reasons are in the service's log, with the job they belong to.
    log = "".join(trusting.log_since())
    assert f"cea job {jobs['closed']}: input 'file': GET" in log
    assert "Connection refused" in log
    assert "no answer within 1 s" in log
    assert "SSH-2.0" in log


# -- processes -----------------------------------------------------------------------------------


def test_a_daemon_that_left_the_session_dies_with_its_job(
    server: RunningServer, marker: str
) -> None:
    cea = Service(server.url("cea"))
    _, final = run(cea, job_xml("daemon", f'<input name="marker">{marker}</input>'))
    assert final.phase == "COMPLETED", final.error
    deadline = time.monotonic() + 5  # the job's end is reported as its worker cleans up
    while marked(marker):
        assert time.monotonic() < deadline, "the daemon outlived its job"
        time.sleep(0.05)


def test_a_fork_storm_is_held_to_the_process_limit(server: RunningServer, marker: str) -> None:
    cea = Service(server.url("cea"))
    job, final = run(
        cea,
        job_xml(
            "storm", '<input name="count">200</input>', f'<input name="marker">{marker}</input>'
        ),
    )
    assert final.phase == "ERROR"
    assert final.error is not None
    folder = server.data_dir / "jobs" / job.resource_id[:2] / job.resource_id
    said = (folder / "stdout.txt").read_text()
    if "process limit of 20 refused it" in final.error.message:  # a cgroup (root here)
        assert said.startswith("refused after "), said
        assert int(said.split()[2].rstrip(":")) < 20
    else:  # no cgroup could be made: the count stopped it
        assert "was stopped for running more than 20 processes at once" in final.error.message
    assert marked(marker) == []


def test_a_fork_storm_without_cgroups_is_stopped_by_the_count(
    trusting: RunningServer, marker: str
) -> None:
    cea = Service(trusting.url("cea"))
    _, final = run(
        cea,
        job_xml(
            "storm", '<input name="count">200</input>', f'<input name="marker">{marker}</input>'
        ),
    )
    assert final.phase == "ERROR"
    assert final.error is not None
    assert "was stopped for running more than 20 processes at once" in final.error.message
    assert marked(marker) == []


# -- standard output ------------------------------------------------------------------------


def test_standard_output_beyond_the_default_cap_fails_the_job(
    server: RunningServer, tmp_path: Path
) -> None:
    job, final = run(Service(server.url("cea")), job_xml("chatty"))
    assert final.phase == "ERROR"
    assert final.error is not None
    assert "chatty was stopped after writing more than 4 MiB to its standard output" in (
        final.error.message
    )
    # What fitted is kept for the post-mortem, and nothing more.
    stdout = next(r for r in final.results if r.name == "stdout.txt")
    assert stdout.size == 4 * MIB
    assert job.download("stdout.txt", tmp_path / "stdout.txt") == 4 * MIB
