"""What the shared VO helpers and each contract really load, in a fresh interpreter: vo needs
nothing of the service, and no contract loads another or a layer it must not depend on
(import-linter checks the import statements; this checks deferred imports too)."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: The packages a contract may use: the domain, the shared helpers, the published documents.
ALLOWED_FOR_CONTRACTS = {"core", "wire", "vo", "published"}
CONTRACTS = ["adql", "cea", "image", "vospace", "steps"]


def _loaded_by(statement: str) -> list[str]:
    """The project's packages (``core``, ``jdl.adql``...) that ``statement`` loads."""
    code = (
        f"import sys; {statement}; "
        "names = set(); "
        "[names.add('.'.join(m.split('.')[1:3] if m.split('.')[1] == 'jdl' else m.split('.')[1:2]))"
        " for m in sys.modules if m.startswith('wsrf_uws.')]; "
        "print(' '.join(sorted(names)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_vo_loads_nothing_of_the_service() -> None:
    loaded = _loaded_by("import wsrf_uws.vo.votable, wsrf_uws.vo.columns")
    assert set(loaded) <= {"vo", "core", "wire"}


@pytest.mark.parametrize("contract", CONTRACTS)
def test_a_contract_loads_no_other_contract_and_no_forbidden_layer(contract: str) -> None:
    loaded = _loaded_by(f"import wsrf_uws.jdl.{contract}.contract")
    others = [name for name in loaded if name.startswith("jdl.") and name != f"jdl.{contract}"]
    assert others == []
    outside = set(loaded) - ALLOWED_FOR_CONTRACTS - {"jdl", f"jdl.{contract}"}
    assert outside == set()
