"""``wsrf-uws checksum-digest``: the subcommand the contract adds to ``wsrf-uws``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path


def checksum_digest(*args: str, cwd: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsrf_uws.cli", "checksum-digest", *args],
        cwd=cwd,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_prints_the_digest_a_job_would_give(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_bytes(b"hello")
    done = checksum_digest("data.txt", "--algorithm", "md5", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{hashlib.md5(b'hello').hexdigest()}  data.txt\n"  # noqa: S324


def test_it_applies_the_settings_section(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_bytes(b"hello")
    (tmp_path / "wsrf-uws.toml").write_text(
        '[checksum]\nalgorithms = ["sha512"]\ndefault_algorithm = "sha512"\n'
    )
    done = checksum_digest("data.txt", "--config", "wsrf-uws.toml", cwd=tmp_path)
    assert done.stdout == f"{hashlib.sha512(b'hello').hexdigest()}  data.txt\n"
    refused = checksum_digest(
        "data.txt", "--algorithm", "md5", "--config", "wsrf-uws.toml", cwd=tmp_path
    )
    assert refused.returncode == 2
    assert "'md5' is not offered" in refused.stderr
    too_big = checksum_digest("data.txt", cwd=tmp_path, WSRF_UWS_CHECKSUM__MAX_INPUT_BYTES="4")
    assert too_big.returncode == 1
    assert "at most 4" in too_big.stderr


def test_an_invalid_section_stops_it(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_bytes(b"hello")
    done = checksum_digest("data.txt", cwd=tmp_path, WSRF_UWS_CHECKSUM__MAX_INPUTS="0")
    assert done.returncode != 0
    assert "bad configuration" in done.stderr
    assert "max_inputs" in done.stderr
