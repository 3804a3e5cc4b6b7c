"""Fixtures of the template's tests: JDL documents, and one real service for the module.

The real service is ``wsrf-uws serve`` with this distribution installed, as a data centre
runs it: it finds the contract by its entry point, reads the ``[checksum]`` section from
a TOML file and an override from the environment, and has two users for the conformance
kit's owner checks.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest

from wsrf_uws.testing.server import RunningServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: The [checksum] section of the test service's configuration file.
CONFIG = """\
users_file = "{folder}/users.toml"

[checksum]
max_inputs = 4
max_input_bytes = 200000
max_job_bytes = 500000
algorithms = ["sha256", "sha512", "md5"]
"""

#: Environment overrides of the section; the environment outranks the file.
ENVIRONMENT = {
    "WSRF_UWS_CHECKSUM__MAX_INPUT_BYTES": "100000",
    "WSRF_UWS_CHECKSUM__MAX_JOB_BYTES": "300000",
}


def jdl(
    *, texts: dict[str, str] | None = None, urls: tuple[str, ...] = (), algorithm: str = ""
) -> bytes:
    """A JDL of the checksum contract: texts by name, demo-file URLs, an algorithm."""
    parts = [f"<algorithm>{escape(algorithm)}</algorithm>"] if algorithm else []
    parts += [
        f"<text name={quoteattr(name)}>{escape(text)}</text>"
        for name, text in (texts or {}).items()
    ]
    parts += [f"<url>{escape(url)}</url>" for url in urls]
    body = "".join(parts)
    return f'<checksums xmlns="urn:wsrf-uws:checksum:v1">{body}</checksums>'.encode()


def wsrf_uws(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> str:
    """Run ``wsrf-uws ARGS`` (this environment's); its standard output; fails on an error."""
    done = subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"wsrf-uws {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


class Users:
    """The names and passwords of the test service's two users."""

    def __init__(self) -> None:
        self.passwords = {"alice": secrets.token_urlsafe(16), "bob": secrets.token_urlsafe(16)}


@pytest.fixture(scope="session")
def users() -> Users:
    return Users()


@pytest.fixture(scope="session")
def service_folder(tmp_path_factory: pytest.TempPathFactory, users: Users) -> Path:
    """A folder holding the service's configuration file and its users file."""
    folder = tmp_path_factory.mktemp("service")
    (folder / "wsrf-uws.toml").write_text(CONFIG.format(folder=folder))
    for name, password in users.passwords.items():
        wsrf_uws(
            "users",
            "add",
            name,
            "--password-stdin",
            "--config",
            "wsrf-uws.toml",
            cwd=folder,
            stdin=f"{password}\n",
        )
    return folder


@pytest.fixture(scope="session")
def server(service_folder: Path) -> Iterator[RunningServer]:
    """``wsrf-uws serve`` on a free port, with the configuration file and the overrides."""
    running = RunningServer(
        service_folder / "data",
        env=ENVIRONMENT,
        args=("--config", str(service_folder / "wsrf-uws.toml")),
    )
    running.start()
    try:
        yield running
    finally:
        if running.process is not None:
            running.stop()
