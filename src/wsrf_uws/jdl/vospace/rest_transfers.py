"""The transfer resources of the VOSpace endpoint: ``synctrans`` (documents and query
parameters, VOSpace 2.1 §3.7) and ``transfers`` (the asynchronous transfer jobs, final at
once since negotiation is immediate)."""

from __future__ import annotations

from urllib.parse import quote

from .documents import (
    ProtocolRequest,
    TransferJob,
    TransferRequest,
    job_document,
    parse_transfer,
    results_document,
    transfer_document,
)
from .errors import InvalidArgument, NodeNotFound
from .nodes import PULL_FROM, PUSH_TO, TransferRecord
from .rest_routes import Caller, allow_methods
from .store import SpaceStore
from .transfers import COMPLETED, Negotiator
from .wsgi import Request, Response


class TransferRoutes:
    """``synctrans`` and ``transfers`` over ``negotiator``; ``caller`` authenticates.

    Transfer jobs are read from ``store`` and named under ``service_url``;
    ``max_document_bytes`` caps a transfer document.
    """

    def __init__(
        self,
        *,
        store: SpaceStore,
        negotiator: Negotiator,
        caller: Caller,
        service_url: str,
        max_document_bytes: int,
    ) -> None:
        self.store = store
        self.negotiator = negotiator
        self._caller = caller
        self.service_url = service_url
        self.max_document_bytes = max_document_bytes

    def synctrans(self, request: Request, tail: str) -> Response:
        """Answer a request on ``synctrans``: the transfer's details, or its data."""
        if tail:
            raise NodeNotFound(f"nothing is served at synctrans/{tail}")
        keys = {key.upper() for key in request.query}
        if request.method in ("GET", "POST") and "TARGET" in keys:
            return self._parameter_transfer(request)
        allow_methods(request, "", "POST")
        caller = self._caller(request)
        transfer = parse_transfer(request.read_body(limit=self.max_document_bytes))
        record = self.negotiator.negotiate(transfer, caller=caller)
        return Response.redirect(self._job_url(record) + "/results/transferDetails")

    def transfers(self, request: Request, tail: str) -> Response:
        """Answer a request on ``transfers`` (a new job) or ``transfers/{id}[/...]``."""
        if not tail:
            allow_methods(request, "", "POST")
            caller = self._caller(request)
            transfer = parse_transfer(request.read_body(limit=self.max_document_bytes))
            record = self.negotiator.negotiate(transfer, caller=caller)
            return Response.redirect(self._job_url(record))
        job_id, _, part = tail.partition("/")
        caller = self._caller(request)
        found = self.store.transfer(job_id)
        if found is None or found.owner != caller:
            raise NodeNotFound(f"no transfer {job_id!r} of yours is known (or it has expired)")
        record = found
        if part == "phase" and request.method == "POST":
            # Negotiation is immediate: the job is final already, so RUN has nothing to do.
            return Response.redirect(self._job_url(record))
        allow_methods(request, "", "GET", "HEAD")
        if part == "":
            return Response.xml(job_document(self._job(record)))
        if part == "phase":
            return Response.text(record.phase)
        if part == "error":
            if record.error is None:
                raise NodeNotFound(f"the transfer {job_id} has no error")
            return Response.text(record.error)
        if part == "results":
            url = self._job_url(record) + "/results/transferDetails"
            return Response.xml(results_document(url if record.phase == COMPLETED else None))
        if part == "results/transferDetails":
            return self._details_response(record)
        raise NodeNotFound(f"nothing is served at transfers/{tail}")

    def _parameter_transfer(self, request: Request) -> Response:
        """VOSpace 2.1 §3.7.2: TARGET, DIRECTION, PROTOCOL (and SECURITYMETHOD, VIEW,
        REQUEST=redirect) as query parameters of GET or POST; the transfer document (or
        a redirect to the data) is the answer. No job is made and nothing is recorded
        (:meth:`.Negotiator.offer`): a fault is answered as such."""
        caller = self._caller(request)
        params = {key.upper(): value for key, value in request.query.items()}
        missing = [key for key in ("TARGET", "DIRECTION", "PROTOCOL") if not params.get(key)]
        if missing:
            raise InvalidArgument(f"a parameter transfer needs {', '.join(missing)}")
        if params["DIRECTION"] not in (PUSH_TO, PULL_FROM):
            raise InvalidArgument(f"DIRECTION is {PUSH_TO} or {PULL_FROM} here")
        methods = (params["SECURITYMETHOD"],) if params.get("SECURITYMETHOD") else ()
        transfer = TransferRequest(
            targets=(params["TARGET"],),
            direction=params["DIRECTION"],
            view=params.get("VIEW") or None,
            protocols=(ProtocolRequest(params["PROTOCOL"], methods),),
            params={},
        )
        endpoints = self.negotiator.offer(transfer, caller=caller)
        redirect = params.get("REQUEST", "").lower() in ("redirect", "true")
        if redirect and transfer.direction == PULL_FROM and endpoints[0].endpoint:
            return Response.redirect(endpoints[0].endpoint)
        return Response.xml(
            transfer_document(
                target=transfer.targets[0],
                direction=transfer.direction,
                view=transfer.view,
                protocols=endpoints,
            )
        )

    def _details_response(self, record: TransferRecord) -> Response:
        return Response.xml(
            transfer_document(
                target=record.target,
                direction=record.direction,
                view=record.view,
                protocols=self.negotiator.endpoints(record),
            )
        )

    def _job_url(self, record: TransferRecord) -> str:
        return f"{self.service_url}/transfers/{quote(record.id, safe='')}"

    def _job(self, record: TransferRecord) -> TransferJob:
        return TransferJob(
            job_id=record.id,
            owner=None if record.owner == "anonymous" else record.owner,
            phase=record.phase,
            created=record.created,
            destruction=record.expires,
            details_url=self._job_url(record) + "/results/transferDetails",
            error=record.error,
            target=record.target,
            direction=record.direction,
            view=record.view,
        )
