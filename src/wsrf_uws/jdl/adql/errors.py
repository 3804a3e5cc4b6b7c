"""The error a refused ADQL query raises, with where in the query text the problem is.

Every stage of the translation (parsing, checking, name resolution, the geometry rewrite)
raises :class:`AdqlError`; the contract turns it into an ``InvalidJobDescriptionFault``
carrying the line, the column and the reason.
"""

from __future__ import annotations

from sqlglot import exp


class AdqlError(Exception):
    """An ADQL query the service refuses, and why.

    ``line`` and ``column`` are 1-based and point at the start of the offending part of
    the query text; both are ``None`` when no single place is to blame (an empty query,
    a type error DuckDB reports).
    """

    def __init__(self, reason: str, *, line: int | None = None, column: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line is None:
            return self.reason
        if self.column is None:
            return f"line {self.line}: {self.reason}"
        return f"line {self.line}, column {self.column}: {self.reason}"


def node_position(node: exp.Expr) -> tuple[int | None, int | None]:
    """The 1-based line and column where ``node``'s text starts, where the parser kept it.

    sqlglot records positions on tokens (identifiers, literals, function names), not on
    every node, so the leftmost position found in the node's subtree is used.
    """
    best: tuple[int, int, int] | None = None  # (offset, line, column)
    for candidate in node.walk():
        meta = candidate._meta  # a dict only where the parser recorded something
        if not meta or "start" not in meta or "line" not in meta:
            continue
        start, end, line, col = meta["start"], meta["end"], meta["line"], meta["col"]
        # sqlglot's "col" is the 1-based column of the token's last character.
        column = max(1, col - (end - start))
        if best is None or start < best[0]:
            best = (start, line, column)
    if best is None:
        return None, None
    return best[1], best[2]


def error_at(node: exp.Expr, reason: str) -> AdqlError:
    """An :class:`AdqlError` pointing at ``node``."""
    line, column = node_position(node)
    return AdqlError(reason, line=line, column=column)
