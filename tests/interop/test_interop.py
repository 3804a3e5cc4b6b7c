"""Three independent SOAP stacks drive a job through its life from the published WSDL.

Each client in ``clients/`` (suds, PHP SoapClient, node-soap) is run as a subprocess
against a real ``wsrf-uws serve`` process and prints one JSON object per step; these
tests check the lines. PHP and node-soap are installed by ``tests/interop/setup.sh``;
without them the tests fail, unless ``WSRF_UWS_SKIP_INTEROP=1`` makes them skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.core.phases import Phase
from wsrf_uws.testing.server import RunningServer
from wsrf_uws.testing.server import running_server as start_server

HERE = Path(__file__).resolve().parent
CLIENTS = HERE / "clients"
NODE_DIR = HERE / "node"
SETUP_HINT = "run `bash tests/interop/setup.sh` (or set WSRF_UWS_SKIP_INTEROP=1 to skip)"

R = "http://docs.oasis-open.org/wsrf/r-2"
UWS_PHASES = {str(phase) for phase in Phase}
STEPS = [
    "wsdl",
    "createJob",
    "startJob",
    "getPhase",
    "getJob",
    "setTerminationTime",
    "destroy",
    "afterDestroy",
    "done",
]

#: The WS-Addressing header variants the server must tolerate, one stack each.
HEADER_STYLES = {
    "suds": {"is_reference_parameter": "1", "must_understand": [], "message_id": "urn:uuid:"},
    "php": {
        "is_reference_parameter": "true",
        "must_understand": ["To", "Action"],
        "message_id": "uuid:",
    },
    "node": {"is_reference_parameter": "true", "must_understand": [], "message_id": "urn:uuid:"},
}


@pytest.fixture(scope="module")
def running_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real service for all the stacks of this module."""
    with start_server(tmp_path_factory.mktemp("interop")) as server:
        yield server


def _missing(stack: str) -> str | None:
    """Why ``stack`` cannot run here, or None when it can."""
    if stack == "suds":
        if importlib.util.find_spec("suds") is None:
            return "suds is not installed (pip install -e '.[test]')"
        return None
    if stack == "php":
        if shutil.which("php") is None:
            return "php is not installed"
        modules = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False)
        present = {line.strip().lower() for line in modules.stdout.splitlines()}
        lacking = [name for name in ("soap", "dom") if name not in present]
        return f"php lacks the extension(s) {', '.join(lacking)}" if lacking else None
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "soap" / "package.json").is_file():
        return f"node-soap is not installed in {NODE_DIR}"
    return None


def _command(stack: str) -> list[str]:
    if stack == "suds":
        return [sys.executable, str(CLIENTS / "suds_client.py")]
    if stack == "php":
        return ["php", str(CLIENTS / "php_client.php")]
    return ["node", str(CLIENTS / "node_client.js")]


def _run_client(stack: str, endpoint: str) -> list[dict[str, Any]]:
    reason = _missing(stack)
    if reason is not None:
        if os.environ.get("WSRF_UWS_SKIP_INTEROP") == "1":
            pytest.skip(f"{reason} (WSRF_UWS_SKIP_INTEROP=1)")
        pytest.fail(f"interop client '{stack}' cannot run: {reason}; {SETUP_HINT}")
    result = subprocess.run(
        [*_command(stack), endpoint], capture_output=True, text=True, timeout=120, check=False
    )
    report = f"{stack} client exited {result.returncode}\n--- stdout\n{result.stdout}"
    report += f"--- stderr\n{result.stderr}"
    assert result.returncode == 0, report
    lines = []
    for text in result.stdout.splitlines():
        if text.strip():
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                pytest.fail(f"not a JSON line: {text!r}\n{report}")
    return lines


@pytest.mark.parametrize("stack", ["suds", "php", "node"])
def test_stack_drives_a_job_from_the_wsdl(stack: str, running_server: RunningServer) -> None:
    endpoint = running_server.url("steps")
    started = datetime.now(UTC)
    lines = _run_client(stack, endpoint)

    assert [line["step"] for line in lines] == STEPS, lines
    assert all(line["stack"] == stack and line["ok"] is True for line in lines), lines
    by_step = {line["step"]: line for line in lines}

    assert by_step["wsdl"]["header_style"] == HEADER_STYLES[stack]
    assert set(by_step["wsdl"]["operations"]) >= {
        "createJob",
        "startJob",
        "GetResourceProperty",
        "SetTerminationTime",
        "Destroy",
    }

    created = by_step["createJob"]
    resource_id = created["resource_id"]
    assert isinstance(resource_id, str)
    assert len(resource_id) >= 22  # >= 128 random bits in any reasonable alphabet
    assert created["address"] == endpoint

    for step in ("startJob", "getPhase", "getJob"):
        phase = by_step[step]["phase"]
        assert phase in UWS_PHASES, (step, phase)
        assert phase != "PENDING", f"{step}: the job was started, yet {phase}"
    assert by_step["getJob"]["job_id"] == resource_id

    lifetime = by_step["setTerminationTime"]
    new_time = datetime.fromisoformat(lifetime["new_termination_time"])
    current_time = datetime.fromisoformat(lifetime["current_time"])
    assert lifetime["in_future"] is True
    assert new_time > started
    assert new_time > current_time

    after = by_step["afterDestroy"]
    assert after["fault"] == f"{{{R}}}ResourceUnknownFault"
    assert after["faultcode"].rpartition(":")[2] == "Client"
