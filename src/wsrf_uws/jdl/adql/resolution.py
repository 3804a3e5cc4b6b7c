"""The second pass over a parsed ADQL query: what each name in it refers to.

Every table is a catalogue table (or a WITH query, or a named subquery), every column
exists where it is looked for, and the select list becomes explicit: ``*`` is expanded,
every output column gets a unique name (:mod:`.output_columns`), and where an output
column is a catalogue column its metadata is traced. Catalogue column references are
marked (:data:`~.name_scopes.REF_KEY`) for the geometry rewrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from ...vo.columns import ColumnInfo
from .errors import AdqlError, error_at
from .name_scopes import (
    REF_KEY,
    ColumnRef,
    Output,
    Scope,
    Source,
    qualified_column,
    qualifier_matches,
    qualifier_text,
    same_name,
    suggest,
)
from .output_columns import computed_info, default_name, output_info, unique_name
from .tap_schema import CatalogMetadata, TableInfo


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve` found: the catalogue tables read and the output columns."""

    tables: tuple[str, ...]
    columns: tuple[ColumnInfo, ...]


def resolve(tree: exp.Expr, metadata: CatalogMetadata) -> Resolution:
    """Check every name in ``tree`` against ``metadata`` and make its select lists explicit.

    Modifies ``tree`` in place (expanded stars, output aliases, reference marks).
    """
    resolver = _Resolver(metadata)
    outputs = resolver.query(tree, Scope())
    return Resolution(
        tables=tuple(sorted(resolver.tables)),
        columns=tuple(output_info(o) for o in outputs),
    )


class _Resolver:
    def __init__(self, metadata: CatalogMetadata) -> None:
        self.metadata = metadata
        self.tables: set[str] = set()

    # -- queries

    def query(self, node: exp.Expr, parent: Scope) -> list[Output]:
        scope = Scope(parent=parent)
        with_ = node.args.get("with_")
        if with_ is not None:
            for cte in with_.expressions:
                name = cte.alias_or_name
                scope.ctes[name.lower()] = self.query(cte.this, scope)
        if isinstance(node, exp.Subquery):
            outputs = self.query(node.this, scope)
        elif isinstance(node, exp.SetOperation):
            outputs = self.query(node.this, scope)
            right = self.query(node.expression, scope)
            if len(right) != len(outputs):
                raise error_at(
                    node.expression,
                    f"both sides of {node.key.upper()} must return the same number of columns "
                    f"({len(outputs)} and {len(right)})",
                )
        elif isinstance(node, exp.Select):
            return self.select(node, scope)
        else:  # pragma: no cover - check_structure admits no other query node
            raise error_at(node, f"{node.key.upper()} is not a query")
        order = node.args.get("order")
        if order is not None:
            self.expressions(order.expressions, Scope(parent=parent, outputs=outputs), aliases=True)
        return outputs

    def select(self, select: exp.Select, scope: Scope) -> list[Output]:
        from_ = select.args.get("from_")
        if from_ is not None:
            scope.sources.append(self.source(from_.this, scope))
        for join in select.args.get("joins") or []:
            source = self.source(join.this, scope)
            self.merge_join_columns(join, source, scope)
            scope.sources.append(source)
            if join.args.get("on") is not None:
                self.expression(join.args["on"], scope, aliases=False)
        outputs = self.select_list(select, scope)
        scope.outputs = outputs
        if select.args.get("where") is not None:
            self.expression(select.args["where"].this, scope, aliases=False)
        group = select.args.get("group")
        if group is not None:
            self.expressions(group.expressions, scope, aliases=True)
        if select.args.get("having") is not None:
            self.expression(select.args["having"].this, scope, aliases=True)
        order = select.args.get("order")
        if order is not None:
            self.expressions(order.expressions, scope, aliases=True)
        return outputs

    # -- FROM

    def source(self, node: exp.Expr, scope: Scope) -> Source:
        if isinstance(node, exp.Subquery):
            alias = node.args.get("alias")
            if alias is None or alias.this is None:
                raise error_at(node, "a subquery in FROM needs a name: (SELECT ...) AS name")
            outputs = self.query(node.this, Scope(parent=scope.parent, ctes=scope.ctes))
            identifier = alias.this
            return Source(
                label=f"{identifier.name} (a subquery)",
                alias=identifier,
                table=None,
                columns=[Output(o.name, o.info) for o in outputs],
                qualifier=((identifier.name, bool(identifier.quoted)),),
            )
        if not isinstance(node, exp.Table):  # pragma: no cover - refused by check_structure
            raise error_at(node, f"{node.sql()} cannot be read in FROM")
        alias_node = node.args.get("alias")
        alias = alias_node.this if alias_node is not None else None
        name: exp.Identifier = node.this
        db = node.args.get("db")
        if node.args.get("catalog") is not None:
            raise error_at(
                node, "catalogue-qualified table names are not supported; use schema.table"
            )
        if db is None:
            cte = scope.cte(name.name)
            if cte is not None:
                reference = alias if alias is not None else name
                return Source(
                    label=f"{reference.name} (a WITH query)",
                    alias=reference,
                    table=None,
                    columns=[Output(o.name, o.info) for o in cte],
                    qualifier=((reference.name, bool(reference.quoted)),),
                )
        table = self.catalogue_table(node, name, db)
        self.tables.add(table.name)
        if alias is not None:
            qualifier: tuple[tuple[str, bool], ...] = ((alias.name, bool(alias.quoted)),)
            label = f"{alias.name} ({table.name})"
        else:
            qualifier = ((table.schema_name, False), (table.table_name, False))
            label = table.name
        return Source(
            label=label,
            alias=alias,
            table=table,
            columns=[Output(c.name, c) for c in table.columns],
            qualifier=qualifier,
        )

    def catalogue_table(
        self, node: exp.Table, name: exp.Identifier, db: exp.Identifier | None
    ) -> TableInfo:
        tables = list(self.metadata.tables.values())
        if db is not None:
            found = [
                t for t in tables if same_name(db, t.schema_name) and same_name(name, t.table_name)
            ]
            wanted = f"{db.name}.{name.name}"
        else:
            found = [t for t in tables if same_name(name, t.table_name)]
            wanted = name.name
            if len(found) > 1:
                raise error_at(
                    node,
                    f"the table name {wanted!r} is ambiguous; qualify it: "
                    + ", ".join(t.name for t in found),
                )
        if not found:
            if db is not None and not any(same_name(db, t.schema_name) for t in tables):
                schemas = sorted({t.schema_name for t in tables})
                raise error_at(
                    db, f"no schema {db.name!r} in this catalogue" + suggest(db.name, schemas)
                )
            raise error_at(
                node,
                f"no table {wanted!r} in this catalogue"
                + suggest(wanted, [t.name for t in tables]),
            )
        return found[0]

    def merge_join_columns(self, join: exp.Join, source: Source, scope: Scope) -> None:
        earlier = {o.name.lower() for s in scope.sources for o in s.columns}
        here = {o.name.lower() for o in source.columns}
        if (join.method or "").upper() == "NATURAL":
            source.merged |= earlier & here
            return
        for item in join.args.get("using") or []:
            identifier = item.this if isinstance(item, exp.Column) else item
            if identifier.name.lower() not in here or identifier.name.lower() not in earlier:
                raise error_at(
                    item,
                    f"USING column {identifier.name!r} must be in the tables on "
                    "both sides of the join",
                )
            source.merged.add(identifier.name.lower())

    # -- select list

    def select_list(self, select: exp.Select, scope: Scope) -> list[Output]:
        items: list[tuple[exp.Expr, str | None, ColumnInfo | None]] = []
        for item in select.expressions:
            if isinstance(item, exp.Star):
                if not scope.sources:
                    raise error_at(item, "SELECT * needs a FROM clause")
                for source in scope.sources:
                    items.extend(self.star(source, skip_merged=True))
                continue
            if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                source = self.qualified_source(item, scope)
                items.extend(self.star(source, skip_merged=False))
                continue
            value = item.this if isinstance(item, exp.Alias) else item
            alias = item.args.get("alias") if isinstance(item, exp.Alias) else None
            self.expression(value, scope, aliases=False)
            info = self.traced(value)
            name = alias.name if alias is not None else self.column_name(value)
            items.append((value, name, info if info else computed_info(value)))
        used: set[str] = set()
        outputs: list[Output] = []
        expressions: list[exp.Expr] = []
        for value, name, info in items:
            unique = unique_name(name or default_name(value), used)
            expressions.append(
                exp.alias_(value, exp.Identifier(this=unique, quoted=True), copy=False)
            )
            outputs.append(Output(unique, info))
        select.set("expressions", expressions)
        return outputs

    def star(
        self, source: Source, *, skip_merged: bool
    ) -> list[tuple[exp.Expr, str | None, ColumnInfo | None]]:
        items: list[tuple[exp.Expr, str | None, ColumnInfo | None]] = []
        for output in source.columns:
            if skip_merged and output.name.lower() in source.merged:
                continue
            column = qualified_column(source, output.name)
            if source.table is not None:
                column.meta[REF_KEY] = ColumnRef(source.qualifier, source.table.name, output.name)
            items.append((column, output.name, output.info))
        return items

    def qualified_source(self, column: exp.Column, scope: Scope) -> Source:
        matches = [s for s in scope.sources if qualifier_matches(column, s)]
        if not matches:
            labels = ", ".join(s.label for s in scope.sources) or "nothing"
            raise error_at(
                column,
                f"no table or alias {qualifier_text(column)!r} in this "
                f"FROM clause (it reads {labels})",
            )
        return matches[0]

    def traced(self, value: exp.Expr) -> ColumnInfo | None:
        """The metadata of a select item that is a plain (resolved) column."""
        while isinstance(value, exp.Paren):
            value = value.this
        if isinstance(value, exp.Column):
            info: ColumnInfo | None = value.meta.get("adql_info")
            return info
        return None

    def column_name(self, value: exp.Expr) -> str | None:
        """The name a plain column keeps in the output: the one it has where it comes from."""
        while isinstance(value, exp.Paren):
            value = value.this
        if isinstance(value, exp.Column):
            name: str | None = value.meta.get("adql_name")
            return name
        return None

    # -- expressions

    def expressions(self, nodes: Sequence[exp.Expr], scope: Scope, *, aliases: bool) -> None:
        for node in nodes:
            self.expression(node, scope, aliases=aliases)

    def expression(self, node: exp.Expr, scope: Scope, *, aliases: bool) -> None:
        pending: list[exp.Expr] = [node]
        while pending:
            current = pending.pop()
            if isinstance(current, exp.Column):
                if not isinstance(current.this, exp.Star):
                    self.column(current, scope, aliases=aliases)
                continue
            if isinstance(current, exp.Select | exp.SetOperation | exp.Subquery):
                self.query(current, scope)
                continue
            pending.extend(current.iter_expressions())

    def column(self, column: exp.Column, scope: Scope, *, aliases: bool) -> None:
        identifier: exp.Identifier = column.this
        qualified = bool(qualifier_text(column))
        looked_in: list[Source] = []
        current: Scope | None = scope
        while current is not None:
            sources = (
                [s for s in current.sources if qualifier_matches(column, s)]
                if qualified
                else current.sources
            )
            found = [(s, o) for s in sources for o in s.columns if same_name(identifier, o.name)]
            if len(found) > 1:
                found = self.merged(found)
            if len(found) > 1:
                raise error_at(
                    column,
                    f"column {identifier.name!r} is ambiguous: it is in "
                    + ", ".join(s.label for s, _ in found)
                    + "; qualify it",
                )
            if found:
                source, output = found[0]
                self.mark(column, source, output)
                return
            looked_in.extend(sources)
            if (
                aliases
                and current is scope
                and not qualified
                and any(same_name(identifier, o.name) for o in scope.outputs)
            ):
                return
            current = current.parent
        if qualified and not looked_in:
            self.qualified_source(column, scope)  # raises: no such table or alias
        raise self.unknown_column(column, looked_in, scope if aliases else None)

    def merged(self, found: list[tuple[Source, Output]]) -> list[tuple[Source, Output]]:
        """Drop the copies a USING or NATURAL join merged into an earlier column."""
        kept = [(s, o) for s, o in found if o.name.lower() not in s.merged]
        return kept or found[:1]

    def mark(self, column: exp.Column, source: Source, output: Output) -> None:
        column.meta["adql_name"] = output.name
        if output.info is not None:
            column.meta["adql_info"] = output.info
        if source.table is not None:
            column.meta[REF_KEY] = ColumnRef(source.qualifier, source.table.name, output.name)

    def unknown_column(
        self, column: exp.Column, sources: list[Source], scope: Scope | None
    ) -> AdqlError:
        name = column.this.name
        if not sources:
            if scope is not None and scope.outputs:
                candidates = [o.name for o in scope.outputs]
                return error_at(
                    column, f"no column {name!r} in the select list" + suggest(name, candidates)
                )
            return error_at(column, f"no column {name!r}: the query reads no table here")
        labels = ", ".join(dict.fromkeys(s.label for s in sources))
        candidates = [o.name for s in sources for o in s.columns]
        if scope is not None:
            candidates += [o.name for o in scope.outputs]
        return error_at(column, f"no column {name!r} in {labels}" + suggest(name, candidates))
