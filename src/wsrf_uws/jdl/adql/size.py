"""How large a query the service reads: bounds checked before the parser sees the text.

The query is parsed at createJob, in the service process, so its cost must not depend on
what a caller sends. sqlglot's parser and the passes over its tree are recursive, and
their time and memory grow with the number of tokens: an ``IN`` list of 150,000
literals took 13 s and 400 MB, a ``CASE`` of 20,000 branches 14 s, and a few hundred
nested parentheses exhausted Python's stack. So the text is measured first, cheaply:
its length in characters (before tokenizing), then its tokens and how deep parentheses
and ``CASE`` nest (one pass over the tokens, before parsing). Each bound refuses the
query with an :class:`~.errors.AdqlError` pointing at where the bound was crossed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.tokenizer_core import Token, TokenType

from .errors import AdqlError

__all__ = ["TOO_DEEP", "QuerySize", "check_length", "check_tokens", "token_position"]

#: Why a query that ran out of Python's stack is refused. Parentheses and CASE are
#: bounded before parsing; what remains are long chains, each link one level deeper.
TOO_DEEP = (
    "the query nests too deeply for this service: a long chain of AND, OR, NOT, signs or "
    "arithmetic operators counts as nesting; write long lists of values as IN (...)"
)

_OPENS = frozenset({TokenType.L_PAREN, TokenType.CASE})
_CLOSES = frozenset({TokenType.R_PAREN, TokenType.END})


@dataclass(frozen=True)
class QuerySize:
    """The largest query text the service parses (from ``[adql]`` settings).

    ``max_depth`` counts parentheses (subqueries, function calls, grouped expressions) and
    ``CASE`` expressions open at once; the parser needs some twenty stack frames per
    level, so it must stay well below Python's recursion limit.
    """

    max_chars: int = 65536
    max_tokens: int = 10_000
    max_depth: int = 20


def check_length(text: str, size: QuerySize) -> None:
    """Refuse a text longer than ``size.max_chars``, before anything reads it."""
    if len(text) > size.max_chars:
        raise AdqlError(
            f"the query is {len(text)} characters long; this service reads queries of at "
            f"most {size.max_chars} characters: shorten long lists of values or split the query"
        )


def check_tokens(tokens: list[Token], size: QuerySize) -> None:
    """Refuse more than ``size.max_tokens`` tokens, or nesting deeper than ``size.max_depth``."""
    if len(tokens) > size.max_tokens:
        line, column = token_position(tokens[size.max_tokens])
        raise AdqlError(
            f"the query has {len(tokens)} tokens (names, numbers, strings, operators); this "
            f"service reads at most {size.max_tokens}: shorten IN lists and CASE expressions, "
            "or split the query",
            line=line,
            column=column,
        )
    depth = 0
    for token in tokens:
        if token.token_type in _OPENS:
            depth += 1
            if depth > size.max_depth:
                line, column = token_position(token)
                raise AdqlError(
                    f"parentheses and CASE nest more than {size.max_depth} deep here; this "
                    f"service reads queries nested at most {size.max_depth} levels",
                    line=line,
                    column=column,
                )
        elif token.token_type in _CLOSES:
            depth = max(0, depth - 1)


def token_position(token: Token) -> tuple[int, int]:
    """The 1-based line and column where ``token`` starts (sqlglot records where it ends)."""
    return token.line, max(1, token.col - (token.end - token.start))
