"""The users file (``wsrf_uws.accounts.users_file``): its format, editing it, and checking
passwords against it."""

from __future__ import annotations

import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from wsrf_uws.accounts import PasswordHash, UsersFile, UsersFileError
from wsrf_uws.core.errors import NotAuthenticatedError
from wsrf_uws.core.model import ANONYMOUS


def test_users_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "users"
    UsersFile.add(path, "carol", "first")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "first" not in path.read_text()  # only the hash is stored
    UsersFile.add(path, "dave", "dave's", digest=True)
    UsersFile.add(path, "carol", "second")  # a new password replaces the old one in place
    users = UsersFile.load(path)
    assert users.names == ["carol", "dave"]
    assert users.verify_password(name="carol", password="second")
    assert not users.verify_password(name="carol", password="first")
    assert users.digest_secret("dave") == "dave's"
    assert users.digest_secret("carol") is None

    UsersFile.remove(path, "carol")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert UsersFile.load(path).names == ["dave"]
    with pytest.raises(KeyError):
        UsersFile.remove(path, "carol")
    assert [p.name for p in tmp_path.iterdir()] == ["users"]  # no temporary files left
    assert UsersFile.load(path).verify_password(name="dave", password="dave's")


def test_comments_and_blank_lines_are_ignored_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "users"
    UsersFile.add(path, "erin", "pw")
    line = path.read_text().splitlines()[-1]
    path.write_text(f"# the team\n\n{line}\n   \n# end\n")
    os.chmod(path, 0o600)
    assert UsersFile.load(path).names == ["erin"]
    UsersFile.add(path, "frank", "pw")
    text = path.read_text()
    assert text.startswith("# the team\n\n")
    assert "# end\n" in text
    assert UsersFile.load(path).names == ["erin", "frank"]


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("grace", "expected 2 or 3 fields"),
        ("grace md5$x$y$z", "unknown password hash algorithm"),
        ("grace scrypt$ln=14,r=8,p=5$!!$AAAA", "not base64"),
        ("grace pbkdf2-sha256$i=1000$c2FsdHNhbHQ=$" + "A" * 44, "needs 200000 to"),
        ("grace scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ=$" + "A" * 44, "more than 1 GiB"),
        ("anonymous scrypt$ln=14,r=8,p=5$c2FsdHNhbHQ=$" + "A" * 44, "reserved"),
        ("grace scrypt$ln=14,r=8,p=5$c2FsdHNhbHQ=$" + "A" * 44 + " plain=x", "third field"),
    ],
)
def test_a_corrupt_line_is_reported_with_its_number(
    tmp_path: Path, bad_line: str, expected: str
) -> None:
    path = tmp_path / "users"
    UsersFile.add(path, "heidi", "pw")
    with path.open("a", encoding="utf-8") as stream:
        stream.write(f"\n# a comment\n{bad_line}\n")
    number = len(path.read_text().splitlines())
    with pytest.raises(UsersFileError, match=expected) as caught:
        UsersFile.load(path)
    assert caught.value.line == number
    assert f"line {number}:" in str(caught.value)
    # Editing a corrupt file is refused rather than carrying the damage along.
    with pytest.raises(UsersFileError):
        UsersFile.add(path, "ivan", "pw")


def test_a_user_twice_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "users"
    UsersFile.add(path, "judy", "pw")
    path.write_text(path.read_text() * 2)
    with pytest.raises(UsersFileError, match="appears twice"):
        UsersFile.load(path)


@pytest.mark.parametrize("name", ["", "with space", "colon:name", "#hash", ANONYMOUS])
def test_unacceptable_names_and_passwords(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsersFileError):
        UsersFile.add(tmp_path / "users", name, "pw")
    with pytest.raises(UsersFileError, match="empty"):
        UsersFile.add(tmp_path / "users", "ok", "")
    assert not (tmp_path / "users").exists()


def test_setting_the_same_password_again_writes_a_new_salt(tmp_path: Path) -> None:
    path = tmp_path / "users"
    UsersFile.add(path, "kim", "same")
    before = path.read_text()
    UsersFile.add(path, "kim", "same")
    assert path.read_text() != before
    assert UsersFile.load(path).verify_password(name="kim", password="same")


def test_a_verified_password_is_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client polling with the same credentials pays for the key derivation once."""
    path = tmp_path / "users"
    UsersFile.add(path, "bob", "can:we:fix:it")
    UsersFile.add(path, "alice", "wönderland")
    calls: list[str] = []
    original = PasswordHash.verify

    def counting(self: PasswordHash, password: str) -> bool:
        calls.append(password)
        return original(self, password)

    monkeypatch.setattr(PasswordHash, "verify", counting)
    users = UsersFile.load(path)
    for _ in range(5):
        assert users.verify_password(name="bob", password="can:we:fix:it")
    assert len(calls) == 1
    # Failures are never cached: every guess pays, unknown users included.
    for _ in range(2):
        assert not users.verify_password(name="bob", password="guess")
        assert not users.verify_password(name="mallory", password="guess")
    assert len(calls) == 5
    # A password verified for bob is not taken for anybody else's.
    assert not users.verify_password(name="alice", password="can:we:fix:it")
    assert len(calls) == 6


def test_key_derivations_are_rationed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrong passwords cannot queue up key derivations without bound: beyond the slots, a
    check fails fast as busy, and once the slots free up checks succeed again."""
    path = tmp_path / "users"
    UsersFile.add(path, "bob", "right")
    users = UsersFile.load(path, max_concurrent_checks=2, check_wait=0.05)
    release = threading.Event()
    started = threading.Semaphore(0)
    original = PasswordHash.verify

    def blocking(self: PasswordHash, password: str) -> bool:
        started.release()
        assert release.wait(30)
        return original(self, password)

    monkeypatch.setattr(PasswordHash, "verify", blocking)
    with ThreadPoolExecutor(2) as pool:
        # One wrong password, one unknown user: both cost a derivation, both hold a slot.
        guesses = [
            pool.submit(users.verify_password, name="bob", password="guess"),
            pool.submit(users.verify_password, name="mallory", password="guess"),
        ]
        for _ in guesses:
            assert started.acquire(timeout=10)
        begun = time.monotonic()
        with pytest.raises(NotAuthenticatedError) as caught:
            users.verify_password(name="bob", password="right")
        assert time.monotonic() - begun < 2
        assert caught.value.description == (
            "the service is busy checking other credentials; try again"
        )
        release.set()
        assert [guess.result(timeout=30) for guess in guesses] == [False, False]
    assert users.verify_password(name="bob", password="right")


def test_remembered_passwords_need_no_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "users"
    UsersFile.add(path, "bob", "right")
    users = UsersFile.load(path, max_concurrent_checks=1, check_wait=0.05)
    assert users.verify_password(name="bob", password="right")
    monkeypatch.setattr(users, "_derivations", threading.BoundedSemaphore(1))
    assert users._derivations.acquire(blocking=False)  # every slot taken
    assert users.verify_password(name="bob", password="right")  # from the cache
    with pytest.raises(NotAuthenticatedError):
        users.verify_password(name="bob", password="other")


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        UsersFile({}, max_concurrent_checks=0)
