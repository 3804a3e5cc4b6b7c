"""The conformance kit against real servers: ours passes every check, broken ones fail.

Our service runs on a fixed port so that the kit's ``--restart-command`` can SIGKILL it
and start it again in place (``restart_server.py``); the broken ones are our real
application behind one defective WSGI wrapper each (``broken_server.py``). The kit runs
as ``python -m wsrf_uws.cli conformance`` in a subprocess, as a user would run it.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

from wsrf_uws.accounts import UsersFile
from wsrf_uws.cli import main as cli_main
from wsrf_uws.conformance.kit import all_checks, run_kit
from wsrf_uws.conformance.lint import RULES
from wsrf_uws.conformance.options import Options

from kit_servers import BrokenServer, KitRun, RestartableServer
from kit_servers import run_kit as run_kit_command

HERE = Path(__file__).resolve().parent
PASSWORDS = {"WSRF_UWS_PASSWORD": "alice-secret", "WSRF_UWS_OTHER_PASSWORD": "bob-secret"}
USERS = ("--user", "alice", "--other-user", "bob")

#: Every check the kit must report, lint rules aside (they come from lint.RULES).
CHECK_IDS = {
    *(f"{prefix}.{name}" for prefix in ("wsdl", "wsdl-2004") for name in (
        "served", "imports-served", "addressing-version")),
    "lifecycle.create-job", "lifecycle.endpoint-reference", "lifecycle.pending",
    "lifecycle.start-job", "lifecycle.completes", "lifecycle.job-state", "lifecycle.uws-job",
    "lifecycle.result-links", "lifecycle.result-download", "lifecycle.start-final",
    "lifecycle.property-document", "lifecycle.multiple-properties",
    "lifecycle.set-termination-time", "lifecycle.destroy", "lifecycle.destroyed-unknown",
    "lifecycle.results-removed",
    "faults.resource-unknown", "faults.invalid-jdl", "faults.unknown-property",
    "faults.termination-beyond-cap",
    "faults.initial-termination-beyond-cap", "faults.invalid-phase", "faults.termination-past",
    "faults.doctype",
    "addressing.reference-parameter-true", "addressing.reference-parameter-1",
    "addressing.relates-to", "addressing.relates-to-fault", "addressing.reply-action",
    "addressing.reply-message-id", "addressing.message-id-forms", "addressing.wsa2004-create",
    "addressing.wsa2004-call", "addressing.wsa2004-fault", "addressing.must-understand-unknown",
    "addressing.must-understand-addressing",
    "owners.owner-id", "owners.get-property-hidden", "owners.start-hidden",
    "owners.destroy-hidden", "owners.anonymous-hidden", "owners.untouched",
    "owners.results-hidden",
    "restart.resources-survive", "restart.isolated-runs-again", "restart.held-waits",
    "restart.resume", "restart.resume-again",
}  # fmt: skip
LINT_IDS = {f"{prefix}.lint.{rule.id}" for prefix in ("wsdl", "wsdl-2004") for rule in RULES}

#: Each broken variant and the checks that must catch it.
BROKEN = {
    "no-relates-to": {
        "addressing.relates-to",
        "addressing.relates-to-fault",
        "addressing.message-id-forms",
        "addressing.wsa2004-create",
        "addressing.wsa2004-call",
        "addressing.wsa2004-fault",
    },
    "fake-destroy": {
        "lifecycle.destroyed-unknown",
        "lifecycle.results-removed",
        "owners.destroy-hidden",
    },
    "shared-owner": {
        "owners.get-property-hidden",
        "owners.start-hidden",
        "owners.destroy-hidden",
        "owners.untouched",
        "owners.results-hidden",
    },
    "bare-href": {"wsdl.lint.WU-HREF", "wsdl-2004.lint.WU-HREF"},
}


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kit-users") / "users"
    UsersFile.add(path, "alice", PASSWORDS["WSRF_UWS_PASSWORD"])
    UsersFile.add(path, "bob", PASSWORDS["WSRF_UWS_OTHER_PASSWORD"])
    return path


def server_env(users: Path) -> dict[str, str]:
    # Two slots at least: the restart checks need two jobs EXECUTING at once.
    return {
        **os.environ,
        "WSRF_UWS_USERS_FILE": str(users),
        "WSRF_UWS_KILL_GRACE": "0.5",
        "WSRF_UWS_SLOTS": "4",
    }


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory, users: Path) -> tuple[KitRun, Path]:
    """The whole kit, restart included, against our service (contract steps)."""
    folder = tmp_path_factory.mktemp("kit-ours")
    env = server_env(users)
    server = RestartableServer(folder, env=env)
    server.start()
    junit = folder / "kit.xml"
    try:
        run = run_kit_command(
            server.url("steps"),
            *USERS,
            "--restart-command",
            server.restart_command,
            "--junit",
            str(junit),
            env={**env, **PASSWORDS},
        )
    finally:
        server.stop()
    return run, junit


def test_every_check_passes_against_our_service(ours: tuple[KitRun, Path]) -> None:
    run, _ = ours
    assert run.with_status("PASS") == set(run.checks), run.explain() + run.stderr[-2000:]
    assert run.summary == (len(run.checks), 0, 0)
    assert run.returncode == 0


def test_no_check_vanishes(ours: tuple[KitRun, Path]) -> None:
    run, _ = ours
    assert set(run.checks) == CHECK_IDS | LINT_IDS
    assert {check.id for check in all_checks()} == CHECK_IDS | LINT_IDS


def test_the_junit_report_is_valid_and_agrees(ours: tuple[KitRun, Path]) -> None:
    run, path = ours
    schema = etree.XMLSchema(etree.parse(str(HERE / "junit.xsd")))
    report = etree.parse(str(path))
    assert schema.validate(report), schema.error_log
    root = report.getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "wsdl", "wsdl-2004", "lifecycle", "faults", "addressing", "owners", "restart",
    ]  # fmt: skip
    cases = {case.get("name"): case for suite in suites for case in suite.findall("testcase")}
    assert set(cases) == set(run.checks)
    assert int(root.get("tests", "")) == len(cases)
    assert int(root.get("failures", "")) == len(run.with_status("FAIL"))
    for name, case in cases.items():
        failed = case.find("failure") is not None
        skipped = case.find("skipped") is not None
        assert (failed, skipped) == (run.status(name) == "FAIL", run.status(name) == "SKIP")
        assert "clause: " in (case.findtext("system-out") or "")


@pytest.fixture(scope="module", params=sorted(BROKEN))
def broken(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, users: Path
) -> tuple[str, KitRun]:
    """The kit (no restart) against our service behind one defect."""
    variant = str(request.param)
    env = {**server_env(users), **PASSWORDS}
    server = BrokenServer(tmp_path_factory.mktemp(f"kit-{variant}"), variant, env=env)
    try:
        run = run_kit_command(server.url("steps"), *USERS, env=env)
    finally:
        server.stop()
    return variant, run


def test_a_broken_service_fails_the_matching_checks(broken: tuple[str, KitRun]) -> None:
    variant, run = broken
    expected = BROKEN[variant]
    assert expected <= run.with_status("FAIL"), run.explain(expected)
    assert run.returncode == 1
    # The wrapper breaks one thing: the service still works otherwise.
    assert run.status("lifecycle.create-job") == "PASS", run.explain()
    assert run.status("lifecycle.completes") == "PASS", run.explain()


def test_an_unreachable_endpoint_fails_without_a_traceback(tmp_path: Path) -> None:
    run = run_kit_command(
        "http://127.0.0.1:9/uws/steps", "--junit", str(tmp_path / "j.xml"), env={}
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert set(run.checks) == CHECK_IDS | LINT_IDS
    assert run.status("wsdl.served") == "FAIL"
    assert run.status("lifecycle.create-job") == "FAIL"
    assert run.status("lifecycle.pending") == "SKIP"
    assert "Connection refused" in run.checks["lifecycle.create-job"][1]


class _Garbage(BaseHTTPRequestHandler):
    """Answers every request with something that is not what a SOAP client expects."""

    def do_GET(self) -> None:
        self._answer(200, b"<html><body>not a WSDL</body></html>")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(200, b"this is not XML at all")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_malformed_replies_fail_their_checks() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/uws/steps"
        results = run_kit(Options(url=url, contract="steps", timeout=5, request_timeout=5))
    finally:
        server.shutdown()
        server.server_close()
    by_id = {r.check: r for r in results}
    assert set(by_id) == CHECK_IDS | LINT_IDS
    assert by_id["wsdl.served"].status.value == "FAIL"
    assert "not a WSDL" in by_id["wsdl.served"].reason
    assert by_id["lifecycle.create-job"].status.value == "FAIL"
    assert "not well-formed XML" in by_id["lifecycle.create-job"].reason
    assert not any("the kit failed" in r.reason for r in results), [
        r.reason for r in results if "the kit failed" in r.reason
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ftp://host/uws/steps"], "http(s) URL"),
        (["http://host/uws/steps?wsdl"], "without a query"),
        (["http://host/uws/steps", "--user", "alice"], "WSRF_UWS_PASSWORD"),
        (["http://host/uws/steps", "--other-user", "bob"], "--other-user needs --user"),
        (["http://host/uws/steps", "--jdl", "/nonexistent/jdl.xml"], "cannot read"),
    ],
)
def test_usage_errors_exit_2(
    arguments: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WSRF_UWS_PASSWORD", raising=False)
    assert cli_main(["conformance", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_list_checks_names_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["conformance", "--list-checks"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line[:1] != " "}
    assert listed == CHECK_IDS | LINT_IDS
