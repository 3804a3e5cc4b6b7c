"""What an ADQL query may contain, and what each name in it refers to.

Two passes over the parsed tree:

1. :func:`check_structure`: the statement is a query (SELECT, a set operation of
   SELECTs, WITH) and every node in it is part of ADQL 2.1: an allow-list of sqlglot node
   types, each with the arguments it may carry, and of functions by name and number of
   arguments. Anything else (DDL, DML, PRAGMA, window functions, DuckDB extensions such
   as ``EXCLUDE`` or ``FROM``-first, table functions such as ``read_csv``) is refused
   with its position. The allow-list is :mod:`.allow_list`.
2. :func:`resolve`: every table is a catalogue table (or a WITH query, or a named
   subquery), every column exists where it is looked for, and the select list becomes
   explicit: ``*`` is expanded, every output column gets a unique name, and where an
   output column is a catalogue column its metadata is traced. Catalogue column
   references are marked (:data:`REF_KEY`) for the geometry rewrite (:mod:`.resolution`).
"""

from __future__ import annotations

from sqlglot import exp

from .allow_list import (
    ALLOWED_ARGS,
    CAST_TYPES,
    DESCRIPTIONS,
    FUNCTIONS,
    GEOMETRY_FUNCTIONS,
    STATEMENTS,
)
from .dialect import RESERVED_ALIASES
from .errors import error_at
from .name_scopes import REF_KEY, ColumnRef
from .resolution import Resolution, resolve

__all__ = [
    "GEOMETRY_FUNCTIONS",
    "REF_KEY",
    "ColumnRef",
    "Resolution",
    "check_structure",
    "function_arguments",
    "resolve",
]


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
    kind = STATEMENTS.get(tree.key, tree.key.upper())
    if isinstance(tree, exp.Command):
        kind = str(tree.this).upper()
    raise error_at(tree, f"only queries (SELECT) are allowed; this is {kind}")


def _check_node(node: exp.Expr) -> None:
    node_type = type(node)
    allowed = ALLOWED_ARGS.get(node_type)
    if allowed is None:
        if isinstance(node, exp.Func):
            _check_function(node)
            return
        what = DESCRIPTIONS.get(node_type)
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
    elif isinstance(node, exp.DataType) and node.this not in CAST_TYPES:
        # sqlglot keeps no position for a type name: point into the CAST instead.
        raise error_at(
            node.parent or node,
            f"CAST to {node.sql()} is not allowed; ADQL allows "
            f"{', '.join(sorted(set(CAST_TYPES.values())))}",
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
    known = FUNCTIONS.get(type(node))
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
    names = sorted({name for name, _, _ in FUNCTIONS.values()} | GEOMETRY_FUNCTIONS)
    return "ADQL functions are " + ", ".join(names)
