"""Result downloads (``client/download.py``) from a real server: resumed with ``Range``,
a ``.part`` already whole, and what a failure leaves behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wsrf_uws.client import ResultUnavailable, Service
from wsrf_uws.client.download import fetch_to_path
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import RunningServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("downloads")) as running:
        yield running


@pytest.fixture(scope="module")
def finished(server: RunningServer) -> Iterator[tuple[Service, str]]:
    service = Service(server.base_url, "steps")
    job = service.create(steps_jdl(1, 0))
    job.start()
    assert job.wait(timeout=60, poll=0.05).phase == "COMPLETED"
    yield service, job.resource_id
    job.destroy()


def test_resume_asks_for_the_rest_only(
    finished: tuple[Service, str], server: RunningServer, tmp_path: Path
) -> None:
    service, resource_id = finished
    job = service.job(resource_id)
    whole_path = tmp_path / "whole.txt"
    seen: list[tuple[int, int | None]] = []
    size = job.download(
        "step-1.txt", whole_path, progress=lambda done, total: seen.append((done, total))
    )
    whole = whole_path.read_bytes()
    assert size == len(whole) > 4 and seen[-1] == (size, size)
    target = tmp_path / "step-1.txt"
    target.with_name("step-1.txt.part").write_bytes(whole[:4])
    start = len(server.log)
    seen.clear()
    assert (
        job.download("step-1.txt", target, resume=True, progress=lambda d, t: seen.append((d, t)))
        == size
    )
    assert target.read_bytes() == whole
    assert seen[0] == (4, size)  # counted from what was there
    assert any(f'" 206 {size - 4} ' in line for line in server.access_log_since(start))
    # A .part that is already whole: the service answers 416, and the file is done.
    target.unlink()
    target.with_name("step-1.txt.part").write_bytes(whole)
    assert job.download("step-1.txt", target, resume=True) == size
    assert target.read_bytes() == whole and not target.with_name("step-1.txt.part").exists()


def test_a_failed_download_leaves_nothing_unless_resuming(
    finished: tuple[Service, str], server: RunningServer, tmp_path: Path
) -> None:
    service, resource_id = finished
    channel = service.job(resource_id)._channel
    missing = f"{server.base_url}/results/{resource_id}/nothing.txt"
    target = tmp_path / "nothing.txt"
    with pytest.raises(ResultUnavailable):
        fetch_to_path(channel, missing, target)
    assert list(tmp_path.iterdir()) == []
    target.with_name("nothing.txt.part").write_bytes(b"kept")
    with pytest.raises(ResultUnavailable):
        fetch_to_path(channel, missing, target, resume=True)
    assert target.with_name("nothing.txt.part").read_bytes() == b"kept"
