"""The job list and job pages a browser gets from the REST binding (``docs/rest.md``).

The templates (``templates/``) are Jinja2 with autoescaping on: every value the pages show
(job errors, step details, result names, owner names) is caller-controlled text, and is
escaped on the way out. The pages hold no script: the forms post to the REST resources
themselves, with the owner's form token (:mod:`.tokens`), and a page of a job that moves
on by itself reloads itself (a ``refresh`` meta element). Each answer forbids framing
(clickjacking), scripts and any form target outside the service (Content-Security-Policy).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ...core.model import ANONYMOUS, Job
from ...core.phases import Phase
from ..http import StartResponse, answer
from .tokens import TOKEN_FIELD, FormTokens
from .views import ResultView, job_view


class JobPages:
    """Renders the pages of the job lists of one service, and checks their forms' tokens."""

    def __init__(self, *, secret: bytes, base_url: str, refresh_seconds: int = 2) -> None:
        self.tokens = FormTokens(secret=secret)
        self.refresh_seconds = refresh_seconds
        parts = urlsplit(base_url)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "'self'"
        #: The answer's Content-Security-Policy: no script, no frame, forms to the service.
        self.policy = (
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
            f"frame-ancestors 'none'; form-action 'self' {origin}"
        )
        self._templates = Environment(
            loader=PackageLoader("wsrf_uws.rest.html", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def job_list(self, jobs: Sequence[Job], *, contract: str, list_url: str, owner: str) -> bytes:
        """The job list page: the caller's jobs of ``contract``, newest first as given."""
        rows = [
            {"job": job, "url": f"{list_url}/{job.resource_id}", "phase": str(job.phase)}
            for job in jobs
        ]
        return self._render(
            "jobs.html",
            contract=contract,
            list_url=list_url,
            rows=rows,
            owner=_shown_owner(owner),
            refresh_seconds=self.refresh_seconds,
            refresh=any(job.phase in (Phase.QUEUED, Phase.EXECUTING) for job in jobs),
        )

    def job_page(
        self,
        job: Job,
        *,
        contract: str,
        list_url: str,
        results: tuple[ResultView, ...],
        now: datetime,
        owner: str,
    ) -> bytes:
        """The page of one job, with the buttons its phase allows."""
        view = job_view(job, url=f"{list_url}/{job.resource_id}", results=results, now=now)
        return self._render(
            "job.html",
            contract=contract,
            list_url=list_url,
            view=view,
            owner=_shown_owner(owner),
            refresh=view.refresh,
            refresh_seconds=self.refresh_seconds,
            token_field=TOKEN_FIELD,
            token=self.tokens.token(owner),
        )

    def answer(
        self, start_response: StartResponse, page: bytes, *, head: bool = False
    ) -> list[bytes]:
        """200 with ``page`` and its security headers."""
        headers = {
            "Content-Security-Policy": self.policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
        return answer(
            start_response,
            "200 OK",
            page,
            content_type="text/html; charset=utf-8",
            head=head,
            **headers,
        )

    def _render(self, template: str, **values: object) -> bytes:
        return self._templates.get_template(template).render(**values).encode("utf-8")


def _shown_owner(owner: str) -> str:
    return "anonymous" if owner == ANONYMOUS else owner
