"""``/tap/sync``: one ADQL query, answered in the response (TAP 1.1 §2.2, DALI 1.1).

The request thread only reads the parameters; the query is translated, run and written
by a worker of the :class:`~.pool.QueryPool`, bounded in time (``[adql] sync_seconds``),
memory (``query_memory_bytes``) and answer size (``sync_max_result_bytes``). Every
refusal is a DALI error document: a VOTable whose ``QUERY_STATUS`` is ``ERROR``, with
HTTP 400 for a request the service cannot answer, 503 when every worker stayed busy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from ..jdl.adql.jdl import QueryLimits
from ..jdl.adql.remote_uploads import remote_upload
from ..jdl.adql.uploads import UploadError
from .formats import UnknownFormat, response_format
from .parameters import BadParameters, TapParameters, read_parameters
from .pool import PoolBusy, QueryPool, QueryTimedOut, WorkerFailed
from .worker import Answer, SyncQuery, error_answer

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]

#: The values of LANG this service takes (TAP 1.1 §2.3.1; DALI: optionally with a version).
LANGUAGES = frozenset({"ADQL", "ADQL-2.0", "ADQL-2.1"})


class SyncQueries:
    """The WSGI application of ``/tap/sync``."""

    def __init__(
        self, *, pool: QueryPool, limits: QueryLimits, prepare: Callable[[], object]
    ) -> None:
        self.pool = pool
        self.limits = limits
        self._prepare = prepare

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "POST"):
            body = b"use GET or POST\n"
            start_response(
                "405 Method Not Allowed",
                [
                    ("Content-Type", "text/plain"),
                    ("Allow", "GET, POST"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        try:
            query = self.query(read_parameters(environ))
        except (BadParameters, UnknownFormat) as error:
            return _answer(start_response, error_answer(str(error)))
        return _answer(start_response, self.run(query))

    def query(self, parameters: TapParameters) -> SyncQuery:
        """The query a request asks for; :class:`BadParameters` says what is wrong."""
        request = parameters.get("REQUEST")
        if request is not None and request.lower() != "doquery":
            raise BadParameters(f"REQUEST={request} is not supported: use REQUEST=doQuery")
        lang = parameters.get("LANG")
        if lang is None:
            raise BadParameters("LANG is missing: give LANG=ADQL")
        if lang.upper() not in LANGUAGES:
            raise BadParameters(f"LANG={lang} is not supported: use LANG=ADQL")
        adql = parameters.get("QUERY")
        if adql is None or not adql.strip():
            raise BadParameters("QUERY is missing: give the ADQL query")
        maxrec = self._maxrec(parameters.get("MAXREC"))
        chosen = parameters.get("RESPONSEFORMAT") or parameters.get("FORMAT")
        return SyncQuery(
            adql=adql,
            maxrec=maxrec,
            response_format=response_format(chosen),
            uploads=tuple(self._checked(parameters.uploads())),
        )

    def _checked(self, uploads: list[tuple[str, bytes | str]]) -> list[tuple[str, bytes | str]]:
        """``uploads``, each URL checked against ``[adql] fetch_allow`` (its form only: the
        worker fetches it) and resolved."""
        checked: list[tuple[str, bytes | str]] = []
        for name, source in uploads:
            if isinstance(source, str):
                try:
                    source = remote_upload(name, source, policy=self.limits.fetch_policy).uri
                except UploadError as error:
                    raise BadParameters(f"UPLOAD: {error}") from None
            checked.append((name, source))
        return checked

    def _maxrec(self, value: str | None) -> int:
        """MAXREC, or the default; beyond the service's limit, the limit (the answer then
        says OVERFLOW if there were more rows)."""
        if value is None or not value.strip():
            return self.limits.default_maxrec
        try:
            maxrec = int(value)
        except ValueError:
            raise BadParameters(f"MAXREC={value} is not a whole number") from None
        if maxrec < 0:
            raise BadParameters(f"MAXREC={value} is negative")
        return min(maxrec, self.limits.max_maxrec)

    def run(self, query: SyncQuery) -> Answer:
        """The answer of a worker, or the error that says why there is none."""
        try:
            self._prepare()
            return self.pool.run(query)
        except PoolBusy:
            return error_answer(
                f"every TAP query worker stayed busy for {self.pool.wait_seconds:g} s: try again "
                "later, or use /tap/async",
                status=503,
            )
        except QueryTimedOut:
            return error_answer(
                f"the query ran longer than the {self.pool.seconds:g} s a synchronous query "
                "may take here ([adql] sync_seconds), and was stopped: use /tap/async"
            )
        except WorkerFailed as error:
            log.error("TAP sync query failed: %s", error)
            return error_answer(f"the query could not be run: {error}", status=500)


_REASONS = {200: "OK", 400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}


def _answer(start_response: StartResponse, answer: Answer) -> list[bytes]:
    headers = [("Content-Type", answer.media_type), ("Content-Length", str(len(answer.body)))]
    if answer.status == 503:
        headers.append(("Retry-After", "5"))
    start_response(f"{answer.status} {_REASONS.get(answer.status, '')}".rstrip(), headers)
    return [answer.body]
