"""The TAP 1.1 service on the ``adql`` contract, at ``{public-url}/tap``.

| route | what |
|---|---|
| ``GET|POST /tap/sync`` | a synchronous query (:mod:`.sync`) |
| ``GET /tap/capabilities`` | VOSI capabilities with TAPRegExt (:mod:`.vosi`) |
| ``GET /tap/availability`` | VOSI availability |
| ``GET /tap/tables`` | VOSI tables, the catalogue's TAP_SCHEMA (:mod:`.tables`) |
| ``/tap/async`` | the UWS job list of the ``adql`` contract, when the REST binding is given |

The documents are public; a query needs what creating a job needs (HTTP Basic as for
SOAP, or nothing where the service allows anonymous callers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..core.contract import Authenticate
from ..core.errors import NotAuthenticatedError
from ..jdl.adql.contract import AdqlContract
from ..vo.cached_documents import CachedDocuments, document_key
from ..vo.votable_document import error_votable
from .async_jobs import AsyncJobList, AsyncQueries
from .mount import PREFIX
from .pool import QueryPool
from .sync import SyncQueries
from .tables import documents as table_documents
from .vosi import MEDIA_TYPE, ServiceLimits, availability, capabilities
from .worker import WorkerSettings

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class TapApplication:
    """The WSGI application of :data:`PREFIX` for ``contract``; ``async_jobs``, the REST
    job list of the contract mounted at ``/tap/async``, if given, answers below it."""

    def __init__(
        self,
        *,
        contract: AdqlContract,
        base_url: str,
        authenticate: Authenticate,
        limits: ServiceLimits,
        async_jobs: AsyncJobList | None = None,
    ) -> None:
        options = contract.options
        self.url = base_url.rstrip("/") + PREFIX
        self.contract = contract
        self.authenticate = authenticate
        self.pool = QueryPool(
            WorkerSettings(
                catalog_path=contract.catalog_path,
                limits=contract.limits,
                threads=options.query_threads,
                memory_bytes=options.query_memory_bytes,
                max_result_bytes=options.sync_max_result_bytes,
                batch_rows=options.batch_rows,
            ),
            size=options.sync_workers,
            seconds=options.sync_seconds,
        )
        # The catalogue is opened (built, for the default one) before a worker opens it.
        self.sync = SyncQueries(pool=self.pool, limits=contract.limits, prepare=self._catalog)
        self.async_jobs = (
            None
            if async_jobs is None
            else AsyncQueries(job_list=async_jobs, path=f"{PREFIX}/async", sync=self.sync)
        )
        self.tables = CachedDocuments(
            prefix=f"{PREFIX}/tables", build=lambda: table_documents(self._catalog())
        )
        self.capabilities = CachedDocuments(
            prefix=f"{PREFIX}/capabilities",
            build=lambda: {document_key(""): capabilities(self.url, limits)},
        )

    def _catalog(self) -> Any:
        return self.contract.catalog.metadata

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = (environ.get("PATH_INFO") or "")[len(PREFIX) :].rstrip("/")
        top = path.split("/", 2)[1] if path.startswith("/") else ""
        if top == "sync" and path == "/sync":
            try:
                self.authenticate(headers=[], environ=environ)
            except NotAuthenticatedError as error:
                return _refused(start_response, str(error))
            return self.sync(environ, start_response)
        if top == "async" and self.async_jobs is not None:
            return self.async_jobs(environ, start_response)
        if top == "tables":
            return self.tables(environ, start_response)
        if top == "capabilities":
            return self.capabilities(environ, start_response)
        if path == "/availability":
            return _send(
                start_response,
                "200 OK",
                availability(available=True, note="accepting queries"),
                MEDIA_TYPE,
            )
        if path == "":
            return _send(start_response, "200 OK", self._index().encode(), "text/plain")
        return _send(start_response, "404 Not Found", f"nothing at {PREFIX}{path}\n".encode())

    def _index(self) -> str:
        lines = [f"TAP 1.1 service on the adql contract ({self.url})"]
        for name in ("sync", "async", "capabilities", "availability", "tables"):
            if name != "async" or self.async_jobs is not None:
                lines.append(f"  {self.url}/{name}")
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        """Stop the sync query workers."""
        self.pool.close()


def _refused(start_response: StartResponse, message: str) -> list[bytes]:
    body = error_votable(message)
    start_response(
        "401 Unauthorized",
        [
            ("Content-Type", "application/x-votable+xml"),
            ("Content-Length", str(len(body))),
            ("WWW-Authenticate", 'Basic realm="wsrf-uws"'),
        ],
    )
    return [body]


def _send(
    start_response: StartResponse,
    status: str,
    body: bytes,
    media_type: str = "text/plain; charset=utf-8",
) -> list[bytes]:
    start_response(status, [("Content-Type", media_type), ("Content-Length", str(len(body)))])
    return [body]
