"""Reading an ``adql:job`` description: the query, checked against the catalogue at createJob.

The query is parsed, validated and translated here, in the service process, so a query
that could not run is refused before anything is created, with the position of the
problem in the job description (the query's line and column, shifted by where the
query starts in the document).

A job with uploads by URI (:mod:`.remote_uploads`) is the exception: the columns of those
tables are known only once the run has fetched them, so createJob checks the URIs against
the allow-list and the query's syntax and its ADQL parts, and the run translates the query
(:func:`query_to_run`); a query that does not fit the fetched tables ends the job in ERROR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlglot import exp

from ...core.errors import InvalidJobDescriptionError, JobFailure
from ...vo.columns import ColumnInfo
from ...vo.transfer import TransferPolicy
from ...vo.votable import Serialization
from ...wire.elements import source_line
from .catalog import Catalog
from .dialect import parse_adql
from .errors import error_at
from .names import NAMESPACE
from .query import AdqlError, TranslatedQuery, describe, translate
from .remote_uploads import UPLOAD_FOLDER, RemoteUpload, fetch_upload, remote_upload
from .size import QuerySize
from .uploads import UPLOAD_SCHEMA, Upload, UploadError, read_upload, with_uploads
from .validation import check_structure

_NS = {"adql": NAMESPACE}
#: The attribute naming an upload by URI (links are xlink:href in every project schema).
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


@dataclass(frozen=True)
class AdqlJob:
    """A checked job: the query as given and as translated, and how to keep its result."""

    query: str
    #: None when the job has uploads by URI: the run translates the query once it has
    #: fetched them (:func:`query_to_run`).
    translated: TranslatedQuery | None
    #: The result's columns, as DuckDB typed them at createJob (none for a job whose
    #: query is translated by its run).
    columns: tuple[ColumnInfo, ...]
    maxrec: int
    serialization: Serialization = "BINARY2"
    execution_duration: int | None = None
    #: The tables uploaded with the job (``TAP_UPLOAD.name``), read at createJob.
    uploads: tuple[Upload, ...] = ()
    #: The tables the job names by URI, fetched by its run.
    remote_uploads: tuple[RemoteUpload, ...] = ()
    #: The bytes of XML the in-line uploads take (counted against max_upload_bytes).
    inline_upload_bytes: int = 0


@dataclass(frozen=True)
class QueryLimits:
    """The service's row limits, and the largest query text it reads (``[adql]`` settings)."""

    default_maxrec: int
    max_maxrec: int
    size: QuerySize = field(default_factory=QuerySize)
    #: The most bytes of VOTable XML the uploads of one job may take together.
    max_upload_bytes: int = 1024 * 1024
    #: Where uploads by URI may come from (``[adql] fetch_allow``); None: nowhere.
    fetch_policy: TransferPolicy | None = None
    #: Seconds a fetch of an upload may wait for the other side.
    fetch_timeout: float = 60.0


def read_job(root: etree._Element, *, catalog: Catalog, limits: QueryLimits) -> AdqlJob:
    """Check a schema-valid ``adql:job`` element, translate its query and type its result.

    DuckDB binds the translated query without running it, so type errors (comparing a
    number with a string, say) are refused here too.
    """
    query_element = root.find("adql:query", _NS)
    assert query_element is not None  # the schema requires it
    query = query_element.text or ""
    maxrec_element = root.find("adql:maxrec", _NS)
    maxrec = limits.default_maxrec
    if maxrec_element is not None:
        maxrec = int(maxrec_element.text or "0")
        if maxrec > limits.max_maxrec:
            raise InvalidJobDescriptionError(
                f"maxrec {maxrec} is beyond this service's limit of {limits.max_maxrec} rows",
                line=source_line(maxrec_element),
            )
    if not query.strip():
        raise InvalidJobDescriptionError("the query is empty", line=source_line(query_element))
    uploads, remote, inline_bytes = _read_uploads(root, limits)
    metadata = with_uploads(catalog.metadata, uploads)
    translated: TranslatedQuery | None = None
    columns: list[ColumnInfo] = []
    try:
        if remote:
            names = [u.name for u in uploads] + [r.name for r in remote]
            _check_query(query, limits=limits, uploads=names)
        else:
            translated = translate(query, metadata=metadata, maxrec=maxrec, size=limits.size)
            columns = describe(catalog, translated, uploads=uploads)
    except AdqlError as error:
        raise _located(error, query_element) from None
    serialization: Serialization = (
        "TABLEDATA" if root.findtext("adql:format", namespaces=_NS) == "TABLEDATA" else "BINARY2"
    )
    duration = root.findtext("adql:executionDuration", namespaces=_NS)
    return AdqlJob(
        query=query,
        translated=translated,
        columns=tuple(columns),
        maxrec=maxrec,
        serialization=serialization,
        execution_duration=int(duration) if duration is not None else None,
        uploads=uploads,
        remote_uploads=remote,
        inline_upload_bytes=inline_bytes,
    )


def query_to_run(
    job: AdqlJob, *, catalog: Catalog, limits: QueryLimits, workdir: Path
) -> tuple[TranslatedQuery, tuple[Upload, ...]]:
    """The query a run executes and the tables it reads, in the job's run.

    For a job with uploads by URI: fetches them (into ``workdir``, under ``limits``: the
    allow-list, the timeout, what the in-line uploads left of ``max_upload_bytes``), then
    translates the query against ``catalog``'s tables (whose metadata only such a job
    reads) and every upload. Raises
    :class:`~wsrf_uws.core.errors.JobFailure` saying which upload could not be used and why,
    or why the query does not fit the tables.
    """
    if job.translated is not None:
        return job.translated, job.uploads
    uploads = list(job.uploads)
    left = limits.max_upload_bytes - job.inline_upload_bytes
    for remote in job.remote_uploads:
        if limits.fetch_policy is None:
            raise JobFailure(f"upload {remote.name!r}: this service fetches no uploads by URI")
        try:
            upload, size = fetch_upload(
                remote,
                folder=workdir / UPLOAD_FOLDER,
                policy=limits.fetch_policy,
                max_bytes=max(left, 0),
                total_bytes=limits.max_upload_bytes,
                timeout=limits.fetch_timeout,
            )
        except UploadError as error:
            raise JobFailure(str(error)) from None
        left -= size
        uploads.append(upload)
    try:
        translated = translate(
            job.query,
            metadata=with_uploads(catalog.metadata, uploads),
            maxrec=job.maxrec,
            size=limits.size,
        )
    except AdqlError as error:
        raise JobFailure(f"ADQL: {error}") from None
    return translated, tuple(uploads)


def _read_uploads(
    root: etree._Element, limits: QueryLimits
) -> tuple[tuple[Upload, ...], tuple[RemoteUpload, ...], int]:
    """The ``adql:upload`` tables: those in-line (read, within ``max_upload_bytes``
    together), those by URI (checked against the allow-list), and the in-line bytes."""
    uploads: list[Upload] = []
    remote: list[RemoteUpload] = []
    named: set[str] = set()
    used = 0
    for element in root.findall("adql:upload", _NS):
        name = element.get("name", "")
        href = element.get(_XLINK_HREF)
        tables = [child for child in element if isinstance(child.tag, str)]
        try:
            if name.lower() in named:
                raise UploadError(f"upload {name!r} is named twice")
            named.add(name.lower())
            if href is not None:
                if tables:
                    raise UploadError(
                        f"upload {name!r} has both an xlink:href and an in-line VOTable: give one"
                    )
                remote.append(remote_upload(name, href, policy=limits.fetch_policy))
                continue
            if len(tables) != 1:
                raise UploadError(
                    f"upload {name!r} must hold one VOTABLE element or have an xlink:href"
                )
            uploads.append(read_upload(name, tables[0], max_bytes=limits.max_upload_bytes - used))
        except UploadError as error:
            raise InvalidJobDescriptionError(str(error), line=source_line(element)) from None
        used += len(etree.tostring(tables[0]))
    return tuple(uploads), tuple(remote), used


def _check_query(query: str, *, limits: QueryLimits, uploads: list[str]) -> None:
    """What createJob can check of a query whose tables are not all known yet: its size
    and syntax, that it uses only ADQL, and that each ``TAP_UPLOAD`` table it reads is an
    upload of the job. Raises :class:`AdqlError`."""
    tree = parse_adql(query, size=limits.size)
    check_structure(tree)
    known = {name.lower() for name in uploads}
    for table in tree.find_all(exp.Table):
        db = table.args.get("db")
        upload = db is not None and str(db.name).upper() == UPLOAD_SCHEMA
        if upload and table.name.lower() not in known:
            raise error_at(
                table,
                f"{UPLOAD_SCHEMA}.{table.name} is not an upload of this job "
                f"(its uploads: {', '.join(sorted(uploads))})",
            )


def _located(error: AdqlError, query_element: etree._Element) -> InvalidJobDescriptionError:
    """The ADQL error as a JDL error, its position moved from the query into the document.

    The query's first line is the line of ``<adql:query>`` (its text starts right after
    the start tag, whose column lxml does not tell), so a column is only given for a
    problem on a later line of the query.
    """
    start = source_line(query_element)
    if error.line is None or start is None:
        return InvalidJobDescriptionError(f"ADQL: {error.reason}", line=start)
    where = f"line {error.line}" + (f", column {error.column}" if error.column else "")
    return InvalidJobDescriptionError(
        f"ADQL ({where} of the query): {error.reason}",
        line=start + error.line - 1,
        column=error.column if error.line > 1 else None,
    )
