"""The examples work: every sample job description in ``examples/jdl/{contract}/`` is
accepted by a service offering every installed contract, and ``examples/cea_fitsheader.py``
runs a job on a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from wsrf_uws.core import JobService
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.core.phases import Phase
from wsrf_uws.runtime import contract_registry
from wsrf_uws.settings import Settings
from wsrf_uws.testing import build_test_service
from wsrf_uws.testing.server import RunningServer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "jdl"
SAMPLES = sorted(EXAMPLES.glob("*/*.xml"))


@pytest.fixture(scope="module")
def all_contracts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobService]:
    """A started service offering every installed contract, with default settings.

    One for all the samples: the image and adql contracts build their demonstration
    data on first use, which need not happen once per sample.
    """
    data_dir = tmp_path_factory.mktemp("samples") / "data"
    registry = contract_registry(Settings(data_dir=data_dir))
    svc = build_test_service(data_dir, contracts=list(registry))
    svc.startup()
    yield svc
    svc.shutdown()


def test_there_are_samples() -> None:
    contracts = {path.parent.name for path in SAMPLES}
    assert {"steps", "cea", "image", "adql", "vospace"} <= contracts


def test_every_cea_application_has_a_sample() -> None:
    demo = ROOT / "src" / "wsrf_uws" / "jdl" / "cea" / "demo" / "applications"
    samples = {path.stem for path in (EXAMPLES / "cea").glob("*.xml")}
    assert {path.stem for path in demo.glob("*.xml")} <= samples


def test_samples_name_the_services_own_data_without_a_host() -> None:
    """So they work on any port: ``/demo/...`` is resolved against the public URL."""
    for path in SAMPLES:
        text = path.read_text()
        assert "127.0.0.1" not in text and "localhost" not in text, path


def test_a_hostless_cea_sample_runs_on_any_port(server: RunningServer) -> None:
    from wsrf_uws.client import Service

    sample = (EXAMPLES / "cea" / "fitsinfo.xml").read_bytes()
    job = Service(server.base_url, "cea").create(sample)
    try:
        job.start()
        state = job.wait(timeout=120)
        assert state.phase == "COMPLETED", state.error_message
        fetched = state.result("in-file.fits")
        assert fetched is not None and fetched.size
    finally:
        job.destroy()


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_sample_creates_a_pending_job(all_contracts: JobService, path: Path) -> None:
    if path.parent.name not in all_contracts.registry:
        pytest.skip(f"contract {path.parent.name} is not installed")
    # Spaces belong to users, so vospace samples are sent as one.
    owner = "alice" if path.parent.name == "vospace" else ANONYMOUS
    job = all_contracts.create_job(
        contract=path.parent.name, document=path.read_bytes(), owner=owner
    )
    assert job.phase is Phase.PENDING


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One anonymous service for the examples that need no users (each destroys its job)."""
    running = RunningServer(tmp_path_factory.mktemp("examples") / "data")
    running.start()
    yield running
    running.stop()


def run_example(
    server: RunningServer, script: str, *args: str, status: int = 0, url_argument: bool = True
) -> str:
    """Run ``examples/{script}`` against ``server`` (its URL as the first argument, else in
    ``WSRF_UWS_URL``); its output, once it has ended with ``status`` (else its stderr)."""
    environment = {**os.environ, "WSRF_UWS_URL": server.base_url}
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / script),
            *([server.base_url] if url_argument else []),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
    )
    assert run.returncode == status, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    return run.stdout if status == 0 else run.stderr


def job_folders(server: RunningServer) -> list[Path]:
    """The resource folders left in the server's data folder."""
    return [p for p in (server.data_dir / "jobs").glob("*/*") if p.is_dir()]


def test_the_fitsheader_example_runs_a_job(server: RunningServer) -> None:
    """On whatever port the service runs: the URL from the environment, the demonstration
    file named without a host."""
    output = run_example(server, "cea_fitsheader.py", url_argument=False)
    for card in ("NAXIS1  =", "NAXIS2  =", "CTYPE1  = 'RA---TAN'", "exit status: 0"):
        assert card in output, output
    assert "stdout.txt" in output


def test_the_image_staging_example_downloads_the_images_as_they_appear(
    server: RunningServer, tmp_path: Path
) -> None:
    output = run_example(server, "image_staging.py", str(tmp_path / "cutouts"))
    images = sorted((tmp_path / "cutouts").glob("*.fits"))
    assert images, output
    assert f"{len(images)} images in" in output
    assert "andromeda: no frame of the archive in band 'r' overlaps this field" in output
    # The job was destroyed: nothing of it is left in the service's data folder.
    assert job_folders(server) == []


def test_the_adql_cursor_example_pages_through_a_result(server: RunningServer) -> None:
    output = run_example(server, "adql_cursor.py", "300")
    lines = output.splitlines()
    total = int(next(line for line in lines if line.endswith("hpmag")).split()[0])
    assert total > 300
    assert f"paged through {total} of {total} rows" in output
    pages = [line for line in lines if line.startswith("rows ")]
    assert len(pages) == -(-total // 300)
    assert job_folders(server) == []


def test_the_vospace_example_negotiates_uses_and_releases_a_space(tmp_path: Path) -> None:
    from wsrf_uws.accounts import UsersFile

    users = tmp_path / "users"
    UsersFile.add(users, "alice", "alice-secret")
    with_users = RunningServer(tmp_path / "data", env={"WSRF_UWS_USERS_FILE": str(users)})
    with_users.start()
    try:
        output = run_example(with_users, "vospace_lifetime.py", "alice", "alice-secret")
        wrong = run_example(with_users, "vospace_lifetime.py", "alice", "guess", status=1)
        # The space is gone with the job.
        listing = requests.get(
            f"{with_users.base_url}/vospace/nodes/", auth=("alice", "alice-secret"), timeout=30
        )
    finally:
        with_users.stop()
    assert "offer: 1000000 bytes for P1D" in output
    assert "downloaded 24000 bytes, identical" in output
    assert "notes.txt" in output
    assert listing.status_code == 200
    assert "vospace_lifetime.py: " in wrong and "Traceback" not in wrong
    children = etree.fromstring(listing.content).find("{http://www.ivoa.net/xml/VOSpace/v2.0}nodes")
    assert children is not None
    assert len(children) == 0
