"""Where the TAP service joins the HTTP service: :func:`tap_routes` for ``wsrf-uws serve``.

The TAP application is built at its first request, not with the service: its modules
import the query machinery (sqlglot, DuckDB, pyarrow), which a service restarting with
many resources need not load before it serves again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..core.contract import Authenticate
from ..core.service import JobService
from ..jdl.adql.contract import AdqlContract
from ..settings import Settings

if TYPE_CHECKING:
    from .application import WsgiApp
    from .async_jobs import AsyncJobList

#: Where the service is mounted below the public URL.
PREFIX = "/tap"


def tap_routes(
    settings: Settings,
    service: JobService,
    *,
    base_url: str,
    authenticate: Authenticate,
    job_list: Callable[[str], AsyncJobList] | None = None,
) -> dict[str, WsgiApp]:
    """``{"/tap": application}`` when the ``adql`` contract is served, else nothing.

    ``job_list(path)``, if given, is the REST job list of the ``adql`` contract mounted at
    ``path`` on its DAL face (:mod:`wsrf_uws.rest.face`): TAP's ``/tap/async``.
    """
    if "adql" not in service.registry:
        return {}
    contract = service.registry.get("adql")
    if not isinstance(contract, AdqlContract):
        return {}

    def build() -> WsgiApp:
        from .application import TapApplication
        from .vosi import ServiceLimits

        limits = ServiceLimits(
            default_maxrec=contract.limits.default_maxrec,
            max_maxrec=contract.limits.max_maxrec,
            max_upload_bytes=contract.limits.max_upload_bytes,
            retention_seconds=int(settings.default_lifetime.total_seconds()),
            max_retention_seconds=int(settings.max_lifetime.total_seconds()),
            execution_seconds=settings.default_execution_duration or None,
            max_execution_seconds=settings.max_execution_duration or None,
            upload_by_url=bool(
                contract.limits.fetch_policy and contract.limits.fetch_policy.allowed
            ),
        )
        return TapApplication(
            contract=contract,
            base_url=base_url,
            authenticate=authenticate,
            limits=limits,
            async_jobs=None if job_list is None else job_list(f"{PREFIX}/async"),
        )

    return {PREFIX: BuiltOnFirstRequest(build)}


class BuiltOnFirstRequest:
    """A WSGI application that ``build()`` makes at the first request, once, whichever
    request thread comes first (the others wait for it). A build that fails fails its
    request, and the next request tries again."""

    def __init__(self, build: Callable[[], WsgiApp]) -> None:
        self._build = build
        self._application: WsgiApp | None = None
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        application = self._application
        if application is None:
            with self._lock:
                if self._application is None:
                    self._application = self._build()
                application = self._application
        return application(environ, start_response)
