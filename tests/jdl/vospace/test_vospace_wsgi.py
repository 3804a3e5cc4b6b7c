"""The HTTP plumbing of the VOSpace endpoint (``jdl/vospace/wsgi.py``): what a request's
environment says, read strictly, and responses handed to the WSGI server as it expects.
The routes themselves are exercised over HTTP in ``test_vospace_rest.py``; these are the
cases an HTTP server never lets through to the application."""

from __future__ import annotations

import io

import pytest

from wsrf_uws.jdl.vospace.errors import IncompleteUpload, RequestEntityTooLarge
from wsrf_uws.jdl.vospace.wsgi import Request, Response


def request(body: bytes = b"", **environ: object) -> Request:
    return Request({"REQUEST_METHOD": "PUT", "wsgi.input": io.BytesIO(body), **environ})


def test_a_body_is_read_by_its_length_or_to_its_end() -> None:
    assert b"".join(request(b"abcdef", CONTENT_LENGTH="3").body_chunks()) == b"abc"
    terminated = request(b"abcdef", **{"wsgi.input_terminated": True})
    assert b"".join(terminated.body_chunks()) == b"abcdef"
    # Neither a length nor a server that ends the input: HTTP says there is no body.
    assert list(request(b"abcdef").body_chunks()) == []
    with pytest.raises(IncompleteUpload, match="3 bytes short"):
        b"".join(request(b"abc", CONTENT_LENGTH="6").body_chunks())


def test_a_document_over_its_limit_is_refused_before_or_while_it_is_read() -> None:
    declared = request(b"x" * 10, CONTENT_LENGTH="10")
    with pytest.raises(RequestEntityTooLarge, match="has 10 bytes; at most 9"):
        declared.read_body(limit=9)
    assert declared.environ["wsgi.input"].tell() == 0
    chunked = request(b"x" * 10, **{"wsgi.input_terminated": True})
    with pytest.raises(RequestEntityTooLarge, match="larger than 9 bytes"):
        chunked.read_body(limit=9)
    assert request(b"x" * 9, CONTENT_LENGTH="9").read_body(limit=9) == b"x" * 9


def test_headers_are_found_in_any_case() -> None:
    decoded = request(HTTP_X_CUSTOM_THING="v", CONTENT_TYPE="text/xml", CONTENT_LENGTH=" ")
    assert decoded.header("x-custom-thing") == decoded.header("X-Custom-Thing") == "v"
    assert decoded.header("content-type") == "text/xml"
    assert decoded.header("Range") is None
    assert decoded.content_length is None


def test_a_response_says_its_length_except_where_http_forbids_one() -> None:
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        started.append((status, headers))

    assert list(Response(204).send({}, start, head=False)) == []
    assert started[-1] == ("204 No Content", [])
    body = Response.text("hello", status=200).send({}, start, head=True)
    assert list(body) == []
    assert ("Content-Length", "5") in started[-1][1]
    stream = io.BytesIO(b"0123456789")
    streamed = Response(206, [("Content-Length", "3")], stream=stream, offset=2, length=3)
    assert b"".join(streamed.send({}, start, head=False)) == b"234"
    assert stream.closed
    stream = io.BytesIO(b"0123456789")
    assert list(Response(200, [], stream=stream).send({}, start, head=True)) == []
    assert stream.closed
