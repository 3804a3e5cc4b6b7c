"""Reading the bytes of a SOAP request into an element tree, with bounded cost.

Every request body goes through :func:`parse_envelope` before anything else looks at it:

- **Charset.** WS-I Basic Profile 1.1 (R1012) allows a message in UTF-8 or UTF-16 only.
  A ``charset`` in the ``Content-Type`` that names anything else is refused
  (``unsupported-charset``); bytes that are not what the charset says are malformed
  (``malformed-xml``). Without a charset the XML's own byte-order mark and declaration
  decide, as XML 1.0 says.
- **Hardening.** No DTD is loaded, no entity resolved, no network reached, and a DOCTYPE
  is refused (``doctype-forbidden``) the moment the parser meets it.
- **Complexity.** The cost of a tree grows with the *square* of the namespace
  declarations in scope: lxml copies every one of them whenever a subtree is serialized
  or validated on its own, which the binding does with each JDL and each body. 80 000
  declarations (2 MB) took tens of seconds of a server thread. The declarations of one
  request, and the attributes of one element, are counted while the document is parsed,
  and the parse stops at the first one over the limit (``too-complex``).

Every refusal is a :class:`~wsrf_uws.soap.faults.RequestError`: a client fault with a
precise ErrorCode, never a server error.
"""

from __future__ import annotations

import codecs
import gc
import io
from dataclasses import dataclass

from lxml import etree

from .faults import RequestError

#: The charsets a request may name (WS-I Basic Profile 1.1, R1012), by codec name.
ACCEPTED_CHARSETS = frozenset({"utf-8", "utf-16", "utf-16-le", "utf-16-be"})

#: Defaults of :class:`XmlLimits`.
DEFAULT_MAX_NAMESPACES = 1000
DEFAULT_MAX_ATTRIBUTES = 256


@dataclass(frozen=True, kw_only=True)
class XmlLimits:
    """How complex one request document may be."""

    #: Namespace declarations in the whole document.
    max_namespaces: int = DEFAULT_MAX_NAMESPACES
    #: Attributes on one element (namespace declarations not counted).
    max_attributes: int = DEFAULT_MAX_ATTRIBUTES


def _codec(charset: str) -> str:
    """The Python codec name of ``charset`` if a SOAP message may use it, else refuse."""
    name = charset.strip().strip("\"'")
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):  # ValueError: a name with a NUL in it
        codec = ""
    if codec == "ascii":
        codec = "utf-8"  # a subset of UTF-8: every US-ASCII message is a UTF-8 one
    if codec not in ACCEPTED_CHARSETS:
        raise RequestError(
            "unsupported-charset",
            f"the request's charset {name!r} is not accepted: a SOAP message is UTF-8 or "
            "UTF-16 (WS-I Basic Profile 1.1, R1012)",
        )
    return codec


def _transcoded(data: bytes, charset: str) -> bytes:
    """``data``, which the HTTP header says is in ``charset``, as UTF-8."""
    codec = _codec(charset)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        raise RequestError(
            "malformed-xml",
            f"the request is not valid {charset.strip()}: bytes {error.start}-{error.end} "
            f"({error.reason})",
        ) from None
    return text.lstrip("\ufeff").encode("utf-8")


def parse_envelope(data: bytes, *, charset: str | None, limits: XmlLimits) -> etree._Element:
    """The root element of the request ``data``, parsed safely within ``limits``.

    ``charset`` is the ``charset`` parameter of the request's ``Content-Type``, if any; it
    overrides the document's own encoding declaration (RFC 7303).
    """
    if not data.strip():
        raise RequestError("malformed-xml", "the request body is empty")
    if charset:
        data = _transcoded(data, charset)
    if _namespace_mentions(data) > _PRESCAN_FACTOR * limits.max_namespaces:
        # Refused before any parsing: lxml reads a start tag's declarations whole before
        # it reports the first, so a request of 40 000 of them would cost 30 ms to refuse.
        # ``xmlns`` in text counts too here, hence the margin; the parse counts exactly.
        raise RequestError(
            "too-complex",
            f"the request declares more than {limits.max_namespaces} XML namespaces; "
            "this service accepts at most that many in one request",
        )
    events = etree.iterparse(
        io.BytesIO(data),
        events=("start", "start-ns"),
        # What Spyne's Soap11 parser was given, with every resolution switched off.
        attribute_defaults=False,
        dtd_validation=False,
        load_dtd=False,
        no_network=True,
        resolve_entities=False,
        huge_tree=False,
        remove_comments=True,
        strip_cdata=True,
        # The HTTP charset, already applied, wins over the declaration (RFC 7303 §3.2).
        encoding="utf-8" if charset else None,
    )
    try:
        root = _read(events, limits)
    except RequestError as error:
        error.__context__ = None  # its traceback, and this one, would keep the parser alive
        refusal: RequestError | None = error.with_traceback(None)
    else:
        refusal = None
    if refusal is not None:
        # lxml's pull parser is a reference cycle until its document is complete, and an
        # abandoned one keeps the parser's buffers and partial tree (some 20 MB for 40 000
        # namespace declarations) until the cyclic collector runs, which no threshold
        # triggers for C memory: a flood of refused requests grew the service by that
        # much per request. Collect it now; the service freezes what start-up made, so
        # the collection is cheap.
        del events
        if len(data) >= _COLLECT_ABOVE_BYTES:
            gc.collect()
        raise refusal
    if root is None:  # pragma: no cover (a document without an element is a syntax error)
        raise RequestError("malformed-xml", "the request holds no element")
    return root


#: How many more ``xmlns`` than allowed declarations a request may mention before it is
#: refused unparsed (text may say ``xmlns`` too).
_PRESCAN_FACTOR = 4

#: Refused documents at least this large are collected at once (below, the parser holds
#: little, and a collection per refusal would cost more than it gives back).
_COLLECT_ABOVE_BYTES = 64 * 1024

#: ``xmlns`` in the encodings a request may arrive in without a charset (XML 1.0 F.1).
_XMLNS = (b"xmlns", "xmlns".encode("utf-16-le"), "xmlns".encode("utf-16-be"))


def _namespace_mentions(data: bytes) -> int:
    """How many times ``xmlns`` occurs in ``data``: at least its namespace declarations."""
    return max(data.count(pattern) for pattern in _XMLNS)


def _read(events: etree.iterparse, limits: XmlLimits) -> etree._Element | None:
    """Parse the whole document from ``events``, refusing it at the first excess."""
    root: etree._Element | None = None
    namespaces = 0
    try:
        for event, item in events:
            if event == "start-ns":
                namespaces += 1
                if namespaces > limits.max_namespaces:
                    raise RequestError(
                        "too-complex",
                        f"the request declares more than {limits.max_namespaces} XML "
                        "namespaces; this service accepts at most that many in one request",
                    )
                continue
            assert isinstance(item, etree._Element)
            if root is None:
                root = item
                # The DOCTYPE precedes the root: refused before anything else is read.
                if _has_doctype(root):
                    raise RequestError(
                        "doctype-forbidden", "a SOAP message must not contain a DOCTYPE"
                    )
            if len(item.attrib) > limits.max_attributes:
                raise RequestError(
                    "too-complex",
                    f"the element {item.tag} has {len(item.attrib)} attributes; this service "
                    f"accepts at most {limits.max_attributes} on one element",
                )
    except etree.XMLSyntaxError as error:
        raise RequestError("malformed-xml", str(error)) from None
    return root


def _has_doctype(root: etree._Element) -> bool:
    """Whether the document of ``root`` declares a DOCTYPE."""
    doctype: str = getattr(root.getroottree().docinfo, "doctype", "")  # lxml-stubs lack it
    return bool(doctype)
