"""ADQL 2.1 as sqlglot parses it: the node types a query may hold and the arguments each
may carry, the functions by name and number of arguments, the types CAST converts to; and
the words a refusal uses for what is left out (statements other than queries, window
functions, arrays...). The tables :func:`~.validation.check_structure` checks a query
against.
"""

from __future__ import annotations

from sqlglot import exp

_QUERY_ARGS = frozenset({"with_", "order", "limit", "offset"})
_BINARY = frozenset({"this", "expression"})

#: Node types allowed in an ADQL query, with the arguments each may carry.
ALLOWED_ARGS: dict[type[exp.Expr], frozenset[str]] = {
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
FUNCTIONS: dict[type[exp.Expr], tuple[str, int, int]] = {
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
#: The types CAST may convert to, with their ADQL names.
CAST_TYPES = {
    exp.DataType.Type.SMALLINT: "SMALLINT",
    exp.DataType.Type.INT: "INTEGER",
    exp.DataType.Type.BIGINT: "BIGINT",
    exp.DataType.Type.FLOAT: "REAL",
    exp.DataType.Type.DOUBLE: "DOUBLE PRECISION",
    exp.DataType.Type.CHAR: "CHAR",
    exp.DataType.Type.VARCHAR: "VARCHAR",
    exp.DataType.Type.TIMESTAMP: "TIMESTAMP",
}
#: What a statement that is not a query is called in a refusal.
STATEMENTS = {
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
#: What a node type outside ADQL is called in a refusal.
DESCRIPTIONS: dict[type[exp.Expr], str] = {
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
