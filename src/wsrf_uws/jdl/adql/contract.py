"""The contract ``adql``: ADQL queries whose results stay on the service, with a cursor.

createJob parses, validates and translates the query against the catalogue's metadata
(:mod:`.jdl`, :mod:`.query`). The run executes it on DuckDB (read-only) and streams the
result into a cursor file in the job's folder (:mod:`.cursor`), then writes the whole
result as one VOTable, the job's result ``result`` (:mod:`.run`). A run's DuckDB has
bounded memory and threads (``[adql] query_memory_bytes``, ``query_threads``) and spills
what does not fit into the job's folder, up to ``max_spill_bytes``: a query that needs
more ends in ERROR saying so, and the worker's memory and the disk stay within the
bounds; so does a result larger than ``max_result_bytes`` (:mod:`.result_size`). The
extra operation ``exposeRows`` selects a range of rows, which the job state then shows
(:mod:`.state`). Everything the job writes lies in its own folder, so it is isolated:
after a restart it runs again.

Without a configured catalogue the service loads Hipparcos 2 into its data folder on
first use (:mod:`.catalog`).

The query machinery (sqlglot, DuckDB, pyarrow, requests: about 0.4 s of imports) is
imported on first use, not with this module: a service restarting with many resources
serves again before its first ADQL request needs it. The warm parent of the contract's
jobs preloads it (:attr:`AdqlContract.preload`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from ...core.contract import (
    Assessment,
    Authenticate,
    CliCommand,
    Contract,
    ContractEnvironment,
    ExtraOperation,
    JobContext,
    JobHandle,
    WebRoute,
)
from ...core.errors import InvalidPhaseError, UwsError
from ...core.model import Job, Result
from ...core.phases import Phase
from ...published import schema_path
from ...vo.transfer_policy import TransferPolicy
from ...wire.namespaces import q
from .commands import CATALOG_COMMAND
from .names import NAMESPACE
from .settings import AdqlSettings
from .vosi_tables import ROUTE as TABLES_ROUTE
from .vosi_tables import tables_route

if TYPE_CHECKING:
    from .catalog import Catalog, PreparedCatalog
    from .jdl import AdqlJob, QueryLimits

#: Address space a worker maps beyond twice its query's memory: Python, pyarrow and DuckDB
#: reserve far more than they use (measured: 2.5 GiB mapped with a 64 MiB query limit,
#: 4 GiB with 1 GiB, for 0.2 and 1.2 GiB resident).
ADDRESS_SPACE_RESERVE = 3 * 1024**3


class AdqlContract(Contract):
    """ADQL with a result cursor, namespace ``urn:wsrf-uws:adql:v1``."""

    name = "adql"
    namespace = NAMESPACE
    jdl_element = "job"
    state_name = "state"
    schema_path = schema_path("adql.xsd")
    #: Sample tables to upload by URI (``/demo/adql/{file}``).
    demo_data = Path(__file__).resolve().parent / "demo" / "data"
    settings_model = AdqlSettings
    #: What a run imports (:mod:`.run`: DuckDB, pyarrow, sqlglot); the warm parent also
    #: starts and stops a DuckDB once, so that its jobs start theirs sooner.
    preload = ("wsrf_uws.jdl.adql.run", "wsrf_uws.jdl.adql.duckdb_warmup")

    def __init__(self, environment: ContractEnvironment | None = None) -> None:
        super().__init__(environment)
        self.options: AdqlSettings = self.settings
        self.catalog_path = self.options.catalog or self.data_dir / "adql" / "hipparcos.duckdb"
        # Parsed here, so that an invalid entry stops the service at its start.
        self.fetch_policy = TransferPolicy.parse(
            self.options.fetch_allow, public_url=self.public_url
        )

    @cached_property
    def limits(self) -> QueryLimits:
        """What a query may ask for and upload (from ``[adql]``), made on first use: its
        query size checks import sqlglot."""
        from .jdl import QueryLimits
        from .size import QuerySize

        options = self.options
        return QueryLimits(
            default_maxrec=options.default_maxrec,
            max_maxrec=options.max_maxrec,
            size=QuerySize(
                max_chars=options.max_query_chars,
                max_tokens=options.max_query_tokens,
                max_depth=options.max_query_depth,
            ),
            max_upload_bytes=options.max_upload_bytes,
            fetch_policy=self.fetch_policy,
            fetch_timeout=options.fetch_timeout,
        )

    @property
    def catalog(self) -> Catalog:
        """The catalogue for createJob, opened read-only on first use (built first, for the
        default one). It only binds queries, so it never spills to disk."""
        return self.per_process("catalog", self._open_for_binding)

    def _open_for_binding(self) -> Catalog:
        if self.options.catalog is None:
            from .catalog import ensure_hipparcos

            ensure_hipparcos(self.catalog_path)
        elif not self.catalog_path.is_file():
            raise FileNotFoundError(f"the ADQL catalogue {self.catalog_path} is missing")
        return self.open_catalog(spill_directory=None, spill_bytes=0)

    def open_catalog(self, *, spill_directory: Path | None, spill_bytes: int) -> Catalog:
        """A DuckDB of this process's own on the catalogue, read-only, within the
        ``[adql]`` bounds of memory and threads, spilling into ``spill_directory``."""
        from .catalog import Catalog

        return Catalog.open(
            self.catalog_path,
            threads=self.options.query_threads,
            memory_bytes=self.options.query_memory_bytes,
            spill_directory=spill_directory,
            spill_bytes=spill_bytes,
        )

    def prepare_run(self) -> PreparedCatalog:
        """DuckDB started and the catalogue attached, ahead of the job (about 20 ms that a
        spare process spends before its job arrives); the run locks it down with the
        job's spill folder, and the worker closes it once the job's outcome is reported
        (3 ms less on the job's latency). Builds nothing: a missing catalogue fails."""
        from .run import prepare_catalog

        return prepare_catalog(self)

    def describe(self, root: etree._Element) -> AdqlJob:
        from .jdl import read_job

        return read_job(root, catalog=self.catalog, limits=self.limits)

    def assess(self, description: AdqlJob, *, owner: str) -> Assessment:
        from .state import AdqlState

        return Assessment(
            execution_duration=description.execution_duration,
            jdl_state=AdqlState.for_job(description).to_dict(),
        )

    def job_memory_bytes(self, *, default: int) -> int:
        """Room for DuckDB: the service's limit, or more where a query needs it.

        A worker's memory is bounded by DuckDB's ``memory_limit``
        (``query_memory_bytes``), which ends a query that needs more with a clear error.
        The address-space limit (RLIMIT_AS) counts what libraries reserve rather than
        use, so at the service's default it would fail queries long before their memory
        limit; it stays a backstop, above what a worker maps at the query limit.
        """
        if default <= 0:
            return default
        return max(default, 2 * self.options.query_memory_bytes + ADDRESS_SPACE_RESERVE)

    def run(self, description: AdqlJob, context: JobContext) -> None:
        from .run import run_query_job

        run_query_job(self, description, context)

    def rehearse_run(self, prepared: PreparedCatalog) -> None:
        """A small query of the catalogue's own ``tap_schema``, cached and written as a
        VOTable as a job's would be, in a temporary folder: the job's own run then finds
        most of its memory paged in (:mod:`.rehearsal`)."""
        from .run import rehearse

        rehearse(self, prepared)

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        from .state import AdqlState, state_element

        state = AdqlState.from_dict(job.jdl_state)
        return state_element(state, workdir=self.job_folder(job.resource_id))

    @classmethod
    def cli_commands(cls) -> Sequence[CliCommand]:
        """``wsrf-uws catalog``: build a catalogue (:mod:`.commands`)."""
        return (CATALOG_COMMAND,)

    def web_routes(self, *, authenticate: Authenticate) -> Mapping[str, WebRoute]:
        """``/uws/adql/tables``: the catalogue's tables (VOSI), public (:mod:`.vosi_tables`)."""
        return {TABLES_ROUTE: WebRoute(tables_route(lambda: self.catalog.metadata))}

    def extra_operations(self) -> Mapping[str, ExtraOperation]:
        return {
            "exposeRows": ExtraOperation(
                name="exposeRows",
                handler=self._expose_rows,
                doc="Select rows start (inclusive) to end (exclusive) of the cached result; "
                "the job state's exposedRows then holds them as a VOTable.",
            )
        }

    def _expose_rows(self, handle: JobHandle, request: etree._Element) -> etree._Element:
        from .state import CURSOR_FILE, AdqlState, exposed_rows

        job = handle.job
        state = AdqlState.from_dict(job.jdl_state)
        if job.phase != Phase.COMPLETED or state.result is None:
            raise InvalidPhaseError("exposeRows", str(job.phase))
        start = int(request.findtext(q(NAMESPACE, "start")) or 0)
        end = int(request.findtext(q(NAMESPACE, "end")) or 0)
        if end < start:
            raise UwsError(f"exposeRows: end ({end}) is before start ({start})")
        total = state.result.rows
        end = min(end, total)
        start = min(start, end)
        if end - start > self.options.max_exposed_rows:
            raise UwsError(
                f"exposeRows: {end - start} rows asked; at most {self.options.max_exposed_rows} "
                "per call: page through the result"
            )
        element = exposed_rows(
            self.job_folder(job.resource_id) / CURSOR_FILE,
            start=start,
            end=end,
            serialization=state.serialization,
        )
        handle.set_state(state.exposing(start=start, end=end).to_dict())
        response = etree.Element(_q("exposeRowsResponse"), nsmap={"adql": NAMESPACE})
        etree.SubElement(response, _q("rows")).text = str(total)
        response.append(element)
        return response


_q = partial(q, NAMESPACE)
