"""``/rest/{contract}``: the UWS 1.1 job list of every installed contract, on one route.

The service mounts one :class:`RestRoutes` at :data:`~wsrf_uws.soap.properties.REST_PATH`;
it hands each request to the contract's :class:`~wsrf_uws.rest.job_list.JobListApplication`,
which all share one :class:`~wsrf_uws.rest.waiting.JobWaits` (the bound on blocked
``WAIT`` requests is the service's, not one per contract).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from ..core.service import JobService
from ..soap.properties import REST_PATH
from .face import DAL_FACE, JobListFace
from .html import JobPages
from .http import RestError, StartResponse, failure, text
from .job_list import Authenticator, JobListApplication
from .waiting import JobWaits, WaitLimits


class RestRoutes:
    """The REST job lists of every contract of ``service``, below ``/rest``."""

    def __init__(
        self,
        *,
        service: JobService,
        base_url: str,
        authenticate: Authenticator,
        limits: WaitLimits | None = None,
        max_listed_jobs: int = 1000,
        page_secret: bytes | None = None,
    ) -> None:
        self.waits = JobWaits(service=service, limits=limits or WaitLimits())
        self.base_url = base_url.rstrip("/")
        #: The pages for browsers; ``page_secret`` keys their form tokens (see
        #: :func:`~wsrf_uws.rest.html.load_secret`), random for this process when None.
        self.pages = JobPages(secret=page_secret or secrets.token_bytes(32), base_url=self.base_url)
        self.job_lists = {
            name: JobListApplication(
                contract=name,
                service=service,
                base_url=self.base_url,
                path=f"{REST_PATH}/{name}",
                authenticate=authenticate,
                waits=self.waits,
                max_listed_jobs=max_listed_jobs,
                pages=self.pages,
            )
            for name in service.registry.names()
        }

    def mount(
        self, contract: str, *, path: str, face: JobListFace = DAL_FACE
    ) -> JobListApplication:
        """Another job list of ``contract``'s jobs, at ``path``: the same jobs, owners and
        WAIT bound as at ``/rest/{contract}``, presented as ``face`` says (by default as
        the async endpoint of a DAL service, TAP's ``/tap/async``: :mod:`.face`)."""
        served = self.job_lists[contract]
        return JobListApplication(
            contract=contract,
            service=served.service,
            base_url=self.base_url,
            path=path,
            authenticate=served.authenticate,
            waits=self.waits,
            max_listed_jobs=served.max_listed_jobs,
            pages=self.pages,
            face=face,
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        name = path[len(REST_PATH) :].strip("/").split("/", 1)[0]
        job_list = self.job_lists.get(name)
        if job_list is not None:
            return job_list(environ, start_response)
        if not name and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            lines = [f"{n}: {self.base_url}{REST_PATH}/{n}" for n in sorted(self.job_lists)]
            return text(start_response, "UWS 1.1 job lists\n" + "\n".join(lines) + "\n")
        installed = ", ".join(sorted(self.job_lists)) or "none"
        return failure(
            start_response,
            RestError("404 Not Found", f"no contract {name!r} (installed: {installed})"),
        )
