"""The contract ``cea``: every application of the provider's library, one JDL for all.

A job names an application and gives its parameters (:mod:`.jdl`); the service checks
them at createJob, quotes the run time from the description, and runs the application
in a sandbox (:mod:`.runner`, :mod:`.sandbox`). A job that delivers outputs to external
destinations writes outside the service, so it is not isolated: after a restart it
waits in HELD for ``resumeJob``. Other jobs are re-run automatically.

The transfer policies may name the service's own public URL (``{public_url}``, the
default fetch policy being its demonstration data). That URL is known for certain only
when the server listens (``serve --port 0`` picks the port then), so the policies are
made again in :meth:`CeaContract.web_routes`, which the server calls with it before it
serves any request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from ...core.contract import Assessment, Contract, JobContext, WsgiApplication
from ...core.model import Job, Quote, Result
from ...published import schema_path
from .cgroups import find_pids_cgroup
from .jdl import CeaJob, read_job
from .library import DEMO_LIBRARY, NAMESPACE, Library, cea_schema
from .runner import ApplicationRun, RunPolicy
from .state import initial_state, state_element
from .transfer import PUBLIC_URL, TransferPolicy

if TYPE_CHECKING:
    from ...core.service import JobService
    from ...settings import CeaSettings, Settings

log = logging.getLogger(__name__)

#: The public URL of a contract made without settings (the default ``serve``).
_DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


class CeaContract(Contract):
    """Parameterized applications (CEA v2), namespace ``urn:wsrf-uws:cea:v1``."""

    name = "cea"
    namespace = NAMESPACE
    jdl_element = "job"
    state_name = "state"
    schema_path = schema_path("cea.xsd")
    demo_data = Path(__file__).resolve().parent / "demo" / "data"

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        from ...settings import CeaSettings

        self.options: CeaSettings = settings.cea if settings is not None else CeaSettings()
        self._make_policies(_public_url(settings))
        #: Where each run gets a cgroup of its own (None: no cgroups), chosen once here.
        self.process_cgroup = find_pids_cgroup(self.options.process_cgroup)
        if self.process_cgroup is not None:
            log.info("cea: each application run gets a cgroup under %s", self.process_cgroup)
        # Read now, so a library folder that is missing stops the contract at start-up
        # (the registry reports it) rather than failing the first createJob.
        path = os.environ.get("PATH", os.defpath)
        search = [*self.options.search_path, *(Path(p) for p in path.split(os.pathsep) if p)]
        #: The application library.
        self.library = Library.load(self.options.library or DEMO_LIBRARY, search_path=search)

    def _make_policies(self, public_url: str | None) -> None:
        """The transfer policies; entries naming the public URL are left out until it is
        known (None: the server has not chosen its port yet)."""

        def entries(configured: list[str]) -> list[str]:
            if public_url is not None:
                return configured
            return [e for e in configured if not e.strip().startswith(PUBLIC_URL)]

        self.fetch_policy = TransferPolicy.parse(
            entries(self.options.fetch_allow), public_url=public_url
        )
        self.deliver_policy = TransferPolicy.parse(
            entries(self.options.deliver_allow), public_url=public_url
        )

    def web_routes(
        self, *, service: JobService, base_url: str, authenticate: Callable[..., str]
    ) -> Mapping[str, WsgiApplication]:
        # The server's public URL, known now: the policies follow it (see the module text).
        self._make_policies(base_url)
        return {}

    @property
    def schema(self) -> etree.XMLSchema:
        """The compiled ``cea.xsd``, shared with the library (one compilation per process)."""
        return cea_schema()

    def describe(self, root: etree._Element) -> CeaJob:
        return read_job(
            root,
            library=self.library,
            fetch_policy=self.fetch_policy,
            deliver_policy=self.deliver_policy,
        )

    def assess(self, description: CeaJob, *, owner: str) -> Assessment:
        application = description.application
        return Assessment(
            quote=Quote(duration=_estimate(description)),
            execution_duration=(
                description.execution_duration
                if description.execution_duration is not None
                else application.limits.wall_seconds
            ),
            jdl_state=initial_state(description),
        )

    def is_isolated(self, description: CeaJob) -> bool:
        return not description.destinations

    def run(self, description: CeaJob, context: JobContext) -> None:
        policy = RunPolicy(
            max_cpu_seconds=self.options.max_cpu_seconds,
            max_memory_bytes=self.options.max_memory_bytes,
            max_file_bytes=self.options.max_file_bytes,
            max_input_bytes=self.options.max_input_bytes,
            inline_bytes=self.options.inline_bytes,
            transfer_timeout=self.options.transfer_timeout,
            fetch=self.fetch_policy,
            deliver=self.deliver_policy,
            max_processes=self.options.max_processes,
            max_output_bytes=self.options.max_output_bytes,
            process_cgroup=self.process_cgroup,
        )
        ApplicationRun(description, context, policy).run()

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        return state_element(job, result_url=result_url)


def _public_url(settings: Settings | None) -> str | None:
    """The public URL as far as the settings tell (None: port 0, chosen when serving)."""
    if settings is None:
        return _DEFAULT_PUBLIC_URL
    if settings.public_url is None and settings.port == 0:
        return None
    return settings.base_url


def _estimate(job: CeaJob) -> timedelta | None:
    estimate = job.application.estimate
    if estimate is None:
        return None
    if estimate.parameter is None:
        return estimate.base
    values = job.values(estimate.parameter)
    units = max(0.0, sum(float(v.text) for v in values if v.text is not None))
    seconds = estimate.base.total_seconds() * units if units else estimate.base.total_seconds()
    # A quote beyond any run the service allows says nothing more than "very long".
    return timedelta(seconds=min(seconds, _LONGEST_QUOTE.total_seconds()))


_LONGEST_QUOTE = timedelta(days=365)
