"""core.atomic: a destination holds its old content or the whole new one, with the mode asked,
and the rename is synced to the disk."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsrf_uws.core.atomic import (
    atomic_path,
    atomic_writer,
    fsync_path,
    replace_durably,
    write_atomic,
)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """A known umask, so the modes the tests expect do not depend on the shell's."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- content ------------------------------------------------------------------------------


def test_bytes_and_text_replace_the_file_and_leave_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"  # the folder is created
    write_atomic(target, b"first")
    assert target.read_bytes() == b"first"
    write_atomic(target, "été", encoding="utf-8")
    assert target.read_bytes() == "été".encode()
    write_atomic(target, "été", encoding="latin-1")
    assert target.read_bytes() == b"\xe9t\xe9"
    assert _names(target.parent) == ["f.txt"]


def test_a_failure_mid_write_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    write_atomic(target, b"old")

    def crash_while_writing() -> None:
        with atomic_writer(target) as stream:
            stream.write(b"new, half written")
            raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError, match="crash"):
        crash_while_writing()
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["f.bin"]


def test_a_failure_mid_write_of_a_new_file_leaves_no_file(tmp_path: Path) -> None:
    def interrupted() -> None:
        with atomic_writer(tmp_path / "new.bin") as stream:
            stream.write(b"x" * 100_000)
            raise KeyboardInterrupt  # not only Exception: anything that ends the block

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert _names(tmp_path) == []


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from wsrf_uws.core.atomic import atomic_writer

    with atomic_writer(Path(sys.argv[1])) as stream:
        stream.write(b"new" * 1_000_000)
        stream.flush()
        print("written", flush=True)
        time.sleep(60)
    """
)


def test_a_process_killed_mid_write_leaves_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    write_atomic(target, b"old")
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "written\n"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert target.read_bytes() == b"old"
    # What a crash leaves is a hidden temporary file, never a half-written destination.
    leftovers = [name for name in _names(tmp_path) if name != "f.bin"]
    assert len(leftovers) == 1
    assert leftovers[0].startswith(".f.bin.")


# -- modes --------------------------------------------------------------------------------


@pytest.mark.usefixtures("umask_022")
def test_files_are_private_by_default(tmp_path: Path) -> None:
    write_atomic(tmp_path / "secret", b"s")
    assert _mode(tmp_path / "secret") == 0o600


@pytest.mark.usefixtures("umask_022")
def test_the_mode_asked_is_given_exactly_whatever_the_umask(tmp_path: Path) -> None:
    write_atomic(tmp_path / "shared", b"s", mode=0o664)  # the umask would clear g+w
    assert _mode(tmp_path / "shared") == 0o664
    with atomic_path(tmp_path / "by-name", mode=0o640) as temporary:
        temporary.write_bytes(b"s")
    assert _mode(tmp_path / "by-name") == 0o640


@pytest.mark.usefixtures("umask_022")
def test_mode_none_lets_the_umask_decide(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a", b"s", mode=None)
    assert _mode(tmp_path / "a") == 0o644
    with atomic_path(tmp_path / "b", mode=None) as temporary:
        temporary.write_bytes(b"s")
    assert _mode(tmp_path / "b") == 0o644


@pytest.mark.usefixtures("umask_022")
def test_replacing_a_file_gives_the_new_mode(tmp_path: Path) -> None:
    target = tmp_path / "users"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_atomic(target, b"new", mode=0o600)
    assert _mode(target) == 0o600


# -- writers that open files by name -------------------------------------------------------


def test_atomic_path_renames_what_the_block_wrote(tmp_path: Path) -> None:
    target = tmp_path / "cursor.arrow"
    with atomic_path(target, suffix=".building") as temporary:
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(".cursor.arrow.")
        assert temporary.name.endswith(".building")
        assert not temporary.exists()  # the writer creates it, as it wishes
        temporary.write_bytes(b"rows")
    assert target.read_bytes() == b"rows"
    assert _names(tmp_path) == ["cursor.arrow"]


def test_atomic_path_keeps_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "cursor.arrow"
    target.write_bytes(b"old")

    def failing_writer() -> None:
        with atomic_path(target) as temporary:
            temporary.write_bytes(b"half")
            raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        failing_writer()
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["cursor.arrow"]


def test_atomic_path_refuses_a_block_that_wrote_nothing(tmp_path: Path) -> None:
    target = tmp_path / "cursor.arrow"
    target.write_bytes(b"old")
    with pytest.raises(FileNotFoundError), atomic_path(target):
        pass
    assert target.read_bytes() == b"old"


# -- durability ---------------------------------------------------------------------------


class _FsyncSpy:
    """Records what os.fsync was called on, as (device, inode), then really syncs.

    A spy, because what a missing folder fsync loses shows only after a power cut, which a
    test cannot cause; that the calls are made, on the right objects, is what it can check.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.synced: list[tuple[int, int]] = []
        real = os.fsync

        def fsync(descriptor: int) -> None:
            status = os.fstat(descriptor)
            self.synced.append((status.st_dev, status.st_ino))
            real(descriptor)

        monkeypatch.setattr(os, "fsync", fsync)

    def saw(self, path: Path) -> bool:
        status = path.stat()
        return (status.st_dev, status.st_ino) in self.synced


def test_the_file_and_then_its_folder_are_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _FsyncSpy(monkeypatch)
    target = tmp_path / "f.bin"
    write_atomic(target, b"data")
    # The file's inode is the temporary's: renaming keeps it.
    assert spy.saw(target)
    assert spy.saw(tmp_path)
    assert spy.synced.index((tmp_path.stat().st_dev, tmp_path.stat().st_ino)) == 1


def test_atomic_path_syncs_the_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _FsyncSpy(monkeypatch)
    with atomic_path(tmp_path / "db") as temporary:
        temporary.write_bytes(b"data")  # a writer that never syncs
    assert spy.saw(tmp_path / "db")
    assert spy.saw(tmp_path)


def test_replace_durably_syncs_the_folder_of_the_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "upload.part").write_bytes(b"data")
    fsync_path(tmp_path / "upload.part")
    spy = _FsyncSpy(monkeypatch)
    replace_durably(tmp_path / "upload.part", tmp_path / "blob")
    assert (tmp_path / "blob").read_bytes() == b"data"
    assert spy.synced == [(tmp_path.stat().st_dev, tmp_path.stat().st_ino)]


def test_replace_durably_of_a_vanished_file_raises_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "blob").write_bytes(b"old")
    with pytest.raises(FileNotFoundError):
        replace_durably(tmp_path / "gone.part", tmp_path / "blob")
    assert (tmp_path / "blob").read_bytes() == b"old"
