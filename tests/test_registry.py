"""The contract registry and third-party contracts installed as entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsrf_uws.core import Contract, ContractRegistry, ContractUnknownError
from wsrf_uws.settings import Settings
from wsrf_uws.testing import StepsContract


def test_register_and_get() -> None:
    registry = ContractRegistry([StepsContract()])
    assert registry.names() == ["steps"]
    assert "steps" in registry and len(registry) == 1
    assert isinstance(registry.get("steps"), StepsContract)
    with pytest.raises(ContractUnknownError, match="installed: steps"):
        registry.get("image")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(StepsContract())


def test_a_contract_needs_a_name_and_namespace() -> None:
    with pytest.raises(ValueError, match="name and a namespace"):
        ContractRegistry([Contract()])


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real distribution on sys.path, declaring contracts in its entry points."""
    (tmp_path / "thirdparty_jdl.py").write_text(
        textwrap.dedent(
            """
            from wsrf_uws.core import Contract

            class EchoContract(Contract):
                name = "echo"
                namespace = "urn:example:echo:v1"
                jdl_element = "echo"

                def __init__(self, settings=None):
                    super().__init__(settings)
                    self.seen_settings = settings

            class Misnamed(EchoContract):
                name = "other"

            def broken(settings):
                raise RuntimeError("needs a licence server")
            """
        )
    )
    info = tmp_path / "thirdparty_jdl-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-jdl\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[wsrf_uws.contracts]\n"
        "echo = thirdparty_jdl:EchoContract\n"
        "misnamed = thirdparty_jdl:Misnamed\n"
        "broken = thirdparty_jdl:broken\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("thirdparty_jdl", None)


def test_entry_points_load_third_party_contracts(installed_plugin: Path) -> None:
    settings = Settings(data_dir=installed_plugin / "data")
    registry = ContractRegistry.from_entry_points(settings)
    assert "echo" in registry
    echo = registry.get("echo")
    assert echo.namespace == "urn:example:echo:v1"
    assert echo.seen_settings is settings  # type: ignore[attr-defined]
    # Broken plug-ins are reported, and do not take the others down.
    assert "needs a licence server" in registry.failures["broken"]
    assert "loads a contract named 'other'" in registry.failures["misnamed"]


def test_enabled_contracts_only(installed_plugin: Path) -> None:
    registry = ContractRegistry.from_entry_points(None, enabled=["echo", "radio"])
    assert registry.names() == ["echo"]
    assert "broken" not in registry.failures
    assert registry.failures["radio"] == "enabled in the settings but not installed"
