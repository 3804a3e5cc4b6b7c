"""Node names, node paths and ``vos://`` identifiers.

A node path is a tuple of names: ``()`` is the service's root, ``("space",)`` a space
(the container a UWS job created), longer paths the nodes inside it. Every name is
checked here, once, on the way in: no empty names, no ``.`` or ``..``, no ``/``, no
control characters, at most :data:`MAX_NAME_BYTES` bytes of UTF-8, at most
:data:`MAX_DEPTH` names. The store never builds a file name from a node name (data
files get names of their own), so these rules keep the metadata and the URIs sane;
they are not what keeps files inside the store's root.

Identifiers follow VOSpace 2.1 §2: ``vos://{authority}!{service}/{path}`` for the
registry identifier ``ivo://{authority}/{service}``, names percent-encoded as RFC 3986
asks. Both ``!`` and ``~`` are accepted on the way in; ``!`` is what the service writes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from .errors import InvalidURI

#: The longest node name, in bytes of UTF-8 (what common file systems allow).
MAX_NAME_BYTES = 255
#: The most names in a path, the space's own name included.
MAX_DEPTH = 64
#: The longest ``vos://`` identifier read from a client.
MAX_URI_CHARS = 8192
#: Names VOSpace reserves (``.auto``, ``.null``: optional features this service lacks).
RESERVED_NAMES = frozenset({".", "..", ".auto", ".null"})

NodePath = tuple[str, ...]

# RFC 3986 pchar minus the percent sign: what may stay unescaped in a path segment.
_SEGMENT_SAFE = "-._~!$&'()*+,;=:@"
_AUTHORITY = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.!~*'()+=]{2,}")
_SERVICE_ID = re.compile(r"[A-Za-z0-9\-_.~]+")
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def check_name(name: str) -> str:
    """``name`` if it may name a node; raises InvalidURI saying what is wrong with it."""
    if not name:
        raise InvalidURI("a node name is empty (two '/' in a row, or none at all)")
    if name in RESERVED_NAMES:
        raise InvalidURI(f"the node name {name!r} is reserved by VOSpace and not supported here")
    if "/" in name:
        raise InvalidURI(f"the node name {name!r} contains '/'")
    bad = next((c for c in name if unicodedata.category(c) in _FORBIDDEN_CATEGORIES), None)
    if bad is not None:
        raise InvalidURI(f"a node name contains the control character U+{ord(bad):04X}")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidURI(f"a node name is longer than {MAX_NAME_BYTES} bytes of UTF-8")
    return name


def parse_path(text: str) -> NodePath:
    """The node path written as ``a/b/c`` (leading and trailing ``/`` ignored; ``""`` is the
    root); raises InvalidURI for an empty or forbidden name or a path that is too deep."""
    stripped = text.strip("/")
    if not stripped:
        return ()
    names = stripped.split("/")
    if len(names) > MAX_DEPTH:
        raise InvalidURI(f"the path has {len(names)} names; at most {MAX_DEPTH} are allowed")
    return tuple(check_name(name) for name in names)


def format_path(path: NodePath) -> str:
    """``/a/b/c`` for ``("a", "b", "c")``; ``/`` for the root."""
    return "/" + "/".join(path)


def quote_path(path: NodePath) -> str:
    """The path percent-encoded for a URI or URL, without a leading ``/``."""
    return "/".join(quote(name, safe=_SEGMENT_SAFE) for name in path)


@dataclass(frozen=True)
class ServiceIdentity:
    """Who the service is in the registry, and how its node identifiers are spelled."""

    #: The naming authority, e.g. ``example.org``.
    authority: str
    #: The resource key under the authority, e.g. ``vospace``.
    service_id: str = "vospace"

    def __post_init__(self) -> None:
        if not _AUTHORITY.fullmatch(self.authority):
            raise ValueError(
                f"authority {self.authority!r} is not an IVOA naming authority "
                "(letters, digits and -_.!~*'()+=, at least 3 characters)"
            )
        if not _SERVICE_ID.fullmatch(self.service_id):
            raise ValueError(
                f"service id {self.service_id!r} must be one path segment of letters, "
                "digits and -_.~"
            )

    @property
    def ivo_id(self) -> str:
        """The registry identifier, ``ivo://{authority}/{service}``."""
        return f"ivo://{self.authority}/{self.service_id}"

    @property
    def vos_authority(self) -> str:
        """The authority part of node identifiers, ``{authority}!{service}``."""
        return f"{self.authority}!{self.service_id}"

    def node_uri(self, path: NodePath) -> str:
        """The ``vos://`` identifier of the node at ``path`` (the root ends in ``/``)."""
        return f"vos://{self.vos_authority}/{quote_path(path)}"

    def path_of(self, uri: str) -> NodePath:
        """The node path a ``vos://`` identifier of this service names.

        Accepts ``!`` or ``~`` as the separator and any letter case in the authority (the
        CADC client lower-cases it); a fragment is ignored, a query refused. Raises
        InvalidURI when the identifier is malformed or names another service.
        """
        if len(uri) > MAX_URI_CHARS:
            raise InvalidURI(f"the identifier is longer than {MAX_URI_CHARS} characters")
        text = uri.strip()
        bad = next((c for c in text if unicodedata.category(c) in _FORBIDDEN_CATEGORIES), None)
        if bad is not None:
            raise InvalidURI(f"the identifier contains the control character U+{ord(bad):04X}")
        try:
            parts = urlsplit(text)
        except ValueError as error:
            raise InvalidURI(f"{text!r} is not a URI: {error}") from None
        if parts.scheme.lower() != "vos":
            raise InvalidURI(f"{text!r} is not a vos:// identifier")
        authority = parts.netloc.replace("~", "!")
        if authority.casefold() != self.vos_authority.casefold():
            raise InvalidURI(
                f"{text!r} names the service {parts.netloc!r}; this service is "
                f"{self.vos_authority!r}"
            )
        if parts.query:
            raise InvalidURI(f"{text!r} has a query part, which names no node here")
        try:
            decoded = unquote(parts.path, errors="strict")
        except UnicodeDecodeError:
            raise InvalidURI(f"the path of {text!r} is not percent-encoded UTF-8") from None
        return parse_path(decoded)
