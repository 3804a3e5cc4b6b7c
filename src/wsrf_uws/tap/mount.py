"""Where the TAP service joins the HTTP service: :func:`tap_routes` for ``wsrf-uws serve``."""

from __future__ import annotations

from collections.abc import Callable

from ..core.contract import Authenticate
from ..core.service import JobService
from ..jdl.adql.contract import AdqlContract
from ..settings import Settings
from .application import PREFIX, TapApplication, WsgiApp
from .async_jobs import AsyncJobList
from .vosi import ServiceLimits


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
    limits = ServiceLimits(
        default_maxrec=contract.limits.default_maxrec,
        max_maxrec=contract.limits.max_maxrec,
        max_upload_bytes=contract.limits.max_upload_bytes,
        retention_seconds=int(settings.default_lifetime.total_seconds()),
        max_retention_seconds=int(settings.max_lifetime.total_seconds()),
        execution_seconds=settings.default_execution_duration or None,
        max_execution_seconds=settings.max_execution_duration or None,
        upload_by_url=bool(contract.limits.fetch_policy and contract.limits.fetch_policy.allowed),
    )
    application = TapApplication(
        contract=contract,
        base_url=base_url,
        authenticate=authenticate,
        limits=limits,
        async_jobs=None if job_list is None else job_list(f"{PREFIX}/async"),
    )
    return {PREFIX: application}
