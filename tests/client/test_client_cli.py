"""The client commands of ``wsrf-uws`` (submit, status, start, resume, destroy, extend,
wsdl) against a real ``wsrf-uws serve`` process.

Most tests run the commands in-process through a parser built with
:func:`add_client_commands`; the last ones run ``python -m wsrf_uws.cli`` itself.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from wsrf_uws.client import Service
from wsrf_uws.client.commands import add_client_commands, run_client_command
from wsrf_uws.client.times import parse_datetime
from wsrf_uws.jdl.steps.contract import NAMESPACE as STEPS
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import RunningServer, running_server
from wsrf_uws.wire.namespaces import UWS, WSA_2004, WSDL

RESOURCE_ID = re.compile(r"^[a-z0-9]{22,}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("client-cli")) as running:
        yield running


@pytest.fixture(autouse=True)
def environment(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in ("WSRF_UWS_USER", "WSRF_UWS_PASSWORD", "WSRF_UWS_CONTRACT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WSRF_UWS_URL", server.base_url)
    monkeypatch.setenv("WSRF_UWS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "wsdl-cache"))


@pytest.fixture
def jdl_file(tmp_path: Path) -> Path:
    path = tmp_path / "job.xml"
    path.write_bytes(b'<?xml version="1.0"?>\n' + steps_jdl(3, 0.1))
    return path


def parser() -> argparse.ArgumentParser:
    built = argparse.ArgumentParser(prog="wsrf-uws")
    add_client_commands(built.add_subparsers(dest="command", required=True))
    return built


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``wsrf-uws ARGV`` run in-process."""
    status = run_client_command(parser().parse_args(list(argv)))
    out, err = capsys.readouterr()
    assert status is not None
    return status, out, err


def fields(out: str) -> dict[str, list[str]]:
    """The ``key  value`` lines of a command's output, by key."""
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        found.setdefault(key, []).append(value.strip())
    return found


def submit(capsys: pytest.CaptureFixture[str], jdl: Path, *options: str) -> str:
    status, out, _ = run(capsys, "submit", "steps", str(jdl), *options)
    assert status == 0
    resource_id = out.splitlines()[0]
    assert RESOURCE_ID.match(resource_id)
    return resource_id


def test_other_commands_are_not_ours() -> None:
    assert run_client_command(argparse.Namespace(command="serve")) is None


def test_submit_prints_the_resource_id(
    capsys: pytest.CaptureFixture[str], jdl_file: Path, server: RunningServer
) -> None:
    status, out, _ = run(capsys, "submit", "steps", str(jdl_file))
    assert status == 0
    (resource_id,) = out.splitlines()
    assert Service(server.url("steps")).job(resource_id).phase == "PENDING"


def test_submit_start_prints_only_the_id(
    capsys: pytest.CaptureFixture[str], jdl_file: Path
) -> None:
    status, out, err = run(capsys, "submit", "steps", str(jdl_file), "--start")
    assert status == 0
    assert RESOURCE_ID.match(out.strip()) and out.count("\n") == 1
    assert re.search(r"is (QUEUED|EXECUTING|COMPLETED)", err)


def test_submit_wait_shows_progress_and_results(
    capsys: pytest.CaptureFixture[str], jdl_file: Path, server: RunningServer
) -> None:
    status, out, err = run(capsys, "submit", "steps", str(jdl_file), "--wait")
    assert status == 0
    (resource_id,) = out.splitlines()
    found = fields(err.split("\n", 1)[1])
    assert found["phase"] == ["COMPLETED"]
    assert found["progress"] == ["100%"]
    results = [line.split()[:2] for line in found["result"]]
    base = f"{server.base_url}/results/{resource_id}"
    assert results == [[f"step-{i}.txt", f"{base}/step-{i}.txt"] for i in (1, 2, 3)]
    assert "COMPLETED" in err and "100%" in err and "[" in err


def test_submit_wait_fails_when_the_job_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    jdl = tmp_path / "failing.xml"
    jdl.write_bytes(steps_jdl(1, 0, fail="out of cheese"))
    status, _, err = run(capsys, "submit", "steps", str(jdl), "--wait")
    assert status == 1
    assert fields(err)["phase"] == ["ERROR"]
    assert fields(err)["error"] == ["fatal: out of cheese"]


def test_submit_with_a_termination_time(capsys: pytest.CaptureFixture[str], jdl_file: Path) -> None:
    wanted = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    resource_id = submit(capsys, jdl_file, "--until", wanted.strftime("%Y-%m-%dT%H:%M:%S"))
    status, out, _ = run(capsys, "status", resource_id, "--contract", "steps")
    assert status == 0
    assert parse_datetime(fields(out)["terminates"][0]) == wanted


def test_submit_beyond_the_maximum_lifetime(
    capsys: pytest.CaptureFixture[str], jdl_file: Path
) -> None:
    too_late = (datetime.now(UTC) + timedelta(days=90)).isoformat()
    status, out, err = run(capsys, "submit", "steps", str(jdl_file), "--until", too_late)
    assert (status, out) == (1, "")
    assert "TerminationTimeChangeRejected" in err


def test_submit_invalid_description_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    jdl = tmp_path / "bad.xml"
    jdl.write_text(
        f'<job xmlns="{STEPS}">\n  <steps>0</steps>\n  <stepSeconds>1</stepSeconds>\n</job>\n'
    )
    status, out, err = run(capsys, "submit", "steps", str(jdl))
    assert (status, out) == (1, "")
    assert f"{jdl}:2:" in err and "steps" in err


def test_submit_reads_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(steps_jdl(1, 0))))
    status, out, _ = run(capsys, "submit", "steps", "-")
    assert status == 0 and RESOURCE_ID.match(out.strip())


def test_submit_missing_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capsys, "submit", "steps", str(tmp_path / "absent.xml"))
    assert status == 2
    assert "cannot read" in err


def test_status(capsys: pytest.CaptureFixture[str], jdl_file: Path) -> None:
    resource_id = submit(capsys, jdl_file, "--wait")
    status, out, _ = run(capsys, "status", resource_id, "--contract", "steps")
    assert status == 0
    found = fields(out)
    assert found["resource"] == [resource_id]
    assert found["phase"] == ["COMPLETED"]
    assert found["progress"] == ["100%"]
    assert found["estimate"] == ["0.3 s"]
    created, ended = (parse_datetime(found[key][0]) for key in ("created", "ended"))
    assert created <= ended <= parse_datetime(found["terminates"][0])
    assert len(found["result"]) == 3


def test_status_xml_prints_the_uws_job(
    capsys: pytest.CaptureFixture[str], jdl_file: Path, server: RunningServer
) -> None:
    resource_id = submit(capsys, jdl_file)
    status, out, _ = run(capsys, "status", resource_id, "--url", server.url("steps"), "--xml")
    assert status == 0
    document = etree.fromstring(out.encode())
    assert document.tag == f"{{{UWS}}}job"
    assert document.findtext(f"{{{UWS}}}jobId") == resource_id
    assert document.findtext(f"{{{UWS}}}phase") == "PENDING"


def test_contract_from_the_environment(
    capsys: pytest.CaptureFixture[str], jdl_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource_id = submit(capsys, jdl_file)
    monkeypatch.setenv("WSRF_UWS_CONTRACT", "steps")
    status, out, _ = run(capsys, "status", resource_id)
    assert status == 0 and fields(out)["phase"] == ["PENDING"]


def test_a_base_url_needs_a_contract(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "status", "some-id")
    assert (status, out) == (2, "")
    assert "contract" in err


def test_an_endpoint_url_must_match_the_contract(
    capsys: pytest.CaptureFixture[str], server: RunningServer
) -> None:
    status, _, err = run(capsys, "status", "x", "--url", server.url("steps"), "--contract", "cea")
    assert status == 2
    assert "not the endpoint" in err


def test_start_and_start_again(capsys: pytest.CaptureFixture[str], jdl_file: Path) -> None:
    resource_id = submit(capsys, jdl_file)
    status, out, _ = run(capsys, "start", resource_id, "--contract", "steps")
    assert status == 0
    assert out.strip() in ("QUEUED", "EXECUTING", "COMPLETED")
    Service(os.environ["WSRF_UWS_URL"], "steps").job(resource_id).wait(timeout=30, poll=0.05)
    status, out, err = run(capsys, "start", resource_id, "--contract", "steps")
    assert (status, out) == (1, "")
    assert "InvalidPhase" in err and "COMPLETED" in err


def test_resume(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    jdl = tmp_path / "slow.xml"
    jdl.write_bytes(steps_jdl(2, 1))
    resource_id = submit(capsys, jdl, "--start")
    status, out, _ = run(capsys, "resume", resource_id, "--contract", "steps")
    assert status == 0
    assert out.strip() in ("QUEUED", "EXECUTING", "COMPLETED")


def test_extend_by_adds_to_the_termination_time_and_until_sets_it(
    capsys: pytest.CaptureFixture[str], jdl_file: Path, server: RunningServer
) -> None:
    resource_id = submit(capsys, jdl_file)
    job = Service(server.url("steps")).job(resource_id)
    before = job.termination_time
    assert before is not None
    status, out, _ = run(capsys, "extend", resource_id, "--contract", "steps", "--by", "PT2H")
    assert status == 0
    second = timedelta(seconds=1)  # printed to the second
    assert abs(parse_datetime(out.strip()) - (before + timedelta(hours=2))) < second
    assert job.termination_time == before + timedelta(hours=2)
    status, out, _ = run(capsys, "extend", resource_id, "--contract", "steps", "--by", "600")
    assert abs(parse_datetime(out.strip()) - (before + timedelta(hours=2, minutes=10))) < second
    wanted = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, out, _ = run(capsys, "extend", resource_id, "--contract", "steps", "--until", wanted)
    assert (status, out) == (0, f"{wanted}\n")


def test_extend_until_the_past_needs_destroy_now(
    capsys: pytest.CaptureFixture[str], jdl_file: Path, server: RunningServer
) -> None:
    resource_id = submit(capsys, jdl_file)
    past = ("extend", resource_id, "--contract", "steps", "--until", "2020-01-01")
    status, out, err = run(capsys, *past)
    assert (status, out) == (2, "")
    assert "in the past" in err and "--destroy-now" in err
    assert Service(server.url("steps")).job(resource_id).phase == "PENDING"
    assert run(capsys, *past, "--destroy-now")[0] == 0
    status, _, err = run(capsys, "status", resource_id, "--contract", "steps")
    assert status == 1 and "ResourceUnknown" in err


def test_extend_refusals(capsys: pytest.CaptureFixture[str], jdl_file: Path) -> None:
    resource_id = submit(capsys, jdl_file)
    status, _, err = run(capsys, "extend", resource_id, "--contract", "steps", "--until", "never")
    assert status == 1 and "UnableToSetTerminationTime" in err
    status, _, err = run(capsys, "extend", resource_id, "--contract", "steps", "--by", "P40D")
    assert status == 1 and "TerminationTimeChangeRejected" in err


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--by", "PT1H", "--until", "2030-01-01T00:00:00Z"],
        ["--by", "soon"],
        ["--until", "tomorrow"],
    ],
)
def test_extend_usage_errors(capsys: pytest.CaptureFixture[str], options: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["extend", "some-id", *options])
    assert exited.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_destroy(capsys: pytest.CaptureFixture[str], jdl_file: Path) -> None:
    resource_id = submit(capsys, jdl_file)
    assert run(capsys, "destroy", resource_id, "--contract", "steps")[:2] == (0, "")
    status, out, err = run(capsys, "status", resource_id, "--contract", "steps")
    assert (status, out) == (1, "")
    assert "ResourceUnknown" in err and resource_id in err


def test_wsdl(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "wsdl", "steps")
    assert status == 0
    document = etree.fromstring(out.encode())
    assert document.tag == f"{{{WSDL}}}definitions"
    assert document.get("targetNamespace") == STEPS


def test_wsdl_for_member_submission_clients(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "wsdl", "steps", "--addressing", "2004-08")
    assert status == 0
    assert WSA_2004.encode() in out.encode()
    assert b"http://www.w3.org/2005/08/addressing" not in out.encode()
    assert b"http://www.w3.org/2007/05/addressing/metadata" not in out.encode()


def test_wsdl_of_an_unknown_contract(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "wsdl", "nope")
    assert (status, out) == (1, "")
    assert "no contract 'nope'" in err


def test_no_service(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "wsdl", "steps", "--url", "http://127.0.0.1:9")
    assert status == 3
    assert "cannot connect" in err


def test_a_user_needs_a_password_from_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "status", "x", "--contract", "steps", "--user", "alice")
    assert status == 2
    assert "WSRF_UWS_PASSWORD" in err


# -- the installed command ---------------------------------------------------------------------


def wsrf_uws(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_submit_wait_then_status(jdl_file: Path, server: RunningServer) -> None:
    done = wsrf_uws("submit", "steps", str(jdl_file), "--wait", "--url", server.base_url)
    assert done.returncode == 0, done.stderr
    resource_id = done.stdout.strip()
    assert RESOURCE_ID.match(resource_id)
    assert fields(done.stderr)["phase"] == ["COMPLETED"]
    shown = wsrf_uws("status", resource_id, "--url", server.url("steps"))
    assert shown.returncode == 0, shown.stderr
    assert fields(shown.stdout)["phase"] == ["COMPLETED"]


def test_cli_fault_exit_status(server: RunningServer) -> None:
    done = wsrf_uws("destroy", "no-such-job", "--url", server.url("steps"))
    assert done.returncode == 1
    assert "ResourceUnknown" in done.stderr
