"""Caller identity: anonymous, WS-Security UsernameToken (as zeep sends it) and HTTP Basic."""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from zeep.wsse.username import UsernameToken

from wsrf_uws.accounts import UsersFile
from wsrf_uws.core.errors import NotAuthenticatedError
from wsrf_uws.core.model import ANONYMOUS
from wsrf_uws.soap.identity import SECURITY, WRONG_CREDENTIALS, Authenticator
from wsrf_uws.testing import ManualClock
from wsrf_uws.wire.namespaces import PASSWORD_TEXT, SOAP11, WSSE, WSU, q

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
ALICE_PASSWORD = "wönderland"  # non-ASCII on purpose: UTF-8 everywhere
BOB_PASSWORD = "can:we:fix:it"  # colons: Basic splits at the first one only


@pytest.fixture(scope="module")
def users_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alice may use PasswordDigest, bob may not. Built once: each add costs a scrypt."""
    path = tmp_path_factory.mktemp("users") / "users"
    UsersFile.add(path, "alice", ALICE_PASSWORD, digest=True)
    UsersFile.add(path, "bob", BOB_PASSWORD)
    return path


@pytest.fixture(scope="module")
def users(users_path: Path) -> UsersFile:
    return UsersFile.load(users_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def auth(users: UsersFile, clock: ManualClock) -> Authenticator:
    return Authenticator(users=users, clock=clock, max_clock_skew=SKEW)


def wsse_headers(
    username: str,
    password: str,
    *,
    digest: bool = False,
    created: datetime | None = None,
    nonce: str | None = None,
) -> list[etree._Element]:
    """The SOAP header blocks of a request zeep signed with a UsernameToken, as received."""
    envelope = etree.Element(q(SOAP11, "Envelope"), nsmap={"soap": SOAP11})
    etree.SubElement(envelope, q(SOAP11, "Body"))
    token = UsernameToken(  # type: ignore[no-untyped-call]
        username, password, use_digest=digest, created=created, nonce=nonce
    )
    token.apply(envelope, [])  # type: ignore[no-untyped-call]
    received = etree.fromstring(etree.tostring(envelope))  # through the wire, as bytes
    header = received.find(q(SOAP11, "Header"))
    assert header is not None
    return list(header)


def part(headers: list[etree._Element], name: str) -> etree._Element:
    """A child of the UsernameToken in ``headers``, by local name."""
    namespace = WSU if name == "Created" else WSSE
    found = headers[0].find(f"{{{WSSE}}}UsernameToken/{{{namespace}}}{name}")
    assert found is not None
    return found


def basic(user: str, password: str) -> dict[str, Any]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"HTTP_AUTHORIZATION": f"Basic {credentials}"}


def refused(auth: Authenticator, *, headers: Any = (), environ: Any = None) -> str:
    """The description of the NotAuthenticatedError the request gets."""
    with pytest.raises(NotAuthenticatedError) as caught:
        auth.authenticate(headers=list(headers), environ=environ or {})
    return caught.value.description


# -- anonymous --------------------------------------------------------------------------


def test_no_credentials_is_anonymous_when_allowed(auth: Authenticator) -> None:
    assert auth.authenticate(headers=[], environ={}) == ANONYMOUS
    # Other header blocks (WS-Addressing, say) are no credentials.
    other = etree.Element(q("http://www.w3.org/2005/08/addressing", "Action"))
    assert auth.authenticate(headers=[other], environ={"HTTP_AUTHORIZATION": ""}) == ANONYMOUS


def test_no_credentials_refused_when_anonymous_is_not_allowed(
    users: UsersFile, clock: ManualClock
) -> None:
    auth = Authenticator(users=users, allow_anonymous=False, clock=clock)
    assert "requires authentication" in refused(auth)
    assert auth.authenticate(headers=[], environ=basic("bob", BOB_PASSWORD)) == "bob"


def test_without_users_credentials_are_an_error(clock: ManualClock) -> None:
    auth = Authenticator(clock=clock)
    assert auth.authenticate(headers=[], environ={}) == ANONYMOUS
    assert "has no users" in refused(auth, environ=basic("alice", ALICE_PASSWORD))
    assert "has no users" in refused(auth, headers=wsse_headers("alice", ALICE_PASSWORD))
    with pytest.raises(ValueError, match="anonymous access is the only access"):
        Authenticator(allow_anonymous=False, clock=clock)


# -- UsernameToken ------------------------------------------------------------------------


def test_text_token(auth: Authenticator) -> None:
    headers = wsse_headers("bob", BOB_PASSWORD)
    assert part(headers, "Password").get("Type") == PASSWORD_TEXT  # what zeep sends
    assert auth.authenticate(headers=headers, environ={}) == "bob"


def test_text_token_without_type_is_text(auth: Authenticator) -> None:
    headers = wsse_headers("bob", BOB_PASSWORD)
    del part(headers, "Password").attrib["Type"]
    assert auth.authenticate(headers=headers, environ={}) == "bob"


def test_digest_token(auth: Authenticator) -> None:
    headers = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW)
    assert headers[0].tag == SECURITY
    assert auth.authenticate(headers=headers, environ={}) == "alice"


def test_wrong_password_and_unknown_user_read_the_same(auth: Authenticator) -> None:
    text = refused(auth, headers=wsse_headers("bob", "wrong"))
    unknown = refused(auth, headers=wsse_headers("mallory", BOB_PASSWORD))
    assert text == unknown == WRONG_CREDENTIALS
    wrong_digest = refused(auth, headers=wsse_headers("alice", "wrong", digest=True, created=NOW))
    unknown_digest = refused(
        auth, headers=wsse_headers("mallory", "x", digest=True, created=NOW, nonce="n1")
    )
    assert wrong_digest == unknown_digest
    assert wrong_digest.startswith(WRONG_CREDENTIALS)


def test_digest_needs_a_digest_secret(auth: Authenticator) -> None:
    description = refused(auth, headers=wsse_headers("bob", BOB_PASSWORD, digest=True, created=NOW))
    assert "digest authentication is not enabled for this user" in description
    # ... but bob's text tokens still work.
    assert auth.authenticate(headers=wsse_headers("bob", BOB_PASSWORD), environ={}) == "bob"


def test_digest_needs_nonce_and_created(auth: Authenticator) -> None:
    headers = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW)
    for name in ("Created", "Nonce"):
        headers = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW)
        element = part(headers, name)
        element.getparent().remove(element)  # type: ignore[union-attr]
        assert "needs a wsse:Nonce and a wsu:Created" in refused(auth, headers=headers)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-SKEW - timedelta(seconds=1), "stale"),
        (SKEW + timedelta(seconds=1), "from the future"),
    ],
)
def test_created_must_be_fresh(auth: Authenticator, offset: timedelta, expected: str) -> None:
    for digest in (True, False):  # checked whenever present
        headers = wsse_headers("alice", ALICE_PASSWORD, digest=digest, created=NOW + offset)
        if not digest:  # zeep adds Created only to digest tokens: borrow one
            donor = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW + offset)
            headers[0][0].append(part(donor, "Created"))
        assert expected in refused(auth, headers=headers)


def test_created_at_the_edges_of_the_window_is_fresh(auth: Authenticator) -> None:
    for offset, nonce in ((-SKEW, "early"), (SKEW, "late")):
        headers = wsse_headers(
            "alice", ALICE_PASSWORD, digest=True, created=NOW + offset, nonce=nonce
        )
        assert auth.authenticate(headers=headers, environ={}) == "alice"


def test_a_nonce_is_used_once_within_the_window(auth: Authenticator, clock: ManualClock) -> None:
    first = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW, nonce="once")
    assert auth.authenticate(headers=first, environ={}) == "alice"
    assert "used before" in refused(auth, headers=first)
    # A fresh token that reuses the nonce is a replay too.
    clock.advance(timedelta(minutes=1))
    again = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=clock.now(), nonce="once")
    assert "used before" in refused(auth, headers=again)
    # Once the window has passed, the nonce is forgotten (and an old token is stale anyway).
    clock.advance(2 * SKEW)
    assert "stale" in refused(auth, headers=first)
    later = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=clock.now(), nonce="once")
    assert auth.authenticate(headers=later, environ={}) == "alice"


def test_a_replay_race_admits_exactly_one(auth: Authenticator) -> None:
    headers = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW, nonce="raced")
    barrier = threading.Barrier(8)

    def attempt() -> str:
        barrier.wait()
        try:
            return auth.authenticate(headers=headers, environ={})
        except NotAuthenticatedError as error:
            return error.description

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(8)))
    assert outcomes.count("alice") == 1
    assert all("used before" in o for o in outcomes if o != "alice")


def test_the_nonce_cache_is_bounded(users: UsersFile, clock: ManualClock) -> None:
    class Small(Authenticator):
        NONCE_CACHE_SIZE = 2

    auth = Small(users=users, clock=clock, max_clock_skew=SKEW)
    tokens = [
        wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW, nonce=n)
        for n in ("n1", "n2", "n3")
    ]
    for headers in tokens:
        assert auth.authenticate(headers=headers, environ={}) == "alice"
    assert "used before" in refused(auth, headers=tokens[2])
    # The oldest was evicted to make room: the price of a bounded cache.
    assert auth.authenticate(headers=tokens[0], environ={}) == "alice"


def test_a_failed_token_does_not_burn_its_nonce(auth: Authenticator) -> None:
    wrong = wsse_headers("alice", "wrong", digest=True, created=NOW, nonce="shared")
    assert refused(auth, headers=wrong).startswith(WRONG_CREDENTIALS)
    right = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW, nonce="shared")
    assert auth.authenticate(headers=right, environ={}) == "alice"


def test_malformed_tokens(auth: Authenticator) -> None:
    security = etree.Element(SECURITY, nsmap={"wsse": WSSE})
    assert "carries no wsse:UsernameToken" in refused(auth, headers=[security])

    empty = wsse_headers("  ", "x")
    assert "empty or missing wsse:Username" in refused(auth, headers=empty)

    headers = wsse_headers("bob", BOB_PASSWORD)
    part(headers, "Password").set("Type", "urn:example:PasswordSHA256")
    assert "unsupported wsse:Password Type" in refused(auth, headers=headers)

    headers = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW)
    part(headers, "Nonce").text = "not base64!"
    assert "wsse:Nonce is not valid base64" in refused(auth, headers=headers)

    headers = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW)
    part(headers, "Created").text = "yesterday"
    assert "is not an xsd:dateTime" in refused(auth, headers=headers)

    twice = wsse_headers("bob", BOB_PASSWORD) + wsse_headers("bob", BOB_PASSWORD)
    assert "more than one wsse:UsernameToken" in refused(auth, headers=twice)


# -- HTTP Basic -----------------------------------------------------------------------------


def test_basic(auth: Authenticator) -> None:
    assert auth.authenticate(headers=[], environ=basic("bob", BOB_PASSWORD)) == "bob"
    assert auth.authenticate(headers=[], environ=basic("alice", ALICE_PASSWORD)) == "alice"
    # Polling with the same credentials is served from the verification cache: same answer.
    assert auth.authenticate(headers=[], environ=basic("bob", BOB_PASSWORD)) == "bob"


def test_passwords_never_reach_the_log(
    auth: Authenticator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refused(auth, environ={**basic("bob", "hunter2"), "REMOTE_ADDR": "192.0.2.1"})
    refused(auth, headers=wsse_headers("alice", "hunter3"))
    refused(auth, headers=wsse_headers("alice", "hunter4", digest=True, created=NOW))
    assert "192.0.2.1" in caplog.text
    assert "'bob'" in caplog.text
    assert "hunter" not in caplog.text


def test_basic_wrong_password_and_unknown_user_read_the_same(auth: Authenticator) -> None:
    assert refused(auth, environ=basic("bob", "can")) == WRONG_CREDENTIALS
    assert refused(auth, environ=basic("mallory", BOB_PASSWORD)) == WRONG_CREDENTIALS
    # A password verified once for bob is not accepted for anybody else.
    assert auth.authenticate(headers=[], environ=basic("bob", BOB_PASSWORD)) == "bob"
    assert refused(auth, environ=basic("alice", BOB_PASSWORD)) == WRONG_CREDENTIALS


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        ("Basic !!!not-base64", "HTTP Basic credentials is not valid base64"),
        ("Basic " + base64.b64encode(b"no colon here").decode(), "no ':'"),
        ("Basic " + base64.b64encode(b":secret").decode(), "empty user name"),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "not UTF-8"),
        ("Basic", "has no credentials"),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "unsupported HTTP authentication scheme"),
        ("Digest username=bob", "unsupported HTTP authentication scheme"),
    ],
)
def test_malformed_basic(auth: Authenticator, authorization: str, expected: str) -> None:
    description = refused(auth, environ={"HTTP_AUTHORIZATION": authorization})
    assert expected in description
    assert "eyJ" not in description  # a bearer token is not echoed back


def test_basic_scheme_is_case_insensitive(auth: Authenticator) -> None:
    environ = basic("bob", BOB_PASSWORD)
    environ["HTTP_AUTHORIZATION"] = environ["HTTP_AUTHORIZATION"].replace("Basic", "bASIC")
    assert auth.authenticate(headers=[], environ=environ) == "bob"


# -- both -------------------------------------------------------------------------------------


def test_token_and_basic_must_agree(auth: Authenticator) -> None:
    token = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW)
    assert auth.authenticate(headers=token, environ=basic("alice", ALICE_PASSWORD)) == "alice"
    assert "name different users" in refused(
        auth, headers=wsse_headers("bob", BOB_PASSWORD), environ=basic("alice", ALICE_PASSWORD)
    )
    # Agreeing names are not enough: both must be valid.
    assert refused(
        auth, headers=wsse_headers("bob", BOB_PASSWORD), environ=basic("bob", "wrong")
    ) == (WRONG_CREDENTIALS)


def test_the_nonce_cache_keeps_digests_not_nonces(auth: Authenticator) -> None:
    nonce = "n" * 1000
    headers = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW, nonce=nonce)
    assert auth.authenticate(headers=headers, environ={}) == "alice"
    kept = list(auth._nonces._expiry)
    assert hashlib.sha256(nonce.encode()).digest() in kept
    assert all(len(key) == 32 for key in kept)
    assert "used before" in refused(auth, headers=headers)


def test_a_busy_users_file_fails_fast(users_path: Path, clock: ManualClock) -> None:
    """With every key-derivation slot taken, a password check is refused as busy at once;
    PasswordDigest, which needs no derivation, still works."""
    users = UsersFile.load(users_path, max_concurrent_checks=1, check_wait=0.01)
    auth = Authenticator(users=users, clock=clock, max_clock_skew=SKEW)
    assert users._derivations.acquire(blocking=False)  # the only slot, taken
    try:
        assert refused(auth, environ=basic("bob", "guess")) == UsersFile.BUSY
        assert refused(auth, headers=wsse_headers("nobody", "guess")) == UsersFile.BUSY
        digest = wsse_headers("alice", ALICE_PASSWORD, digest=True, created=NOW, nonce="busy")
        assert auth.authenticate(headers=digest, environ={}) == "alice"
    finally:
        users._derivations.release()
    assert auth.authenticate(headers=[], environ=basic("bob", BOB_PASSWORD)) == "bob"
