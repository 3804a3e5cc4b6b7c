"""What an ADQL query may contain, and what each name in it refers to.

Two passes over the parsed tree:

1. :func:`check_structure`: the statement is a query (SELECT, a set operation of
   SELECTs, WITH) and every node in it is part of ADQL 2.1: an allow-list of sqlglot node
   types, each with the arguments it may carry, and of functions by name and number of
   arguments. Anything else (DDL, DML, PRAGMA, window functions, DuckDB extensions such
   as ``EXCLUDE`` or ``FROM``-first, table functions such as ``read_csv``) is refused
   with its position.
2. :func:`resolve`: every table is a catalogue table (or a WITH query, or a named
   subquery), every column exists where it is looked for, and the select list becomes
   explicit: ``*`` is expanded, every output column gets a unique name, and where an
   output column is a catalogue column its metadata is traced. Catalogue column
   references are marked (:data:`REF_KEY`) for the geometry rewrite.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from sqlglot import exp

from ...vo.columns import ColumnInfo
from .dialect import RESERVED_ALIASES
from .errors import AdqlError, error_at
from .tap_schema import CatalogMetadata, TableInfo

#: The meta key under which a resolved catalogue column reference is recorded.
REF_KEY = "adql_ref"

# -- pass 1: structure ------------------------------------------------------------------

_QUERY_ARGS = frozenset({"with_", "order", "limit", "offset"})
_BINARY = frozenset({"this", "expression"})

#: Node types allowed in an ADQL query, with the arguments each may carry.
_ALLOWED_ARGS: dict[type[exp.Expr], frozenset[str]] = {
    exp.Select: _QUERY_ARGS
    | {"expressions", "distinct", "from_", "joins", "where", "group", "having"},
    exp.Union: _QUERY_ARGS | {"this", "expression", "distinct"},
    exp.Except: _QUERY_ARGS | {"this", "expression", "distinct"},
    exp.Intersect: _QUERY_ARGS | {"this", "expression", "distinct"},
    exp.Subquery: _QUERY_ARGS | {"this", "alias"},
    exp.With: frozenset({"expressions"}),
    exp.CTE: frozenset({"this", "alias"}),
    exp.From: frozenset({"this"}),
    exp.Join: frozenset({"this", "on", "side", "kind", "using", "method"}),
    exp.Table: frozenset({"this", "db", "catalog", "alias"}),
    exp.TableAlias: frozenset({"this"}),
    exp.Column: frozenset({"this", "table", "db", "catalog"}),
    exp.Identifier: frozenset({"this", "quoted"}),
    exp.Alias: frozenset({"this", "alias"}),
    exp.Star: frozenset(),
    exp.Distinct: frozenset({"expressions"}),
    exp.Where: frozenset({"this"}),
    exp.Having: frozenset({"this"}),
    exp.Group: frozenset({"expressions"}),
    exp.Order: frozenset({"expressions"}),
    exp.Ordered: frozenset({"this", "desc", "nulls_first"}),
    exp.Limit: frozenset({"expression"}),
    exp.Offset: frozenset({"expression"}),
    exp.Literal: frozenset({"this", "is_string"}),
    exp.HexString: frozenset({"this", "is_integer"}),
    exp.Null: frozenset(),
    exp.Paren: frozenset({"this"}),
    exp.Neg: frozenset({"this"}),
    exp.Not: frozenset({"this"}),
    exp.And: _BINARY,
    exp.Or: _BINARY,
    exp.EQ: _BINARY,
    exp.NEQ: _BINARY,
    exp.GT: _BINARY,
    exp.GTE: _BINARY,
    exp.LT: _BINARY,
    exp.LTE: _BINARY,
    exp.Add: _BINARY,
    exp.Sub: _BINARY,
    exp.Mul: _BINARY,
    exp.Div: _BINARY | {"typed", "safe"},
    exp.Mod: _BINARY,  # MOD(a, b); sqlglot also reads a % b so
    exp.DPipe: _BINARY | {"safe"},
    exp.BitwiseAnd: _BINARY,
    exp.BitwiseOr: _BINARY,
    exp.BitwiseXor: _BINARY | {"padside"},
    exp.BitwiseNot: frozenset({"this"}),
    exp.Like: _BINARY | {"negate"},
    exp.ILike: _BINARY | {"negate"},
    exp.Escape: _BINARY,
    exp.Is: _BINARY | {"negate"},
    exp.In: frozenset({"this", "expressions", "query"}),
    exp.Between: frozenset({"this", "low", "high"}),
    exp.Exists: frozenset({"this"}),
    exp.Case: frozenset({"this", "ifs", "default"}),
    exp.If: frozenset({"this", "true"}),
    exp.Cast: frozenset({"this", "to"}),
    exp.DataType: frozenset({"this", "expressions", "nested"}),
    exp.DataTypeParam: frozenset({"this"}),
}

#: ADQL 2.1 functions sqlglot parses into a node type of their own:
#: (ADQL name, least and most number of arguments).
_FUNCTIONS: dict[type[exp.Expr], tuple[str, int, int]] = {
    exp.Abs: ("ABS", 1, 1),
    exp.Ceil: ("CEILING", 1, 1),
    exp.Degrees: ("DEGREES", 1, 1),
    exp.Exp: ("EXP", 1, 1),
    exp.Floor: ("FLOOR", 1, 1),
    exp.Ln: ("LOG", 1, 1),
    exp.Log: ("LOG10", 1, 1),
    exp.Mod: ("MOD", 2, 2),
    exp.Pi: ("PI", 0, 0),
    exp.Pow: ("POWER", 2, 2),
    exp.Radians: ("RADIANS", 1, 1),
    exp.Sqrt: ("SQRT", 1, 1),
    exp.Rand: ("RAND", 0, 0),
    exp.Round: ("ROUND", 1, 2),
    exp.Trunc: ("TRUNCATE", 1, 2),
    exp.Acos: ("ACOS", 1, 1),
    exp.Asin: ("ASIN", 1, 1),
    exp.Atan: ("ATAN", 1, 1),
    exp.Atan2: ("ATAN2", 2, 2),
    exp.Cos: ("COS", 1, 1),
    exp.Cot: ("COT", 1, 1),
    exp.Sin: ("SIN", 1, 1),
    exp.Tan: ("TAN", 1, 1),
    exp.Lower: ("LOWER", 1, 1),
    exp.Upper: ("UPPER", 1, 1),
    exp.Coalesce: ("COALESCE", 1, 255),
    exp.Count: ("COUNT", 1, 1),
    exp.Sum: ("SUM", 1, 1),
    exp.Avg: ("AVG", 1, 1),
    exp.Min: ("MIN", 1, 1),
    exp.Max: ("MAX", 1, 1),
    exp.Contains: ("CONTAINS", 2, 2),
}

#: ADQL 2.1 geometry functions (parsed as plain function calls; the rewrite checks their
#: arguments).
GEOMETRY_FUNCTIONS = frozenset(
    {
        "POINT",
        "CIRCLE",
        "BOX",
        "POLYGON",
        "CONTAINS",
        "INTERSECTS",
        "DISTANCE",
        "COORD1",
        "COORD2",
        "AREA",
        "COORDSYS",
        "CENTROID",
        "REGION",
        "IN_UNIT",
    }
)
_CAST_TYPES = {
    exp.DataType.Type.SMALLINT: "SMALLINT",
    exp.DataType.Type.INT: "INTEGER",
    exp.DataType.Type.BIGINT: "BIGINT",
    exp.DataType.Type.FLOAT: "REAL",
    exp.DataType.Type.DOUBLE: "DOUBLE PRECISION",
    exp.DataType.Type.CHAR: "CHAR",
    exp.DataType.Type.VARCHAR: "VARCHAR",
    exp.DataType.Type.TIMESTAMP: "TIMESTAMP",
}
_STATEMENTS = {
    "create": "CREATE",
    "insert": "INSERT",
    "update": "UPDATE",
    "delete": "DELETE",
    "drop": "DROP",
    "alter": "ALTER",
    "merge": "MERGE",
    "pragma": "PRAGMA",
    "set": "SET",
    "copy": "COPY",
    "use": "USE",
    "describe": "DESCRIBE",
    "attach": "ATTACH",
    "detach": "DETACH",
    "install": "INSTALL",
    "load": "LOAD",
    "command": "a command",
    "transaction": "a transaction",
    "commit": "COMMIT",
    "rollback": "ROLLBACK",
}
_DESCRIPTIONS: dict[type[exp.Expr], str] = {
    exp.Window: "window functions (OVER ...)",
    exp.Tuple: "row values (a, b, ...)",
    exp.Boolean: "TRUE and FALSE literals (ADQL has none; compare with 1 = 1)",
    exp.Placeholder: "parameter placeholders",
    exp.Parameter: "parameters",
    exp.Bracket: "array subscripts",
    exp.Array: "array literals",
    exp.Struct: "struct literals",
    exp.Lambda: "lambda functions",
    exp.Dot: "field access",
    exp.Values: "VALUES lists",
    exp.Lateral: "LATERAL",
    exp.Unnest: "UNNEST",
    exp.Qualify: "QUALIFY",
    exp.IntDiv: "the // operator",
}


def check_structure(tree: exp.Expr) -> None:
    """Refuse anything in ``tree`` that is not a query built from ADQL 2.1 parts."""
    _check_statement(tree)
    for node in tree.walk():
        _check_node(node)


def _check_statement(tree: exp.Expr) -> None:
    if isinstance(tree, exp.Select) and tree.args.get("into") is not None:
        raise error_at(
            tree.args["into"], "SELECT ... INTO creates a table; only queries are allowed"
        )
    if isinstance(tree, exp.Select | exp.SetOperation):
        return
    if isinstance(tree, exp.Subquery):
        _check_statement(tree.this)
        return
    kind = _STATEMENTS.get(tree.key, tree.key.upper())
    if isinstance(tree, exp.Command):
        kind = str(tree.this).upper()
    raise error_at(tree, f"only queries (SELECT) are allowed; this is {kind}")


def _check_node(node: exp.Expr) -> None:
    node_type = type(node)
    allowed = _ALLOWED_ARGS.get(node_type)
    if allowed is None:
        if isinstance(node, exp.Func):
            _check_function(node)
            return
        what = _DESCRIPTIONS.get(node_type)
        if what is None:
            snippet = node.sql()
            what = f"{node.key.upper()} ({snippet[:40]})" if snippet else node.key.upper()
        raise error_at(node, f"{what} is not part of ADQL")
    for name, value in node.args.items():
        if name not in allowed and value not in (None, False, []):
            raise error_at(node, f"{_describe_arg(node, name)} is not part of ADQL")
    _check_details(node)


def _describe_arg(node: exp.Expr, name: str) -> str:
    special: dict[tuple[type[exp.Expr], str], str] = {
        (exp.Select, "qualify"): "QUALIFY",
        (exp.Select, "laterals"): "LATERAL",
        (exp.Select, "windows"): "WINDOW",
        (exp.Star, "except_"): "SELECT * EXCLUDE/EXCEPT",
        (exp.Star, "replace"): "SELECT * REPLACE",
        (exp.Distinct, "on"): "DISTINCT ON",
        (exp.Group, "all"): "GROUP BY ALL",
        (exp.Group, "rollup"): "GROUP BY ROLLUP",
        (exp.Group, "cube"): "GROUP BY CUBE",
        (exp.Group, "grouping_sets"): "GROUPING SETS",
        (exp.TableAlias, "columns"): "column names in a table alias",
        (exp.With, "recursive"): "WITH RECURSIVE",
        (exp.Limit, "offset"): "LIMIT ... OFFSET",
    }
    return special.get((type(node), name), f"{name.strip('_').upper()} in {node.key.upper()}")


def _check_details(node: exp.Expr) -> None:
    if isinstance(node, exp.Select) and node.args.get("from_") is None:
        raise error_at(node, "an ADQL query reads from a table: the FROM clause is missing")
    if isinstance(node, exp.Limit) and not node.meta.get("top"):
        raise error_at(node, "LIMIT is not ADQL; use SELECT TOP n")
    if isinstance(node, exp.Limit | exp.Offset):
        value = node.args.get("expression")
        if not (isinstance(value, exp.Literal) and value.is_int and int(value.name) >= 0):
            what = "TOP" if isinstance(node, exp.Limit) else "OFFSET"
            raise error_at(node, f"{what} takes a non-negative integer")
    elif isinstance(node, exp.Join):
        _check_join(node)
    elif isinstance(node, exp.DataType) and node.this not in _CAST_TYPES:
        # sqlglot keeps no position for a type name: point into the CAST instead.
        raise error_at(
            node.parent or node,
            f"CAST to {node.sql()} is not allowed; ADQL allows "
            f"{', '.join(sorted(set(_CAST_TYPES.values())))}",
        )
    elif isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null):
        raise error_at(node, "IS may only be followed by NULL or NOT NULL")
    elif isinstance(node, exp.Identifier) and not node.quoted:
        parent = node.parent
        if isinstance(parent, exp.TableAlias | exp.Alias) and node.name.upper() in (
            RESERVED_ALIASES
        ):
            raise error_at(node, f"{node.name} is a reserved word; quote it to use it as a name")
    elif isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
        raise error_at(
            node,
            "only catalogue tables and subqueries can be read in FROM; "
            f"{node.this.sql()} is not a table",
        )


def _check_join(join: exp.Join) -> None:
    side = (join.side or "").upper()
    kind = (join.kind or "").upper()
    method = (join.method or "").upper()
    if side not in ("", "LEFT", "RIGHT", "FULL") or kind not in ("", "INNER", "OUTER", "CROSS"):
        raise error_at(join, f"{' '.join(filter(None, (side, kind)))} JOIN is not part of ADQL")
    if method not in ("", "NATURAL"):
        raise error_at(join, f"{method} JOIN is not part of ADQL")


def _check_function(node: exp.Func) -> None:
    arguments = function_arguments(node)
    if isinstance(node, exp.Anonymous):
        name = node.name.upper()
        if name in GEOMETRY_FUNCTIONS:
            return
        raise error_at(node, f"unknown function {node.name}; {_allowed_functions()}")
    known = _FUNCTIONS.get(type(node))
    if known is None:
        raise error_at(node, f"{node.sql_name()} is not an ADQL function; {_allowed_functions()}")
    name, least, most = known
    if isinstance(node, exp.Log):  # LOG10(x) arrives as LOG(10, x)
        if not (isinstance(node.this, exp.Literal) and node.this.name == "10"):
            raise error_at(
                node, "LOG takes one argument (the natural logarithm); use LOG10 for base 10"
            )
        if node.expression is None:
            raise error_at(node, "LOG10 takes 1 argument, not 0")
        return
    if isinstance(node, exp.Rand) and arguments:
        raise error_at(node, "RAND with a seed is not supported")
    if not least <= len(arguments) <= most:
        wanted = f"{least}" if least == most else f"{least} to {most}"
        raise error_at(node, f"{name} takes {wanted} argument(s), not {len(arguments)}")


def function_arguments(node: exp.Func) -> list[exp.Expr]:
    """The argument expressions of a function call, in order."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    arguments: list[exp.Expr] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, exp.Expr):
            arguments.append(value)
        elif isinstance(value, list):
            arguments.extend(v for v in value if isinstance(v, exp.Expr))
    return arguments


def _allowed_functions() -> str:
    names = sorted({name for name, _, _ in _FUNCTIONS.values()} | GEOMETRY_FUNCTIONS)
    return "ADQL functions are " + ", ".join(names)


# -- pass 2: names ------------------------------------------------------------------------


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
class _Output:
    name: str
    info: ColumnInfo | None


@dataclass
class _Source:
    label: str
    alias: exp.Identifier | None
    table: TableInfo | None
    columns: list[_Output]
    qualifier: tuple[tuple[str, bool], ...]
    merged: set[str] = field(default_factory=set)


@dataclass
class _Scope:
    sources: list[_Source] = field(default_factory=list)
    parent: _Scope | None = None
    ctes: dict[str, list[_Output]] = field(default_factory=dict)
    outputs: list[_Output] = field(default_factory=list)

    def cte(self, name: str) -> list[_Output] | None:
        scope: _Scope | None = self
        while scope is not None:
            if name.lower() in scope.ctes:
                return scope.ctes[name.lower()]
            scope = scope.parent
        return None


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
    outputs = resolver.query(tree, _Scope())
    return Resolution(
        tables=tuple(sorted(resolver.tables)),
        columns=tuple(_output_info(o) for o in outputs),
    )


def _output_info(output: _Output) -> ColumnInfo:
    if output.info is None:
        return ColumnInfo(name=output.name, datatype="")
    return replace(output.info, name=output.name)


def _same(identifier: exp.Identifier, name: str) -> bool:
    """Whether an identifier names ``name``: quoted ones exactly, others in any case."""
    if identifier.quoted:
        return str(identifier.this) == name
    return str(identifier.this).lower() == name.lower()


def _suggest(name: str, candidates: Iterable[str]) -> str:
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3)
    return f"; did you mean {' or '.join(repr(by_lower[c]) for c in close)}?" if close else ""


class _Resolver:
    def __init__(self, metadata: CatalogMetadata) -> None:
        self.metadata = metadata
        self.tables: set[str] = set()

    # -- queries

    def query(self, node: exp.Expr, parent: _Scope) -> list[_Output]:
        scope = _Scope(parent=parent)
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
            self.expressions(
                order.expressions, _Scope(parent=parent, outputs=outputs), aliases=True
            )
        return outputs

    def select(self, select: exp.Select, scope: _Scope) -> list[_Output]:
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

    def source(self, node: exp.Expr, scope: _Scope) -> _Source:
        if isinstance(node, exp.Subquery):
            alias = node.args.get("alias")
            if alias is None or alias.this is None:
                raise error_at(node, "a subquery in FROM needs a name: (SELECT ...) AS name")
            outputs = self.query(node.this, _Scope(parent=scope.parent, ctes=scope.ctes))
            identifier = alias.this
            return _Source(
                label=f"{identifier.name} (a subquery)",
                alias=identifier,
                table=None,
                columns=[_Output(o.name, o.info) for o in outputs],
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
                return _Source(
                    label=f"{reference.name} (a WITH query)",
                    alias=reference,
                    table=None,
                    columns=[_Output(o.name, o.info) for o in cte],
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
        return _Source(
            label=label,
            alias=alias,
            table=table,
            columns=[_Output(c.name, c) for c in table.columns],
            qualifier=qualifier,
        )

    def catalogue_table(
        self, node: exp.Table, name: exp.Identifier, db: exp.Identifier | None
    ) -> TableInfo:
        tables = list(self.metadata.tables.values())
        if db is not None:
            found = [t for t in tables if _same(db, t.schema_name) and _same(name, t.table_name)]
            wanted = f"{db.name}.{name.name}"
        else:
            found = [t for t in tables if _same(name, t.table_name)]
            wanted = name.name
            if len(found) > 1:
                raise error_at(
                    node,
                    f"the table name {wanted!r} is ambiguous; qualify it: "
                    + ", ".join(t.name for t in found),
                )
        if not found:
            if db is not None and not any(_same(db, t.schema_name) for t in tables):
                schemas = sorted({t.schema_name for t in tables})
                raise error_at(
                    db, f"no schema {db.name!r} in this catalogue" + _suggest(db.name, schemas)
                )
            raise error_at(
                node,
                f"no table {wanted!r} in this catalogue"
                + _suggest(wanted, [t.name for t in tables]),
            )
        return found[0]

    def merge_join_columns(self, join: exp.Join, source: _Source, scope: _Scope) -> None:
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

    def select_list(self, select: exp.Select, scope: _Scope) -> list[_Output]:
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
            items.append((value, name, info if info else _computed(value)))
        used: set[str] = set()
        outputs: list[_Output] = []
        expressions: list[exp.Expr] = []
        for value, name, info in items:
            unique = _unique(name or _default_name(value), used)
            expressions.append(
                exp.alias_(value, exp.Identifier(this=unique, quoted=True), copy=False)
            )
            outputs.append(_Output(unique, info))
        select.set("expressions", expressions)
        return outputs

    def star(
        self, source: _Source, *, skip_merged: bool
    ) -> list[tuple[exp.Expr, str | None, ColumnInfo | None]]:
        items: list[tuple[exp.Expr, str | None, ColumnInfo | None]] = []
        for output in source.columns:
            if skip_merged and output.name.lower() in source.merged:
                continue
            column = _qualified_column(source, output.name)
            if source.table is not None:
                column.meta[REF_KEY] = ColumnRef(source.qualifier, source.table.name, output.name)
            items.append((column, output.name, output.info))
        return items

    def qualified_source(self, column: exp.Column, scope: _Scope) -> _Source:
        matches = [s for s in scope.sources if _qualifier_matches(column, s)]
        if not matches:
            labels = ", ".join(s.label for s in scope.sources) or "nothing"
            raise error_at(
                column,
                f"no table or alias {_qualifier_text(column)!r} in this "
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

    def expressions(self, nodes: Sequence[exp.Expr], scope: _Scope, *, aliases: bool) -> None:
        for node in nodes:
            self.expression(node, scope, aliases=aliases)

    def expression(self, node: exp.Expr, scope: _Scope, *, aliases: bool) -> None:
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

    def column(self, column: exp.Column, scope: _Scope, *, aliases: bool) -> None:
        identifier: exp.Identifier = column.this
        qualified = bool(_qualifier_text(column))
        looked_in: list[_Source] = []
        current: _Scope | None = scope
        while current is not None:
            sources = (
                [s for s in current.sources if _qualifier_matches(column, s)]
                if qualified
                else current.sources
            )
            found = [(s, o) for s in sources for o in s.columns if _same(identifier, o.name)]
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
                and any(_same(identifier, o.name) for o in scope.outputs)
            ):
                return
            current = current.parent
        if qualified and not looked_in:
            self.qualified_source(column, scope)  # raises: no such table or alias
        raise self.unknown_column(column, looked_in, scope if aliases else None)

    def merged(self, found: list[tuple[_Source, _Output]]) -> list[tuple[_Source, _Output]]:
        """Drop the copies a USING or NATURAL join merged into an earlier column."""
        kept = [(s, o) for s, o in found if o.name.lower() not in s.merged]
        return kept or found[:1]

    def mark(self, column: exp.Column, source: _Source, output: _Output) -> None:
        column.meta["adql_name"] = output.name
        if output.info is not None:
            column.meta["adql_info"] = output.info
        if source.table is not None:
            column.meta[REF_KEY] = ColumnRef(source.qualifier, source.table.name, output.name)

    def unknown_column(
        self, column: exp.Column, sources: list[_Source], scope: _Scope | None
    ) -> AdqlError:
        name = column.this.name
        if not sources:
            if scope is not None and scope.outputs:
                candidates = [o.name for o in scope.outputs]
                return error_at(
                    column, f"no column {name!r} in the select list" + _suggest(name, candidates)
                )
            return error_at(column, f"no column {name!r}: the query reads no table here")
        labels = ", ".join(dict.fromkeys(s.label for s in sources))
        candidates = [o.name for s in sources for o in s.columns]
        if scope is not None:
            candidates += [o.name for o in scope.outputs]
        return error_at(column, f"no column {name!r} in {labels}" + _suggest(name, candidates))


def _qualifier_text(column: exp.Column) -> str:
    return ".".join(
        part.name for part in (column.args.get("db"), column.args.get("table")) if part is not None
    )


def _qualifier_matches(column: exp.Column, source: _Source) -> bool:
    table = column.args.get("table")
    db = column.args.get("db")
    if table is None:
        return True
    if source.alias is not None:
        return db is None and _same(table, source.alias.name)
    if source.table is None:  # pragma: no cover - every other source has an alias
        return False
    return _same(table, source.table.table_name) and (
        db is None or _same(db, source.table.schema_name)
    )


def _qualified_column(source: _Source, name: str) -> exp.Column:
    parts = [exp.Identifier(this=text, quoted=quoted) for text, quoted in source.qualifier]
    return exp.Column(
        this=exp.Identifier(this=name, quoted=True),
        table=parts[-1],
        db=parts[0] if len(parts) == 2 else None,
    )


def _unique(name: str, used: set[str]) -> str:
    candidate, number = name, 1
    while candidate.lower() in used:
        number += 1
        candidate = f"{name}_{number}"
    used.add(candidate.lower())
    return candidate


def _default_name(value: exp.Expr) -> str:
    while isinstance(value, exp.Paren):
        value = value.this
    if isinstance(value, exp.Anonymous):
        return value.name.lower()
    if isinstance(value, exp.Func):
        known = _FUNCTIONS.get(type(value))
        return (known[0] if known else value.sql_name()).lower()
    return "expr"


#: What the result of a geometry or aggregate function is, where it is known statically.
_COMPUTED: dict[str, dict[str, str]] = {
    "DISTANCE": {"datatype": "double", "unit": "deg", "ucd": "pos.angDistance"},
    "COORD1": {"datatype": "double", "unit": "deg", "ucd": "pos.eq.ra"},
    "COORD2": {"datatype": "double", "unit": "deg", "ucd": "pos.eq.dec"},
    "AREA": {"datatype": "double", "unit": "deg**2", "ucd": "phys.angArea"},
    "POINT": {"datatype": "double", "arraysize": "2", "unit": "deg", "xtype": "point"},
    "CIRCLE": {"datatype": "double", "arraysize": "3", "unit": "deg", "xtype": "circle"},
    "POLYGON": {"datatype": "double", "arraysize": "*", "unit": "deg", "xtype": "polygon"},
    "BOX": {"datatype": "double", "arraysize": "*", "unit": "deg", "xtype": "polygon"},
    "CENTROID": {"datatype": "double", "arraysize": "2", "unit": "deg", "xtype": "point"},
    "CONTAINS": {"datatype": "int"},
    "INTERSECTS": {"datatype": "int"},
    "COUNT": {"datatype": "long", "ucd": "meta.number"},
}


def _computed(value: exp.Expr) -> ColumnInfo | None:
    """Static metadata of a computed select item; the datatype may be left to DuckDB ("")."""
    while isinstance(value, exp.Paren):
        value = value.this
    if isinstance(value, exp.Anonymous) and value.name.upper() in ("IN_UNIT", "REGION"):
        return _computed_call(value)
    if isinstance(value, exp.Anonymous):
        known = _COMPUTED.get(value.name.upper())
    elif isinstance(value, exp.Contains | exp.Count):
        known = _COMPUTED.get(value.key.upper())
    elif isinstance(value, exp.Min | exp.Max | exp.Avg) and isinstance(value.this, exp.Column):
        info = value.this.meta.get("adql_info")
        if info is None:
            return None
        return ColumnInfo(name="", datatype="", unit=info.unit)
    else:
        known = None
    if known is None:
        return None
    return ColumnInfo(name="", **known)


def _computed_call(value: exp.Anonymous) -> ColumnInfo | None:
    """IN_UNIT's result has the unit asked for (and the column's UCD); REGION's the
    xtype of its shape."""
    arguments = value.expressions
    text = arguments[-1] if arguments else None
    if not (isinstance(text, exp.Literal) and text.is_string):
        return None
    if value.name.upper() == "IN_UNIT":
        inner = arguments[0].meta.get("adql_info") if arguments else None
        return ColumnInfo(name="", datatype="", unit=text.name, ucd=getattr(inner, "ucd", None))
    shape = (text.name.split() or [""])[0].upper()
    kind = {"POSITION": "POINT", "CIRCLE": "CIRCLE", "BOX": "BOX", "POLYGON": "POLYGON"}
    known = _COMPUTED.get(kind.get(shape, ""))
    return ColumnInfo(name="", **known) if known else None
