"""The ``wsrf-uws`` command, run as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import build_test_service


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


def test_settings_shows_each_contracts_section_as_validated(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[adql]\ndefault_maxrec = 50\n")
    done = wsrf_uws("settings", "--config", str(config))
    assert done.returncode == 0, done.stderr
    adql = done.stdout.split("[adql]\n", 1)[1]
    assert adql.startswith("catalog = None\ndefault_maxrec = 50\nmax_maxrec = 10000000\n")
    assert "\n[vospace]\n" in done.stdout  # a contract's defaults, though not configured
    config.write_text("[adql]\ndefault_maxrec = -1\n")
    refused = wsrf_uws("settings", "--config", str(config))
    assert refused.returncode == 2
    assert "bad configuration: the settings [adql] are not valid: default_maxrec:" in (
        refused.stderr
    )


def test_contracts_add_their_own_commands(tmp_path: Path) -> None:
    """``catalog`` comes from the adql contract's hook, ``applications`` from cea's."""
    assert {"catalog", "applications"} <= set(
        wsrf_uws("--help").stdout.split("{")[1].split("}")[0].split(",")
    )
    output = tmp_path / "stars.duckdb"
    done = wsrf_uws("catalog", "synthetic", str(output), "--rows", "2000", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert output.is_file() and "synthetic.main (2000 rows)" in done.stdout
    again = wsrf_uws("catalog", "synthetic", str(output))
    assert again.returncode == 2 and "exists; give a new file" in again.stderr
    # A command gets its contract's settings, and refuses to run on invalid ones.
    config = tmp_path / "c.toml"
    config.write_text("[cea]\nmax_cpu_seconds = 0\n")
    bad = wsrf_uws("applications", "--config", str(config))
    assert bad.returncode == 2
    assert "the settings [cea] are not valid: max_cpu_seconds:" in bad.stderr
