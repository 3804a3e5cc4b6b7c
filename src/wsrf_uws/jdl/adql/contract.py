"""The contract ``adql``: ADQL queries whose results stay on the service, with a cursor.

createJob parses, validates and translates the query against the catalogue's metadata
(:mod:`.jdl`, :mod:`.query`). The run executes it on DuckDB (read-only) and streams the
result into a cursor file in the job's folder (:mod:`.cursor`), then writes the whole
result as one VOTable, the job's result ``result``. A run's DuckDB has bounded memory and
threads (``[adql] query_memory_bytes``, ``query_threads``) and spills what does not fit
into the job's folder, up to ``max_spill_bytes``: a query that needs more ends in ERROR
saying so, and the worker's memory and the disk stay within the bounds; so does a result
larger than ``max_result_bytes`` (:mod:`.result_size`). The extra operation
``exposeRows`` selects a range of rows, which the job state then shows (:mod:`.state`).
Everything the job writes lies in its own folder, so it is isolated: after a restart it
runs again.

Without a configured catalogue the service loads Hipparcos 2 into its data folder on
first use (:mod:`.catalog`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

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
from ...core.errors import InvalidPhaseError, JobFailure, UwsError
from ...core.model import Job, Result
from ...core.phases import Phase
from ...core.progress import steps_in_order
from ...core.sizes import format_bytes
from ...published import schema_path
from ...vo.columns import ColumnInfo
from ...vo.transfer import TransferPolicy
from ...vo.votable import write_votable
from ...wire.namespaces import q
from .catalog import Catalog, PreparedCatalog, ensure_hipparcos
from .commands import CATALOG_COMMAND
from .cursor import CursorSummary, ResultCursor, write_cursor
from .jdl import NAMESPACE, AdqlJob, QueryLimits, query_to_run, read_job
from .query import ExecutionError, ExecutionInterrupted, execute, result_columns
from .rehearsal import REHEARSAL_JOB, RehearsalContext, rehearsal_folder
from .result_size import BoundedSink, ResultTooLarge, bounded_batches
from .settings import AdqlSettings
from .size import QuerySize
from .state import (
    CURSOR_FILE,
    RESULT_NAME,
    VOTABLE_MIME_TYPE,
    AdqlState,
    exposed_rows,
    state_element,
)
from .vosi_tables import ROUTE as TABLES_ROUTE
from .vosi_tables import tables_route

_STEPS = ("run the query", "cache the result", "write the VOTable")

#: The folder of a job's workdir where its query spills what does not fit in memory.
SPILL_FOLDER = ".duckdb-spill"

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
    #: A run needs no module beyond this one's (DuckDB, pyarrow, astropy); the warm parent
    #: also starts and stops a DuckDB once, so that its jobs start theirs sooner.
    preload = ("wsrf_uws.jdl.adql.duckdb_warmup",)

    def __init__(self, environment: ContractEnvironment | None = None) -> None:
        super().__init__(environment)
        self.options: AdqlSettings = self.settings
        self.catalog_path = self.options.catalog or self.data_dir / "adql" / "hipparcos.duckdb"
        self.limits = QueryLimits(
            default_maxrec=self.options.default_maxrec,
            max_maxrec=self.options.max_maxrec,
            size=QuerySize(
                max_chars=self.options.max_query_chars,
                max_tokens=self.options.max_query_tokens,
                max_depth=self.options.max_query_depth,
            ),
            max_upload_bytes=self.options.max_upload_bytes,
            fetch_policy=TransferPolicy.parse(self.options.fetch_allow, public_url=self.public_url),
            fetch_timeout=self.options.fetch_timeout,
        )

    @property
    def catalog(self) -> Catalog:
        """The catalogue for createJob, opened read-only on first use (built first, for the
        default one). It only binds queries, so it never spills to disk."""
        return self.per_process("catalog", self._open_catalog)

    def _open_catalog(self) -> Catalog:
        if self.options.catalog is None:
            ensure_hipparcos(self.catalog_path)
        elif not self.catalog_path.is_file():
            raise FileNotFoundError(f"the ADQL catalogue {self.catalog_path} is missing")
        return self._open(spill_directory=None, spill_bytes=0)

    def _open(self, *, spill_directory: Path | None, spill_bytes: int) -> Catalog:
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
        return PreparedCatalog(
            self.catalog_path,
            threads=self.options.query_threads,
            memory_bytes=self.options.query_memory_bytes,
        )

    def describe(self, root: etree._Element) -> AdqlJob:
        return read_job(root, catalog=self.catalog, limits=self.limits)

    def assess(self, description: AdqlJob, *, owner: str) -> Assessment:
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
        state = AdqlState.for_job(description)
        context.set_state(state.to_dict())
        context.progress(0.0, steps=_steps(active=0))
        try:
            summary, columns = self._query(description, context)
            context.progress(0.7, steps=_steps(active=2))
            self._write_result(description, context)
        except ResultTooLarge:
            (context.workdir / CURSOR_FILE).unlink(missing_ok=True)
            raise JobFailure(
                f"the result is larger than the {format_bytes(self.options.max_result_bytes)} this "
                "service keeps for a query: ask for fewer rows (maxrec or TOP) or fewer, "
                "narrower columns"
            ) from None
        completed = state.completed(
            rows=summary.total_rows, overflow=summary.overflow, columns=columns
        )
        context.set_state(completed.to_dict())
        context.progress(1.0, steps=_steps(active=len(_STEPS)))

    def rehearse_run(self, prepared: PreparedCatalog) -> None:
        """A small query of the catalogue's own ``tap_schema``, cached and written as a
        VOTable as a job's would be, in a temporary folder: the job's own run then finds
        most of its memory paged in (:mod:`.rehearsal`)."""
        with (
            rehearsal_folder() as folder,
            prepared.rehearsal() as catalog,
        ):
            context = RehearsalContext(folder)
            self._cache(REHEARSAL_JOB, catalog, context)
            self._write_result(REHEARSAL_JOB, context)

    def _write_result(self, description: AdqlJob, context: JobContext) -> None:
        """Write the rows cached in the job's folder as its VOTable result."""
        with (
            ResultCursor.open(context.workdir / CURSOR_FILE) as cursor,
            context.open_result(RESULT_NAME, mime_type=VOTABLE_MIME_TYPE) as out,
        ):
            write_votable(
                BoundedSink(out, max_bytes=self.options.max_result_bytes),
                cursor.iter_batches(),
                columns=cursor.columns,
                serialization=description.serialization,
                overflow=cursor.overflow,
            )

    def _query(
        self, description: AdqlJob, context: JobContext
    ) -> tuple[CursorSummary, list[ColumnInfo]]:
        """Run the query on a DuckDB of the run's own and cache its rows in the job's folder.

        That DuckDB spills into the job's folder (removed with the job; emptied here when
        the query is done, and first, in case a killed run left some).
        """
        spill = context.workdir / SPILL_FOLDER
        shutil.rmtree(spill, ignore_errors=True)
        spill_bytes = self.options.max_spill_bytes
        prepared = context.prepared
        if isinstance(prepared, PreparedCatalog):  # by this job's spare process
            catalog = prepared.lock_down(spill_directory=spill, spill_bytes=spill_bytes)
        else:
            catalog = self._open(spill_directory=spill, spill_bytes=spill_bytes)
        try:
            return self._cache(description, catalog, context)
        except ExecutionInterrupted:
            raise
        except ExecutionError as error:
            raise JobFailure(str(error)) from None
        finally:
            if not isinstance(prepared, PreparedCatalog):
                catalog.close()  # a prepared one is closed after the outcome is reported
            shutil.rmtree(spill, ignore_errors=True)

    def _cache(
        self, description: AdqlJob, catalog: Catalog, context: JobContext
    ) -> tuple[CursorSummary, list[ColumnInfo]]:
        """Run the query on ``catalog`` and cache its rows in the job's cursor file."""
        # The executor stops a job with SIGTERM: DuckDB checks for signals while it runs
        # and abandons the query, so executionDuration interrupts a long query at once.
        # A job's uploads by URI are fetched here, in its run (:mod:`.remote_uploads`).
        translated, uploads = query_to_run(
            description, catalog=catalog, limits=self.limits, workdir=context.workdir
        )
        reader = execute(catalog, translated, batch_rows=self.options.batch_rows, uploads=uploads)
        # DuckDB takes no other query on the connection while a reader is left unread
        # (after an overflow it is), so the reader is closed as soon as the cursor is cached.
        with reader:
            columns = result_columns(reader.schema, translated)
            context.progress(0.1, steps=_steps(active=1))

            def on_rows(rows: int) -> None:
                if description.maxrec:
                    context.progress(0.1 + 0.6 * min(1.0, rows / description.maxrec))

            summary = write_cursor(
                bounded_batches(reader, max_bytes=self.options.max_result_bytes),
                context.workdir / CURSOR_FILE,
                columns=columns,
                max_rows=description.maxrec,
                batch_rows=self.options.batch_rows,
                on_rows=on_rows,
            )
        return summary, summary.columns  # text columns found to need unicodeChar

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
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


_steps = partial(steps_in_order, _STEPS)


_q = partial(q, NAMESPACE)
