"""Uploads (``jdl/vospace/uploads.py``, with the store's side in ``store.py``): bytes streamed
to a partial file on disk, quota reserved up front or as they come, then committed or
aborted so that nothing is left behind, whatever happens."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from wsrf_uws.jdl.vospace import uploads
from wsrf_uws.jdl.vospace.errors import (
    ChecksumMismatch,
    IncompleteUpload,
    InvalidArgument,
    NodeBusy,
    NodeNotFound,
    QuotaExceeded,
)
from wsrf_uws.jdl.vospace.nodes import NodeKind
from wsrf_uws.jdl.vospace.store import SpaceStore
from wsrf_uws.testing import ManualClock

PATH = ("s", "f")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[SpaceStore]:
    """Space ``s`` of alice, 1000 bytes, with an empty data node ``f`` and a folder ``dir``."""
    spaces = SpaceStore(tmp_path / "vospace", authority="example.org", clock=clock)
    spaces.create_space(name="s", owner="alice", quota_bytes=1000, expires=None)
    spaces.create_node(PATH, kind=NodeKind.DATA, xsi_type="UnstructuredDataNode")
    spaces.create_node(("s", "dir"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
    yield spaces
    spaces.close()


def accounts(store: SpaceStore) -> tuple[int, int]:
    """(used, reserved) bytes of space ``s``."""
    space = store.space("s")
    assert space is not None
    return space.used_bytes, space.reserved_bytes


def folder(store: SpaceStore) -> Path:
    (name,) = store._connection().execute("SELECT folder FROM spaces").fetchone()
    return store.root / "blobs" / name


def stored(store: SpaceStore) -> bytes:
    stream = store.open_data(store.get_node(PATH)[1])
    assert stream is not None
    with stream:
        return stream.read()


def test_an_announced_upload_reserves_up_front_and_commits_exactly(store: SpaceStore) -> None:
    data = b"0123456789" * 30
    with store.begin_upload(PATH, expected_length=300) as upload:
        assert accounts(store) == (0, 300)
        assert [p.suffix for p in folder(store).iterdir()] == [".part"]
        upload.write(data[:100])
        upload.write(data[100:])
        node = upload.commit()
    assert (node.length, node.md5) == (300, hashlib.md5(data).hexdigest())
    assert accounts(store) == (300, 0)
    assert stored(store) == data
    assert len(list(folder(store).iterdir())) == 1


def test_replacing_data_counts_the_old_bytes_as_freed(store: SpaceStore) -> None:
    with store.begin_upload(PATH, expected_length=800) as upload:
        upload.write(b"a" * 800)
        upload.commit()
    # 1000 more would not fit beside the 800, but they replace them.
    with store.begin_upload(PATH, expected_length=1000) as upload:
        assert accounts(store) == (800, 200)
        upload.write(b"b" * 1000)
        upload.commit()
    assert accounts(store) == (1000, 0)
    with store.begin_upload(PATH, expected_length=10) as upload:
        upload.write(b"c" * 10)
        upload.commit()
    assert accounts(store) == (10, 0)
    assert stored(store) == b"c" * 10
    assert len(list(folder(store).iterdir())) == 1  # the replaced files are gone


def test_an_unannounced_upload_reserves_as_the_bytes_come(store: SpaceStore) -> None:
    with store.begin_upload(PATH, expected_length=None) as upload:
        assert accounts(store) == (0, 0)
        upload.write(b"x" * 400)
        assert accounts(store) == (0, 400)
        upload.write(b"x" * 600)
        assert accounts(store) == (0, 1000)
        upload.commit()
    assert accounts(store) == (1000, 0)


def test_bytes_beyond_the_room_abort_the_upload(store: SpaceStore) -> None:
    upload = store.begin_upload(PATH, expected_length=None)
    upload.write(b"x" * 999)
    with pytest.raises(QuotaExceeded, match="exceeds what /s has room for"):
        upload.write(b"yy")
    assert accounts(store) == (0, 0)
    assert list(folder(store).iterdir()) == []
    with pytest.raises(RuntimeError, match="finished"):
        upload.write(b"z")
    with pytest.raises(RuntimeError, match="finished"):
        upload.commit()
    # More than announced counts against the space as it comes, too.
    with store.begin_upload(PATH, expected_length=10) as upload, pytest.raises(QuotaExceeded):
        upload.write(b"x" * 1001)
    assert accounts(store) == (0, 0)


@pytest.mark.parametrize(
    ("sent", "fault", "words"),
    [
        (b"short", IncompleteUpload, "5 bytes arrived of the 10 announced"),
        (b"far too long", IncompleteUpload, "12 bytes arrived of the 10 announced"),
    ],
)
def test_a_body_of_another_length_than_announced_is_refused(
    store: SpaceStore, sent: bytes, fault: type[Exception], words: str
) -> None:
    with store.begin_upload(PATH, expected_length=10) as upload:
        upload.write(sent)
        with pytest.raises(fault, match=words):
            upload.commit()
    assert accounts(store) == (0, 0)
    assert list(folder(store).iterdir()) == []
    assert store.get_node(PATH)[1].md5 is None


def test_a_wrong_announced_md5_keeps_the_old_bytes(store: SpaceStore) -> None:
    with store.begin_upload(PATH, expected_length=3) as upload:
        upload.write(b"old")
        upload.commit(expected_md5=hashlib.md5(b"old").hexdigest().upper())
    with store.begin_upload(PATH, expected_length=3) as upload:
        upload.write(b"new")
        with pytest.raises(ChecksumMismatch, match="not 00000000000000000000000000000000"):
            upload.commit(expected_md5="0" * 32)
    assert stored(store) == b"old"
    assert accounts(store) == (3, 0)


def test_an_upload_left_unfinished_is_aborted_and_aborting_twice_is_harmless(
    store: SpaceStore,
) -> None:
    with store.begin_upload(PATH, expected_length=50) as upload:
        upload.write(b"x" * 20)
    assert accounts(store) == (0, 0)
    assert list(folder(store).iterdir()) == []
    upload.abort()
    assert accounts(store) == (0, 0)
    assert not store.get_node(PATH)[1].busy


def test_a_long_upload_says_it_is_alive(
    store: SpaceStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "HEARTBEAT_SECONDS", 0.0)
    with store.begin_upload(PATH, expected_length=10) as upload:
        clock.advance(timedelta(hours=3))
        upload.write(b"x" * 5)  # within its reservation, so only the heartbeat is written
        # The heartbeat keeps a sweep from taking it for the upload of a dead process.
        assert store.sweep(stale_after=timedelta(hours=1)).uploads_aborted == 0
        upload.write(b"x" * 5)
        upload.commit()
    assert stored(store) == b"x" * 10


def test_an_upload_whose_node_goes_fails_wherever_it_is(store: SpaceStore) -> None:
    growing = store.begin_upload(PATH, expected_length=None)
    growing.write(b"x" * 10)
    store.delete_node(PATH)
    with pytest.raises(NodeNotFound, match="was deleted during the upload"):
        growing.write(b"x" * 10)  # needs more room: the store finds it gone
    assert accounts(store) == (0, 0)
    assert list(folder(store).iterdir()) == []
    # Its partial file removed under it (a sweep at startup): the commit fails cleanly.
    store.create_node(PATH, kind=NodeKind.DATA, xsi_type="DataNode")
    cut = store.begin_upload(PATH, expected_length=3)
    cut.write(b"abc")
    store.sweep(stale_after=timedelta(0))
    with pytest.raises(NodeNotFound, match="was deleted during the upload"):
        cut.commit()
    assert accounts(store) == (0, 0)
    assert list(folder(store).iterdir()) == []


def test_an_upload_starts_only_into_a_data_node_with_room(store: SpaceStore) -> None:
    node = store.get_node(PATH)[1]
    with pytest.raises(InvalidArgument, match="negative"):
        store.begin_upload(PATH, expected_length=-1)
    with pytest.raises(InvalidArgument, match="not a data node"):
        store.begin_upload(("s", "dir"), expected_length=1)
    with pytest.raises(NodeNotFound, match="no longer the node the transfer named"):
        store.begin_upload(PATH, expected_length=1, node_id=node.id + 1)
    with pytest.raises(QuotaExceeded, match="1001 bytes do not fit in /s: 1000 bytes"):
        store.begin_upload(PATH, expected_length=1001)
    with store.begin_upload(PATH, expected_length=1, node_id=node.id), pytest.raises(NodeBusy):
        store.begin_upload(PATH, expected_length=1)
    assert accounts(store) == (0, 0)


def test_an_upload_that_cannot_open_its_file_gives_its_reservation_back(
    store: SpaceStore,
) -> None:
    folder(store).rmdir()  # the space's folder went (a disk failure, a careless admin)
    with pytest.raises(FileNotFoundError):
        store.begin_upload(PATH, expected_length=100)
    assert accounts(store) == (0, 0)
    assert not store.get_node(PATH)[1].busy
