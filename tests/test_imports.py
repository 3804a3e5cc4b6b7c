"""Each module imports on its own, first, in a fresh interpreter (no import cycles), and the
layers load only what they may: import-linter checks the import statements, these tests what
an import really loads (deferred imports included)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "wsrf_uws.wire",
    "wsrf_uws.wire.names",
    "wsrf_uws.wire.parsing",
    "wsrf_uws.core",
    "wsrf_uws.core.model",
    "wsrf_uws.core.ports",
    "wsrf_uws.core.service",
    "wsrf_uws.store",
    "wsrf_uws.store.sqlite",
    "wsrf_uws.store.postgres",
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
    # Imported on first use (the service starts without them): each must import alone.
    "wsrf_uws.jdl.adql.run",
    "wsrf_uws.jdl.adql.state",
    "wsrf_uws.tap.application",
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


def _loaded_after(statement: str, *, project_packages: tuple[str, ...]) -> list[str]:
    """Modules of other projects' ``("pydantic", "spyne")`` and of our own packages outside
    ``project_packages`` that ``statement`` loads in a fresh interpreter."""
    code = (
        f"import sys; {statement}; "
        "ours = [m for m in sys.modules if m.startswith('wsrf_uws.')]; "
        f"bad = [m for m in ours if m.split('.')[1] not in {project_packages!r}]; "
        "bad += [m for m in sys.modules if m.split('.')[0] in ('pydantic', 'spyne')]; "
        "print(' '.join(sorted(bad)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_client_loads_only_the_wire_module_of_the_service() -> None:
    statement = (
        "import wsrf_uws.client, wsrf_uws.client.service, wsrf_uws.client.job, "
        "wsrf_uws.client.commands, wsrf_uws.client.errors, wsrf_uws.client.state"
    )
    assert _loaded_after(statement, project_packages=("client", "wire")) == []


def test_the_engine_loads_no_store_executor_binding_or_contract() -> None:
    statement = "import wsrf_uws.core, wsrf_uws.core.service, wsrf_uws.core.ports"
    loaded = _loaded_after(statement, project_packages=("core", "wire"))
    assert [m for m in loaded if not m.startswith("pydantic")] == []


def test_psycopg_is_loaded_only_for_a_postgresql_store() -> None:
    """An optional dependency: a service on SQLite (the CLI included) never imports it."""
    code = (
        "import sys, wsrf_uws.cli, wsrf_uws.runtime, wsrf_uws.store; "
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
