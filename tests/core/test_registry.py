"""The contract registry: what it checks of a contract, and third-party contracts
installed as entry points, each built with its environment and its own settings."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree

from wsrf_uws.core import Contract, ContractRegistry, ContractUnknownError
from wsrf_uws.core.contract import ContractEnvironment
from wsrf_uws.jdl.steps.contract import StepsContract
from wsrf_uws.runtime import contract_registry
from wsrf_uws.settings import Settings
from wsrf_uws.testing import ManualClock

from plugin_contracts import steps_schema_in


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


def test_a_contract_name_must_fit_urls_and_settings() -> None:
    class Spaced(StepsContract):
        name = "two words"

    with pytest.raises(ValueError, match="lowercase letters, digits and _"):
        ContractRegistry([Spaced()])


def test_the_schema_is_mandatory() -> None:
    class Schemaless(StepsContract):
        name = "schemaless"
        schema_path = None

    with pytest.raises(ValueError, match="declares no schema_path: the schema is mandatory"):
        ContractRegistry([Schemaless()])


def test_the_schema_must_declare_what_the_wsdl_names(tmp_path: Path) -> None:
    """A schema in another namespace, or without an operation's wrappers, is refused:
    the WSDL would name elements that do not exist."""

    class Elsewhere(StepsContract):
        name = "elsewhere"
        namespace = "urn:example:elsewhere:v1"

    with pytest.raises(ValueError, match="target namespace 'urn:wsrf-uws:steps:v1'"):
        ContractRegistry([Elsewhere()])

    schema = steps_schema_in(tmp_path, "urn:example:partial:v1")
    schema.write_text(schema.read_text().replace('name="resumeJobResponse"', 'name="other"'))

    class Partial(StepsContract):
        name = "partial"
        namespace = "urn:example:partial:v1"
        schema_path = schema

    with pytest.raises(ValueError, match="does not declare resumeJobResponse"):
        ContractRegistry([Partial()])


def test_a_contract_made_without_an_environment_has_the_defaults() -> None:
    contract = StepsContract()
    assert contract.environment == ContractEnvironment(clock=contract.clock)
    assert contract.public_url == "http://127.0.0.1:8080"
    assert contract.settings is None


THIRD_PARTY = textwrap.dedent(
    """
    from pathlib import Path

    from pydantic import BaseModel, ConfigDict, Field, model_validator

    from wsrf_uws.jdl.steps.contract import StepsContract


    class EchoSettings(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        greeting: str = "hello"
        repeat: int = Field(1, ge=1)
        hosts: list[str] = Field(default_factory=list)
        smallest: int = 0
        largest: int = 10

        @model_validator(mode="after")
        def _check(self):
            if self.smallest > self.largest:
                raise ValueError("echo.smallest must not exceed echo.largest")
            return self


    class EchoContract(StepsContract):
        name = "echo"
        namespace = "urn:example:echo:v1"
        schema_path = Path(__file__).with_name("echo.xsd")
        settings_model = EchoSettings


    class Misnamed(EchoContract):
        name = "other"


    class Broken(EchoContract):
        name = "broken"

        def __init__(self, environment=None):
            raise RuntimeError("needs a licence server")


    def not_a_class(environment):
        return EchoContract(environment)
    """
)


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real distribution on sys.path, declaring contracts in its entry points."""
    (tmp_path / "thirdparty_jdl.py").write_text(THIRD_PARTY)
    steps_schema_in(tmp_path, "urn:example:echo:v1").rename(tmp_path / "echo.xsd")
    info = tmp_path / "thirdparty_jdl-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-jdl\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[wsrf_uws.contracts]\n"
        "echo = thirdparty_jdl:EchoContract\n"
        "misnamed = thirdparty_jdl:Misnamed\n"
        "broken = thirdparty_jdl:Broken\n"
        "function = thirdparty_jdl:not_a_class\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for key in [k for k in __import__("os").environ if k.startswith("WSRF_UWS_ECHO")]:
        monkeypatch.delenv(key)
    yield tmp_path
    sys.modules.pop("thirdparty_jdl", None)


def test_entry_points_build_contracts_with_their_environment(installed_plugin: Path) -> None:
    clock = ManualClock()
    settings = Settings(
        data_dir=installed_plugin / "data", authority="example.org", max_lifetime=timedelta(9)
    )
    registry = contract_registry(settings, public_url="https://uws.example.org/", clock=clock)
    echo = registry.get("echo")
    assert echo.namespace == "urn:example:echo:v1"
    environment = echo.environment
    assert environment.data_dir == installed_plugin / "data"
    assert environment.jobs_dir == installed_plugin / "data" / "jobs"
    assert environment.public_url == "https://uws.example.org"
    assert environment.clock is clock
    assert environment.authority == "example.org"
    assert environment.max_lifetime == timedelta(9)
    assert echo.settings.greeting == "hello"  # the model's defaults: no [echo] section
    # Broken plug-ins are reported, and do not take the others down.
    assert "needs a licence server" in registry.failures["broken"]
    assert "loads a contract named 'other'" in registry.failures["misnamed"]
    assert "is not a Contract subclass" in registry.failures["function"]
    assert not registry.misconfigured  # none of these is the configuration's fault


def test_a_contract_section_comes_from_the_file_and_the_environment(
    installed_plugin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = installed_plugin / "wsrf-uws.toml"
    config.write_text('[echo]\ngreeting = "bonjour"\nrepeat = 2\n')
    monkeypatch.setenv("WSRF_UWS_ECHO__REPEAT", "3")  # the environment beats the file
    monkeypatch.setenv("WSRF_UWS_ECHO__HOSTS", '["a.example.org", "b.example.org"]')
    settings = Settings.load(config, data_dir=installed_plugin / "data")
    echo = contract_registry(settings).get("echo")
    assert echo.settings.greeting == "bonjour"
    assert echo.settings.repeat == 3
    assert echo.settings.hosts == ["a.example.org", "b.example.org"]


@pytest.mark.parametrize(
    ("section", "reason"),
    [
        ("repeat = 0", "repeat: Input should be greater than or equal to 1"),
        ("repaet = 2", "repaet: Extra inputs are not permitted"),
        ("smallest = 11", "echo.smallest must not exceed echo.largest"),
    ],
)
def test_an_invalid_section_fails_its_contract_alone(
    installed_plugin: Path, section: str, reason: str
) -> None:
    config = installed_plugin / "wsrf-uws.toml"
    config.write_text(f"[echo]\n{section}\n")
    settings = Settings.load(config, data_dir=installed_plugin / "data")
    registry = contract_registry(settings)
    assert "echo" not in registry
    assert registry.failures["echo"] == f"the settings [echo] are not valid: {reason}"
    assert registry.misconfigured == {"echo"}
    assert "steps" in registry  # the others still load


def test_enabled_contracts_only(installed_plugin: Path) -> None:
    registry = ContractRegistry.from_entry_points(enabled=["echo", "radio"])
    assert registry.names() == ["echo"]
    assert "broken" not in registry.failures
    assert registry.failures["radio"] == "enabled in the settings but not installed"
    assert registry.misconfigured == {"radio"}


def test_a_schema_is_compiled_once_however_many_threads_ask_at_once() -> None:
    # A fresh service's first createJob calls come in parallel; each read its schema, and
    # they compiled it side by side (one such call ended in internal-error).
    compiled: list[int] = []

    def slow_compile(schemas: Mapping[str, Path]) -> etree.XMLSchema:
        compiled.append(1)
        time.sleep(0.2)  # long enough for every thread to ask while it compiles
        return etree.XMLSchema(etree.parse(str(next(iter(schemas.values())))))

    contract = StepsContract(ContractEnvironment(compile_schema=slow_compile))
    with ThreadPoolExecutor(8) as pool:
        schemas = list(pool.map(lambda _: contract.schema, range(8)))
    assert len(compiled) == 1
    assert all(schema is schemas[0] for schema in schemas)
