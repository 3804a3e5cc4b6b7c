"""Settings: defaults, TOML file, environment and flags, in that order of strength."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from wsrf_uws.core.contract import ContractSettingsError
from wsrf_uws.jdl.adql.settings import AdqlSettings
from wsrf_uws.jdl.cea.settings import CeaSettings
from wsrf_uws.jdl.image.settings import ImageSettings
from wsrf_uws.jdl.vospace.settings import VospaceSettings
from wsrf_uws.settings import Settings


def test_defaults_work_on_a_laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("WSRF_UWS_")]:
        monkeypatch.delenv(key)
    settings = Settings.load()
    assert settings.data_dir == Path("var")
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.default_lifetime == timedelta(days=7)
    assert settings.max_lifetime == timedelta(days=30)
    assert settings.allow_infinite_lifetime is False
    assert settings.slots >= 1
    assert settings.store_path == Path("var/wsrf-uws.sqlite")


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "wsrf-uws.toml"
    config.write_text(
        'data_dir = "/srv/uws"\n'
        'public_url = "https://uws.example.org/"\n'
        'default_lifetime = "P2D"\n'
        "slots = 16\n"
        "port = 9000\n"
    )
    monkeypatch.setenv("WSRF_UWS_SLOTS", "4")
    monkeypatch.setenv("WSRF_UWS_MAX_LIFETIME", "P10D")
    settings = Settings.load(config, port=8443, host=None)
    assert settings.data_dir == Path("/srv/uws")  # file
    assert settings.default_lifetime == timedelta(days=2)  # file, ISO 8601
    assert settings.max_lifetime == timedelta(days=10)  # environment
    assert settings.slots == 4  # environment beats file
    assert settings.port == 8443  # flag beats file
    assert settings.host == "127.0.0.1"  # a flag left unset changes nothing
    assert settings.base_url == "https://uws.example.org"


def test_bad_settings_are_refused_with_the_field_named(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("slots = 0\n")
    with pytest.raises(ValidationError, match="slots"):
        Settings.load(config)
    config.write_text("slotz = 3\n")
    with pytest.raises(ValidationError, match="slotz"):
        Settings.load(config)
    with pytest.raises(ValidationError, match="max_lifetime"):
        Settings(default_lifetime=timedelta(days=9), max_lifetime=timedelta(days=1))
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        Settings.load(tmp_path / "nope.toml")


def test_tables_the_service_does_not_know_are_contracts_sections(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('slots = 3\n[adql]\ndefault_maxrec = 5\n[thumbs]\nsize = "large"\n')
    settings = Settings.load(config)
    assert settings.slots == 3
    assert settings.contract_sections == {
        "adql": {"default_maxrec": 5},
        "thumbs": {"size": "large"},
    }
    # A table the service declares is the service's: a typo in it is refused at once.
    config.write_text("[quotas]\nmax_live_jobz = 3\n")
    with pytest.raises(ValidationError, match="max_live_jobz"):
        Settings.load(config)


def test_the_shipped_contracts_keep_their_settings_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TOML tables and environment variables documented in docs/configuration.md."""
    config = tmp_path / "c.toml"
    config.write_text(
        "[adql]\ndefault_maxrec = 50\n"
        '[cea]\nfetch_allow = ["https://archive.example.org/"]\nmax_cpu_seconds = 7200\n'
        "[vospace]\nmax_space_bytes = 5_000_000_000\n"
        '[vospace.owners.pipeline]\nmax_lifetime = "P90D"\n'
        "[image]\nmax_fields = 10\n"
    )
    monkeypatch.setenv("WSRF_UWS_ADQL__CATALOG", str(tmp_path / "stars.duckdb"))
    monkeypatch.setenv("WSRF_UWS_CEA__DELIVER_ALLOW", '["https://vospace.example.org/upload/"]')
    monkeypatch.setenv("WSRF_UWS_VOSPACE__OWNERS__PIPELINE__MAX_OWNER_BYTES", "7")
    monkeypatch.setenv("WSRF_UWS_IMAGE__MAX_FIELDS", "20")
    settings = Settings.load(config)
    adql = settings.contract_settings("adql", AdqlSettings)
    assert (adql.default_maxrec, adql.catalog) == (50, tmp_path / "stars.duckdb")
    cea = settings.contract_settings("cea", CeaSettings)
    assert cea.fetch_allow == ["https://archive.example.org/"]
    assert cea.deliver_allow == ["https://vospace.example.org/upload/"]
    assert cea.max_cpu_seconds == 7200
    vospace = settings.contract_settings("vospace", VospaceSettings)
    assert vospace.max_space_bytes == 5_000_000_000
    assert vospace.limits_for("pipeline") == (5_000_000_000, 7, timedelta(days=90))
    assert settings.contract_settings("image", ImageSettings).max_fields == 20


def test_a_contracts_own_checks_name_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[adql]\ndefault_maxrec = 10\nmax_maxrec = 5\n")
    with pytest.raises(ContractSettingsError) as refused:
        Settings.load(config).contract_settings("adql", AdqlSettings)
    assert str(refused.value) == (
        "the settings [adql] are not valid: adql.default_maxrec must not exceed adql.max_maxrec"
    )
    # A contract cannot take a section the service owns.
    with pytest.raises(ContractSettingsError, match="'http'"):
        Settings().contract_settings("http", AdqlSettings)


def test_a_section_given_in_code_is_a_model_or_a_table() -> None:
    settings = Settings(adql=AdqlSettings(default_maxrec=7), image={"max_fields": 3})
    assert settings.contract_settings("adql", AdqlSettings).default_maxrec == 7
    assert settings.contract_settings("image", ImageSettings).max_fields == 3
    with pytest.raises(ValidationError, match="unknown setting 'nothing'"):
        Settings(nothing=3)


def test_relative_paths_in_the_file_are_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    config = folder / "c.toml"
    config.write_text(
        'data_dir = "var"\nusers_file = "~/users"\n[cea]\nlibrary = "apps"\n'
        'search_path = ["bin", "/usr/bin"]\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WSRF_UWS_ADQL__CATALOG", "stars.duckdb")
    settings = Settings.load(config)
    assert settings.data_dir == folder / "var"
    assert settings.users_file == Path("~/users")  # not relative: left for the shell's meaning
    cea = settings.contract_settings("cea", CeaSettings)
    assert cea.library == folder / "apps"
    assert cea.search_path == [folder / "bin", Path("/usr/bin")]
    # A value from the environment is the working folder's, as on a command line.
    assert settings.contract_settings("adql", AdqlSettings).catalog == Path("stars.duckdb")
    assert Settings.load(None, data_dir=Path("here")).data_dir == Path("here")
