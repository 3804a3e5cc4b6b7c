"""The ``image`` contract end to end: a real ``wsrf-uws serve`` on the demonstration
archive, SOAP through the project's zeep-based client, images downloaded over HTTP.

The archive is generated into a temporary folder and configured as a provider would
(``WSRF_UWS_IMAGE__ARCHIVE``). Expectations about which frames cover a field are worked
out here with astropy's WCS on the frame files, not with the service's index.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import requests
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.votable import parse as parse_votable
from astropy.wcs import WCS
from lxml import etree

from wsrf_uws.client import InvalidJobDescription, Job, QuotaExceeded, Service
from wsrf_uws.jdl.image.demo import make_demo_archive
from wsrf_uws.testing.server import RunningServer

from soap_support import IMAGE, VOTABLE, contract_state, stored_jobs

STATE = f"{{{IMAGE}}}state"

#: One field per frame of band r, a little off each frame's centre: each lies well
#: inside exactly one r frame (checked by ``frames_containing``).
OFFSETS = ((0.02, -0.01), (-0.015, 0.02))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("archive")
    make_demo_archive(folder)
    return folder


@pytest.fixture(scope="module")
def frames(archive: Path) -> dict[str, tuple[WCS, tuple[int, int], str]]:
    """Every frame file's WCS, shape and band, read with astropy."""
    found = {}
    for path in sorted(archive.glob("*.fits")):
        with fits.open(path) as hdus, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = hdus[0].header
            found[path.name] = (WCS(header), (header["NAXIS1"], header["NAXIS2"]), header["FILTER"])
    return found


def frames_containing(
    frames: dict[str, tuple[WCS, tuple[int, int], str]], ra: float, dec: float, band: str
) -> list[str]:
    hits = []
    for name, (wcs, (nx, ny), frame_band) in frames.items():
        x, y = wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
        if frame_band == band and 0 <= x < nx - 1 and 0 <= y < ny - 1:
            hits.append(name)
    return hits


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, archive: Path) -> Iterator[RunningServer]:
    running = RunningServer(
        tmp_path_factory.mktemp("image") / "data",
        env={"WSRF_UWS_IMAGE__ARCHIVE": str(archive)},
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def image(server: RunningServer) -> Service:
    return Service(server.url("image"))


def field(label: str, ra: float, dec: float, size: float = 0.02) -> str:
    return (
        f'<field id="{label}"><position ra="{ra!r}" dec="{dec!r}"/>'
        f'<size width="{size!r}" height="{size!r}"/></field>'
    )


def job_xml(*parts: str, band: str | None = "r", extra: str = "", mode: str | None = None) -> str:
    head = f"<mode>{mode}</mode>" if mode else ""
    head += f"<band>{band}</band>" if band else ""
    return f'<job xmlns="{IMAGE}">{head}{extra}{"".join(parts)}</job>'


def state_of(job: Job) -> etree._Element:
    """The job's ``image:state``, the property document and its VOTable checked first."""
    return contract_state(job, STATE)


def votable_bytes(state: etree._Element) -> bytes:
    table = state.find(f"{{{IMAGE}}}images/{{{VOTABLE}}}VOTABLE")
    assert table is not None
    return etree.tostring(table)


def rows_of(state: etree._Element) -> list[dict[str, object]]:
    """The staged-image table as read by astropy."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy must not find anything to complain about
        table = parse_votable(io.BytesIO(votable_bytes(state))).get_first_table().to_table()
    return [dict(zip(table.colnames, row, strict=True)) for row in table]


def staged_count(state: etree._Element) -> int:
    return int(state.findtext(f"{{{IMAGE}}}staged") or -1)


# -- cutouts ------------------------------------------------------------------------------


def test_twenty_fields_give_twenty_cutouts_centred_on_the_requested_positions(
    image: Service, frames: dict[str, tuple[WCS, tuple[int, int], str]], tmp_path: Path
) -> None:
    centres = [
        wcs.pixel_to_world((nx - 1) / 2, (ny - 1) / 2)
        for wcs, (nx, ny), band in frames.values()
        if band == "r"
    ]
    positions = [
        (float(c.ra.deg) + dx, float(c.dec.deg) + dy) for c in centres for dx, dy in OFFSETS
    ][:20]
    positions += [(float(centres[0].ra.deg) - 0.03, float(centres[0].dec.deg) + 0.03)] * (
        20 - len(positions)
    )
    assert len(positions) == 20
    for ra, dec in positions:
        assert len(frames_containing(frames, ra, dec, "r")) == 1, (ra, dec)
    labels = [f"f{i:02d}" for i in range(20)]
    job = image.create(
        job_xml(*(field(lb, ra, dec) for lb, (ra, dec) in zip(labels, positions, strict=True)))
    )
    assert job.state.estimated_cost["images"] == 20
    job.start()
    final = job.wait(timeout=120, poll=0.2)
    assert final.phase == "COMPLETED", final.error
    state = state_of(job)
    assert staged_count(state) == 20
    assert state.findtext(f"{{{IMAGE}}}expected") == "20"
    rows = rows_of(state)
    assert len(rows) == 20
    assert sorted(str(r["target_name"]) for r in rows) == labels
    by_label = dict(zip(labels, positions, strict=True))
    for row in rows:
        response = requests.get(str(row["access_url"]), timeout=30)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("image/fits")
        with fits.open(io.BytesIO(response.content)) as hdus, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdus.verify("exception")
            header = hdus[0].header
            wcs = WCS(header)
            ny, nx = hdus[0].data.shape
        ra, dec = by_label[str(row["target_name"])]
        x, y = wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
        assert abs(x - (nx - 1) / 2) <= 1 and abs(y - (ny - 1) / 2) <= 1, (x, y, nx, ny)
        # The table describes the file it points at.
        assert (int(row["s_xel1"]), int(row["s_xel2"])) == (nx, ny)
        assert row["access_format"] == "image/fits"
        assert int(row["access_estsize"]) == max(1, round(len(response.content) / 1024))
        assert header["FILTER"] == "r"
        assert abs(float(row["s_ra"]) - ra) < 1e-6 or abs(float(row["s_ra"]) - ra) < 2 / 3600
        assert row["dataproduct_type"] == "image"
        assert int(row["calib_level"]) == 2
        assert str(row["s_region"]).startswith("Polygon ICRS ")
    # Every row points at one of the job's results.
    assert {str(r["access_url"]) for r in rows} == {r.href for r in final.results}


def test_the_table_reads_as_sia2_results(image: Service) -> None:
    pytest.importorskip("pyvo")
    from pyvo.dal.sia2 import SIA2Results

    job = image.create(job_xml(field("one", 150.1, 2.2), field("two", 149.8, 1.9), band=None))
    job.start()
    assert job.wait(timeout=60, poll=0.2).phase == "COMPLETED"
    state = state_of(job)
    table = parse_votable(io.BytesIO(votable_bytes(state)))
    records = list(SIA2Results(table))
    assert len(records) == staged_count(state) >= 2
    for record in records:
        assert record.dataproduct_type == "image"
        assert record.access_url.startswith("http://127.0.0.1")
        assert record.s_ra.unit == "deg"
        assert 149 < record.s_ra.value < 151
        assert record.s_fov.value > 0
        assert record.access_format == "image/fits"
        assert requests.get(record.access_url, timeout=30).status_code == 200


def test_a_field_off_the_archive_is_reported_not_dropped(image: Service) -> None:
    job = image.create(job_xml(field("here", 150.1, 2.2), field("andromeda", 10.68, 41.27)))
    pending = state_of(job)
    uncovered = pending.findall(f"{{{IMAGE}}}uncovered")
    assert [u.get("field") for u in uncovered] == ["andromeda"]
    assert "band 'r'" in (uncovered[0].text or "")
    job.start()
    assert job.wait(timeout=60, poll=0.2).phase == "COMPLETED"
    state = state_of(job)
    assert [u.get("field") for u in state.findall(f"{{{IMAGE}}}uncovered")] == ["andromeda"]
    assert {str(r["target_name"]) for r in rows_of(state)} == {"here"}


def test_the_pending_table_is_empty_and_the_quote_counts_fields_and_frames(
    image: Service, frames: dict[str, tuple[WCS, tuple[int, int], str]]
) -> None:
    # The centre of the grid, seen in both bands.
    ra, dec = 150.1, 2.2
    expected = sum(len(frames_containing(frames, ra, dec, band)) for band in ("g", "r"))
    job = image.create(job_xml(field("corner", ra, dec, 0.01), band=None))
    state = state_of(job)
    assert staged_count(state) == 0
    assert rows_of(state) == []
    quoted = job.state.estimated_cost
    assert expected >= 2
    assert quoted["images"] == int(state.findtext(f"{{{IMAGE}}}expected") or 0) >= expected
    assert quoted["bytes"] > 0
    assert job.state.estimated_duration == timedelta(seconds=0.05 * quoted["images"])


def test_progressive_staging_shows_the_table_growing(image: Service) -> None:
    # 150 fields over the whole grid in both bands: a few hundred cutouts.
    grid = [
        (150.1 + 0.3 * i + 0.004 * k, 2.2 + 0.3 * j - 0.004 * k)
        for i in (-1, 0, 1)
        for j in (-1, 0, 1)
        for k in range(17)
    ][:150]
    parts = [field(f"p{n:03d}", ra, dec, 0.05) for n, (ra, dec) in enumerate(grid)]
    job = image.create(job_xml(*parts, band=None))
    expected = int(state_of(job).findtext(f"{{{IMAGE}}}expected") or 0)
    assert expected > 150
    job.start()
    seen: list[int] = []
    fractions: list[float] = []
    downloaded = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = job.state
        contract_state = state.contract
        assert contract_state is not None
        staged = staged_count(contract_state)
        # What the table says is staged is downloadable at once.
        assert len(state.results) == staged
        if state.results and downloaded < 3:
            response = requests.get(state.results[-1].href, timeout=30)
            assert response.status_code == 200
            downloaded += 1
        seen.append(staged)
        if state.fraction is not None:
            fractions.append(state.fraction)
        if state.phase in ("COMPLETED", "ERROR", "ABORTED"):
            break
        time.sleep(0.05)
    assert state.phase == "COMPLETED", state.error
    assert seen == sorted(seen), seen
    assert seen[-1] == expected
    assert len({n for n in seen if 0 < n < expected}) >= 3, seen
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert downloaded >= 1


def test_without_progressive_staging_the_images_appear_together(image: Service) -> None:
    job = image.create(
        job_xml(
            field("a", 150.1, 2.2), field("b", 150.4, 2.5), extra="<progressive>false</progressive>"
        )
    )
    job.start()
    final = job.wait(timeout=60, poll=0.2)
    assert final.phase == "COMPLETED"
    state = state_of(job)
    assert staged_count(state) == len(final.results) == 2


# -- the lifetime of staged images ------------------------------------------------------


def test_images_stay_for_the_lifetime_and_destroy_removes_them(
    image: Service, server: RunningServer
) -> None:
    job = image.create(job_xml(field("a", 150.1, 2.2), field("b", 149.8, 1.9)))
    job.start()
    final = job.wait(timeout=60, poll=0.2)
    assert final.phase == "COMPLETED"
    urls = [result.href for result in final.results]
    assert len(urls) == 2
    change = job.extend(by=timedelta(days=20))
    assert change.new_termination_time is not None
    assert job.termination_time == change.new_termination_time
    for url in urls:
        assert requests.get(url, timeout=30).status_code == 200
    folders = [p for p in (server.data_dir / "jobs").glob(f"*/{job.resource_id}")]
    assert len(folders) == 1
    assert len(list(folders[0].glob("*.fits"))) == 2
    job.destroy()
    for url in urls:
        assert requests.get(url, timeout=30).status_code == 404
    assert not folders[0].exists()


def test_expiry_removes_the_images(image: Service, server: RunningServer) -> None:
    job = image.create(job_xml(field("a", 150.1, 2.2)))
    job.start()
    final = job.wait(timeout=60, poll=0.2)
    url = final.results[0].href
    job.extend(lifetime=timedelta(seconds=1))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and requests.get(url, timeout=30).status_code == 200:
        time.sleep(0.2)
    assert requests.get(url, timeout=30).status_code == 404
    assert not list((server.data_dir / "jobs").glob(f"*/{job.resource_id}"))


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (job_xml(field("big", 150.1, 2.2, 3.0)), "3 degrees across"),
        # 2 degrees at 2 arcsec per pixel on a rotated frame: beyond 4096 pixels a side.
        (job_xml(field("huge", 150.1, 2.2, 2.0)), "pixels across"),
        (job_xml(field("a", 150.1, 2.2), field("a", 150.2, 2.2)), "labelled 'a'"),
        (job_xml(field("a", 150.1, 2.2), extra="<pixelScale>2</pixelScale>"), "mosaics only"),
        (
            job_xml('<field><box raMin="150" raMax="150.1" decMin="2.3" decMax="2.2"/></field>'),
            "dec range",
        ),
        (job_xml('<field><position ra="400" dec="2"/><size width="1" height="1"/></field>'), "400"),
        (job_xml(), "field"),
        ('<job xmlns="urn:wsrf-uws:cea:v1"><application>x</application></job>', "image:v1}job"),
    ],
)
def test_bad_jobs_are_refused_and_nothing_is_created(
    image: Service, server: RunningServer, document: str, reason: str
) -> None:
    before = stored_jobs(server)
    with pytest.raises(InvalidJobDescription) as refused:
        image.create(document)
    assert reason in str(refused.value)
    assert stored_jobs(server) == before


def test_too_many_images_is_a_quota_fault(tmp_path: Path, archive: Path) -> None:
    server = RunningServer(
        tmp_path / "data",
        env={"WSRF_UWS_IMAGE__ARCHIVE": str(archive), "WSRF_UWS_IMAGE__MAX_IMAGES": "3"},
    )
    server.start()
    try:
        service = Service(server.url("image"))
        parts = [field(f"f{i}", 150.1 + 0.001 * i, 2.2) for i in range(4)]
        with pytest.raises(QuotaExceeded) as refused:
            service.create(job_xml(*parts))
        assert "4 images" in str(refused.value)
        assert stored_jobs(server) == 0
    finally:
        server.stop()


# -- mosaics --------------------------------------------------------------------------------


def test_a_mosaic_is_one_image_at_the_requested_scale(image: Service) -> None:
    pytest.importorskip("reproject")
    job = image.create(
        job_xml(
            field("m", 150.1 + 0.15, 2.2, 0.1),
            band="g",
            mode="mosaic",
            extra="<pixelScale>4</pixelScale>",
        )
    )
    job.start()
    final = job.wait(timeout=120, poll=0.2)
    assert final.phase == "COMPLETED", final.error
    rows = rows_of(state_of(job))
    assert len(rows) == 1
    assert int(rows[0]["calib_level"]) == 3
    content = requests.get(str(rows[0]["access_url"]), timeout=30).content
    with fits.open(io.BytesIO(content)) as hdus, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(hdus[0].header)
        data = hdus[0].data
    scales = np.abs(np.diag(wcs.pixel_scale_matrix)) * 3600
    assert np.allclose(scales, 4.0)
    # 0.1 degree at 4 arcsec per pixel: 90 pixels, or 91 to put the centre on a pixel.
    assert all(90 <= side <= 91 for side in data.shape), data.shape
    x, y = wcs.world_to_pixel(SkyCoord(150.1 + 0.15, 2.2, unit="deg"))
    assert abs(x - (data.shape[1] - 1) / 2) <= 1 and abs(y - (data.shape[0] - 1) / 2) <= 1
    assert np.isfinite(data).mean() > 0.5


def test_a_mosaic_without_reproject_is_refused_at_create_job(tmp_path: Path, archive: Path) -> None:
    stub = tmp_path / "stub" / "reproject"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ImportError("reproject is not installed here")\n')
    server = RunningServer(
        tmp_path / "data",
        env={"WSRF_UWS_IMAGE__ARCHIVE": str(archive), "PYTHONPATH": str(stub.parent)},
    )
    server.start()
    try:
        service = Service(server.url("image"))
        with pytest.raises(InvalidJobDescription) as refused:
            service.create(job_xml(field("m", 150.1, 2.2), mode="mosaic"))
        assert "wsrf-uws[mosaic]" in str(refused.value)
        assert stored_jobs(server) == 0
        # Cutouts still work.
        job = service.create(job_xml(field("c", 150.1, 2.2)))
        job.start()
        assert job.wait(timeout=60, poll=0.2).phase == "COMPLETED"
    finally:
        server.stop()


# -- restarts -------------------------------------------------------------------------------


def test_after_kill_9_a_staging_job_runs_again_by_itself(tmp_path: Path, archive: Path) -> None:
    server = RunningServer(tmp_path / "data", env={"WSRF_UWS_IMAGE__ARCHIVE": str(archive)})
    server.start()
    try:
        service = Service(server.url("image"))
        parts = [field(f"k{i:03d}", 150.1 + 0.002 * i, 2.2, 0.1) for i in range(120)]
        job = service.create(job_xml(*parts, band=None))
        expected = int(state_of(job).findtext(f"{{{IMAGE}}}expected") or 0)
        job.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not job.state.results:
            time.sleep(0.05)
        server.kill()
        server.start()
        service = Service(server.url("image"))
        job = service.job(job.resource_id)
        final = job.wait(timeout=180, poll=0.2)
        assert final.phase == "COMPLETED", final.error
        assert final.run_count == 2
        state = state_of(job)
        assert staged_count(state) == expected == len(final.results)
        assert len({str(r["obs_id"]) for r in rows_of(state)}) == expected
    finally:
        server.stop()
