"""The ``wsrf-uws`` command, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from wsrf_uws.testing import build_test_service, steps_jdl


def wsrf_uws(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_settings_shows_flags_and_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("slots = 7\n")
    done = wsrf_uws("settings", "--config", str(config), "--data", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    assert "slots = 7" in done.stdout
    assert f"data_dir = '{tmp_path / 'd'}'" in done.stdout


def test_bad_configuration_is_reported_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("slots = -1\n")
    done = wsrf_uws("settings", "--config", str(config))
    assert done.returncode == 2
    assert "bad configuration" in done.stderr and "slots" in done.stderr
    assert "Traceback" not in done.stderr


def test_jobs_lists_the_store(tmp_path: Path) -> None:
    service = build_test_service(tmp_path)
    ids = [
        service.create_job(contract="steps", document=steps_jdl(), owner=owner).resource_id
        for owner in ("alice", "bob", "alice")
    ]
    service.shutdown()
    done = wsrf_uws("jobs", "--data", str(tmp_path), "--owner", "alice")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [ids[2], ids[0]]
    assert all("PENDING" in line for line in lines)
    none = wsrf_uws("jobs", "--data", str(tmp_path), "--phase", "COMPLETED")
    assert none.stdout == "" and "0 job(s)" in none.stderr


def test_jobs_without_a_store(tmp_path: Path) -> None:
    done = wsrf_uws("jobs", "--data", str(tmp_path / "empty"))
    assert done.returncode == 1 and "no store" in done.stderr
