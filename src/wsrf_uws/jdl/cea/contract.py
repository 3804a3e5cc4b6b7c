"""The contract ``cea``: every application of the provider's library, one JDL for all.

A job names an application and gives its parameters (:mod:`.jdl`); the service checks
them at createJob, quotes the run time from the description, and runs the application
in a sandbox (:mod:`.runner`, :mod:`.sandbox`). A job that delivers outputs to external
destinations writes outside the service, so it is not isolated: after a restart it
waits in HELD for ``resumeJob``. Other jobs are re-run automatically.

The transfer policies may name the service's own public URL (``{public_url}``, the
default fetch policy being its demonstration data): the contract's environment gives it
(``serve`` binds its port before it builds the contracts, so ``--port 0`` is known too).
The contract adds the command ``wsrf-uws applications`` (:mod:`.commands`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from lxml import etree

from ...core.contract import (
    Assessment,
    Authenticate,
    CliCommand,
    Contract,
    ContractEnvironment,
    JobContext,
    WebRoute,
)
from ...core.model import Job, Quote, Result
from ...published import schema_path
from .cgroups import find_pids_cgroup
from .commands import APPLICATIONS_COMMAND, load_library
from .discovery import ROUTE as APPLICATIONS_ROUTE
from .discovery import applications_route
from .jdl import CeaJob, read_job
from .library import NAMESPACE, cea_schema
from .runner import ApplicationRun, RunPolicy
from .settings import CeaSettings
from .state import CeaState, state_element
from .transfer import TransferPolicy

log = logging.getLogger(__name__)


class CeaContract(Contract):
    """Parameterized applications (CEA v2), namespace ``urn:wsrf-uws:cea:v1``."""

    name = "cea"
    namespace = NAMESPACE
    jdl_element = "job"
    state_name = "state"
    schema_path = schema_path("cea.xsd")
    demo_data = Path(__file__).resolve().parent / "demo" / "data"

    settings_model = CeaSettings
    preload = ()  # a run needs no module beyond this one's

    def __init__(self, environment: ContractEnvironment | None = None) -> None:
        super().__init__(environment)
        self.options: CeaSettings = self.settings
        self.fetch_policy = TransferPolicy.parse(
            self.options.fetch_allow, public_url=self.public_url
        )
        self.deliver_policy = TransferPolicy.parse(
            self.options.deliver_allow, public_url=self.public_url
        )
        #: Where each run gets a cgroup of its own (None: no cgroups), chosen once here.
        self.process_cgroup = find_pids_cgroup(self.options.process_cgroup)
        if self.process_cgroup is not None:
            log.info("cea: each application run gets a cgroup under %s", self.process_cgroup)
        #: The application library, read now, so a library folder that is missing stops the
        #: contract at start-up (the registry reports it) rather than the first createJob.
        self.library = load_library(self.options)

    @classmethod
    def cli_commands(cls) -> Sequence[CliCommand]:
        """``wsrf-uws applications``: the library as its provider sees it (:mod:`.commands`)."""
        return (APPLICATIONS_COMMAND,)

    def web_routes(self, *, authenticate: Authenticate) -> Mapping[str, WebRoute]:
        """``/uws/cea/applications``: the library for clients, public (:mod:`.discovery`)."""
        return {APPLICATIONS_ROUTE: WebRoute(applications_route(self.library))}

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
            jdl_state=CeaState.for_job(description).to_dict(),
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
