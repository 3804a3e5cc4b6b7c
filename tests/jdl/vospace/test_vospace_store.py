"""The space store (``jdl/vospace/store.py``) on a real SQLite file and real data files in a
temporary folder: spaces as the UWS contract manages them, nodes and their faults, quota
accounting, data, transfer records and housekeeping."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from wsrf_uws.jdl.vospace.errors import (
    ContainerNotFound,
    DuplicateNode,
    InvalidArgument,
    InvalidURI,
    LinkFound,
    NodeBusy,
    NodeNotFound,
    QuotaBelowUsageError,
    QuotaExceeded,
    SpaceConflictError,
    SpaceNotFoundError,
    TooManyTransfers,
)
from wsrf_uws.jdl.vospace.nodes import NodeKind, OfferedProtocol, TransferRecord
from wsrf_uws.jdl.vospace.properties import ISPUBLIC, MAX_PROPERTIES, PUBLICREAD
from wsrf_uws.jdl.vospace.schema import SCHEMA_VERSION
from wsrf_uws.jdl.vospace.store import SpaceStore, SweepReport
from wsrf_uws.testing import ManualClock

AUTHORITY = "example.org"
TITLE = "ivo://ivoa.net/vospace/core#title"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def spaces(tmp_path: Path, clock: ManualClock) -> Iterator[SpaceStore]:
    store = SpaceStore(tmp_path / "vospace", authority=AUTHORITY, clock=clock)
    yield store
    store.close()


def folders(store: SpaceStore) -> list[Path]:
    return sorted((store.root / "blobs").iterdir())


def folder_of(store: SpaceStore, space: str) -> Path:
    """The folder holding ``space``'s data files."""
    query = "SELECT folder FROM spaces WHERE name = ?"
    (folder,) = store._connection().execute(query, (space,)).fetchone()
    return store.root / "blobs" / folder


def files_of(store: SpaceStore, space: str) -> list[str]:
    """The names of the files in ``space``'s data folder."""
    return sorted(p.name for p in folder_of(store, space).iterdir())


def put(store: SpaceStore, path: tuple[str, ...], data: bytes) -> None:
    """Store ``data`` as the bytes of the data node ``path`` (created if missing)."""
    try:
        store.get_node(path)
    except NodeNotFound:
        store.create_node(path, kind=NodeKind.DATA, xsi_type="UnstructuredDataNode")
    with store.begin_upload(path, expected_length=len(data)) as upload:
        upload.write(data)
        upload.commit()


def record(
    store: SpaceStore,
    owner: str = "alice",
    *,
    minutes: int = 10,
    path: tuple[str, ...] | None = None,
) -> TransferRecord:
    now = store.clock.now()
    return TransferRecord(
        id=f"t-{owner}-{now.timestamp()}-{minutes}-{id(path)}",
        owner=owner,
        direction="pullFromVoSpace",
        target="vos://example.org!vospace/x",
        path=path,
        node_id=None if path is None else 1,
        view=None,
        protocols=(OfferedProtocol("ivo://ivoa.net/vospace/core#httpget", None),),
        phase="COMPLETED",
        error=None,
        created=now,
        expires=now + timedelta(minutes=minutes),
    )


# -- spaces ---------------------------------------------------------------------------


def test_a_store_needs_room_for_at_least_one_node(tmp_path: Path, clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="max_nodes_per_space"):
        SpaceStore(tmp_path, authority=AUTHORITY, clock=clock, max_nodes_per_space=0)


def test_a_space_is_created_once_for_its_owner(spaces: SpaceStore, clock: ManualClock) -> None:
    expires = clock.now() + timedelta(days=1)
    first = spaces.create_space(name="job-1", owner="alice", quota_bytes=10, expires=expires)
    assert first.identifier == "vos://example.org!vospace/job-1"
    assert (first.node_path, first.quota_bytes, first.expires) == ("/job-1", 10, expires)
    assert (first.used_bytes, first.reserved_bytes, first.node_count) == (0, 0, 1)
    # Run again (a job re-run after a crash): the same space, unchanged.
    again = spaces.create_space(name="job-1", owner="alice", quota_bytes=99, expires=None)
    assert again == first
    assert len(folders(spaces)) == 1
    with pytest.raises(SpaceConflictError, match="not yours"):
        spaces.create_space(name="job-1", owner="bob", quota_bytes=10, expires=None)
    assert [s.name for s in spaces.spaces()] == ["job-1"]


@pytest.mark.parametrize(
    ("name", "owner", "quota", "refusal"),
    [
        ("ok", "anonymous", 10, ValueError),
        ("ok", "", 10, ValueError),
        ("ok", "alice", -1, ValueError),
        ("..", "alice", 10, InvalidURI),
        ("a/b", "alice", 10, InvalidURI),
        ("", "alice", 10, InvalidURI),
    ],
)
def test_a_space_needs_a_good_name_an_owner_and_a_quota(
    spaces: SpaceStore, name: str, owner: str, quota: int, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        spaces.create_space(name=name, owner=owner, quota_bytes=quota, expires=None)
    assert spaces.spaces() == [] and folders(spaces) == []


def test_the_owner_limit_is_checked_with_the_creation(spaces: SpaceStore) -> None:
    spaces.create_space(name="a", owner="alice", quota_bytes=600, expires=None, owner_limit=1000)
    spaces.create_space(name="b", owner="bob", quota_bytes=900, expires=None, owner_limit=1000)
    with pytest.raises(QuotaExceeded, match="alice's spaces hold 600 bytes; 401 more"):
        spaces.create_space(
            name="c", owner="alice", quota_bytes=401, expires=None, owner_limit=1000
        )
    # Nothing is left of the refused space: no row, no data folder.
    assert [s.name for s in spaces.spaces()] == ["a", "b"]
    assert len(folders(spaces)) == 2
    spaces.create_space(name="c", owner="alice", quota_bytes=400, expires=None, owner_limit=1000)


def test_racing_creations_of_one_space_make_one_space_and_one_folder(spaces: SpaceStore) -> None:
    racers = 8
    barrier = threading.Barrier(racers)
    made: list[str] = []

    def create() -> None:
        barrier.wait()
        made.append(
            spaces.create_space(name="race", owner="alice", quota_bytes=5, expires=None).identifier
        )

    threads = [threading.Thread(target=create) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == ["vos://example.org!vospace/race"] * racers
    assert len(folders(spaces)) == 1


def test_a_space_created_by_another_process_is_seen_here(spaces: SpaceStore) -> None:
    # The worker process creates spaces at startJob; the service process serves them.
    code = (
        "import sys; from pathlib import Path; from wsrf_uws.core.clock import SystemClock;"
        "from wsrf_uws.jdl.vospace.store import SpaceStore;"
        "s = SpaceStore(Path(sys.argv[1]), authority='example.org', clock=SystemClock());"
        "print(s.create_space(name='from-worker', owner='bob', quota_bytes=5, expires=None)"
        ".identifier)"
    )
    worker = subprocess.run(
        [sys.executable, "-c", code, str(spaces.root)], capture_output=True, text=True, timeout=60
    )
    assert worker.stdout.strip() == "vos://example.org!vospace/from-worker", worker.stderr
    assert spaces.space("from-worker").owner == "bob"
    assert [space.name for space, _ in spaces.space_nodes()] == ["from-worker"]


def test_expiry_makes_a_space_answer_as_gone_until_it_is_moved(
    spaces: SpaceStore, clock: ManualClock
) -> None:
    soon = clock.now() + timedelta(hours=1)
    spaces.create_space(name="brief", owner="alice", quota_bytes=10, expires=soon)
    spaces.create_space(name="lasting", owner="alice", quota_bytes=10, expires=None)
    spaces.create_node(("brief", "dir"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
    assert spaces.expired_spaces() == []
    clock.advance(timedelta(hours=1))
    assert spaces.expired_spaces() == ["brief"]
    assert spaces.space("brief").is_expired(clock.now())
    assert [space.name for space, _ in spaces.space_nodes()] == ["lasting"]
    with pytest.raises(NodeNotFound, match="/brief does not exist"):
        spaces.get_node(("brief",))
    with pytest.raises(ContainerNotFound, match="/brief does not exist"):
        spaces.get_node(("brief", "dir"))
    with pytest.raises(ContainerNotFound):
        spaces.create_node(("brief", "new"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
    moved = spaces.set_expiry("brief", clock.now() + timedelta(hours=1))
    assert not moved.is_expired(clock.now())
    assert spaces.get_node(("brief", "dir"))[1].kind == NodeKind.CONTAINER
    assert spaces.set_expiry("brief", None).expires is None
    with pytest.raises(SpaceNotFoundError):
        spaces.set_expiry("no-such-space", None)


def test_a_quota_never_drops_below_what_the_space_holds(spaces: SpaceStore) -> None:
    spaces.create_space(name="s", owner="alice", quota_bytes=100, expires=None)
    put(spaces, ("s", "kept"), b"x" * 30)
    with pytest.raises(QuotaBelowUsageError, match="holds 30 bytes; a quota of 29"):
        spaces.set_quota("s", 29)
    # An upload under way holds its bytes too.
    spaces.create_node(("s", "coming"), kind=NodeKind.DATA, xsi_type="DataNode")
    with spaces.begin_upload(("s", "coming"), expected_length=50):
        with pytest.raises(QuotaBelowUsageError, match="and 50 more are being uploaded"):
            spaces.set_quota("s", 79)
        assert spaces.set_quota("s", 80).available_bytes == 0
    assert spaces.space("s").available_bytes == 50  # the upload gave its bytes back
    with pytest.raises(ValueError, match=">= 0"):
        spaces.set_quota("s", -1)
    with pytest.raises(SpaceNotFoundError):
        spaces.set_quota("no-such-space", 10)


def test_deleting_a_space_removes_everything_once(spaces: SpaceStore) -> None:
    spaces.create_space(name="s", owner="alice", quota_bytes=100, expires=None)
    spaces.create_space(name="t", owner="alice", quota_bytes=100, expires=None)
    put(spaces, ("s", "f"), b"bytes")
    spaces.set_properties(("s", "f"), {TITLE: "t"})
    spaces.add_transfer(record(spaces, path=("s", "f")), space="s")
    assert spaces.delete_space("s") is True
    assert spaces.space("s") is None
    assert len(folders(spaces)) == 1
    conn = spaces._connection()
    for table in ("nodes", "uploads", "transfers"):
        count = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE space = 's'").fetchone()[0]
        assert count == 0, table
    assert conn.execute("SELECT COUNT(*) FROM properties").fetchone()[0] == 0
    assert spaces.delete_space("s") is False
    assert spaces.space("t") is not None


# -- nodes ----------------------------------------------------------------------------


@pytest.fixture
def tree(spaces: SpaceStore) -> SpaceStore:
    """Space ``s`` of alice with ``dir/``, ``data`` and ``link`` (to ``dir``)."""
    spaces.create_space(name="s", owner="alice", quota_bytes=1000, expires=None)
    spaces.create_node(("s", "dir"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
    spaces.create_node(("s", "data"), kind=NodeKind.DATA, xsi_type="UnstructuredDataNode")
    spaces.create_node(
        ("s", "link"),
        kind=NodeKind.LINK,
        xsi_type="LinkNode",
        target="vos://example.org!vospace/s/dir",
    )
    return spaces


@pytest.mark.parametrize(
    ("path", "fault", "words"),
    [
        (("nothing",), NodeNotFound, "/nothing does not exist"),
        (("nothing", "x"), ContainerNotFound, "/nothing does not exist"),
        (("s", "missing"), NodeNotFound, "/s/missing does not exist"),
        (("s", "missing", "x"), ContainerNotFound, "/s/missing does not exist"),
        (("s", "data", "x"), ContainerNotFound, "/s/data is not a ContainerNode"),
        (("s", "link", "x"), LinkFound, "/s/link is a LinkNode"),
    ],
)
def test_each_missing_or_wrong_step_of_a_path_has_its_fault(
    tree: SpaceStore, path: tuple[str, ...], fault: type[Exception], words: str
) -> None:
    with pytest.raises(fault, match=words) as caught:
        tree.get_node(path)
    assert type(caught.value) is fault
    with pytest.raises((NodeNotFound, ContainerNotFound, LinkFound)):
        tree.list_children(path)


def test_the_root_is_no_node_of_any_space(tree: SpaceStore) -> None:
    with pytest.raises(ValueError, match="root"):
        tree.get_node(())


def test_nodes_of_each_kind_are_read_back(tree: SpaceStore) -> None:
    space, data = tree.get_node(("s", "data"))
    assert (space.name, space.node_count) == ("s", 4)
    assert (data.kind, data.xsi_type, data.length, data.md5, data.owner) == (
        NodeKind.DATA,
        "UnstructuredDataNode",
        0,
        None,
        "alice",
    )
    link = tree.get_node(("s", "link"))[1]
    assert (link.kind, link.length, link.target) == (
        NodeKind.LINK,
        None,
        "vos://example.org!vospace/s/dir",
    )
    container = tree.get_node(("s",))[1]
    assert (container.kind, container.name, container.length) == (NodeKind.CONTAINER, "s", None)


@pytest.mark.parametrize(
    ("path", "fault", "words"),
    [
        (("nothing", "x"), ContainerNotFound, "/nothing does not exist"),
        (("s", "missing", "x"), ContainerNotFound, "/s/missing does not exist"),
        (("s", "data", "x"), ContainerNotFound, "/s/data is not a ContainerNode"),
        (("s", "link", "x"), LinkFound, "/s/link is a LinkNode"),
        (("s", "dir"), DuplicateNode, "/s/dir already exists"),
    ],
)
def test_a_node_is_created_only_in_a_container_where_its_name_is_free(
    tree: SpaceStore, path: tuple[str, ...], fault: type[Exception], words: str
) -> None:
    with pytest.raises(fault, match=words):
        tree.create_node(path, kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
    assert tree.space("s").node_count == 4


def test_a_node_is_created_with_what_its_kind_needs(tree: SpaceStore) -> None:
    with pytest.raises(ValueError, match="spaces"):
        tree.create_node(("t",), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
    with pytest.raises(ValueError, match="link node needs a target"):
        tree.create_node(("s", "l2"), kind=NodeKind.LINK, xsi_type="LinkNode")
    with pytest.raises(ValueError, match="only a link node"):
        tree.create_node(("s", "d2"), kind=NodeKind.DATA, xsi_type="DataNode", target="vos://x")
    many = {f"urn:p:{i}": "v" for i in range(MAX_PROPERTIES + 1)}
    with pytest.raises(InvalidArgument, match=f"at most {MAX_PROPERTIES} properties"):
        tree.create_node(("s", "d3"), kind=NodeKind.DATA, xsi_type="DataNode", properties=many)
    assert tree.space("s").node_count == 4
    made = tree.create_node(
        ("s", "dir", "d4"), kind=NodeKind.DATA, xsi_type="DataNode", properties={TITLE: "t"}
    )
    assert (made.path, made.properties) == (("s", "dir", "d4"), {TITLE: "t"})


def test_a_space_holds_at_most_its_number_of_nodes(tmp_path: Path, clock: ManualClock) -> None:
    store = SpaceStore(tmp_path, authority=AUTHORITY, clock=clock, max_nodes_per_space=3)
    try:
        store.create_space(name="s", owner="alice", quota_bytes=10, expires=None)
        store.create_node(("s", "a"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
        store.create_node(("s", "b"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
        with pytest.raises(QuotaExceeded, match="already holds 3 nodes"):
            store.create_node(("s", "c"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
        assert store.delete_node(("s", "a")) == 1
        store.create_node(("s", "c"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
    finally:
        store.close()


def test_properties_are_set_deleted_and_bounded(tree: SpaceStore, clock: ManualClock) -> None:
    before = tree.get_node(("s", "data"))[1]
    clock.advance(timedelta(seconds=5))
    assert tree.set_properties(("s", "data"), {}).modified == before.modified
    changed = tree.set_properties(("s", "data"), {TITLE: "first", "urn:p:x": "y"})
    assert changed.properties == {TITLE: "first", "urn:p:x": "y"}
    assert changed.modified > before.modified
    assert tree.set_properties(("s", "data"), {TITLE: None}).properties == {"urn:p:x": "y"}
    # Over the most a node may have: refused whole, nothing changed.
    more = {f"urn:p:{i}": "v" for i in range(MAX_PROPERTIES)}
    with pytest.raises(InvalidArgument, match=f"at most {MAX_PROPERTIES}"):
        tree.set_properties(("s", "data"), {**more, TITLE: "again"})
    assert tree.get_node(("s", "data"))[1].properties == {"urn:p:x": "y"}


def test_listings_page_and_show_others_the_public_children(tree: SpaceStore) -> None:
    flags = {"a": " TRUE\n", "b": "false", "c": "true", "d": None}
    for name, flag in flags.items():
        uri = PUBLICREAD if name == "c" else ISPUBLIC
        tree.create_node(
            ("s", "dir", name),
            kind=NodeKind.DATA,
            xsi_type="DataNode",
            properties={} if flag is None else {uri: flag},
        )

    def names(**options: object) -> list[str]:
        return [node.name for node in tree.list_children(("s", "dir"), **options)]

    assert names() == ["a", "b", "c", "d"]
    assert names(start="b", limit=2) == ["b", "c"]
    assert names(limit=0) == []
    assert names(public_only=True) == ["a", "c"]
    assert names(public_only=True, start="b") == ["c"]
    assert tree.list_children(("s", "data")) == []  # a data node has no children
    assert [node.name for node in tree.list_children(("s",))] == ["data", "dir", "link"]


def test_a_long_listing_and_a_large_delete_go_in_chunks(tmp_path: Path, clock: ManualClock) -> None:
    # More nodes than one statement may bind ids for (the store binds 500 at a time).
    store = SpaceStore(tmp_path, authority=AUTHORITY, clock=clock, synchronous="normal")
    try:
        store.create_space(name="s", owner="alice", quota_bytes=10_000, expires=None)
        store.create_node(("s", "many"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
        for i in range(520):
            store.create_node(
                ("s", "many", f"n{i:04d}"),
                kind=NodeKind.DATA,
                xsi_type="DataNode",
                properties={TITLE: str(i)},
            )
        put(store, ("s", "many", "n0519"), b"last")
        listed = store.list_children(("s", "many"))
        assert len(listed) == 520
        assert listed[-1].properties == {TITLE: "519"} and listed[-1].length == 4
        assert store.delete_node(("s", "many")) == 521
        assert store.space("s").node_count == 1 and store.space("s").used_bytes == 0
        assert store._connection().execute("SELECT COUNT(*) FROM properties").fetchone()[0] == 0
        assert files_of(store, "s") == []
    finally:
        store.close()


def test_deleting_a_container_frees_its_bytes_and_ends_uploads_into_it(tree: SpaceStore) -> None:
    tree.create_node(("s", "dir", "sub"), kind=NodeKind.CONTAINER, xsi_type="ContainerNode")
    put(tree, ("s", "dir", "sub", "f"), b"a" * 100)
    put(tree, ("s", "data"), b"b" * 10)
    tree.create_node(("s", "dir", "g"), kind=NodeKind.DATA, xsi_type="DataNode")
    upload = tree.begin_upload(("s", "dir", "g"), expected_length=200)
    upload.write(b"c" * 50)
    space = tree.space("s")
    assert (space.used_bytes, space.reserved_bytes) == (110, 200)
    assert tree.delete_node(("s", "dir")) == 4
    space = tree.space("s")
    assert (space.used_bytes, space.reserved_bytes, space.node_count) == (10, 0, 3)
    upload.write(b"c" * 150)  # within what it reserved: nothing to ask the store
    with pytest.raises(NodeNotFound, match="was deleted during the upload"):
        upload.commit()
    assert len(files_of(tree, "s")) == 1  # the bytes of data; no partial file is left
    with pytest.raises(ValueError, match="delete_space"):
        tree.delete_node(("s",))


def test_data_is_read_back_and_a_vanished_file_is_a_missing_node(tree: SpaceStore) -> None:
    node = tree.get_node(("s", "data"))[1]
    assert tree.open_data(node) is None  # nothing uploaded yet
    put(tree, ("s", "data"), b"content")
    node = tree.get_node(("s", "data"))[1]
    stream = tree.open_data(node)
    assert stream is not None
    with stream:
        assert stream.read() == b"content"
    (blob,) = files_of(tree, "s")
    (folder,) = folders(tree)
    (folder / blob).unlink()
    with pytest.raises(NodeNotFound, match="was deleted"):
        tree.open_data(node)
    tree.delete_node(("s", "data"))
    with pytest.raises(NodeNotFound, match="does not exist"):
        tree.open_data(node)


# -- transfer records -----------------------------------------------------------------


def test_transfer_records_live_until_they_expire(spaces: SpaceStore, clock: ManualClock) -> None:
    kept = record(spaces, path=("s", "f"), minutes=10)
    spaces.add_transfer(kept, space=None)
    assert spaces.transfer(kept.id) == kept
    failed = record(spaces, path=None, minutes=5)
    spaces.add_transfer(failed, space=None)
    assert spaces.transfer(failed.id).path is None
    assert spaces.transfer("unknown") is None
    # Extending moves the expiry out, never nearer, and only for a live record.
    spaces.extend_transfer(kept.id, clock.now() + timedelta(minutes=60))
    spaces.extend_transfer(kept.id, clock.now() + timedelta(minutes=30))
    assert spaces.transfer(kept.id).expires == clock.now() + timedelta(minutes=60)
    clock.advance(timedelta(minutes=5))
    assert spaces.transfer(failed.id) is None
    spaces.extend_transfer(failed.id, clock.now() + timedelta(hours=1))
    assert spaces.transfer(failed.id) is None
    # Expired records go when a new one is recorded.
    spaces.add_transfer(record(spaces, "bob"), space=None)
    ids = {row[0] for row in spaces._connection().execute("SELECT id FROM transfers")}
    assert failed.id not in ids and kept.id in ids


def test_an_owner_holds_a_bounded_number_of_live_transfers(
    spaces: SpaceStore, clock: ManualClock
) -> None:
    for minutes in (10, 20):
        spaces.add_transfer(record(spaces, minutes=minutes), space=None, owner_limit=2)
    spaces.check_transfer_room("bob", limit=2)
    with pytest.raises(TooManyTransfers) as caught:
        spaces.check_transfer_room("alice", limit=2)
    assert caught.value.retry_after == 600  # until the oldest one expires
    assert caught.value.status == 429
    assert "'alice' holds 2 transfer negotiations" in caught.value.detail
    extra = record(spaces, minutes=30)
    with pytest.raises(TooManyTransfers):
        spaces.add_transfer(extra, space=None, owner_limit=2)
    assert spaces.transfer(extra.id) is None
    clock.advance(timedelta(minutes=10))
    spaces.add_transfer(extra, space=None, owner_limit=2)
    assert spaces.transfer(extra.id) == extra


# -- housekeeping ---------------------------------------------------------------------


def test_sweep_reclaims_what_failures_left_behind(spaces: SpaceStore, clock: ManualClock) -> None:
    spaces.create_space(name="s", owner="alice", quota_bytes=1000, expires=None)
    spaces.create_space(
        name="old", owner="alice", quota_bytes=10, expires=clock.now() + timedelta(minutes=1)
    )
    spaces.create_node(("s", "f"), kind=NodeKind.DATA, xsi_type="DataNode")
    abandoned = spaces.begin_upload(("s", "f"), expected_length=None)
    abandoned.write(b"q" * 100)  # and then the process "dies": no commit, no abort
    spaces.add_transfer(record(spaces, minutes=30), space="s")
    # What a crash between a file operation and its commit leaves: a file no node names,
    # a folder no space owns.
    orphans = [folder_of(spaces, "s") / "0123abcd", spaces.root / "blobs" / "no-such-space"]
    orphans[0].write_bytes(b"orphan")
    orphans[1].mkdir()
    assert spaces.sweep() == SweepReport(0, 0, 0, ())  # nothing is old enough yet
    assert all(orphan.exists() for orphan in orphans)
    clock.advance(timedelta(hours=2))
    long_ago = time.time() - 7200
    for orphan in orphans:
        os.utime(orphan, (long_ago, long_ago))
    report = spaces.sweep(delete_expired_spaces=True)
    assert report == SweepReport(
        transfers_removed=1, uploads_aborted=1, files_removed=2, spaces_deleted=("old",)
    )
    assert spaces.space("s").reserved_bytes == 0
    assert files_of(spaces, "s") == []
    assert folders(spaces) == [folder_of(spaces, "s")]
    assert spaces.space("old") is None
    with pytest.raises(NodeNotFound):
        abandoned.commit()  # its reservation is gone: it can no longer land


def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    tmp_path.mkdir(exist_ok=True)
    conn = sqlite3.connect(tmp_path / "vospace.sqlite")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match=f"schema version {SCHEMA_VERSION + 1}"):
        SpaceStore(tmp_path, authority=AUTHORITY, clock=clock)


def test_data_opened_from_an_earlier_look_at_a_node_is_that_version_or_refused(
    tree: SpaceStore,
) -> None:
    # A download reads the node (length, MD5: its headers), then opens the bytes; an
    # upload committing in between must not hand it other bytes than the headers say.
    before = tree.get_node(("s", "data"))[1]  # no bytes yet
    put(tree, ("s", "data"), b"first")
    first = tree.get_node(("s", "data"))[1]
    with pytest.raises(NodeBusy, match="written while it was being read"):
        tree.open_data(before)
    put(tree, ("s", "data"), b"second, and longer")
    with pytest.raises(NodeBusy):
        tree.open_data(first)
    put(tree, ("s", "data"), b"first")  # the same bytes again: the same version
    stream = tree.open_data(first)
    assert stream is not None
    with stream:
        assert stream.read() == b"first"
