"""The SQL both job stores send, written once.

The SQLite store (:mod:`.sqlite`) and the PostgreSQL store (:mod:`.postgres`) differ here
only in their drivers' parameter style: sqlite3 takes named parameters as ``:name``,
psycopg as ``%(name)s``. The statements below are written with ``:name``, and
:func:`in_style` puts them in the style a store's driver wants. Both drivers' rows are read
by column name (``sqlite3.Row``, psycopg's ``dict_row``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, Protocol

from ..core.operator_state import OperatorState, QueueHold
from ..core.phases import Phase
from . import codec

#: A driver's parameter style (PEP 249): sqlite3's ``:name``, psycopg's ``%(name)s``.
ParamStyle = Literal["named", "pyformat"]

#: A ``:name`` parameter (not the ``::`` of a PostgreSQL cast).
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Rows(Protocol):
    """What a statement's cursor gives back here: its next row."""

    def fetchone(self) -> Any: ...


#: A connection's ``execute``: both drivers' take the statement and a mapping of values.
Execute = Callable[[str, Mapping[str, Any]], Rows]


@lru_cache(maxsize=256)  # a few dozen texts: the constants, and job lists' shapes
def in_style(sql: str, style: ParamStyle) -> str:
    """``sql``, written with ``:name`` parameters, in the driver's ``style``."""
    if style == "named":
        return sql
    return _NAMED.sub(r"%(\1)s", sql)


# -- operators' state (``wsrf-uws admin``) -----------------------------------------------

_READ_OPERATOR_STATE = "SELECT generation, held_by, held_since FROM operator_state"
_HOLD_QUEUE = "UPDATE operator_state SET held_by = :by, held_since = :since WHERE held_by IS NULL"
_RELEASE_QUEUE = "UPDATE operator_state SET held_by = NULL, held_since = NULL"
_COUNT_OPERATOR_ACTION = (
    "UPDATE operator_state SET generation = generation + 1 "
    "RETURNING generation, held_by, held_since"
)


def read_operator_state(execute: Execute, style: ParamStyle) -> OperatorState:
    """The operators' state as recorded (:meth:`JobStore.operator_state`)."""
    return _operator_state(execute(in_style(_READ_OPERATOR_STATE, style), {}).fetchone())


def record_operator_action(
    execute: Execute,
    style: ParamStyle,
    *,
    hold: bool | None,
    by: str,
    now: datetime | None,
) -> OperatorState:
    """An operator's action (:meth:`JobStore.operator_acted`), through ``execute`` of a
    connection inside one transaction: the hold set or released, the generation counted."""
    if hold is True:
        since = codec.time_to_db(now or datetime.now(UTC))
        execute(in_style(_HOLD_QUEUE, style), {"by": by, "since": since})
    elif hold is False:
        execute(in_style(_RELEASE_QUEUE, style), {})
    return _operator_state(execute(in_style(_COUNT_OPERATOR_ACTION, style), {}).fetchone())


def _operator_state(row: Any) -> OperatorState:
    assert row is not None  # the table has its one row from its migration on
    hold = None
    if row["held_by"] is not None:
        since = codec.time_from_db(row["held_since"])
        assert since is not None
        hold = QueueHold(by=row["held_by"], since=since)
    return OperatorState(generation=int(row["generation"]), hold=hold)


# -- expiry (the reaper) ----------------------------------------------------------------

#: The earliest termination time, as column ``t`` (:meth:`JobStore.next_termination_time`).
NEXT_TERMINATION_TIME = (
    "SELECT min(termination_time) AS t FROM jobs WHERE termination_time IS NOT NULL"
)

#: The ``:limit`` first resources expired at ``:now``, earliest first (:meth:`JobStore.expired`).
EXPIRED = (
    "SELECT resource_id FROM jobs WHERE termination_time IS NOT NULL "
    "AND termination_time <= :now ORDER BY termination_time LIMIT :limit"
)


# -- job lists ---------------------------------------------------------------------------


def job_list(
    *,
    columns: str,
    style: ParamStyle,
    owner: str | None,
    phases: Collection[Phase] | None,
    after: datetime | None,
    last: int | None,
) -> tuple[str, dict[str, Any]]:
    """The statement (selecting ``columns``) and values of :meth:`JobStore.list_jobs`:
    the jobs in ``phases`` (all but ARCHIVED if None), of ``owner`` (anyone's if None),
    created after ``after``, the ``last`` newest; newest first."""
    if phases is None:
        phases = [p for p in Phase if p is not Phase.ARCHIVED]
    values: dict[str, Any] = {f"phase{i}": Phase(p).value for i, p in enumerate(phases)}
    # No phase wanted: no row (PostgreSQL refuses an empty IN list).
    clauses = [f"phase IN ({', '.join(f':{name}' for name in values)})" if values else "1 = 0"]
    if owner is not None:
        clauses.append("owner = :owner")
        values["owner"] = owner
    if after is not None:
        clauses.append("creation_time > :after")
        values["after"] = codec.time_to_db(after)
    # Built from the caller's column names and the clauses above only; values are bound.
    sql = (
        f"SELECT {columns} FROM jobs WHERE {' AND '.join(clauses)} "  # noqa: S608
        "ORDER BY creation_time DESC, resource_id"
    )
    if last is not None:
        sql += " LIMIT :last"
        values["last"] = last
    return in_style(sql, style), values
