"""The contract ``cea``: every application of the provider's library, one JDL for all.

A job names an application and gives its parameters (:mod:`.jdl`); the service checks
them at createJob, quotes the run time from the description, and runs the application
in a sandbox (:mod:`.runner`, :mod:`.sandbox`). A job that delivers outputs to external
destinations writes outside the service, so it is not isolated: after a restart it
waits in HELD for ``resumeJob``. Other jobs are re-run automatically.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from ...core.contract import Assessment, Contract, JobContext
from ...core.model import Job, Quote, Result
from ...published import schema_path
from .jdl import CeaJob, read_job
from .library import DEMO_LIBRARY, NAMESPACE, Library, cea_schema
from .runner import ApplicationRun, RunPolicy
from .state import initial_state, state_element
from .transfer import TransferPolicy

if TYPE_CHECKING:
    from ...settings import CeaSettings, Settings


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
        self.fetch_policy = TransferPolicy.parse(self.options.fetch_allow)
        self.deliver_policy = TransferPolicy.parse(self.options.deliver_allow)
        # Read now, so a library folder that is missing stops the contract at start-up
        # (the registry reports it) rather than failing the first createJob.
        path = os.environ.get("PATH", os.defpath)
        search = [*self.options.search_path, *(Path(p) for p in path.split(os.pathsep) if p)]
        #: The application library.
        self.library = Library.load(self.options.library or DEMO_LIBRARY, search_path=search)

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
