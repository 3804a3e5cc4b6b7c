"""Fetching inputs and delivering outputs over real loopback HTTP, under a transfer policy."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsrf_uws.core.sizes import format_bytes
from wsrf_uws.jdl.cea.transfer import (
    PUBLIC_URL,
    UNREACHABLE,
    TransferError,
    TransferPolicy,
    TransferRefused,
    deliver,
    fetch,
)
from wsrf_uws.testing.http_files import PROXY_VARIABLES, FileServer

from cea_support import banner_port, silent_port

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy the environment may name."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[FileServer]:
    with FileServer() as s:
        yield s


@pytest.fixture
def loopback() -> TransferPolicy:
    """Any port of 127.0.0.1, named exactly, so the private-address rule lets it through."""
    return TransferPolicy.parse(["http://127.0.0.1:*"])


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- the policy --------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["ftp://x", "http://", "*", "http://a:notaport"])
def test_a_bad_policy_entry_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match="transfer policy entry") as info:
        TransferPolicy.parse(["https://*", entry])
    assert repr(entry) in str(info.value)


def test_entries_are_validated_however_the_policy_is_made() -> None:
    with pytest.raises(ValueError, match="ftp"):
        TransferPolicy(("ftp://x",))
    assert TransferPolicy.parse([" https://a.org ", "", "http://b.org/data/"]).allowed == (
        "https://a.org",
        "http://b.org/data/",
    )


def test_check_refuses_a_scheme_not_allowed() -> None:
    policy = TransferPolicy.parse(["https://*"])
    policy.check("https://archive.example.org/x.fits")
    with pytest.raises(TransferRefused, match="scheme 'http' is not allowed"):
        policy.check("http://archive.example.org/x.fits")
    with pytest.raises(TransferRefused, match="scheme 'file' is not allowed"):
        policy.check("file:///etc/passwd")


def test_check_matches_hosts_with_wildcards() -> None:
    policy = TransferPolicy.parse(["https://*.example.org", "https://exact.net"])
    policy.check("https://archive.example.org/x")
    policy.check("https://a.b.example.org/x")
    policy.check("https://EXACT.net/x")
    for uri in ("https://example.org/x", "https://exact.net.evil.com/x", "https://evil.com/x"):
        with pytest.raises(TransferRefused, match=r"host '.*' is not allowed"):
            policy.check(uri)


def test_check_matches_ports() -> None:
    policy = TransferPolicy.parse(["http://any.org:*", "http://exact.org:8080", "http://plain.org"])
    policy.check("http://any.org:1234/x")
    policy.check("http://any.org/x")
    policy.check("http://exact.org:8080/x")
    policy.check("http://plain.org:80/x")
    with pytest.raises(TransferRefused, match="port 8081 is not allowed"):
        policy.check("http://exact.org:8081/x")
    with pytest.raises(TransferRefused, match="port 80 is not allowed"):
        policy.check("http://exact.org/x")
    with pytest.raises(TransferRefused, match="port 8080 is not allowed"):
        policy.check("http://plain.org:8080/x")


def test_a_path_prefix_matches_whole_segments() -> None:
    policy = TransferPolicy.parse(["http://h/data"])
    policy.check("http://h/data/x")
    policy.check("http://h/data")
    policy.check("http://h/data/sub/x.fits?version=2")
    for uri in ("http://h/database", "http://h/", "http://h/other/data/x"):
        with pytest.raises(TransferRefused, match=r"path .* is not allowed"):
            policy.check(uri)


def test_dot_segments_do_not_escape_a_path_prefix() -> None:
    policy = TransferPolicy.parse(["http://h/data"])
    for uri in ("http://h/data/../secret", "http://h/data/%2e%2e/secret"):
        with pytest.raises(TransferRefused, match=r"'\.\.' segments"):
            policy.check(uri)


def test_check_refuses_userinfo_without_repeating_the_password() -> None:
    with pytest.raises(TransferRefused, match="user information") as info:
        TransferPolicy().check("https://alice:s3cret@archive.example.org/x")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("data/x.fits", "not an absolute"),
        ("/data/x.fits", "not an absolute"),
        ("//archive.example.org/x", "not an absolute"),
        ("https://archive.example.org/x#part", "fragment"),
        ("https://archive.example.org\\@evil.com/x", "backslash"),
        ("https://archive.example.org:99999/x", "port"),
        ("https:///x", "no host"),
    ],
)
def test_check_refuses_what_is_not_a_plain_absolute_uri(uri: str, reason: str) -> None:
    with pytest.raises(TransferRefused, match=reason):
        TransferPolicy().check(uri)


def test_the_default_policy_refuses_loopback_addresses(server: FileServer) -> None:
    url = server.add("/x", b"x")
    for uri in (url, url.replace("127.0.0.1", "localhost")):
        with pytest.raises(TransferRefused, match="loopback"):
            TransferPolicy().check_addresses(uri)


def test_a_wildcard_entry_does_not_open_loopback_addresses(server: FileServer) -> None:
    url = server.add("/x", b"x")
    policy = TransferPolicy.parse(["http://*:*"])
    for uri in (url, url.replace("127.0.0.1", "localhost")):
        policy.check(uri)  # the syntax is fine: only resolving tells
        with pytest.raises(TransferRefused, match="loopback"):
            policy.check_addresses(uri)


def test_an_entry_naming_the_host_exactly_allows_a_loopback_address(server: FileServer) -> None:
    url = server.add("/x", b"x")
    TransferPolicy.parse(["http://127.0.0.1:*"]).check_addresses(url)
    TransferPolicy.parse(["http://localhost:*"]).check_addresses(
        url.replace("127.0.0.1", "localhost")
    )
    # A wildcard next to the exact entry does not take the exception away again.
    TransferPolicy.parse(["http://*", server.url]).check_addresses(url)
    with pytest.raises(TransferRefused, match="loopback"):
        TransferPolicy.parse(["http://127.0.0.*:*"]).check_addresses(url)
    # The exact entry exempts only the URIs it matches, not its host on other ports.
    with pytest.raises(TransferRefused, match="loopback"):
        TransferPolicy.parse(["http://*:*", "http://127.0.0.1:1"]).check_addresses(url)


def test_private_and_link_local_addresses_are_refused() -> None:
    policy = TransferPolicy()
    for uri, kind in [
        ("http://10.1.2.3/x", "private"),
        ("http://192.168.0.1/x", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/x", "unspecified"),
        ("http://[::1]/x", "loopback"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
    ]:
        with pytest.raises(TransferRefused, match=kind):
            policy.check_addresses(uri)


def test_format_bytes() -> None:
    assert format_bytes(3) == "3 B"
    assert format_bytes(512 * 1024) == "512 KiB"
    assert format_bytes(MiB) == "1 MiB"
    assert format_bytes(3 * MiB // 2 * 1024) == "1.5 GiB"
    assert format_bytes(MiB - 1) == "1 MiB"


# --- fetching ----------------------------------------------------------------------------------


def test_fetch_downloads_the_bytes(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    body = os.urandom(300_000)
    url = server.add("/data/x.fits", body)
    target = tmp_path / "x.fits"
    assert fetch(url, target, policy=loopback, max_bytes=MiB) == len(body)
    assert target.read_bytes() == body
    assert files_in(tmp_path) == ["x.fits"]


def test_fetch_refuses_a_declared_length_above_the_limit_before_reading(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    total = 256 * MiB
    url = server.stream("/big.fits", total_bytes=total, declare_length=True)
    started = time.monotonic()
    with pytest.raises(TransferError, match="larger than the limit of 1 MiB") as info:
        fetch(url, tmp_path / "big.fits", policy=loopback, max_bytes=MiB)
    assert time.monotonic() - started < 5
    assert url in str(info.value)
    assert "declares 256 MiB" in str(info.value)
    assert server.requests == [("GET", "/big.fits")]
    # At most what the socket buffers held: the client did not read the body.
    assert server.served["/big.fits"] < total // 4
    assert files_in(tmp_path) == []


def test_fetch_stops_an_undeclared_body_at_the_limit(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    total = 256 * MiB
    url = server.stream("/endless", total_bytes=total)
    with pytest.raises(TransferError, match="larger than the limit of 256 KiB"):
        fetch(url, tmp_path / "endless", policy=loopback, max_bytes=256 * 1024)
    assert server.served["/endless"] < total // 4
    assert files_in(tmp_path) == []


def test_a_body_exactly_at_the_limit_is_accepted(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    url = server.stream("/exact", total_bytes=MiB)
    assert fetch(url, tmp_path / "exact", policy=loopback, max_bytes=MiB) == MiB
    assert (tmp_path / "exact").stat().st_size == MiB


def test_fetch_reports_a_missing_file(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    url = server.url_for("/nothing/here")
    with pytest.raises(TransferError, match="answered HTTP 404 Not Found") as info:
        fetch(url, tmp_path / "x", policy=loopback, max_bytes=MiB)
    assert str(info.value).startswith(url)
    assert files_in(tmp_path) == []


def test_a_failed_fetch_keeps_the_previous_file(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    target = tmp_path / "x"
    target.write_bytes(b"before")
    with pytest.raises(TransferError, match="500"):
        fetch(server.fail("/x", 500), target, policy=loopback, max_bytes=MiB)
    assert target.read_bytes() == b"before"
    assert files_in(tmp_path) == ["x"]


def test_fetch_follows_an_allowed_redirect(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    server.add("/new/x.fits", b"moved")
    server.redirect("/old/x.fits", "/new/x.fits")  # relative, as servers often send
    server.redirect("/older/x.fits", server.url_for("/old/x.fits"), status=301)
    url = server.url_for("/older/x.fits")
    assert fetch(url, tmp_path / "x.fits", policy=loopback, max_bytes=MiB) == 5
    assert (tmp_path / "x.fits").read_bytes() == b"moved"
    assert [path for _, path in server.requests] == ["/older/x.fits", "/old/x.fits", "/new/x.fits"]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("http://archive.example.org/x", "host 'archive.example.org' is not allowed"),
    ],
)
def test_fetch_refuses_a_redirect_the_policy_does_not_allow(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path, location: str, reason: str
) -> None:
    url = server.redirect("/x", location)
    with pytest.raises(TransferRefused) as info:
        fetch(url, tmp_path / "x", policy=loopback, max_bytes=MiB)
    assert f"redirect to {location} refused: {reason}" in str(info.value)
    assert files_in(tmp_path) == []


def test_fetch_applies_the_address_rule_to_redirects(server: FileServer, tmp_path: Path) -> None:
    # The first URI is allowed by its exact entry; the redirect target only by the wildcard.
    url = server.redirect("/x", server.url_for("/y").replace("127.0.0.1", "localhost"))
    policy = TransferPolicy.parse([server.url, "http://*:*"])
    with pytest.raises(TransferRefused, match=r"redirect to http://localhost:\d+/y .*loopback"):
        fetch(url, tmp_path / "x", policy=policy, max_bytes=MiB)
    assert server.requests == [("GET", "/x")]


def test_fetch_gives_up_on_a_redirect_loop(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    url = server.redirect("/loop", "/loop")
    with pytest.raises(TransferError, match="redirected more than 3 times"):
        fetch(url, tmp_path / "x", policy=loopback, max_bytes=MiB, max_redirects=3)
    assert len(server.requests) == 4
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("allowed", "reason"),
    [(("http://*:*",), "loopback"), (("http://127.0.0.1:*/public",), "path '/x' is not allowed")],
)
def test_fetch_checks_the_policy_before_any_request(
    server: FileServer, tmp_path: Path, allowed: tuple[str, ...], reason: str
) -> None:
    url = server.add("/x", b"x")
    with pytest.raises(TransferRefused, match=reason):
        fetch(url, tmp_path / "x", policy=TransferPolicy(allowed), max_bytes=MiB)
    assert server.requests == []


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_connection_is_a_transfer_error(loopback: TransferPolicy, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}/x"
    with pytest.raises(TransferError, match="could not be reached") as info:
        fetch(url, tmp_path / "x", policy=loopback, max_bytes=MiB, timeout=5)
    assert url in str(info.value)
    # The cause is for the service's log only (see the next test).
    assert "refused" not in str(info.value)
    assert "Connection refused" in (info.value.detail or "")
    assert type(info.value) is TransferError
    assert info.value.__cause__ is None
    assert files_in(tmp_path) == []


# --- delivering --------------------------------------------------------------------------------


def test_deliver_puts_the_file(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    source = tmp_path / "out.vot"
    source.write_bytes(os.urandom(500_000))
    deliver(source, server.url_for("/results/out.vot"), policy=loopback)
    assert server.received == {"/results/out.vot": source.read_bytes()}
    assert server.requests == [("PUT", "/results/out.vot")]


def test_deliver_puts_an_empty_file(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    source = tmp_path / "empty"
    source.touch()
    deliver(source, server.url_for("/empty"), policy=loopback, timeout=5)
    assert server.received == {"/empty": b""}


@pytest.mark.parametrize("status", [403, 500])
def test_deliver_reports_a_refusing_destination(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path, status: int
) -> None:
    source = tmp_path / "out"
    source.write_bytes(b"result")
    url = server.fail("/out", status)
    with pytest.raises(TransferError, match=f"{url} answered HTTP {status} "):
        deliver(source, url, policy=loopback)
    assert server.received == {}


def test_deliver_does_not_follow_redirects(
    server: FileServer, loopback: TransferPolicy, tmp_path: Path
) -> None:
    source = tmp_path / "out"
    source.write_bytes(b"result")
    url = server.redirect("/out", "/elsewhere", status=307)
    with pytest.raises(TransferError, match=r"307 Temporary Redirect .*not followed"):
        deliver(source, url, policy=loopback)
    assert server.requests == [("PUT", "/out")]
    assert server.received == {}


@pytest.mark.parametrize(
    "policy",
    [TransferPolicy(), TransferPolicy.parse(["http://127.0.0.1:*/results"])],
    ids=["loopback", "path"],
)
def test_deliver_checks_the_policy_before_any_request(
    server: FileServer, tmp_path: Path, policy: TransferPolicy
) -> None:
    source = tmp_path / "out"
    source.write_bytes(b"result")
    with pytest.raises(TransferRefused):
        deliver(source, server.url_for("/elsewhere/out"), policy=policy)
    assert server.requests == []


def test_deliver_to_a_closed_port_is_a_transfer_error(
    loopback: TransferPolicy, tmp_path: Path
) -> None:
    source = tmp_path / "out"
    source.write_bytes(b"result")
    with pytest.raises(TransferError, match=re.escape(UNREACHABLE)) as info:
        deliver(source, f"http://127.0.0.1:{unused_port()}/out", policy=loopback, timeout=5)
    assert "Connection refused" in (info.value.detail or "")


# --- paths that a server could read outside a prefix (issue 14) ---------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/demo/../secret",
        "/demo/..;/secret",  # Tomcat drops ";..." from a segment
        "/demo/..;jsessionid=x/secret",
        "/demo/%2e%2e/secret",
        "/demo/.%2e/secret",
        "/demo/%252e%252e/secret",  # decoded twice by some servers
        "/demo/%25252e%25252e/secret",
        "/demo/%5c..%5csecret",  # IIS reads "\\" as "/"
        "/demo%2f..%2fsecret",
        "/demo/x/..%2f..%2fsecret",
        "/demo//../secret",
        "/demo//secret",
        "/demo/;x/secret",
        "/demo/.../secret",
        "/demo/..%20/secret",  # trailing dots and spaces are dropped by some servers
        "/demo/x%00/../secret",
        "/demo/%2525252525252e%2525252525252e/secret",
    ],
)
def test_path_tricks_do_not_leave_a_path_prefix(path: str) -> None:
    uri = f"http://h{path}"
    with pytest.raises(TransferRefused, match=r"path '.*' (has|is)") as info:
        TransferPolicy.parse(["http://h/demo"]).check(uri)
    assert uri in str(info.value)
    # An entry that allows every path of the host still allows it: the host is trusted.
    TransferPolicy.parse(["http://h/demo", "http://h"]).check(uri)


@pytest.mark.parametrize(
    "path",
    ["/demo/", "/demo/cea/a%20b.fits", "/demo/100%25.txt", "/demo/x;v=1", "/demo/.hidden"],
)
def test_ordinary_paths_stay_within_a_path_prefix(path: str) -> None:
    TransferPolicy.parse(["http://h/demo"]).check(f"http://h{path}")


def test_a_policy_entry_may_not_hold_a_path_trick() -> None:
    with pytest.raises(ValueError, match=r"its path has '\.' or '\.\.' segments"):
        TransferPolicy.parse(["http://h/demo/..;/x"])


def test_an_entry_may_name_the_public_url() -> None:
    policy = TransferPolicy.parse(
        [f"{PUBLIC_URL}/demo/", "https://*"], public_url="http://127.0.0.1:41234/"
    )
    assert policy.allowed == ("http://127.0.0.1:41234/demo/", "https://*")
    policy.check("http://127.0.0.1:41234/demo/cea/x.fits")
    with pytest.raises(TransferRefused, match="port 41235 is not allowed"):
        policy.check("http://127.0.0.1:41235/demo/cea/x.fits")
    with pytest.raises(TransferRefused, match="is not allowed"):
        policy.check("http://127.0.0.1:41234/uws/cea")
    # A public URL with a path of its own (behind a proxy): the demo folder is below it.
    behind = TransferPolicy.parse([f"{PUBLIC_URL}/demo/"], public_url="https://a.org/uws-svc")
    behind.check("https://a.org/uws-svc/demo/cea/x.fits")
    with pytest.raises(ValueError, match="needs the public URL"):
        TransferPolicy.parse([f"{PUBLIC_URL}/demo/"])


# --- failures that must not tell a closed port from a silent or a busy one (issue 14) -----------


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    with silent_port() as sock:
        yield sock


@pytest.fixture
def banner() -> Iterator[int]:
    with banner_port() as port:
        yield port


def test_unreachable_servers_all_fail_with_the_same_message(
    tmp_path: Path, listening: socket.socket, banner: int, server: FileServer
) -> None:
    # A closed port, a silent one, one that is not HTTP, TLS to a plain HTTP server, a name
    # that does not resolve: only the URI differs in what the client reads.
    silent = int(listening.getsockname()[1])
    plain_http = int(server.url.rsplit(":", 1)[1])
    uris = {
        "closed": f"http://127.0.0.1:{unused_port()}/x",
        "silent": f"http://127.0.0.1:{silent}/x",
        "not HTTP": f"http://127.0.0.1:{banner}/x",
        "not TLS": f"https://127.0.0.1:{plain_http}/x",
        "no such host": "http://no-such-host.invalid/x",
        "no such host, by a wildcard": "http://elsewhere.invalid/x",
    }
    policy = TransferPolicy.parse(
        ["http://127.0.0.1:*", "https://127.0.0.1:*", "http://no-such-host.invalid", "http://*"]
    )
    messages, details = set(), set()
    for uri in uris.values():
        with pytest.raises(TransferError) as info:
            fetch(uri, tmp_path / "x", policy=policy, max_bytes=MiB, timeout=0.5)
        assert type(info.value) is TransferError
        messages.add(str(info.value).replace(uri, "URI"))
        details.add(info.value.detail)
    assert messages == {f"URI {UNREACHABLE}"}
    assert len(details) == len(uris)  # the log still tells them apart
    assert files_in(tmp_path) == []
