"""Hostile load on the ``image`` contract: the bytes a job may stage, bounded.

Real ``wsrf-uws serve`` processes on the demonstration archive (plus frames written
here), real SOAP. At createJob the quote's bytes must be what the run writes, and a job
one of whose images or fields is too large is refused, as is a job beyond its owner's
quota (smaller for anonymous callers); at run time, a run that would write more than its
quote plus the margin stops in ERROR before writing the image that would cross it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from wsrf_uws.accounts import UsersFile
from wsrf_uws.client import InvalidJobDescription, QuotaExceeded, Service
from wsrf_uws.jdl.image.demo import make_demo_archive
from wsrf_uws.testing.server import RunningServer

from image_support import write_frame
from soap_support import IMAGE, stored_jobs

MIB = 1024**2
#: Where a frame of 64-bit floats at 1 arcsec per pixel lies, far from the demonstration.
FLOAT64_AT = (10.0, 10.0)


def field(label: str, ra: float, dec: float, size: float) -> str:
    return (
        f'<field id="{label}"><position ra="{ra!r}" dec="{dec!r}"/>'
        f'<size width="{size!r}" height="{size!r}"/></field>'
    )


def job_xml(*fields: str, band: str | None = None) -> str:
    head = f"<band>{band}</band>" if band else ""
    return f'<job xmlns="{IMAGE}">{head}{"".join(fields)}</job>'


def serve(folder: Path, archive: Path, *, users: Path | None = None) -> RunningServer:
    """A started server of the contract ``image`` alone (quicker to start)."""
    env = {"WSRF_UWS_CONTRACTS": '["image"]', "WSRF_UWS_IMAGE__ARCHIVE": str(archive)}
    if users is not None:
        env["WSRF_UWS_USERS_FILE"] = str(users)
    server = RunningServer(folder, env=env)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The default limits and quotas, the demonstration archive plus a 64-bit frame, and
    a user ``alice`` (anonymous callers are served too)."""
    folder = tmp_path_factory.mktemp("image-limits")
    archive = folder / "archive"
    make_demo_archive(archive)
    data = np.arange(40 * 40, dtype=np.float64).reshape(40, 40)
    ra, dec = FLOAT64_AT
    write_frame(archive / "float64.fits", ra=ra, dec=dec, side=40, scale=1 / 3600, data=data)
    users = folder / "users"
    UsersFile.add(users, "alice", "alice-secret")
    running = serve(folder / "data", archive, users=users)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def anonymous(server: RunningServer) -> Service:
    return Service(server.url("image"))


@pytest.fixture(scope="module")
def alice(server: RunningServer) -> Service:
    return Service(server.url("image"), username="alice", password="alice-secret")


def test_hundreds_of_large_fields_are_refused_at_the_first_field(
    anonymous: Service, server: RunningServer
) -> None:
    # 555 fields of 1.4 degrees over the whole archive: 18 cutouts each, once quoted
    # 253.8 GB and accepted.
    parts = [field(f"f{i}", 150.1 + 1e-4 * i, 2.2, 1.4) for i in range(555)]
    before = stored_jobs(server)
    with pytest.raises(QuotaExceeded) as refused:
        anonymous.create(job_xml(*parts))
    assert "field 'f0' would stage 18 images" in str(refused.value)
    assert "at most 256 MiB per field" in str(refused.value)
    assert stored_jobs(server) == before


def test_a_field_beyond_the_field_limit_is_refused_within_the_owners_quota(
    alice: Service, server: RunningServer
) -> None:
    # Four such fields are within alice's 4 GiB: the field limit alone refuses them.
    parts = [field(f"g{i}", 150.1 + 0.01 * i, 2.2, 1.4) for i in range(4)]
    before = stored_jobs(server)
    with pytest.raises(QuotaExceeded, match="per field"):
        alice.create(job_xml(*parts))
    assert stored_jobs(server) == before


def test_an_image_beyond_the_byte_limit_is_refused(anonymous: Service) -> None:
    # A degree at 1 arcsec per pixel: 3601 pixels a side, within the pixel limit, but as
    # 64-bit floats 99 MiB.
    with pytest.raises(InvalidJobDescription) as refused:
        anonymous.create(job_xml(field("big", *FLOAT64_AT, 1.0)))
    assert "would take about 99" in str(refused.value)
    assert "images of at most 80 MiB" in str(refused.value)


def test_an_anonymous_job_may_stage_less_than_an_authenticated_one(
    anonymous: Service, alice: Service, server: RunningServer
) -> None:
    # Three fields of 0.8 degree in band r: nine frames each, some rotated by up to 40
    # degrees (so each cutout holds a larger square): about 340 MiB.
    document = job_xml(*(field(f"h{i}", 150.1, 2.2 + 0.01 * i, 0.8) for i in range(3)), band="r")
    before = stored_jobs(server)
    with pytest.raises(QuotaExceeded, match="anonymous caller"):
        anonymous.create(document)
    assert stored_jobs(server) == before
    job = alice.create(document)
    quoted = job.state.estimated_cost["bytes"]
    assert 256 * MIB < quoted < 4096 * MIB
    job.destroy()


def test_the_quote_holds_the_bytes_the_run_stages(anonymous: Service) -> None:
    # Every frame, rotated or not, under a field of 0.3 degree.
    job = anonymous.create(job_xml(field("q", 150.1, 2.2, 0.3)))
    quoted = job.state.estimated_cost["bytes"]
    job.start()
    state = job.wait(timeout=120, poll=0.2)
    assert state.phase == "COMPLETED", state.error
    staged = sum(result.size or 0 for result in state.results)
    assert len(state.results) == 10
    assert 0.95 * quoted <= staged <= 1.05 * quoted, (quoted, staged)
    job.destroy()


def test_a_run_that_would_stage_more_than_its_quote_stops_before_writing(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "archive"
    write_frame(archive / "frame.fits", ra=40.0, dec=-5.0, side=200, scale=0.001)
    server = serve(tmp_path / "data", archive)
    try:
        service = Service(server.url("image"))
        job = service.create(job_xml(field("w", 40.0, -5.0, 0.15)))
        # The archive changes under the service: the same frame now holds 64-bit floats,
        # so the cutout is twice the size the index (and the quote) says.
        data = np.arange(200 * 200, dtype=np.float64).reshape(200, 200)
        write_frame(archive / "frame.fits", ra=40.0, dec=-5.0, side=200, scale=0.001, data=data)
        job.start()
        state = job.wait(timeout=60, poll=0.2)
        assert state.phase == "ERROR", state
        assert state.error is not None
        assert "at most" in state.error.message
        assert "staging stops rather than fill the disk" in state.error.message
        folder = next((server.data_dir / "jobs").glob(f"*/{job.resource_id}"))
        assert list(folder.glob("*.fits")) == []
        assert list(folder.glob(".*.tmp")) == []
    finally:
        server.stop()


def test_a_staging_job_gets_the_address_space_its_largest_image_needs(tmp_path: Path) -> None:
    """The service's address-space limit (RLIMIT_AS) counts what Python, numpy and astropy
    map, some 1.6 GiB; the contract raises it for its jobs to what they need."""
    archive = tmp_path / "archive"
    write_frame(archive / "frame.fits", ra=40.0, dec=-5.0, side=200, scale=0.001)
    env = {
        "WSRF_UWS_CONTRACTS": '["image"]',
        "WSRF_UWS_IMAGE__ARCHIVE": str(archive),
        "WSRF_UWS_JOB_MEMORY_BYTES": str(1024 * MIB),
    }
    server = RunningServer(tmp_path / "data", env=env)
    server.start()
    try:
        job = Service(server.url("image")).create(job_xml(field("m", 40.0, -5.0, 0.15)))
        job.start()
        state = job.wait(timeout=60, poll=0.2)
        assert state.phase == "COMPLETED", state.error
    finally:
        server.stop()
