"""The names an ADQL query sees at each level: the tables its FROM clauses read, their
columns, the WITH queries, and how a column reference's qualifier picks a table.

:func:`~.resolution.resolve` builds these as it walks a query; catalogue column
references it resolves are marked with a :class:`ColumnRef` (under :data:`REF_KEY`) for
the geometry rewrite.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlglot import exp

from ...vo.columns import ColumnInfo
from .tap_schema import TableInfo

#: The meta key under which a resolved catalogue column reference is recorded.
REF_KEY = "adql_ref"


@dataclass(frozen=True)
class ColumnRef:
    """A column reference resolved to a catalogue table (recorded under :data:`REF_KEY`)."""

    qualifier: tuple[tuple[str, bool], ...]
    table: str
    column: str

    def column_node(self, name: str) -> exp.Column:
        """A reference to column ``name`` of the same table occurrence."""
        parts = [exp.Identifier(this=text, quoted=quoted) for text, quoted in self.qualifier]
        table = parts[-1]
        db = parts[0] if len(parts) == 2 else None
        return exp.Column(this=exp.Identifier(this=name, quoted=True), table=table, db=db)


@dataclass
class Output:
    """A column a query or table offers by ``name``, with its metadata where known."""

    name: str
    info: ColumnInfo | None


@dataclass
class Source:
    """One table a FROM clause reads (a catalogue table, a WITH query or a named subquery):
    its columns, and the names that qualify them (``merged``: the columns a USING or
    NATURAL join merged into an earlier table's)."""

    label: str
    alias: exp.Identifier | None
    table: TableInfo | None
    columns: list[Output]
    qualifier: tuple[tuple[str, bool], ...]
    merged: set[str] = field(default_factory=set)


@dataclass
class Scope:
    """The names one query level sees: its sources, its WITH queries, its output columns,
    and the enclosing level's (``parent``)."""

    sources: list[Source] = field(default_factory=list)
    parent: Scope | None = None
    ctes: dict[str, list[Output]] = field(default_factory=dict)
    outputs: list[Output] = field(default_factory=list)

    def cte(self, name: str) -> list[Output] | None:
        """The columns of the WITH query ``name`` seen from here, if there is one."""
        scope: Scope | None = self
        while scope is not None:
            if name.lower() in scope.ctes:
                return scope.ctes[name.lower()]
            scope = scope.parent
        return None


def same_name(identifier: exp.Identifier, name: str) -> bool:
    """Whether an identifier names ``name``: quoted ones exactly, others in any case."""
    if identifier.quoted:
        return str(identifier.this) == name
    return str(identifier.this).lower() == name.lower()


def suggest(name: str, candidates: Iterable[str]) -> str:
    """A refusal's hint: "; did you mean ..." with the candidates close to ``name``."""
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3)
    return f"; did you mean {' or '.join(repr(by_lower[c]) for c in close)}?" if close else ""


def qualifier_text(column: exp.Column) -> str:
    """What qualifies ``column`` (``schema.table``, ``alias``), as written; "" if nothing."""
    return ".".join(
        part.name for part in (column.args.get("db"), column.args.get("table")) if part is not None
    )


def qualifier_matches(column: exp.Column, source: Source) -> bool:
    """Whether ``column``'s qualifier (if any) names ``source``."""
    table = column.args.get("table")
    db = column.args.get("db")
    if table is None:
        return True
    if source.alias is not None:
        return db is None and same_name(table, source.alias.name)
    if source.table is None:  # pragma: no cover - every other source has an alias
        return False
    return same_name(table, source.table.table_name) and (
        db is None or same_name(db, source.table.schema_name)
    )


def qualified_column(source: Source, name: str) -> exp.Column:
    """A reference to column ``name`` of ``source``, qualified as ``source`` is."""
    parts = [exp.Identifier(this=text, quoted=quoted) for text, quoted in source.qualifier]
    return exp.Column(
        this=exp.Identifier(this=name, quoted=True),
        table=parts[-1],
        db=parts[0] if len(parts) == 2 else None,
    )
