"""The ``wsrf-uws`` command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import build_test_service


def wsrf_uws(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WSRF_UWS_")}
    return subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        cwd=cwd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def test_settings_shows_flags_and_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("slots = 7\n")
    done = wsrf_uws("settings", "--config", str(config), "--data", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    assert "slots = 7" in done.stdout
    assert f'data_dir = "{tmp_path / "d"}"' in done.stdout


def test_settings_are_valid_toml_that_reads_back(tmp_path: Path) -> None:
    """No ``public_url = None``: an unset setting is a comment; every contract's section
    has the service's keys of it (executor, [NAME.slurm])."""
    config = tmp_path / "c.toml"
    config.write_text('slots = 3\n[cea]\nexecutor = "slurm"\n[cea.slurm]\npartition = "short"\n')
    done = wsrf_uws("settings", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "None" not in done.stdout and "# public_url: not set" in done.stdout
    values = tomllib.loads(done.stdout)
    assert values["slots"] == 3 and "public_url" not in values
    assert values["cea"]["executor"] == "slurm"
    assert values["cea"]["slurm"]["partition"] == "short"
    assert values["steps"]["executor"] == "local" and "slurm" in values["steps"]
    assert values["default_lifetime"] == "P7D"
    # What it printed is a configuration file the service reads as the same settings.
    (tmp_path / "again.toml").write_text(done.stdout)
    again = wsrf_uws("settings", "--config", str(tmp_path / "again.toml"))
    assert again.returncode == 0, again.stderr
    assert tomllib.loads(again.stdout) == values
    as_json = wsrf_uws("settings", "--config", str(config), "--json")
    assert json.loads(as_json.stdout)["cea"]["slurm"]["partition"] == "short"


@pytest.mark.parametrize(
    ("text", "environment", "expected"),
    [
        ("slots = [\n", {}, "is not valid TOML"),
        ("", {"WSRF_UWS_SLOTS": "many"}, "slots: Input should be a valid integer"),
        ("", {"WSRF_UWS_QUOTAS": "{bad"}, 'field "quotas"'),
        ("[cea]\nmax_cpu_seconds = 0\n", {}, "the settings [cea] are not valid"),
    ],
)
def test_bad_configuration_is_one_line(
    tmp_path: Path, text: str, environment: dict[str, str], expected: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    done = wsrf_uws("settings", "--config", str(config), env=environment)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("wsrf-uws: bad configuration: ")
    assert expected in done.stderr and "Traceback" not in done.stderr


def test_a_contract_that_cannot_load_is_one_line(tmp_path: Path) -> None:
    bad = {"WSRF_UWS_CEA__LIBRARY": str(tmp_path / "nowhere")}
    listed = wsrf_uws("contracts", "--data", str(tmp_path), env=bad)
    assert listed.returncode == 1 and "cea        FAILED: " in listed.stdout
    assert "Traceback" not in listed.stderr
    applications = wsrf_uws("applications", "--data", str(tmp_path), env=bad)
    assert applications.returncode == 2 and "Traceback" not in applications.stderr
    assert "is not a folder" in applications.stderr


def test_relative_paths_in_a_config_file_are_relative_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    config = folder / "wsrf-uws.toml"
    config.write_text(
        'data_dir = "var"\nusers_file = "users"\n[slurm]\noutput_dir = "slurm"\n'
        '[cea]\nlibrary = "apps"\nprocess_cgroup = "none"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = wsrf_uws("settings", "--config", str(config), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    values = tomllib.loads(done.stdout)
    assert values["data_dir"] == str(folder / "var")
    assert values["users_file"] == str(folder / "users")
    assert values["slurm"]["output_dir"] == str(folder / "slurm")
    assert values["cea"]["library"] == str(folder / "apps")
    assert values["cea"]["process_cgroup"] == "none"  # a keyword, not a path


def test_users_add_in_the_quick_starts_order(tmp_path: Path) -> None:
    """Without users_file: what to set; with it (relative to the config file): added, from
    a pipe with --password-stdin, and a service started with that file knows the user."""
    bare = wsrf_uws("users", "add", "alice", cwd=tmp_path)
    assert bare.returncode == 2 and "users_file" in bare.stderr and "Traceback" not in bare.stderr
    config = tmp_path / "wsrf-uws.toml"
    config.write_text('users_file = "users"\n')
    piped = wsrf_uws("users", "add", "alice", "--config", str(config), stdin="secret\n")
    assert piped.returncode == 2 and "--password-stdin" in piped.stderr
    assert "EOFError" not in piped.stderr
    added = wsrf_uws(
        "users", "add", "alice", "--config", str(config), "--password-stdin", stdin="secret\n"
    )
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "users").is_file()
    empty = wsrf_uws("users", "add", "bob", "--config", str(config), "--password-stdin", stdin="")
    assert empty.returncode == 2 and "no password" in empty.stderr
    listed = wsrf_uws("users", "list", "--config", str(config), "--json", cwd=tmp_path / "..")
    assert json.loads(listed.stdout) == ["alice"]
    missing = wsrf_uws("serve", "--port", "0", env={"WSRF_UWS_USERS_FILE": "nope"})
    assert missing.returncode == 2 and "users_file nope does not exist" in missing.stderr


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
    as_json = json.loads(wsrf_uws("jobs", "--data", str(tmp_path), "--json").stdout)
    assert [row["resource_id"] for row in as_json] == ids[::-1]
    assert {row["owner"] for row in as_json} == {"alice", "bob"}
    contracts = wsrf_uws("contracts", "--data", str(tmp_path), "--json")
    listed = json.loads(contracts.stdout)
    assert "steps" in {c["name"] for c in listed["contracts"]} and listed["failed"] == {}


def test_jobs_without_a_store(tmp_path: Path) -> None:
    done = wsrf_uws("jobs", "--data", str(tmp_path / "empty"))
    assert done.returncode == 1 and "no store" in done.stderr


def test_settings_shows_each_contracts_section_as_validated(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[adql]\ndefault_maxrec = 50\n")
    done = wsrf_uws("settings", "--config", str(config))
    assert done.returncode == 0, done.stderr
    values = tomllib.loads(done.stdout)
    assert values["adql"]["default_maxrec"] == 50
    assert values["adql"]["max_maxrec"] == 10_000_000
    assert "catalog" not in values["adql"] and "# adql.catalog: not set" in done.stdout
    assert "vospace" in values  # a contract's defaults, though not configured
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


def test_the_example_configuration_works_where_it_is_copied(tmp_path: Path) -> None:
    example = Path(__file__).parents[1] / "examples" / "wsrf-uws.toml"
    config = tmp_path / "wsrf-uws.toml"
    config.write_text(example.read_text())
    added = wsrf_uws(
        "users", "add", "alice", "--config", str(config), "--password-stdin", stdin="pw\n"
    )
    assert added.returncode == 0, added.stderr
    shown = wsrf_uws("settings", "--config", str(config))
    assert shown.returncode == 0, shown.stderr
    values = tomllib.loads(shown.stdout)
    assert values["users_file"] == str(tmp_path / "users") and (tmp_path / "users").is_file()
    assert values["data_dir"] == str(tmp_path / "var")
