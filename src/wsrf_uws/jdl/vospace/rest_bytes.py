"""The byte resources of the VOSpace endpoint: ``data/{token}/{path}`` (uploads and
downloads authorised by a negotiated transfer) and ``files/{path}`` (downloads for the
caller), with byte ranges and MD5 digests."""

from __future__ import annotations

import base64
import binascii
from email.utils import format_datetime

from .errors import InvalidArgument, MethodNotAllowed, VOSpaceFault
from .names import parse_path
from .nodes import Node, NodeKind
from .properties import content_type
from .rest_routes import Caller, allow_methods
from .signing import Grant
from .store import SpaceStore
from .transfers import Negotiator, follow_links
from .wsgi import Request, Response, byte_range, content_disposition


class ByteRoutes:
    """``data`` and ``files`` over ``store``: data URLs are authorised by ``negotiator``,
    ``files`` by ``caller``."""

    def __init__(self, *, store: SpaceStore, negotiator: Negotiator, caller: Caller) -> None:
        self.store = store
        self.identity = store.identity
        self.negotiator = negotiator
        self._caller = caller

    def data(self, request: Request, tail: str) -> Response:
        """Answer a request on a data URL: PUT stores the bytes, GET and HEAD send them."""
        token, _, rest = tail.partition("/")
        path = parse_path(rest)
        method = request.method
        if method not in ("PUT", "GET", "HEAD"):
            raise MethodNotAllowed(f"{method} is not defined for data URLs", allow="PUT, GET, HEAD")
        grant, _, node = self.negotiator.authorize_data(token, path, method=method)
        if method == "PUT":
            return self._upload(request, grant, node)
        return self._download(request, node)

    def files(self, request: Request, tail: str) -> Response:
        """Answer a GET or HEAD on ``files/{path}``: a data node's bytes, links followed."""
        allow_methods(request, "", "GET", "HEAD")
        caller = self._caller(request)
        path = parse_path(tail)
        if not path:
            raise InvalidArgument("the root has no bytes")
        return self._download(request, follow_links(self.store, path, caller=caller))

    def _download(self, request: Request, node: Node) -> Response:
        if node.kind != NodeKind.DATA:
            raise InvalidArgument(
                f"{self.identity.node_uri(node.path)} is a {node.xsi_type}; only data nodes "
                "have bytes"
            )
        headers = [
            ("Content-Type", content_type(node.properties)),
            ("Content-Disposition", content_disposition(node.name)),
            ("Accept-Ranges", "bytes"),
            ("Last-Modified", format_datetime(node.modified, usegmt=True)),
        ]
        if node.md5 is not None:
            headers.append(("Digest", "md5=" + _b64_md5(node.md5)))
            headers.append(("ETag", f'"{node.md5}"'))
        stream = self.store.open_data(node)
        size = node.length or 0
        if stream is None:
            return Response(200, [*headers, ("Content-Length", "0")], [])
        try:
            selected = byte_range(request.header("Range"), size)
        except VOSpaceFault:
            stream.close()
            raise
        if selected is None:
            return Response(200, [*headers, ("Content-Length", str(size))], stream=stream)
        first, last = selected
        headers += [
            ("Content-Length", str(last - first + 1)),
            ("Content-Range", f"bytes {first}-{last}/{size}"),
        ]
        return Response(206, headers, stream=stream, offset=first, length=last - first + 1)

    def _upload(self, request: Request, grant: Grant, node: Node) -> Response:
        expected_md5 = _announced_md5(request)
        first = node.md5 is None
        # Refused here (QuotaExceeded), before a byte is read, when the declared length
        # does not fit; a chunked body is refused as soon as it goes beyond the room.
        upload = self.store.begin_upload(
            node.path, expected_length=request.content_length, node_id=grant.node_id
        )
        with upload:
            for chunk in request.body_chunks():
                upload.write(chunk)
            stored = upload.commit(expected_md5=expected_md5)
        assert stored.md5 is not None
        return Response.text(
            "",
            status=201 if first else 200,
            headers=[("Digest", "md5=" + _b64_md5(stored.md5))],
        )


def _b64_md5(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _announced_md5(request: Request) -> str | None:
    """The MD5 a client announces for its upload (``Digest: md5=``, RFC 3230, as the
    CADC client sends it, or ``Content-MD5``), as hex; None when it announces none."""
    digest = request.header("Digest")
    encoded = None
    if digest:
        for part in digest.split(","):
            algorithm, _, value = part.strip().partition("=")
            if algorithm.strip().lower() == "md5":
                encoded = value.strip()
    if encoded is None:
        encoded = request.header("Content-MD5")
    if not encoded:
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("the announced MD5 is not base64") from None
    if len(raw) != 16:
        raise InvalidArgument("the announced MD5 is not 16 bytes")
    return raw.hex()
