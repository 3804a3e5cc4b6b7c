"""``CachedDocuments``: one build, answers from memory, a failed build retried (plain WSGI)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsrf_uws.vo.cached_documents import CachedDocuments, Document, document_key


def get(app: CachedDocuments, path: str, query: str = "", **headers: str) -> tuple[str, bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, **headers}
    body = b"".join(app(environ, start_response))
    return seen["status"], body


def test_documents_are_built_once_and_found_by_path_and_query() -> None:
    builds: list[int] = []

    def build() -> Mapping[str, Document]:
        builds.append(1)
        return {
            document_key(""): Document(b"all", "text/plain"),
            document_key("", [("detail", "min")]): Document(b"min", "text/plain"),
            document_key("one"): Document(b"one", "text/plain"),
        }

    app = CachedDocuments(prefix="/docs", build=build)
    assert get(app, "/docs") == ("200 OK", b"all")
    assert get(app, "/docs/", "DETAIL=min") == ("200 OK", b"min")
    assert get(app, "/docs/one") == ("200 OK", b"one")
    assert get(app, "/docs/two")[0] == "404 Not Found"
    assert len(builds) == 1


def test_a_failed_build_is_a_503_and_is_tried_again() -> None:
    attempts: list[int] = []

    def build() -> Mapping[str, Document]:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("catalogue not there yet")
        return {document_key(""): Document(b"ready", "text/plain")}

    app = CachedDocuments(prefix="/docs", build=build)
    assert get(app, "/docs")[0] == "503 Service Unavailable"
    assert get(app, "/docs") == ("200 OK", b"ready")


def test_if_none_match_with_the_etag_is_a_304() -> None:
    document = Document(b"body", "text/plain")
    app = CachedDocuments(prefix="/docs", build=lambda: {"": document})
    assert get(app, "/docs", HTTP_IF_NONE_MATCH=document.etag) == ("304 Not Modified", b"")
    assert get(app, "/docs", HTTP_IF_NONE_MATCH='"other"') == ("200 OK", b"body")
