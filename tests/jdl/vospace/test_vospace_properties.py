"""Node properties (``jdl/vospace/properties.py``): what a client may store, checked
wherever it comes from, and what the service makes of the properties it reads."""

from __future__ import annotations

import pytest

from wsrf_uws.jdl.vospace.errors import InvalidArgument, PermissionDenied
from wsrf_uws.jdl.vospace.properties import (
    CORE,
    ISPUBLIC,
    MIMETYPE,
    PUBLICREAD,
    TYPE,
    PropertyNames,
    check_client_property,
    content_type,
    is_public,
)

NAMES = PropertyNames("ivo://example.org/vospace")


@pytest.mark.parametrize(
    ("uri", "value", "words"),
    [
        ("urn:x", "bell\x07", "control characters"),
        ("urn:x", "v" * 8193, "longer than"),
        ("", "v", "1 to 1024"),
        ("urn:" + "x" * 1021, "v", "1 to 1024"),
        ("no scheme", "v", "not an absolute URI"),
        ("urn:with space", "v", "not an absolute URI"),
    ],
)
def test_client_properties_are_bounded_whatever_carries_them(
    uri: str, value: str, words: str
) -> None:
    # XML cannot carry every control character, so this is checked at the source.
    with pytest.raises(InvalidArgument, match=words):
        check_client_property(uri, value, NAMES)
    check_client_property("urn:x", "tab\tnew\nline\r", NAMES)


@pytest.mark.parametrize(
    "uri", [CORE + "length", CORE + "date", CORE + "quota", "ivo://example.org/vospace#expires"]
)
def test_what_the_service_computes_is_read_only(uri: str) -> None:
    with pytest.raises(PermissionDenied, match="read-only"):
        check_client_property(uri, "1", NAMES)
    with pytest.raises(PermissionDenied):
        check_client_property(uri, None, NAMES)  # nor may it be deleted


def test_public_flags_read_as_the_store_reads_them() -> None:
    assert is_public({ISPUBLIC: " True\n"}) and is_public({PUBLICREAD: "TRUE"})
    assert not is_public({ISPUBLIC: "false", PUBLICREAD: ""})
    for flag in ("true", "False", " "):
        check_client_property(ISPUBLIC, flag, NAMES)
    with pytest.raises(InvalidArgument, match="'true' or 'false'"):
        check_client_property(PUBLICREAD, "yes", NAMES)


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({}, "application/octet-stream"),
        ({MIMETYPE: "text/plain", TYPE: "image/fits"}, "text/plain"),
        ({MIMETYPE: "plain", TYPE: "image/fits"}, "image/fits"),
        ({MIMETYPE: "text/plain\r\nX-Evil: 1"}, "application/octet-stream"),
        ({TYPE: "text/é"}, "application/octet-stream"),
    ],
)
def test_a_download_is_typed_from_the_properties_only_when_that_is_safe(
    properties: dict[str, str], expected: str
) -> None:
    assert content_type(properties) == expected
