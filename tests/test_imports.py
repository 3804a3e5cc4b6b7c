"""Each module imports on its own, first, in a fresh interpreter (no import cycles)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "wsrf_uws.core",
    "wsrf_uws.core.model",
    "wsrf_uws.core.service",
    "wsrf_uws.store",
    "wsrf_uws.store.sqlite",
    "wsrf_uws.execution",
    "wsrf_uws.execution.worker",
    "wsrf_uws.settings",
    "wsrf_uws.runtime",
    "wsrf_uws.testing",
    "wsrf_uws.cli",
    "wsrf_uws.published",
    "wsrf_uws.server",
    "wsrf_uws.soap.application",
    "wsrf_uws.soap.endpoint",
    "wsrf_uws.soap.identity",
    "wsrf_uws.soap.spyne_compat",
    "wsrf_uws.client",
    "wsrf_uws.client.commands",
    "wsrf_uws.testing.server",
]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_core_does_not_load_bindings_or_http() -> None:
    code = (
        "import sys, wsrf_uws.core.service; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('spyne', 'zeep', 'http', 'waitress', 'urllib3', 'requests')]; "
        "print(bad); sys.exit(bool(bad))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
