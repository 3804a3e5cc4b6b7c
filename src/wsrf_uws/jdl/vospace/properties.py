"""Node properties: the URIs this service knows, which of them clients may set, and the
limits on what clients store.

VOSpace properties are URI-keyed strings. The service computes some (length, MD5,
date, creator, available space, and the space's quota and expiry) and refuses any
attempt to change them; every other property is the client's, stored as text (the
standard asks a service to keep properties it does not understand). Two of the
client's properties mean something here: ``core#ispublic`` (the CADC client's name)
or ``core#publicread`` (the standard's) set to ``true`` lets anyone read a node, and
``core#mimetype`` (or CADC's ``core#type``) becomes the Content-Type of a download.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import InvalidArgument, PermissionDenied

CORE = "ivo://ivoa.net/vospace/core#"

LENGTH = CORE + "length"
MD5 = CORE + "MD5"
DATE = CORE + "date"
CREATOR = CORE + "creator"
AVAILABLE_SPACE = CORE + "availableSpace"
MIMETYPE = CORE + "mimetype"
TITLE = CORE + "title"
DESCRIPTION = CORE + "description"
#: CADC's name for the MIME type (its client sets it on upload).
TYPE = CORE + "type"
#: CADC's public-read flag (its client reads and writes this one).
ISPUBLIC = CORE + "ispublic"
#: The standard's public-read flag.
PUBLICREAD = CORE + "publicread"

#: Core properties the standard defines for times the service keeps; reserved here.
_RESERVED_CORE = frozenset(CORE + name for name in ("mtime", "ctime", "btime", "quota"))

#: At most this many client properties per node.
MAX_PROPERTIES = 100
#: The longest property URI.
MAX_URI_CHARS = 1024
#: The longest property value, in characters.
MAX_VALUE_CHARS = 8192


class PropertyNames:
    """The property URIs of one service: the core ones, plus the service's own for the
    quota and expiry of a space (``ivo://{authority}/{service}#quota`` and ``#expires``)."""

    def __init__(self, ivo_id: str) -> None:
        #: The space's quota in bytes (read-only).
        self.quota = f"{ivo_id}#quota"
        #: When the space expires, ISO 8601 UTC (read-only; absent: no expiry).
        self.expires = f"{ivo_id}#expires"
        #: Every property the service computes; clients may not set them.
        self.read_only = frozenset(
            {LENGTH, MD5, DATE, CREATOR, AVAILABLE_SPACE, self.quota, self.expires} | _RESERVED_CORE
        )

    def is_read_only(self, uri: str) -> bool:
        """Whether the service computes the property ``uri``."""
        return uri in self.read_only


def check_client_property(uri: str, value: str | None, names: PropertyNames) -> None:
    """Refuse a property a client may not set: a read-only one (PermissionDenied), a URI
    that is not absolute or too long, a value too long or with control characters
    (InvalidArgument). ``value`` None means "delete it"."""
    if names.is_read_only(uri):
        raise PermissionDenied(f"the property {uri} is read-only: the service computes it")
    if not uri or len(uri) > MAX_URI_CHARS:
        raise InvalidArgument(f"a property URI must have 1 to {MAX_URI_CHARS} characters")
    if not urlsplit(uri).scheme or any(c.isspace() or ord(c) < 32 for c in uri):
        raise InvalidArgument(f"the property URI {uri!r} is not an absolute URI")
    if value is None:
        return
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidArgument(f"the value of {uri} is longer than {MAX_VALUE_CHARS} characters")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise InvalidArgument(f"the value of {uri} contains control characters")
    if uri in (ISPUBLIC, PUBLICREAD) and _flag(value) not in ("true", "false", ""):
        raise InvalidArgument(f"{uri} is 'true' or 'false', not {value!r}")


def is_public(properties: Mapping[str, str]) -> bool:
    """Whether the client's properties make the node readable by anyone."""
    return any(_flag(properties.get(uri, "")) == "true" for uri in (ISPUBLIC, PUBLICREAD))


def _flag(value: str) -> str:
    """A true/false property's value, normalised exactly as the store's listing query
    does (ASCII white space and letter case), so both agree on what is public."""
    return value.strip(" \t\r\n").lower()


def content_type(properties: Mapping[str, str]) -> str:
    """The MIME type to serve a node's bytes with."""
    for uri in (MIMETYPE, TYPE):
        value = properties.get(uri, "").strip()
        # A header value must not carry line breaks or other control characters.
        if value and "/" in value and all(32 <= ord(c) < 127 for c in value):
            return value
    return "application/octet-stream"
