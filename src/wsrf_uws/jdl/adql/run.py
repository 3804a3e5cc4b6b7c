"""An ``adql`` job's run: the query on DuckDB, its rows cached, the VOTable written.

The run executes the translated query on a DuckDB of its own (read-only, bounded memory
and threads, spilling into the job's folder), streams the rows into the job's cursor file
(:mod:`.cursor`), then writes the whole result as one VOTable, the job's result
``result``. A result larger than ``max_result_bytes`` ends the job in ERROR
(:mod:`.result_size`).

This module, not the contract's, imports DuckDB and pyarrow: the service builds the
contract without them, and the contract's warm parent preloads this module
(:attr:`~.contract.AdqlContract.preload`).
"""

from __future__ import annotations

import shutil
from functools import partial
from typing import TYPE_CHECKING

from ...core.contract import JobContext
from ...core.errors import JobFailure
from ...core.progress import steps_in_order
from ...core.sizes import format_bytes
from ...vo.columns import ColumnInfo
from ...vo.votable import write_votable
from .catalog import Catalog, PreparedCatalog
from .cursor import CursorSummary, ResultCursor, write_cursor
from .jdl import AdqlJob, query_to_run
from .query import ExecutionError, ExecutionInterrupted, execute, result_columns
from .rehearsal import REHEARSAL_JOB, RehearsalContext, rehearsal_folder
from .result_size import BoundedSink, ResultTooLarge, bounded_batches
from .state import CURSOR_FILE, RESULT_NAME, VOTABLE_MIME_TYPE, AdqlState

if TYPE_CHECKING:
    from .contract import AdqlContract

_STEPS = ("run the query", "cache the result", "write the VOTable")
_steps = partial(steps_in_order, _STEPS)

#: The folder of a job's workdir where its query spills what does not fit in memory.
SPILL_FOLDER = ".duckdb-spill"


def run_query_job(contract: AdqlContract, description: AdqlJob, context: JobContext) -> None:
    """Run the job's query, cache its rows and write its VOTable; the state says how many
    rows, whether they were cut off at maxrec, and their columns."""
    state = AdqlState.for_job(description)
    context.set_state(state.to_dict())
    context.progress(0.0, steps=_steps(active=0))
    try:
        summary, columns = _query(contract, description, context)
        context.progress(0.7, steps=_steps(active=2))
        _write_result(contract, description, context)
    except ResultTooLarge:
        (context.workdir / CURSOR_FILE).unlink(missing_ok=True)
        raise JobFailure(
            f"the result is larger than the {format_bytes(contract.options.max_result_bytes)} "
            "this service keeps for a query: ask for fewer rows (maxrec or TOP) or fewer, "
            "narrower columns"
        ) from None
    completed = state.completed(rows=summary.total_rows, overflow=summary.overflow, columns=columns)
    context.set_state(completed.to_dict())
    context.progress(1.0, steps=_steps(active=len(_STEPS)))


def prepare_catalog(contract: AdqlContract) -> PreparedCatalog:
    """DuckDB started and the catalogue attached, for a spare process
    (:meth:`~.contract.AdqlContract.prepare_run`)."""
    return PreparedCatalog(
        contract.catalog_path,
        threads=contract.options.query_threads,
        memory_bytes=contract.options.query_memory_bytes,
    )


def rehearse(contract: AdqlContract, prepared: PreparedCatalog) -> None:
    """The run :meth:`~.contract.AdqlContract.rehearse_run` describes, on ``prepared``."""
    with (
        rehearsal_folder() as folder,
        prepared.rehearsal() as catalog,
    ):
        context = RehearsalContext(folder)
        _cache(contract, REHEARSAL_JOB, catalog, context)
        _write_result(contract, REHEARSAL_JOB, context)


def _write_result(contract: AdqlContract, description: AdqlJob, context: JobContext) -> None:
    """Write the rows cached in the job's folder as its VOTable result."""
    with (
        ResultCursor.open(context.workdir / CURSOR_FILE) as cursor,
        context.open_result(RESULT_NAME, mime_type=VOTABLE_MIME_TYPE) as out,
    ):
        write_votable(
            BoundedSink(out, max_bytes=contract.options.max_result_bytes),
            cursor.iter_batches(),
            columns=cursor.columns,
            serialization=description.serialization,
            overflow=cursor.overflow,
        )


def _query(
    contract: AdqlContract, description: AdqlJob, context: JobContext
) -> tuple[CursorSummary, list[ColumnInfo]]:
    """Run the query on a DuckDB of the run's own and cache its rows in the job's folder.

    That DuckDB spills into the job's folder (removed with the job; emptied here when
    the query is done, and first, in case a killed run left some).
    """
    spill = context.workdir / SPILL_FOLDER
    shutil.rmtree(spill, ignore_errors=True)
    spill_bytes = contract.options.max_spill_bytes
    prepared = context.prepared
    if isinstance(prepared, PreparedCatalog):  # by this job's spare process
        catalog = prepared.lock_down(spill_directory=spill, spill_bytes=spill_bytes)
    else:
        catalog = contract.open_catalog(spill_directory=spill, spill_bytes=spill_bytes)
    try:
        return _cache(contract, description, catalog, context)
    except ExecutionInterrupted:
        raise
    except ExecutionError as error:
        raise JobFailure(str(error)) from None
    finally:
        if not isinstance(prepared, PreparedCatalog):
            catalog.close()  # a prepared one is closed after the outcome is reported
        shutil.rmtree(spill, ignore_errors=True)


def _cache(
    contract: AdqlContract, description: AdqlJob, catalog: Catalog, context: JobContext
) -> tuple[CursorSummary, list[ColumnInfo]]:
    """Run the query on ``catalog`` and cache its rows in the job's cursor file."""
    # The executor stops a job with SIGTERM: DuckDB checks for signals while it runs
    # and abandons the query, so executionDuration interrupts a long query at once.
    # A job's uploads by URI are fetched here, in its run (:mod:`.remote_uploads`).
    options = contract.options
    translated, uploads = query_to_run(
        description, catalog=catalog, limits=contract.limits, workdir=context.workdir
    )
    reader = execute(catalog, translated, batch_rows=options.batch_rows, uploads=uploads)
    # DuckDB takes no other query on the connection while a reader is left unread
    # (after an overflow it is), so the reader is closed as soon as the cursor is cached.
    with reader:
        columns = result_columns(reader.schema, translated)
        context.progress(0.1, steps=_steps(active=1))

        def on_rows(rows: int) -> None:
            if description.maxrec:
                context.progress(0.1 + 0.6 * min(1.0, rows / description.maxrec))

        summary = write_cursor(
            bounded_batches(reader, max_bytes=options.max_result_bytes),
            context.workdir / CURSOR_FILE,
            columns=columns,
            max_rows=description.maxrec,
            batch_rows=options.batch_rows,
            on_rows=on_rows,
        )
    return summary, summary.columns  # text columns found to need unicodeChar
