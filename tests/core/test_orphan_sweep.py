"""Folders of resources that no longer exist are removed after a restart, in the background.

The sweep reads every job folder, so it runs in a thread of its own while the service
serves (a start with 10^5 resources must not wait for it): it removes the orphans, keeps
the folders of live resources, and ends when the service stops.
"""

from __future__ import annotations

import time
from pathlib import Path

from wsrf_uws.core.service import SingleProcessDuties
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import build_test_service

SAFETY = 30.0  # seconds: only a guard against hanging, never a measurement


def test_orphaned_folders_are_removed_in_the_background_and_live_ones_kept(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    before = build_test_service(data)
    live = before.create_job(contract="steps", document=steps_jdl(1, 0))
    (before.files.ensure(live.resource_id) / "kept.txt").write_text("a live job's file")
    orphans = ["a" * 32, "b" * 32]  # a crash left these after their resources were gone
    for orphan in orphans:
        (before.files.ensure(orphan) / "left.txt").write_text("left behind")
    before.shutdown()

    service = build_test_service(data)
    with service:
        duties = service.duties
        assert isinstance(duties, SingleProcessDuties) and duties.sweep is not None
        assert duties.sweep.join(SAFETY), "the sweep never ended"
        report = service.startup_report
        assert report is not None
        assert sorted(report.orphan_folders) == orphans
        assert not any(service.files.folder(orphan).exists() for orphan in orphans)
        assert (service.files.folder(live.resource_id) / "kept.txt").is_file()


def test_stopping_the_service_ends_a_sweep_under_way(tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = build_test_service(data)
    for number in range(2000):
        before.files.ensure(f"{number:032d}")  # resources that do not exist
    before.shutdown()

    service = build_test_service(data)
    service.startup()
    duties = service.duties
    assert isinstance(duties, SingleProcessDuties) and duties.sweep is not None
    sweep = duties.sweep
    service.shutdown()  # whether the sweep was done or not, it ends with the service
    assert sweep.join(0)
    left = sum(1 for _ in (data / "jobs").glob("*/*"))
    deadline = time.monotonic() + SAFETY
    with build_test_service(data) as again:  # the next start sweeps what is left
        again_duties = again.duties
        assert isinstance(again_duties, SingleProcessDuties)
        assert again_duties.sweep is not None
        assert again_duties.sweep.join(max(0.0, deadline - time.monotonic()))
        report = again.startup_report
        assert report is not None and len(report.orphan_folders) == left
        assert list((data / "jobs").glob("*/*")) == []
