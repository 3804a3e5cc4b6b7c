"""The kit's own wire: HTTP with timeouts and size caps, SOAP 1.1 envelopes, replies and faults.

The kit judges what a service puts on the wire, so it speaks raw HTTP (``urllib``) and
builds and reads XML with lxml itself, never through a SOAP toolkit that would smooth
over a defect. Everything a service sends is untrusted: replies are parsed with a
hardened parser (no DTD, no entities, no network), refused beyond a size cap, and every
request has a deadline. Whatever goes wrong on the way (a refused connection, a
timeout, a reply that is not XML) becomes a :class:`WireError`, which the runner turns
into the failure of the check concerned.
"""

from __future__ import annotations

import base64
import http.client
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from lxml import etree

from ..wire.parsing import safe_parser
from .names import BF, SOAP11, WSA, q

#: The largest reply the kit reads (a WSDL, a schema or a SOAP message).
MAX_REPLY_BYTES = 8 * 1024 * 1024
_CHUNK = 64 * 1024


class WireError(Exception):
    """A request that got no usable answer: network error, timeout, oversized or bad reply."""


@dataclass(frozen=True)
class Credentials:
    """A user name and password, sent as HTTP Basic authentication."""

    user: str
    password: str = field(repr=False)

    def authorization(self) -> str:
        """The value of the ``Authorization`` header."""
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


@dataclass(frozen=True)
class HttpReply:
    """What an HTTP request got back: status, body (possibly truncated) and content type."""

    status: int
    body: bytes
    content_type: str
    #: True when the body was longer than the limit and only its start was read.
    truncated: bool = False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are answers to judge, not to follow (and they could lead off the service)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then hands the 3xx over as the answer


_OPENER = urllib.request.build_opener(_NoRedirects)


def http_request(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    timeout: float,
    limit: int = MAX_REPLY_BYTES,
    truncate: bool = False,
) -> HttpReply:
    """One HTTP request; the reply whatever its status (4xx and 5xx are answers too).

    The whole exchange must finish within ``timeout`` seconds. A body longer than
    ``limit`` is a :class:`WireError`, unless ``truncate`` asks for its start only.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):  # a service's links must not make the kit read files
        raise WireError(f"{url}: the kit follows only http and https URLs, not {scheme!r}")
    # The scheme was checked above: no file:, ftp: or custom handler can be reached.
    request = urllib.request.Request(  # noqa: S310
        url, data=data, method=method, headers=dict(headers or {})
    )
    if credentials is not None:
        request.add_header("Authorization", credentials.authorization())
    deadline = time.monotonic() + timeout
    try:
        try:
            response = _OPENER.open(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            response = error  # an HTTP answer with an error status; its body still counts
        with response:
            status = int(response.status or 0)
            content_type = response.headers.get("Content-Type", "")
            body, truncated = _read(response, limit=limit, deadline=deadline, url=url)
    except WireError:
        raise
    except urllib.error.URLError as error:
        raise WireError(f"{method} {url}: {error.reason}") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise WireError(f"{method} {url}: {type(error).__name__}: {error}") from None
    if truncated and not truncate:
        raise WireError(f"{method} {url}: the reply is larger than {limit} bytes")
    return HttpReply(status=status, body=body, content_type=content_type, truncated=truncated)


class _Readable(Protocol):
    def read(self, amount: int, /) -> bytes: ...


def _read(response: _Readable, *, limit: int, deadline: float, url: str) -> tuple[bytes, bool]:
    """The body, read in chunks so that a slow trickle still meets the deadline."""
    read = response.read
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        if time.monotonic() > deadline:
            raise WireError(f"{url}: the reply did not arrive in time")
        chunk = read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit], True


def parse_xml(data: bytes, *, what: str) -> etree._Element:
    """Parse an untrusted XML document; a :class:`WireError` names ``what`` it was."""
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as error:
        start = data[:80].decode("utf-8", "replace")
        raise WireError(f"{what} is not well-formed XML ({error.msg}): {start!r}") from None
    if getattr(root.getroottree().docinfo, "doctype", ""):
        raise WireError(f"{what} carries a DOCTYPE (WS-I BP 1.1 R1008 forbids it in SOAP)")
    return root


# -- SOAP messages --------------------------------------------------------------------------


def new_message_id() -> str:
    """A fresh ``urn:uuid:`` MessageID."""
    h = os.urandom(16).hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def envelope(body: etree._Element | None, headers: Iterable[etree._Element] = ()) -> bytes:
    """A SOAP 1.1 envelope holding ``headers`` and ``body``, as bytes."""
    root = etree.Element(q(SOAP11, "Envelope"), nsmap={"soapenv": SOAP11})
    blocks = list(headers)
    if blocks:
        etree.SubElement(root, q(SOAP11, "Header")).extend(blocks)
    container = etree.SubElement(root, q(SOAP11, "Body"))
    if body is not None:
        container.append(body)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True)
class Fault:
    """A SOAP 1.1 fault: its code (namespace, local part), string and detail element."""

    code_namespace: str | None
    code: str
    string: str
    #: The first element inside ``detail`` (the WS-BaseFaults element), if any.
    detail: etree._Element | None

    @property
    def detail_tag(self) -> str | None:
        """The detail element's name in Clark notation."""
        return None if self.detail is None else str(self.detail.tag)

    @property
    def timestamp(self) -> str | None:
        """The WS-BaseFaults ``Timestamp`` of the detail."""
        return None if self.detail is None else self.detail.findtext(q(BF, "Timestamp"))

    @property
    def descriptions(self) -> list[str]:
        """The WS-BaseFaults ``Description`` texts of the detail."""
        if self.detail is None:
            return []
        return [d.text or "" for d in self.detail.iterchildren(q(BF, "Description"))]

    def is_code(self, local: str) -> bool:
        """Whether the faultcode is ``soapenv:{local}`` (or a dotted refinement of it)."""
        return self.code_namespace == SOAP11 and (
            self.code == local or self.code.startswith(local + ".")
        )

    def describe(self) -> str:
        """A short text: detail element, faultcode and faultstring."""
        tag = self.detail_tag or "no detail"
        prefix = "soapenv:" if self.code_namespace == SOAP11 else f"{{{self.code_namespace}}}"
        return f"{tag} ({prefix}{self.code}: {self.string[:120]})"


def read_fault(element: etree._Element) -> Fault:
    """The :class:`Fault` in a ``soapenv:Fault`` element (SOAP 1.1 §4.4)."""
    code_text = (element.findtext("faultcode") or "").strip()
    prefix, _, local = code_text.rpartition(":")
    code_element = element.find("faultcode")
    nsmap = code_element.nsmap if code_element is not None else {}
    namespace = nsmap.get(prefix or None)  # an unprefixed code is in the default namespace
    detail = element.find("detail")
    first = None
    if detail is not None:
        first = next((child for child in detail if isinstance(child.tag, str)), None)
    return Fault(
        code_namespace=namespace,
        code=local,
        string=(element.findtext("faultstring") or "").strip(),
        detail=first,
    )


@dataclass(frozen=True)
class Reply:
    """A SOAP reply: the HTTP status and the parsed envelope, with ways to read it."""

    http_status: int
    envelope: etree._Element
    #: The MessageID of the request this answers (what RelatesTo should hold).
    request_message_id: str | None = None

    @property
    def headers(self) -> list[etree._Element]:
        """The header blocks."""
        header = self.envelope.find(q(SOAP11, "Header"))
        return [] if header is None else [h for h in header if isinstance(h.tag, str)]

    @property
    def body(self) -> etree._Element | None:
        """The first element of the SOAP body (the fault element, for a fault)."""
        body = self.envelope.find(q(SOAP11, "Body"))
        if body is None:
            return None
        return next((child for child in body if isinstance(child.tag, str)), None)

    @property
    def fault(self) -> Fault | None:
        """The fault this reply carries, or None."""
        body = self.body
        if body is None or body.tag != q(SOAP11, "Fault"):
            return None
        return read_fault(body)

    def header_texts(self, namespace: str, local: str) -> list[str]:
        """The texts of every header block ``{namespace}local``."""
        tag = q(namespace, local)
        return [(h.text or "").strip() for h in self.headers if h.tag == tag]

    def header(self, namespace: str, local: str) -> str | None:
        """The text of the first header block ``{namespace}local``, or None."""
        texts = self.header_texts(namespace, local)
        return texts[0] if texts else None

    def describe(self) -> str:
        """What the reply is, in a few words (for failure reasons)."""
        fault = self.fault
        if fault is not None:
            return f"HTTP {self.http_status} fault {fault.describe()}"
        body = self.body
        return f"HTTP {self.http_status} {body.tag if body is not None else 'empty body'}"


def read_reply(reply: HttpReply, *, request_message_id: str | None = None) -> Reply:
    """The :class:`Reply` in an HTTP reply; a :class:`WireError` if it is no SOAP 1.1 envelope."""
    if not reply.body.strip():
        raise WireError(f"HTTP {reply.status} with an empty body, not a SOAP envelope")
    root = parse_xml(reply.body, what=f"the reply (HTTP {reply.status})")
    if root.tag != q(SOAP11, "Envelope"):
        raise WireError(f"HTTP {reply.status}: the reply is {root.tag}, not a SOAP 1.1 Envelope")
    return Reply(http_status=reply.status, envelope=root, request_message_id=request_message_id)


# -- WS-Addressing request headers ----------------------------------------------------------


@dataclass(frozen=True)
class Addressing:
    """The WS-Addressing headers of one request (WS-Addressing 1.0 SOAP binding, or 2004/08).

    ``reference_parameters`` are sent as header blocks, each marked with
    ``IsReferenceParameter`` = ``is_reference_parameter`` unless that is None.
    """

    to: str
    action: str
    namespace: str = WSA
    message_id: str | None = field(default_factory=new_message_id)
    reference_parameters: Sequence[etree._Element] = ()
    is_reference_parameter: str | None = "true"
    #: Mark To and Action ``mustUnderstand="1"`` (some stacks do).
    must_understand: bool = False

    def headers(self) -> list[etree._Element]:
        """The header blocks, in the order clients usually send them."""
        ns = self.namespace
        blocks = []
        for local, text in (("To", self.to), ("Action", self.action)):
            block = etree.Element(q(ns, local), nsmap={"wsa": ns, "soapenv": SOAP11})
            block.text = text
            if self.must_understand:
                block.set(q(SOAP11, "mustUnderstand"), "1")
            blocks.append(block)
        if self.message_id is not None:
            block = etree.Element(q(ns, "MessageID"), nsmap={"wsa": ns})
            block.text = self.message_id
            blocks.append(block)
        for parameter in self.reference_parameters:
            copied = etree.fromstring(etree.tostring(parameter))
            if self.is_reference_parameter is not None and ns == WSA:
                # The 2004/08 submission has no such attribute; 1.0 requires it (§3.3).
                copied.set(q(WSA, "IsReferenceParameter"), self.is_reference_parameter)
            blocks.append(copied)
        return blocks
