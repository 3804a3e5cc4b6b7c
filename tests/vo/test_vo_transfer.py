"""The shared transfer code (:mod:`wsrf_uws.vo.transfer`): what it loads, what cea keeps of
it, and what the adql uploads need of it beyond cea (a refusal reason without raising, a
too-large fetch told apart), over a real loopback HTTP server.

The policy and the transfers themselves are tested through cea's names in
``tests/jdl/cea/test_transfer.py``, which stayed as it was when the code moved here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import wsrf_uws.jdl.cea.transfer as cea_transfer
from wsrf_uws.testing.http_files import PROXY_VARIABLES, FileServer
from wsrf_uws.vo import transfer
from wsrf_uws.vo.transfer import TransferError, TransferPolicy, TransferTooLarge, fetch


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy the environment may name."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def files() -> Iterator[FileServer]:
    with FileServer() as server:
        yield server


def test_the_shared_transfer_code_loads_nothing_of_the_service() -> None:
    code = (
        "import sys, wsrf_uws.vo.transfer; "
        "print(' '.join(sorted({m.split('.')[1] for m in sys.modules "
        "if m.startswith('wsrf_uws.')})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) <= {"vo", "core", "wire"}


def test_cea_uses_the_shared_code_under_its_old_names() -> None:
    for name in cea_transfer.__all__:
        assert getattr(cea_transfer, name) is getattr(transfer, name)


def test_refusal_says_why_without_raising(files: FileServer) -> None:
    exact = TransferPolicy.parse([f"{files.url}/data/"])
    assert exact.refusal(files.url_for("/data/x")) == ""
    assert "path '/other/x' is not allowed" in exact.refusal(files.url_for("/other/x"))
    policy = TransferPolicy.parse([f"{files.url}/data/", "http://*:*"])
    assert policy.refusal(files.url_for("/data/x")) == ""
    # Only the wildcard entry matches: the private-address rule applies.
    assert "loopback address" in policy.refusal(files.url_for("/other/x"))


@pytest.mark.parametrize("declare_length", [True, False], ids=["declared", "streamed"])
def test_a_body_beyond_the_limit_is_a_transfer_too_large(
    files: FileServer, tmp_path: Path, declare_length: bool
) -> None:
    url = files.stream("/big", total_bytes=300_000, declare_length=declare_length)
    policy = TransferPolicy.parse(["http://127.0.0.1:*"])
    with pytest.raises(TransferTooLarge, match="larger than the limit of"):
        fetch(url, tmp_path / "big", policy=policy, max_bytes=100_000)
    assert list(tmp_path.iterdir()) == []
    files.fail("/missing", 404)
    with pytest.raises(TransferError) as info:
        fetch(files.url_for("/missing"), tmp_path / "m", policy=policy, max_bytes=100_000)
    assert not isinstance(info.value, TransferTooLarge)
