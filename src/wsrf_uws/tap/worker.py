"""A TAP sync query worker: a process of its own holding the catalogue open, one query at a time.

The service never runs DuckDB work for a synchronous query in its request threads: each
query goes to a worker (:mod:`.pool`), which translates it, runs it under the
catalogue's memory and thread limits (``[adql] query_memory_bytes``, ``query_threads``;
no spilling), and writes the answer, within ``sync_max_result_bytes``, in the format
asked for. The worker keeps its catalogue open between queries, so a query costs only
its own work. A worker that runs too long is killed by the pool and replaced.

Messages (pickled over a pipe): the pool sends a :class:`SyncQuery`, the worker answers
an :class:`Answer`. The worker ends when the pipe closes.
"""

from __future__ import annotations

import io
import os
import resource
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from ..jdl.adql.catalog import Catalog
from ..jdl.adql.contract import ADDRESS_SPACE_RESERVE
from ..jdl.adql.jdl import QueryLimits
from ..jdl.adql.query import (
    AdqlError,
    ExecutionError,
    execute,
    result_columns,
    translate,
)
from ..jdl.adql.remote_uploads import RemoteUpload, fetch_upload
from ..jdl.adql.result_size import BoundedSink, ResultTooLarge, bounded_batches
from ..jdl.adql.uploads import Upload, UploadError, read_upload, with_uploads
from ..vo.columns import ColumnInfo
from ..vo.votable_document import error_votable
from .formats import ResponseFormat

#: The status of an answer a client's request caused (DALI: an error document, HTTP 400).
BAD_REQUEST = 400


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker needs to open its catalogue and bound its queries."""

    catalog_path: Path
    limits: QueryLimits
    threads: int
    memory_bytes: int
    max_result_bytes: int
    batch_rows: int


@dataclass(frozen=True)
class SyncQuery:
    """One synchronous query: the ADQL, MAXREC, the answer's format, the uploaded tables
    (name and VOTable XML, or name and the URL to fetch it from, checked against the
    allow-list already)."""

    adql: str
    maxrec: int
    response_format: ResponseFormat
    uploads: tuple[tuple[str, bytes | str], ...] = ()


@dataclass(frozen=True)
class Answer:
    """What the worker answers: an HTTP status, a media type and the body."""

    status: int
    media_type: str
    body: bytes


def error_answer(message: str, *, status: int = BAD_REQUEST) -> Answer:
    """A DALI error document (a VOTable with ``QUERY_STATUS=ERROR``)."""
    return Answer(status, "application/x-votable+xml", error_votable(message))


def serve(connection: Connection, settings: WorkerSettings) -> None:
    """The worker's life: open the catalogue, answer queries until the pipe closes."""
    _die_with_parent()
    # A backstop to DuckDB's memory limit: what the worker may map in all (as for a job).
    address_space = 2 * settings.memory_bytes + ADDRESS_SPACE_RESERVE
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    catalog = Catalog.open(
        settings.catalog_path,
        threads=settings.threads,
        memory_bytes=settings.memory_bytes,
        spill_bytes=0,  # a synchronous query does not spill: it gets memory or fails
    )
    connection.send("ready")
    try:
        while True:
            try:
                query = connection.recv()
            except EOFError:
                return
            connection.send(answer(catalog, query, settings))
    finally:
        catalog.close()


#: How often a worker checks that the service's process still runs, in seconds.
PARENT_CHECK_SECONDS = 1.0


def _die_with_parent() -> None:
    """End the worker, even in the middle of a query, once the service's process has ended.

    An idle worker ends anyway, when its pipe closes; a busy one would otherwise finish
    its query first. (Not ``PR_SET_PDEATHSIG``: that follows the thread that started the
    worker, a request thread of the service, not its process.)
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def answer(catalog: Catalog, query: SyncQuery, settings: WorkerSettings) -> Answer:
    """Run ``query`` on ``catalog``: the answer in the format asked for, or a DALI error."""
    try:
        uploads = _uploads(query.uploads, limits=settings.limits)
        metadata = with_uploads(catalog.metadata, uploads)
        translated = translate(
            query.adql, metadata=metadata, maxrec=query.maxrec, size=settings.limits.size
        )
        reader = execute(catalog, translated, batch_rows=settings.batch_rows, uploads=uploads)
        with reader:
            columns = result_columns(reader.schema, translated)
            bounded = bounded_batches(reader, max_bytes=settings.max_result_bytes)
            rows, overflow = _kept(bounded, query.maxrec)
        columns = _widened(columns, rows)
        body = io.BytesIO()
        query.response_format.write(
            BoundedSink(body, max_bytes=settings.max_result_bytes),
            rows,
            columns=columns,
            schema=reader.schema,
            overflow=overflow,
            infos=[("QUERY", query.adql, None)],
        )
    except AdqlError as error:
        return error_answer(f"ADQL: {error}")
    except UploadError as error:
        return error_answer(f"UPLOAD: {error}")
    except ResultTooLarge:
        return error_answer(
            f"the answer is larger than the {settings.max_result_bytes} bytes this service "
            "returns for a synchronous query: use /tap/async, or ask for fewer rows (MAXREC, "
            "TOP) or fewer columns"
        )
    except ExecutionError as error:
        return error_answer(str(error))
    except ValueError as error:  # a value the format cannot carry (a control character...)
        return error_answer(f"the result cannot be written in this format: {error}")
    return Answer(200, query.response_format.media_type, body.getvalue())


def _kept(batches: Iterable[pa.RecordBatch], maxrec: int) -> tuple[list[pa.RecordBatch], bool]:
    """The batches of a result up to ``maxrec`` rows, and whether more came.

    The translated query returns at most ``maxrec + 1`` rows: the extra one says the
    result was cut (TAP's ``QUERY_STATUS=OVERFLOW``).
    """
    kept: list[pa.RecordBatch] = []
    left = maxrec
    for batch in batches:
        if batch.num_rows > left:
            if left:
                kept.append(batch.slice(0, left))
            return kept, True
        left -= batch.num_rows
        kept.append(batch)
    return kept, False


def _widened(columns: list[ColumnInfo], rows: list[pa.RecordBatch]) -> list[ColumnInfo]:
    """``columns`` with the text ones holding non-ASCII values declared ``unicodeChar``
    (VOTable ``char`` is ASCII)."""
    widened = []
    for index, column in enumerate(columns):
        if column.datatype == "char" and any(
            pa.types.is_string(batch.column(index).type)
            and pc.all(pc.string_is_ascii(batch.column(index))).as_py() not in (True, None)
            for batch in rows
        ):
            column = replace(column, datatype="unicodeChar")
        widened.append(column)
    return widened


def _uploads(
    raw: tuple[tuple[str, bytes | str], ...], *, limits: QueryLimits
) -> tuple[Upload, ...]:
    """The uploaded tables, read from their VOTable XML or fetched from their URL (into a
    folder of the worker's own, removed after), within ``max_upload_bytes`` together."""
    uploads: list[Upload] = []
    left = limits.max_upload_bytes
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    for name, document in raw:
        if any(u.name.lower() == name.lower() for u in uploads):
            raise UploadError(f"upload {name!r} is named twice")
        if isinstance(document, str):
            if limits.fetch_policy is None:
                raise UploadError(f"upload {name!r}: this service fetches no uploads by URL")
            with tempfile.TemporaryDirectory(prefix="wsrf-uws-tap-upload-") as folder:
                upload, size = fetch_upload(
                    RemoteUpload(name, document),
                    folder=Path(folder),
                    policy=limits.fetch_policy,
                    max_bytes=max(left, 0),
                    total_bytes=limits.max_upload_bytes,
                    timeout=limits.fetch_timeout,
                )
            uploads.append(upload)
            left -= size
            continue
        try:
            element = etree.fromstring(document, parser)
        except etree.XMLSyntaxError as error:
            raise UploadError(f"upload {name!r} is not XML: {error}") from None
        uploads.append(read_upload(name, element, max_bytes=left))
        left -= len(document)
    return tuple(uploads)
