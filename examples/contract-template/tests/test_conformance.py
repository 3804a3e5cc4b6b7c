"""The conformance kit against the template's endpoint, as any client would judge it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lxml import etree

from wsrf_uws.testing.server import RunningServer

from conftest import EXAMPLES, Users


def test_the_conformance_kit_passes(server: RunningServer, users: Users, tmp_path: Path) -> None:
    report = tmp_path / "conformance.xml"
    environment = {
        **os.environ,
        "WSRF_UWS_PASSWORD": users.passwords["alice"],
        "WSRF_UWS_OTHER_PASSWORD": users.passwords["bob"],
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsrf_uws.cli",
            "conformance",
            server.url("checksum"),
            "--jdl",
            str(EXAMPLES / "texts.xml"),
            "--user",
            "alice",
            "--other-user",
            "bob",
            "--junit",
            str(report),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.split()[2] == "0", summary  # "N passed, 0 failed, M skipped"
    cases = etree.parse(str(report)).getroot().iter("testcase")
    judged = {case.get("name"): case.find("skipped") is None for case in cases}
    # The checks that need a job ran: the kit judged the template's jobs, not only its WSDL.
    for check in (
        "lifecycle.completes",
        "lifecycle.result-download",
        "faults.invalid-jdl",
        "owners.results-hidden",
    ):
        assert judged.get(check), f"{check} was skipped or missing: {summary}"
