"""The ``[checksum]`` section: validated by the service, overridable from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from uws_template.contract import ChecksumContract
from uws_template.settings import ChecksumSettings

from wsrf_uws.core.contract import ContractSettingsError
from wsrf_uws.testing import contract_environment


def test_the_defaults_hold_together(tmp_path: Path) -> None:
    environment = contract_environment(ChecksumContract, tmp_path)
    assert environment.settings == ChecksumSettings()
    assert environment.settings.default_algorithm in environment.settings.algorithms


def test_the_section_sets_the_limits(tmp_path: Path) -> None:
    environment = contract_environment(
        ChecksumContract, tmp_path, checksum={"max_inputs": 3, "algorithms": ["sha256"]}
    )
    assert environment.settings.max_inputs == 3
    assert environment.settings.algorithms == ("sha256",)


def test_the_environment_overrides_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSRF_UWS_CHECKSUM__MAX_INPUTS", "7")
    monkeypatch.setenv("WSRF_UWS_CHECKSUM__ALGORITHMS", '["md5", "sha256"]')
    settings = contract_environment(ChecksumContract, tmp_path).settings
    assert settings.max_inputs == 7
    assert settings.algorithms == ("md5", "sha256")


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"max_inputs": 0}, "max_inputs"),
        ({"max_inputs_per_job": 3}, "max_inputs_per_job"),
        ({"algorithms": ["sha256", "crc32"]}, "crc32"),
        ({"default_algorithm": "md5", "algorithms": ["sha256"]}, "default_algorithm"),
        ({"max_input_bytes": 10, "max_job_bytes": 5}, "max_input_bytes"),
    ],
)
def test_an_invalid_section_is_refused_with_its_reason(
    tmp_path: Path, section: dict[str, object], problem: str
) -> None:
    with pytest.raises(ContractSettingsError, match=r"\[checksum\]") as refused:
        contract_environment(ChecksumContract, tmp_path, checksum=section)
    assert problem in str(refused.value)


def test_the_contract_sees_its_own_settings(tmp_path: Path) -> None:
    environment = contract_environment(
        ChecksumContract,
        tmp_path,
        public_url="https://uws.example.org/",
        checksum={"max_inputs": 1},
    )
    contract = ChecksumContract(environment)
    assert contract.options.max_inputs == 1
    assert contract.demo_url == "https://uws.example.org/demo/checksum/"
