"""How many vertices a POLYGON or BOX selected in a subquery or WITH query has.

Such a column holds a DALI array of doubles (longitude, latitude per vertex); to test it
per row, the rewrite must know how many vertices to read back. The count is found where
the column is defined: the select item of the subquery (or WITH query) the column's
qualifier names, written as ``POLYGON``, ``BOX`` or ``REGION`` (or already rewritten into
the array itself), or a column passed on from a subquery further in.
"""

from __future__ import annotations

from sqlglot import exp

from .stcs import parse_stcs


def selected_vertex_count(column: exp.Column) -> int | None:
    """The vertex count of the POLYGON or BOX selected as ``column``; None if unknown."""
    definition = _definition(column)
    while isinstance(definition, exp.Paren):
        definition = definition.this
    if isinstance(definition, exp.Column):
        return selected_vertex_count(definition)
    if not isinstance(definition, exp.Anonymous):
        return None
    name = str(definition.name).upper()
    arguments = list(definition.expressions)
    if arguments and isinstance(arguments[0], exp.Literal) and arguments[0].is_string:
        if name == "REGION":
            return _region_count(arguments[0].name)
        arguments = arguments[1:]  # a coordinate system
    if name == "BOX":
        return 4
    if name == "POLYGON":
        points = all(isinstance(a, exp.Anonymous) and a.name.upper() == "POINT" for a in arguments)
        return len(arguments) if points else len(arguments) // 2
    if name == "LIST_VALUE" and len(arguments) >= 6:  # a polygon already rewritten
        return len(arguments) // 2
    return None


def _region_count(text: str) -> int | None:
    try:
        parsed = parse_stcs(text)
    except ValueError:
        return None
    if parsed.shape == "BOX":
        return 4
    if parsed.shape == "POLYGON":
        return len(parsed.numbers) // 2
    return None


def _definition(column: exp.Column) -> exp.Expr | None:
    """The select item, in a subquery or WITH query around ``column``, it reads."""
    qualifier = column.table.lower()
    name = column.name.lower()
    node = column.parent
    while node is not None:
        if isinstance(node, exp.Select):
            for source in _sources(node):
                if qualifier and source.alias_or_name.lower() != qualifier:
                    continue
                inner = _inner_select(source)
                if inner is None:
                    continue
                for item in inner.expressions:
                    if item.alias_or_name.lower() == name:
                        value: exp.Expr = item.this if isinstance(item, exp.Alias) else item
                        return value
        node = node.parent
    return None


def _sources(select: exp.Select) -> list[exp.Expr]:
    sources = []
    start = select.args.get("from_")
    if isinstance(start, exp.From):
        sources.append(start.this)
    sources += [join.this for join in select.args.get("joins") or []]
    return sources


def _inner_select(source: exp.Expr) -> exp.Select | None:
    """The query a FROM item reads: a subquery's, or the WITH query a table name names."""
    if isinstance(source, exp.Subquery):
        inner = source.this
        while isinstance(inner, exp.Subquery):
            inner = inner.this
        return inner if isinstance(inner, exp.Select) else None
    if not isinstance(source, exp.Table) or source.db:
        return None
    node: exp.Expr | None = source
    while node is not None:
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                if cte.alias_or_name.lower() == source.name.lower() and isinstance(
                    cte.this, exp.Select
                ):
                    return cte.this
        node = node.parent
    return None
