"""Settings: defaults, TOML file, environment and flags, in that order of strength."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

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
