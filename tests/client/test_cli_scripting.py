"""``wsrf-uws`` as a script uses it: the command run as a subprocess against a real server.

Results alone on stdout, exit statuses, one-line errors, the new commands (``list``,
``abort``, ``wait``, ``download``, ``--version``), ``extend``'s arithmetic, the WSDL kept
on disk between calls, and a progress bar that fits a narrow terminal.
"""

from __future__ import annotations

import ast
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wsrf_uws.client import Service
from wsrf_uws.client.times import parse_datetime
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing.server import RunningServer, running_server

RESOURCE_ID = re.compile(r"^[a-z0-9]{22,}\n$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("scripting")) as running:
        yield running


@pytest.fixture
def env(server: RunningServer, tmp_path: Path) -> dict[str, str]:
    """The command's environment: the server's URL, a cache folder of the test's own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WSRF_UWS_")}
    return {**clean, "WSRF_UWS_URL": server.base_url, "WSRF_UWS_CACHE_DIR": str(tmp_path / "c")}


def wsrf_uws(
    env: dict[str, str], *argv: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def job_file(tmp_path: Path, steps: int = 2, seconds: float = 0.1, **options: str) -> str:
    path = tmp_path / f"job-{steps}-{seconds}.xml"
    path.write_bytes(steps_jdl(steps, seconds, **options))
    return str(path)


def submitted(env: dict[str, str], jdl: str, *options: str) -> str:
    done = wsrf_uws(env, "submit", "steps", jdl, *options)
    assert done.returncode == 0, done.stderr
    assert RESOURCE_ID.match(done.stdout), done.stdout
    return done.stdout.strip()


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("wsrf-uws: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_submit_start_captures_just_the_id(env: dict[str, str], tmp_path: Path) -> None:
    done = wsrf_uws(env, "submit", "steps", job_file(tmp_path), "--start")
    assert done.returncode == 0, done.stderr
    assert RESOURCE_ID.match(done.stdout)
    assert re.search(r"is (QUEUED|EXECUTING|COMPLETED)", done.stderr)


def test_a_closed_pipe_ends_the_command_quietly(env: dict[str, str], tmp_path: Path) -> None:
    """``wsrf-uws list | head -1``: the reader has gone before the command writes."""
    for _ in range(3):
        submitted(env, job_file(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-m", "wsrf_uws.cli", "list", "--contract", "steps"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    error = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in error and "BrokenPipe" not in error


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status", "x", "--url", "127.0.0.1:8080", "--contract", "steps"], "http://127.0.0.1"),
        (["list", "--url", "ftp://example.org"], "not an http(s) URL"),
        (["extend", "x", "--contract", "steps", "--until", "2020-01-01"], "in the past"),
    ],
)
def test_user_errors_are_one_line_and_status_2(
    env: dict[str, str], argv: list[str], expected: str
) -> None:
    done = wsrf_uws(env, *argv)
    assert (done.returncode, done.stdout) == (2, "")
    no_traceback(done)
    assert expected in done.stderr


def test_no_service_is_status_3(env: dict[str, str]) -> None:
    done = wsrf_uws(env, "status", "x", "--contract", "steps", "--url", "http://127.0.0.1:9")
    assert done.returncode == 3
    no_traceback(done)
    assert "cannot connect" in done.stderr


def test_version(env: dict[str, str]) -> None:
    done = wsrf_uws(env, "--version")
    assert done.returncode == 0
    assert re.fullmatch(r"wsrf-uws \S+\n", done.stdout)


def test_a_client_command_loads_no_part_of_the_service(env: dict[str, str]) -> None:
    """Neither settings nor stores nor contracts: a script calling the client pays for it
    alone."""
    from wsrf_uws.client.commands import CLIENT_COMMANDS
    from wsrf_uws.client.job_commands import HANDLERS

    assert set(HANDLERS) == CLIENT_COMMANDS
    code = (
        "import sys; from wsrf_uws.cli import main; "
        "status = main(['status', 'x', '--contract', 'steps']); "
        "ours = {m.split('.')[1] for m in sys.modules if m.startswith('wsrf_uws.')}; "
        "print(status, sorted(ours))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    status, loaded = done.stdout.split(" ", 1)
    assert status == "1", done.stderr  # ResourceUnknown
    assert ast.literal_eval(loaded) == ["cli", "client", "wire"]


def test_extend_by_adds_and_a_past_until_needs_destroy_now(
    env: dict[str, str], tmp_path: Path, server: RunningServer
) -> None:
    resource_id = submitted(env, job_file(tmp_path))
    job = Service(server.url("steps")).job(resource_id)
    before = job.termination_time
    assert before is not None and before - datetime.now(UTC) > timedelta(days=6)
    done = wsrf_uws(env, "extend", resource_id, "--contract", "steps", "--by", "PT2H", "--json")
    assert done.returncode == 0, done.stderr
    after = parse_datetime(json.loads(done.stdout)["termination_time"])
    assert abs(after - (before + timedelta(hours=2))) < timedelta(seconds=1)
    past = ("extend", resource_id, "--contract", "steps", "--until", "2020-01-01T00:00:00Z")
    refused = wsrf_uws(env, *past)
    assert refused.returncode == 2 and "--destroy-now" in refused.stderr
    assert job.phase == "PENDING"
    assert wsrf_uws(env, *past, "--destroy-now").returncode == 0
    gone = wsrf_uws(env, "status", resource_id, "--contract", "steps")
    assert gone.returncode == 1 and "ResourceUnknown" in gone.stderr


def test_list_filters_and_json(env: dict[str, str], tmp_path: Path) -> None:
    mark = datetime.now(UTC) - timedelta(seconds=1)
    pending = submitted(env, job_file(tmp_path))
    finished = submitted(env, job_file(tmp_path, 1, 0), "--wait")
    listed = wsrf_uws(env, "list", "--json", "--after", mark.isoformat())
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["resource_id"] for row in rows] == [finished, pending]  # newest first
    assert [row["phase"] for row in rows] == ["COMPLETED", "PENDING"]
    assert {row["contract"] for row in rows} == {"steps"}
    only = wsrf_uws(env, "list", "--phase", "completed", "--after", mark.isoformat())
    assert only.returncode == 0, only.stderr
    assert [line.split()[0] for line in only.stdout.splitlines()] == [finished]
    assert "1 job(s)" in only.stderr
    last = wsrf_uws(env, "list", "--last", "1", "--json")
    assert [row["resource_id"] for row in json.loads(last.stdout)] == [finished]


def test_abort_then_wait(env: dict[str, str], tmp_path: Path) -> None:
    resource_id = submitted(env, job_file(tmp_path, 5, 2), "--start")
    aborted = wsrf_uws(env, "abort", resource_id, "--contract", "steps")
    assert (aborted.returncode, aborted.stdout) == (0, "ABORTED\n"), aborted.stderr
    waited = wsrf_uws(env, "wait", resource_id, "--contract", "steps", "--json")
    assert waited.returncode == 1  # ended, but not COMPLETED
    assert json.loads(waited.stdout)["phase"] == "ABORTED"
    completed = submitted(env, job_file(tmp_path, 1, 0), "--wait")
    refused = wsrf_uws(env, "abort", completed, "--contract", "steps")
    assert refused.returncode == 1 and "InvalidPhase" in refused.stderr


def test_wait_on_an_existing_job(env: dict[str, str], tmp_path: Path) -> None:
    resource_id = submitted(env, job_file(tmp_path, 2, 0.2), "--start")
    waited = wsrf_uws(env, "wait", resource_id, "--contract", "steps")
    assert waited.returncode == 0, waited.stderr
    assert re.search(r"^phase +COMPLETED$", waited.stdout, re.MULTILINE)
    assert "100%" in waited.stderr  # the progress went to stderr
    pending = submitted(env, job_file(tmp_path))
    timed_out = wsrf_uws(env, "wait", pending, "--contract", "steps", "--max-wait", "0.5")
    assert timed_out.returncode == 4 and "still PENDING" in timed_out.stderr


def test_status_shows_the_contract_state_and_json(env: dict[str, str], tmp_path: Path) -> None:
    resource_id = submitted(env, job_file(tmp_path, 2, 0), "--wait")
    shown = wsrf_uws(env, "status", resource_id, "--contract", "steps")
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^contract +state$", shown.stdout, re.MULTILINE)
    assert re.search(r"^  results +2$", shown.stdout, re.MULTILINE)
    document = json.loads(
        wsrf_uws(env, "status", resource_id, "--contract", "steps", "--json").stdout
    )
    assert document["phase"] == "COMPLETED" and document["resource_id"] == resource_id
    assert [r["name"] for r in document["results"]] == ["step-1.txt", "step-2.txt"]
    assert document["contract_state"]["children"][0] == {"name": "results", "text": "2"}
    assert parse_datetime(document["termination_time"]) > datetime.now(UTC)


def test_status_checks_the_contract_named(env: dict[str, str], tmp_path: Path) -> None:
    resource_id = submitted(env, job_file(tmp_path))
    wrong = wsrf_uws(env, "status", resource_id, "--contract", "cea")
    assert (wrong.returncode, wrong.stdout) == (2, "")
    no_traceback(wrong)
    assert f"job {resource_id} is a steps job, not cea: use --contract steps" in wrong.stderr
    assert wsrf_uws(env, "status", resource_id, "--contract", "steps").returncode == 0


def test_download_all_or_some_and_resume(
    env: dict[str, str], tmp_path: Path, server: RunningServer
) -> None:
    resource_id = submitted(env, job_file(tmp_path, 2, 0), "--wait")
    out = tmp_path / "out"
    done = wsrf_uws(env, "download", resource_id, "--contract", "steps", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(out / "step-1.txt"), str(out / "step-2.txt")]
    whole = (out / "step-2.txt").read_bytes()
    assert whole and "download" in done.stderr
    # An interrupted download left its first bytes: the next one asks for the rest only.
    (out / "step-2.txt").unlink()
    (out / "step-2.txt.part").write_bytes(whole[:5])
    log_start = len(server.log)
    again = wsrf_uws(
        env, "download", resource_id, "step-2.txt", "--contract", "steps", "-o", str(out)
    )
    assert again.returncode == 0, again.stderr
    assert (out / "step-2.txt").read_bytes() == whole
    assert not (out / "step-2.txt.part").exists()
    answered = server.access_log_since(log_start)
    assert any(f'/step-2.txt" 206 {len(whole) - 5} ' in line for line in answered)
    missing = wsrf_uws(env, "download", resource_id, "nope.txt", "--contract", "steps")
    assert missing.returncode == 1 and "no result 'nope.txt'" in missing.stderr


def test_one_call_is_one_wsdl_validation_and_its_operation(
    env: dict[str, str], tmp_path: Path, server: RunningServer
) -> None:
    resource_id = submitted(env, job_file(tmp_path))  # fills the cache folder

    answered: list[str] = []

    def requests_of(*argv: str) -> list[str]:
        start = len(server.log)
        assert wsrf_uws(env, *argv).returncode == 0
        answered[:] = server.access_log_since(start)
        return [line.split('"')[1] for line in answered]

    endpoint = server.url("steps")
    assert requests_of("status", resource_id, "--url", endpoint) == [
        "GET /uws/steps?wsdl",
        "POST /uws/steps",
    ]
    assert '"GET /uws/steps?wsdl" 304 ' in answered[0]
    # The contract named is checked by the service itself (no listJobs unless it fails).
    assert requests_of("status", resource_id, "--contract", "steps") == [
        "GET /uws/steps?wsdl",
        "POST /uws/steps",
    ]
    assert requests_of("start", resource_id, "--contract", "steps") == [
        "GET /uws/steps?wsdl",
        "POST /uws/steps",
    ]
    # Without the cache folder, the WSDL and every schema it imports.
    start = len(server.log)
    uncached = {**env, "WSRF_UWS_CACHE_DIR": ""}
    assert wsrf_uws(uncached, "status", resource_id, "--contract", "steps").returncode == 0
    fetched = [line for line in server.access_log_since(start) if '"GET /' in line]
    assert len(fetched) > 5


def test_the_progress_bar_fits_a_narrow_terminal(env: dict[str, str], tmp_path: Path) -> None:
    """On a terminal 40 columns wide no redrawn line is longer than 39 characters."""
    resource_id = submitted(env, job_file(tmp_path, 3, 0.3), "--start")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "wsrf_uws.cli", "wait", resource_id, "--contract", "steps"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**env, "COLUMNS": "40"},
    )
    os.close(follower)
    written = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        written += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    lines = re.split(r"[\r\n]+", written.decode().replace("\x1b[K", ""))
    drawn = [line for line in lines if "[" in line]
    assert drawn and all(len(line) <= 39 for line in drawn), drawn
    assert any("COMPLETED" in line and "100%" in line for line in drawn)


def test_a_password_is_asked_on_a_terminal(tmp_path: Path) -> None:
    """With --user and no WSRF_UWS_PASSWORD: a prompt on a terminal, a one-line refusal
    elsewhere, and a wrong password is one line too."""
    from wsrf_uws.accounts import UsersFile

    users = tmp_path / "users"
    UsersFile.add(users, "alice", "right")
    secured_env = {"WSRF_UWS_USERS_FILE": str(users), "WSRF_UWS_ALLOW_ANONYMOUS": "false"}
    with running_server(tmp_path / "data", env=secured_env) as secured:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("WSRF_UWS_")},
            "WSRF_UWS_URL": secured.base_url,
            "WSRF_UWS_CACHE_DIR": str(tmp_path / "c"),
        }
        argv = ["list", "--contract", "steps", "--user", "alice"]
        piped = wsrf_uws(env, *argv)
        assert piped.returncode == 2 and "set WSRF_UWS_PASSWORD" in piped.stderr
        anonymous = wsrf_uws(env, "list", "--contract", "steps")
        assert anonymous.returncode == 1 and "give --user NAME" in anonymous.stderr
        wrong = wsrf_uws({**env, "WSRF_UWS_PASSWORD": "wrong"}, *argv)
        assert wrong.returncode == 1 and "NotAuthenticated" in wrong.stderr
        no_traceback(wrong)
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "wsrf_uws.cli", *argv, "--json"],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=env,
        )
        os.close(follower)
        prompt = b""
        while b"password for alice: " not in prompt:
            prompt += os.read(leader, 1024)
        os.write(leader, b"right\n")
        out, _ = process.communicate(timeout=60)
        os.close(leader)
        assert process.returncode == 0
        assert json.loads(out) == []
