"""Reading an ``adql:job`` description: the query, checked against the catalogue at createJob.

The query is parsed, validated and translated here, in the service process, so a query
that could not run is refused before anything is created, with the position of the
problem in the job description (the query's line and column, shifted by where the
query starts in the document).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ...core.errors import InvalidJobDescriptionError
from ...vo.columns import ColumnInfo
from ...vo.votable import Serialization
from ...wire.elements import source_line
from .catalog import Catalog
from .query import AdqlError, TranslatedQuery, describe, translate
from .size import QuerySize

NAMESPACE = "urn:wsrf-uws:adql:v1"
_NS = {"adql": NAMESPACE}


@dataclass(frozen=True)
class AdqlJob:
    """A checked job: the query as given and as translated, and how to keep its result."""

    query: str
    translated: TranslatedQuery
    #: The result's columns, as DuckDB typed them at createJob.
    columns: tuple[ColumnInfo, ...]
    maxrec: int
    serialization: Serialization = "BINARY2"
    execution_duration: int | None = None


@dataclass(frozen=True)
class QueryLimits:
    """The service's row limits, and the largest query text it reads (``[adql]`` settings)."""

    default_maxrec: int
    max_maxrec: int
    size: QuerySize = field(default_factory=QuerySize)


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
    try:
        translated = translate(query, metadata=catalog.metadata, maxrec=maxrec, size=limits.size)
        columns = describe(catalog, translated)
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
