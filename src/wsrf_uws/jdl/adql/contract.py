"""The contract ``adql``: ADQL queries whose results stay on the service, with a cursor.

createJob parses, validates and translates the query against the catalogue's metadata
(:mod:`.jdl`, :mod:`.query`). The run executes it on DuckDB (read-only) and streams the
result into a cursor file in the job's folder (:mod:`.cursor`), then writes the whole
result as one VOTable, the job's result ``result``. The extra operation ``exposeRows``
selects a range of rows, which the job state then shows (:mod:`.state`). Everything the
job writes lies in its own folder, so it is isolated: after a restart it runs again.

Without a configured catalogue the service loads Hipparcos 2 into its data folder on
first use (:mod:`.catalog`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from lxml import etree

from ...core.contract import Assessment, Contract, ExtraOperation, JobContext
from ...core.errors import InvalidPhaseError, UwsError
from ...core.model import Job, ProgressStep, Result, StepStatus
from ...core.phases import Phase
from ...published import schema_path
from .catalog import Catalog, ensure_hipparcos
from .cursor import ResultCursor, write_cursor
from .jdl import NAMESPACE, AdqlJob, QueryLimits, read_job
from .query import execute, result_columns
from .state import (
    CURSOR_FILE,
    RESULT_NAME,
    VOTABLE_MIME_TYPE,
    completed_state,
    exposed_rows,
    initial_state,
    state_element,
)
from .votable import write_votable

if TYPE_CHECKING:
    from ...core.service import JobService
    from ...settings import AdqlSettings, Settings

_STEPS = ("run the query", "cache the result", "write the VOTable")


class AdqlContract(Contract):
    """ADQL with a result cursor, namespace ``urn:wsrf-uws:adql:v1``."""

    name = "adql"
    namespace = NAMESPACE
    jdl_element = "job"
    state_name = "state"
    schema_path = schema_path("adql.xsd")

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        from ...settings import AdqlSettings

        self.options: AdqlSettings = settings.adql if settings is not None else AdqlSettings()
        self.catalog_path = self.options.catalog or self.data_dir / "adql" / "hipparcos.duckdb"
        self.limits = QueryLimits(
            default_maxrec=self.options.default_maxrec, max_maxrec=self.options.max_maxrec
        )

    @property
    def catalog(self) -> Catalog:
        """The catalogue, opened read-only on first use (built first, for the default one)."""
        return self.per_process("catalog", self._open_catalog)

    def _open_catalog(self) -> Catalog:
        if self.options.catalog is None:
            ensure_hipparcos(self.catalog_path)
        elif not self.catalog_path.is_file():
            raise FileNotFoundError(f"the ADQL catalogue {self.catalog_path} is missing")
        return Catalog.open(self.catalog_path)

    def describe(self, root: etree._Element) -> AdqlJob:
        return read_job(root, catalog=self.catalog, limits=self.limits)

    def assess(self, description: AdqlJob, *, owner: str) -> Assessment:
        return Assessment(
            execution_duration=description.execution_duration,
            jdl_state=initial_state(
                query=description.query,
                maxrec=description.maxrec,
                serialization=description.serialization,
            ),
        )

    def run(self, description: AdqlJob, context: JobContext) -> None:
        state = initial_state(
            query=description.query,
            maxrec=description.maxrec,
            serialization=description.serialization,
        )
        context.set_state(state)
        context.progress(0.0, steps=_steps(active=0))
        # The executor stops a job with SIGTERM: DuckDB checks for signals while it runs
        # and abandons the query, so executionDuration interrupts a long query at once.
        reader = execute(self.catalog, description.translated, batch_rows=self.options.batch_rows)
        # DuckDB takes no other query on the connection while a reader is left unread
        # (after an overflow it is), so the reader is closed as soon as the cursor is cached.
        with reader:
            columns = result_columns(reader.schema, description.translated)
            context.progress(0.1, steps=_steps(active=1))

            def on_rows(rows: int) -> None:
                if description.maxrec:
                    context.progress(0.1 + 0.6 * min(1.0, rows / description.maxrec))

            summary = write_cursor(
                reader,
                context.workdir / CURSOR_FILE,
                columns=columns,
                max_rows=description.maxrec,
                batch_rows=self.options.batch_rows,
                on_rows=on_rows,
            )
        context.progress(0.7, steps=_steps(active=2))
        with (
            ResultCursor.open(context.workdir / CURSOR_FILE) as cursor,
            context.open_result(RESULT_NAME, mime_type=VOTABLE_MIME_TYPE) as out,
        ):
            write_votable(
                out,
                cursor.iter_batches(),
                columns=cursor.columns,
                serialization=description.serialization,
                overflow=cursor.overflow,
            )
        context.set_state(
            completed_state(
                state, rows=summary.total_rows, overflow=summary.overflow, columns=columns
            )
        )
        context.progress(1.0, steps=_steps(active=len(_STEPS)))

    def state_element(
        self, job: Job, *, result_url: Callable[[Result], str]
    ) -> etree._Element | None:
        return state_element(job.jdl_state, workdir=self.job_folder(job.resource_id))

    def extra_operations(self) -> Mapping[str, ExtraOperation]:
        return {
            "exposeRows": ExtraOperation(
                name="exposeRows",
                handler=self._expose_rows,
                doc="Select rows start (inclusive) to end (exclusive) of the cached result; "
                "the job state's exposedRows then holds them as a VOTable.",
            )
        }

    def _expose_rows(
        self, service: JobService, job: Job, request: etree._Element
    ) -> etree._Element:
        if job.phase != Phase.COMPLETED or "rows" not in job.jdl_state:
            raise InvalidPhaseError("exposeRows", str(job.phase))
        start = int(request.findtext(f"{{{NAMESPACE}}}start") or 0)
        end = int(request.findtext(f"{{{NAMESPACE}}}end") or 0)
        if end < start:
            raise UwsError(f"exposeRows: end ({end}) is before start ({start})")
        total = int(job.jdl_state["rows"])
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
            serialization=job.jdl_state.get("serialization", "BINARY2"),
        )
        service.store.update(
            job.resource_id, jdl_state={**job.jdl_state, "exposed": {"start": start, "end": end}}
        )
        response = etree.Element(_q("exposeRowsResponse"), nsmap={"adql": NAMESPACE})
        etree.SubElement(response, _q("rows")).text = str(total)
        response.append(element)
        return response


def _steps(*, active: int) -> tuple[ProgressStep, ...]:
    def status(index: int) -> StepStatus:
        if index < active:
            return StepStatus.DONE
        return StepStatus.ACTIVE if index == active else StepStatus.PENDING

    return tuple(ProgressStep(label, status(i)) for i, label in enumerate(_STEPS))


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"
