"""Node names, paths and ``vos://`` identifiers (``jdl/vospace/names.py``): what a name may
be, how paths and identifiers are read and written, and every malformed or foreign
identifier refused with InvalidURI."""

from __future__ import annotations

import re

import pytest

from wsrf_uws.jdl.vospace.errors import InvalidURI
from wsrf_uws.jdl.vospace.names import (
    MAX_DEPTH,
    MAX_NAME_BYTES,
    MAX_URI_CHARS,
    ServiceIdentity,
    check_name,
    format_path,
    parse_path,
    quote_path,
)

IDENTITY = ServiceIdentity("example.org", "vospace")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "empty"),
        (".", "reserved"),
        ("..", "reserved"),
        (".auto", "reserved"),
        (".null", "reserved"),
        ("a/b", "contains '/'"),
        ("a\x00b", "U+0000"),
        ("tab\there", "U+0009"),
        ("line\u2028break", "U+2028"),
        ("half\ud800", "U+D800"),
        ("é" * (MAX_NAME_BYTES // 2 + 1), f"longer than {MAX_NAME_BYTES} bytes"),
    ],
)
def test_a_name_that_cannot_name_a_node_is_refused(name: str, words: str) -> None:
    with pytest.raises(InvalidURI, match=re.escape(words)):
        check_name(name)


@pytest.mark.parametrize("name", ["a", "..a", "a b", 'quote"d', "é" * (MAX_NAME_BYTES // 2), "~!$"])
def test_names_within_the_rules_are_kept_as_they_are(name: str) -> None:
    assert check_name(name) == name


def test_paths_are_read_and_written() -> None:
    assert parse_path("") == parse_path("/") == ()
    assert parse_path("/a/b/") == ("a", "b")
    assert parse_path("/".join(["n"] * MAX_DEPTH)) == ("n",) * MAX_DEPTH
    with pytest.raises(InvalidURI, match=f"at most {MAX_DEPTH}"):
        parse_path("/".join(["n"] * (MAX_DEPTH + 1)))
    with pytest.raises(InvalidURI, match="empty"):
        parse_path("a//b")
    assert format_path(()) == "/"
    assert format_path(("a", "b")) == "/a/b"
    assert (
        quote_path(("a b", "é", "x?y#z", "~!$&'()*+,;=:@"))
        == "a%20b/%C3%A9/x%3Fy%23z/~!$&'()*+,;=:@"
    )


def test_identifiers_round_trip_and_accept_what_clients_write() -> None:
    path = ("space", "a b", "é?#")
    uri = IDENTITY.node_uri(path)
    assert uri == "vos://example.org!vospace/space/a%20b/%C3%A9%3F%23"
    assert IDENTITY.path_of(uri) == path
    assert IDENTITY.node_uri(()) == "vos://example.org!vospace/"
    assert IDENTITY.path_of("vos://example.org!vospace") == ()
    # "~" for "!", any case in the authority (the CADC client lower-cases it), a fragment
    # ignored, white space around it trimmed.
    assert IDENTITY.path_of("vos://EXAMPLE.org~VOSpace/space/f#part") == ("space", "f")
    assert IDENTITY.path_of("  vos://example.org!vospace/space  ") == ("space",)
    assert IDENTITY.ivo_id == "ivo://example.org/vospace"
    assert IDENTITY.vos_authority == "example.org!vospace"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("vos://example.org!vospace/" + "a" * MAX_URI_CHARS, "longer than"),
        ("vos://example.org!vospace/a\x07b", "control character U+0007"),
        ("vos://[example.org/a", "is not a URI"),
        ("ivo://example.org!vospace/a", "not a vos:// identifier"),
        ("example.org!vospace/a", "not a vos:// identifier"),
        ("vos://example.org!other/a", "names the service"),
        ("vos://example.com!vospace/a", "names the service"),
        ("vos://example.org!vospace/a?b=c", "query part"),
        ("vos://example.org!vospace/%FF", "not percent-encoded UTF-8"),
        ("vos://example.org!vospace/a/%2E%2E/b", "reserved"),
    ],
)
def test_a_malformed_or_foreign_identifier_is_refused(uri: str, words: str) -> None:
    with pytest.raises(InvalidURI, match=re.escape(words)):
        IDENTITY.path_of(uri)


@pytest.mark.parametrize(
    ("authority", "service_id", "words"),
    [
        ("ab", "vospace", "naming authority"),
        ("example org", "vospace", "naming authority"),
        ("example.org", "a/b", "one path segment"),
        ("example.org", "", "one path segment"),
    ],
)
def test_a_service_needs_a_registry_identity(authority: str, service_id: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ServiceIdentity(authority, service_id)
