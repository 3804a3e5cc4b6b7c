"""A UsernameToken's nonce is used once, also across restarts: it is kept in the store.

The table row of issue 14: a digest UsernameToken replayed after a restart was
accepted, since the nonces were kept in memory. Now the store keeps each for the
freshness window.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zeep
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

from wsrf_uws.accounts import UsersFile
from wsrf_uws.core.ports import JobStore
from wsrf_uws.store import SQLiteJobStore
from wsrf_uws.testing.server import RunningServer, running_server

from conftest import StoreFactory
from soap_support import CORE, STEPS, RecordingPlugin, shared_check

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def create(server: RunningServer, token: UsernameToken) -> None:
    client = zeep.Client(
        server.url("steps") + "?wsdl", wsse=token, plugins=[RecordingPlugin(shared_check())]
    )
    client.service.createJob(job=client.get_element(f"{{{STEPS}}}job")(steps=1, stepSeconds=0))


def refusal(server: RunningServer, token: UsernameToken) -> tuple[str, str]:
    with pytest.raises(Fault) as caught:
        create(server, token)
    return str(caught.value.detail[0].tag), str(caught.value.message)


def test_a_replayed_digest_token_is_refused_after_kill_9_and_restart(tmp_path: Path) -> None:
    UsersFile.add(tmp_path / "users", "alice", "alice-secret", digest=True)
    env = {"WSRF_UWS_USERS_FILE": str(tmp_path / "users"), "WSRF_UWS_ALLOW_ANONYMOUS": "false"}
    # What an eavesdropper captured: a token with its nonce and creation time fixed.
    captured = UsernameToken(
        "alice", "alice-secret", use_digest=True, nonce="once-only", created=datetime.now(UTC)
    )
    with running_server(tmp_path / "data", env=env) as server:
        create(server, captured)
        server.kill()  # SIGKILL: nothing is flushed at shutdown
        server.start()
        assert refusal(server, captured) == (
            f"{{{CORE}}}NotAuthenticatedFault",
            "the UsernameToken's wsse:Nonce has been used before",
        )
        # The restarted service still takes fresh tokens.
        create(server, UsernameToken("alice", "alice-secret", use_digest=True))


def test_a_nonce_is_recorded_once_across_threads_and_store_instances(
    store_factory: StoreFactory,
) -> None:
    """Two store objects on one database (two processes, say) and eight threads: one winner."""
    stores = [store_factory() for _ in range(2)]
    barrier = threading.Barrier(8)
    outcomes: list[bool] = []

    def remember(i: int) -> None:
        barrier.wait()
        store = stores[i % 2]
        outcomes.append(store.remember_nonce(b"n" * 32, expires=T0 + timedelta(minutes=10), now=T0))

    threads = [threading.Thread(target=remember, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == [False] * 7 + [True]


def _nonce_rows(store: JobStore) -> int:
    if isinstance(store, SQLiteJobStore):
        return int(store._connection().execute("SELECT COUNT(*) FROM nonces").fetchone()[0])
    with store._pool.connection() as conn:  # type: ignore[attr-defined]
        return int(conn.execute("SELECT count(*) AS n FROM nonces").fetchone()["n"])


def test_expired_nonces_are_forgotten_and_pruned(store: JobStore) -> None:
    later = T0 + timedelta(minutes=10)
    assert store.remember_nonce(b"a" * 32, expires=later, now=T0)
    assert store.remember_nonce(b"b" * 32, expires=later + timedelta(minutes=5), now=T0)
    assert not store.remember_nonce(b"a" * 32, expires=later, now=later - timedelta(seconds=1))
    # At its expiry a nonce counts as new again (a token that old is refused as stale).
    assert store.remember_nonce(b"a" * 32, expires=later + timedelta(minutes=10), now=later)
    assert _nonce_rows(store) == 2
    hour_later = later + timedelta(hours=1)
    assert store.remember_nonce(
        b"c" * 32, expires=hour_later + timedelta(minutes=10), now=hour_later
    )
    # Every row expired by then is gone.
    assert _nonce_rows(store) == 1
