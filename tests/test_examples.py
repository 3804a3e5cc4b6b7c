"""The examples work: every sample job description in ``examples/jdl/{contract}/`` is
accepted by a service offering every installed contract, and ``examples/cea_fitsheader.py``
runs a job on a real server."""

from __future__ import annotations

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
from wsrf_uws.core.registry import ContractRegistry
from wsrf_uws.settings import Settings
from wsrf_uws.testing import build_test_service
from wsrf_uws.testing.server import RunningServer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "jdl"
SAMPLES = sorted(EXAMPLES.glob("*/*.xml"))


@pytest.fixture
def all_contracts(tmp_path: Path) -> Iterator[JobService]:
    """A started service offering every installed contract, with default settings."""
    data_dir = tmp_path / "data"
    registry = ContractRegistry.from_entry_points(Settings(data_dir=data_dir))
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


def test_the_fitsheader_example_runs_a_job(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data")
    server.start()
    try:
        run = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "cea_fitsheader.py"), server.base_url],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    for card in ("NAXIS1  =", "NAXIS2  =", "CTYPE1  = 'RA---TAN'", "exit status: 0"):
        assert card in run.stdout, run.stdout
    assert "stdout.txt" in run.stdout


def test_the_image_staging_example_downloads_the_images_as_they_appear(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data")
    server.start()
    try:
        run = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "image_staging.py"),
                server.base_url,
                str(tmp_path / "cutouts"),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    images = sorted((tmp_path / "cutouts").glob("*.fits"))
    assert images, run.stdout
    assert f"{len(images)} images in" in run.stdout
    assert "andromeda: no frame of the archive in band 'r' overlaps this field" in run.stdout
    # The job was destroyed: nothing of it is left in the service's data folder.
    assert not [p for p in (tmp_path / "data" / "jobs").glob("*/*") if p.is_dir()]


def test_the_adql_cursor_example_pages_through_a_result(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data")
    server.start()
    try:
        run = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "adql_cursor.py"), server.base_url, "300"],
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    total = int(next(line for line in lines if line.endswith("hpmag")).split()[0])
    assert total > 300
    assert f"paged through {total} of {total} rows" in run.stdout
    pages = [line for line in lines if line.startswith("rows ")]
    assert len(pages) == -(-total // 300)
    assert not [p for p in (tmp_path / "data" / "jobs").glob("*/*") if p.is_dir()]


def test_the_vospace_example_negotiates_uses_and_releases_a_space(tmp_path: Path) -> None:
    from wsrf_uws.soap.users import UsersFile

    users = tmp_path / "users"
    UsersFile.add(users, "alice", "alice-secret")
    server = RunningServer(tmp_path / "data", env={"WSRF_UWS_USERS_FILE": str(users)})
    server.start()
    try:
        run = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "vospace_lifetime.py"),
                server.base_url,
                "alice",
                "alice-secret",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        # The space is gone with the job.
        listing = requests.get(
            f"{server.base_url}/vospace/nodes/", auth=("alice", "alice-secret"), timeout=30
        )
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "offer: 1000000 bytes for P1D" in run.stdout
    assert "downloaded 24000 bytes, identical" in run.stdout
    assert "notes.txt" in run.stdout
    assert listing.status_code == 200
    children = etree.fromstring(listing.content).find("{http://www.ivoa.net/xml/VOSpace/v2.0}nodes")
    assert children is not None
    assert len(children) == 0
