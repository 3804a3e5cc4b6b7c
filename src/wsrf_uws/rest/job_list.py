"""One contract's UWS 1.1 job list over REST, a WSGI application mountable at any path.

- ``GET {list}`` (``PHASE``..., ``AFTER``, ``LAST``): ``uws:jobs``, the caller's jobs of
  this contract; ``POST {list}`` (body: the JDL; ``PHASE=RUN``, ``DESTRUCTION``,
  ``EXECUTIONDURATION``): 303 to the new job.
- ``GET {list}/{id}`` (``WAIT``, ``PHASE``): ``uws:job``; ``POST {list}/{id}``
  ``ACTION=DELETE`` or ``PHASE=RUN|ABORT``, and ``DELETE {list}/{id}``: 303.
- ``{list}/{id}/phase``, ``/executionduration``, ``/destruction``: GET text, POST 303;
  ``/error``, ``/quote``, ``/owner``: GET text.
- ``{list}/{id}/parameters`` (``uws:parameters``), ``/parameters/jdl`` (the JDL),
  ``/results`` (``uws:results``), ``/results/{name}`` (the file itself, as at
  ``/results/{id}/{name}``: one request where a redirect would take two).

The jobs are the :class:`~wsrf_uws.core.service.JobService`'s, with the same ids, owners
and owner checks as over SOAP: a job created by either binding is read and driven by
both. The caller is identified as over SOAP (HTTP Basic with the users file, anonymous
where allowed). Mounting: ``JobListApplication(contract=..., service=..., base_url=...,
path="/tap/async", ...)`` serves the requests whose ``PATH_INFO`` is ``path`` or below.

A browser navigating to the list or a job gets an HTML page instead (``pages``,
:mod:`.html`); a POST or DELETE sent by a browser must carry the pages' form token.

``face`` (:mod:`.face`) says how the list presents its jobs: as this binding
(``/rest/{contract}``) or as a DAL service's async endpoint (``/tap/async``: plain
``uws:job`` documents, refused descriptions recorded as jobs in ERROR, DALI errors).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ..core.errors import InvalidJobDescriptionError, UwsError
from ..core.model import Job
from ..core.service import JobService
from ..soap.properties import PropertyBuilder, result_url
from ..soap.results import send_file
from ..vo.votable_document import error_votable
from . import documents
from .face import REST_FACE, JobListFace
from .html import TOKEN_FIELD, JobPages, needs_token, wants_html
from .html.views import ResultView
from .http import (
    RestError,
    RestRequest,
    StartResponse,
    answer,
    bad_parameter,
    error_for,
    failure,
    see_other,
    text,
    xml,
)
from .job_parameters import RUN_ID, change_parameters
from .parameters import read_after, read_destruction, read_last, read_phases, read_wait
from .waiting import JobWaits

#: The job's sub-resources answered as text (UWS 1.1 §2.2.1).
_TEXT_PARTS: dict[str, Callable[[Job], str]] = {
    "phase": lambda job: str(job.phase),
    "executionduration": lambda job: str(job.execution_duration),
    "destruction": documents.destruction_text,
    "error": documents.error_text,
    "quote": documents.quote_text,
    "owner": documents.owner_text,
}

Authenticator = Callable[..., str]


class JobListApplication:
    """The job list of contract ``contract`` at ``{base_url}{path}`` (see the module)."""

    def __init__(
        self,
        *,
        contract: str,
        service: JobService,
        base_url: str,
        path: str,
        authenticate: Authenticator,
        waits: JobWaits,
        max_listed_jobs: int = 1000,
        pages: JobPages | None = None,
        face: JobListFace = REST_FACE,
    ) -> None:
        self.contract = service.registry.get(contract)
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.path = "/" + path.strip("/")
        #: The job list's URL; each job is at ``{url}/{id}``.
        self.url = f"{self.base_url}{self.path}"
        self.authenticate = authenticate
        self.waits = waits
        self.max_listed_jobs = max_listed_jobs
        self.builder = PropertyBuilder(contract=self.contract, base_url=self.base_url)
        #: The pages for browsers (without a kept secret, their tokens last one process).
        self.pages = pages or JobPages(secret=secrets.token_bytes(32), base_url=self.base_url)
        self.face = face

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._serve(environ, start_response, refusal=None)

    def refused(
        self, environ: dict[str, Any], start_response: StartResponse, *, reason: str
    ) -> Iterable[bytes]:
        """``POST {list}`` (``environ``) of a job whose request was refused before it made a
        description (a DAL request with a bad parameter): recorded as a job that ended in
        ERROR saying ``reason``, with the request's body as its description, and answered
        as any creation (303 to the job). Identity, quotas and the UWS parameters of the
        query string (``PHASE``, ``DESTRUCTION``, ``RUNID``) are as for :meth:`__call__`."""
        return self._serve(environ, start_response, refusal=reason)

    def _serve(
        self, environ: dict[str, Any], start_response: StartResponse, *, refusal: str | None
    ) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        head = str(environ.get("REQUEST_METHOD", "")).upper() == "HEAD"
        if path != self.path and not path.startswith(self.path + "/"):
            return failure(start_response, RestError("404 Not Found", f"nothing at {path}"))
        try:
            request = RestRequest(environ, path=path[len(self.path) :])
            owner = self.authenticate(headers=[], environ=environ)
            if needs_token(environ) and not self.pages.tokens.accepts(
                owner, request.one(TOKEN_FIELD)
            ):
                raise RestError(
                    "403 Forbidden",
                    f"a browser's {request.method} needs the {TOKEN_FIELD} of the service's "
                    "own pages (a defence against cross-site requests): reload the page",
                )
            if refusal is not None:
                if request.path or request.method != "POST":
                    raise RestError("404 Not Found", "a refused job is created at the job list")
                return see_other(start_response, self._create(request, owner, refusal=refusal))
            return self._route(request, owner, start_response)
        except UwsError as error:
            return failure(start_response, error_for(error), head=head)
        except RestError as error:
            return failure(start_response, error, head=head)

    # -- routing -------------------------------------------------------------------------

    def _route(self, request: RestRequest, owner: str, start: StartResponse) -> Iterable[bytes]:
        parts = request.path.split("/") if request.path else []
        method = "GET" if request.method == "HEAD" else request.method
        head = request.method == "HEAD"
        if not parts:
            if method == "GET" and wants_html(request.environ):
                page = self.pages.job_list(
                    self._listed(request, owner),
                    contract=self.contract.name,
                    list_url=self.url,
                    owner=owner,
                )
                return self.pages.answer(start, page, head=head)
            if method == "GET":
                return xml(start, self._list(request, owner), head=head)
            if method == "POST":
                return see_other(start, self._create(request, owner))
            raise _not_allowed("GET, HEAD, POST")
        resource_id, *rest = parts
        if not rest:
            if method == "GET":
                job = self._job(request, resource_id, owner)
                if wants_html(request.environ):
                    return self.pages.answer(start, self._page(job, owner), head=head)
                document = documents.job_document(
                    self.builder, job, self._now(), job_info=self.face.job_info
                )
                return xml(start, document, head=head)
            if method == "DELETE" or (method == "POST" and request.one("ACTION") is not None):
                return see_other(start, self._delete(request, resource_id, owner))
            if method == "POST":
                return see_other(start, self._change_phase(request, resource_id, owner))
            raise _not_allowed("GET, HEAD, POST, DELETE")
        part, *below = rest
        job = self.service.get_job(resource_id, owner=owner)
        if method == "POST" and not below:
            return see_other(start, self._change(request, job, part, owner))
        if method != "GET":
            raise _not_allowed("GET, HEAD" + (", POST" if part in _WRITABLE else ""))
        if part == "error" and not below and self.face.dali_errors and job.error is not None:
            return _dali_error(start, documents.error_text(job), head=head)
        if part in _TEXT_PARTS and not below:
            return text(start, _TEXT_PARTS[part](job), head=head)
        if part == "parameters":
            return self._parameters(start, job, below, head=head)
        if part == "results":
            return self._results(request, start, job, below, head=head)
        raise RestError("404 Not Found", f"a job has no {'/'.join(rest)}")

    # -- the job list ----------------------------------------------------------------------

    def _list(self, request: RestRequest, owner: str) -> bytes:
        """``uws:jobs`` of :meth:`_listed`."""
        return documents.jobs_document(self._listed(request, owner), list_url=self.url)

    def _listed(self, request: RestRequest, owner: str) -> list[Job]:
        """The caller's jobs of this contract, newest first, filtered (UWS 1.1 §2.2.2.1)."""
        last = read_last(request.one("LAST"), limit=self.max_listed_jobs)
        jobs = self.service.list_jobs(
            owner=owner,
            phases=read_phases(request.all("PHASE")),
            after=read_after(request.one("AFTER")),
        )
        # The store lists every contract's jobs; this list is one contract's.
        mine = [job for job in jobs if job.contract == self.contract.name]
        return mine[: last or self.max_listed_jobs]

    def _create(self, request: RestRequest, owner: str, *, refusal: str | None = None) -> str:
        """createJob from the posted JDL; the URL of the new job. With ``refusal`` (or a
        description the contract refuses, where :attr:`face` says so), the job is recorded
        ended in ERROR saying why (:meth:`JobService.create_refused_job`)."""
        document = request.body or (request.one("JDL") or "").encode()
        if not document.strip():
            raise bad_parameter(
                f"POST the job description (a {self.contract.name} JDL document) as the "
                "request body (Content-Type: text/xml), or as the form field JDL"
            )
        wanted = request.one("PHASE")
        if wanted is not None and wanted.upper() != "RUN":
            raise bad_parameter(f"PHASE={wanted} at creation: only PHASE=RUN is allowed")
        duration = request.one("EXECUTIONDURATION")
        seconds = None if duration is None else _seconds(duration)
        destruction = request.one("DESTRUCTION")
        ends = None if destruction is None else self._destruction(destruction)
        given: dict[str, Any] = {
            "contract": self.contract.name,
            "document": document,
            "owner": owner,
            "address": f"{self.base_url}/uws/{self.contract.name}",
            "run_id": request.one(RUN_ID) or None,
            **({} if ends is None else {"termination_time": ends}),
        }
        if refusal is None:
            try:
                # Queued, when asked, before the 303 is sent: the client's next read sees
                # QUEUED or later.
                job = self.service.create_job(
                    **given, execution_duration=seconds, start=wanted is not None
                )
            except InvalidJobDescriptionError as error:
                if not self.face.refused_as_jobs:
                    raise
                refusal = error.description
        if refusal is not None:
            # Ended already: PHASE=RUN changes nothing, and neither may a duration.
            job = self.service.create_refused_job(**given, reason=refusal)
        return f"{self.url}/{job.resource_id}"

    # -- one job -------------------------------------------------------------------------

    def _job(self, request: RestRequest, resource_id: str, owner: str) -> Job:
        wait = request.one("WAIT")
        if wait is None:
            return self.service.get_job(resource_id, owner=owner)
        phases = read_phases(request.all("PHASE"))
        if phases is not None and len(phases) > 1:
            raise bad_parameter("WAIT takes one PHASE at most")
        return self.waits.wait(
            resource_id,
            owner=owner,
            seconds=read_wait(wait),
            phase=None if phases is None else next(iter(phases)),
        )

    def _page(self, job: Job, owner: str) -> bytes:
        """The job's page for a browser."""
        results = tuple(
            ResultView(r.name, result_url(self.base_url, job, r), r.mime_type, r.size)
            for r in job.results
        )
        return self.pages.job_page(
            job,
            contract=self.contract.name,
            list_url=self.url,
            results=results,
            now=self._now(),
            owner=owner,
        )

    def _delete(self, request: RestRequest, resource_id: str, owner: str) -> str:
        action = request.one("ACTION")
        if action is not None and action.upper() != "DELETE":
            raise bad_parameter(f"ACTION={action}: the only action is DELETE")
        self.service.destroy_job(resource_id, owner=owner)
        return self.url

    def _change_phase(self, request: RestRequest, resource_id: str, owner: str) -> str:
        wanted = request.one("PHASE")
        if wanted is None:
            raise bad_parameter("POST PHASE=RUN or PHASE=ABORT, or ACTION=DELETE")
        if wanted.upper() == "RUN":
            self.service.start_job(resource_id, owner=owner)
        elif wanted.upper() == "ABORT":
            self.service.abort_job(resource_id, owner=owner)
        else:
            raise bad_parameter(f"PHASE={wanted}: post PHASE=RUN or PHASE=ABORT")
        return f"{self.url}/{resource_id}"

    def _change(self, request: RestRequest, job: Job, part: str, owner: str) -> str:
        """POST to a writable sub-resource; the job's URL."""
        if part == "phase":
            return self._change_phase(request, job.resource_id, owner)
        if part == "executionduration":
            value = request.one("EXECUTIONDURATION")
            if value is None:
                raise bad_parameter("POST EXECUTIONDURATION=<seconds>")
            self.service.set_execution_duration(
                job.resource_id, owner=owner, requested=_seconds(value)
            )
        elif part == "destruction":
            value = request.one("DESTRUCTION")
            if value is None:
                raise bad_parameter("POST DESTRUCTION=<ISO 8601 UTC time>")
            self.service.set_termination_time(
                job.resource_id, owner=owner, requested=self._destruction(value)
            )
        elif part == "parameters":
            change_parameters(request, job, service=self.service, contract=self.contract.name)
        else:
            raise _not_allowed("GET, HEAD")
        return f"{self.url}/{job.resource_id}"

    def _parameters(
        self, start: StartResponse, job: Job, below: list[str], *, head: bool
    ) -> Iterable[bytes]:
        job_url = f"{self.url}/{job.resource_id}"
        if not below:
            return xml(start, documents.parameters_document(job, job_url=job_url), head=head)
        if below == [documents.JDL_PARAMETER]:
            return xml(start, job.jdl, head=head)
        raise RestError("404 Not Found", f"the only parameter is {documents.JDL_PARAMETER}")

    def _results(
        self, request: RestRequest, start: StartResponse, job: Job, below: list[str], *, head: bool
    ) -> Iterable[bytes]:
        if not below:
            return xml(start, documents.results_document(self.builder, job, self._now()), head=head)
        result = job.result(below[0]) if len(below) == 1 else None
        if result is None:
            raise RestError("404 Not Found", f"job {job.resource_id} has no such result")
        if not result.is_local:  # kept elsewhere: the client fetches it there
            return see_other(start, result.location)
        # Served here, as the results route serves it (ranges, headers): a TAP client
        # fetching {job}/results/result makes one request, not two.
        try:
            path = self.service.files.file(job.resource_id, result.location)
        except ValueError:
            raise RestError("404 Not Found", f"result {result.name} is not available") from None
        return send_file(request.environ, start, path, name=result.name, mime_type=result.mime_type)

    # -- values ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.service.clock.now()

    def _destruction(self, value: str) -> datetime:
        """A requested destruction time, brought within the lifetime policy (UWS 1.1 lets
        the service choose another time): refused when past (DELETE destroys a job)."""
        now = self._now()
        return read_destruction(value, now=now, latest=self.service.policy.latest(now))


#: The sub-resources a POST may change.
_WRITABLE = frozenset({"phase", "executionduration", "destruction", "parameters"})


def _dali_error(start: StartResponse, message: str, *, head: bool) -> list[bytes]:
    """``{job}/error`` of a DAL face: the DALI error document saying ``message``."""
    return answer(start, "200 OK", error_votable(message), content_type=VOTABLE, head=head)


#: The media type of a VOTable (DALI 1.1 §3.4).
VOTABLE = "application/x-votable+xml"


def _not_allowed(allow: str) -> RestError:
    return RestError("405 Method Not Allowed", f"allowed here: {allow}", Allow=allow)


def _seconds(value: str) -> int:
    try:
        seconds = int(value.strip())
    except ValueError:
        raise bad_parameter(
            f"EXECUTIONDURATION={value!r} is not a whole number of seconds"
        ) from None
    if seconds < 0:
        raise bad_parameter("EXECUTIONDURATION must be 0 (no limit) or more seconds")
    return seconds
