"""ADQL ``IN_UNIT(value, 'unit')``: a value converted from the unit the catalogue gives it."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from .errors import error_at
from .shapes import function_arguments, function_name
from .sql_terms import group, number, op
from .units import conversion_factor


def in_unit(
    arguments: list[exp.Expr], node: exp.Expr, rewrite: Callable[[exp.Expr], exp.Expr]
) -> exp.Expr:
    """``IN_UNIT(value, 'unit')``: the value (rewritten by ``rewrite``) times the factor
    from its own unit."""
    if len(arguments) != 2 or not (
        isinstance(arguments[1], exp.Literal) and arguments[1].is_string
    ):
        raise error_at(node, "IN_UNIT takes a value and a unit as a string: IN_UNIT(x, 'deg')")
    source = unit_of(arguments[0])
    if not source:
        raise error_at(
            arguments[0],
            f"IN_UNIT: the unit of {arguments[0].sql()} is not known; convert a column "
            "whose unit the catalogue gives",
        )
    try:
        factor = conversion_factor(source, arguments[1].name)
    except ValueError as exc:
        raise error_at(node, str(exc)) from None
    return op(exp.Mul, group(rewrite(arguments[0])), number(factor))


def unit_of(node: exp.Expr) -> str | None:
    """The unit of a column (from the catalogue), or of an IN_UNIT call, else None."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column):
        unit = getattr(node.meta.get("adql_info"), "unit", None)
        return str(unit) if unit else None
    if function_name(node) == "IN_UNIT":
        arguments = function_arguments(node)
        if len(arguments) == 2 and isinstance(arguments[1], exp.Literal):
            return str(arguments[1].name)
    return None
