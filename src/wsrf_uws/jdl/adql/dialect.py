"""The project's ADQL dialect for sqlglot, and parsing ADQL text into one query tree.

sqlglot (pinned to 30.x: this module depends on its dialect internals, and the tests in
``tests/jdl/adql`` pin the behaviour) has no ADQL dialect. ADQL 2.1 differs from its generic
SQL in a few places, set here:

- ``SELECT TOP n`` is a row limit (TSQL's ``TOP``), ``OFFSET n`` follows ``ORDER BY``;
- ``0x1F`` is an integer (ADQL 2.1 hexadecimal literal), not a binary string;
- ``LOG(x)`` is the natural logarithm (``LOG10`` the decimal one);
- ``||`` concatenates strings; ``&``, ``|``, ``^`` and ``~`` are the bitwise operators
  (sqlglot's defaults; DuckDB gets ``xor()`` for ``^``);
- ADQL does not say where NULLs sort; the dialect declares DuckDB's own order (NULLs
  last either way), so no ``NULLS FIRST/LAST`` clause is added to the generated SQL;
- geometry functions (``POINT``, ``CIRCLE``, ...) parse as ordinary function calls; the
  translation rewrites them.

sqlglot's parser is lenient (it accepts DuckDB's ``FROM t SELECT a``, ``SELECT a,, b``
and a reserved word as a bare alias), so :func:`parse_adql` adds token-level checks.
"""

from __future__ import annotations

import re

from sqlglot import exp, parser, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from .errors import AdqlError
from .size import TOO_DEEP, QuerySize, check_length, check_tokens, token_position


class ADQL(Dialect):
    """ADQL 2.1 as a sqlglot dialect (read only: the translation writes DuckDB SQL)."""

    NULL_ORDERING = "nulls_are_last"
    HEX_STRING_IS_INTEGER_TYPE = True

    class Tokenizer(tokens.Tokenizer):
        HEX_STRINGS = [("0x", ""), ("0X", "")]
        KEYWORDS = {**tokens.Tokenizer.KEYWORDS, "TOP": TokenType.TOP}

    class Parser(parser.Parser):
        LOG_DEFAULTS_TO_LN = True


#: Words that may not be used as a bare (unquoted) alias: sqlglot would otherwise take
#: ``FROM t ORDER`` as the table ``t`` aliased ``ORDER``.
RESERVED_ALIASES = frozenset(
    """ALL AND AS ASC BETWEEN BY CASE CROSS DESC DISTINCT ELSE END EXCEPT EXISTS FROM FULL
    GROUP HAVING ILIKE IN INNER INTERSECT IS JOIN LEFT LIKE LIMIT NATURAL NOT NULL OFFSET ON
    OR ORDER OUTER RIGHT SELECT THEN TOP UNION USING WHEN WHERE WITH""".split()  # noqa: SIM905
)

_STARTS = {TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN}
_CLASS_NAME = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")


def parse_adql(text: str, *, size: QuerySize | None = None) -> exp.Expr:
    """The single statement in ``text``, parsed with the ADQL dialect.

    Raises :class:`AdqlError` (with line and column) for a syntax error, for an empty
    text, for more than one statement, and for a text beyond ``size`` (by default
    :class:`QuerySize`'s bounds), which is measured before it is parsed. What the
    statement may *do* is checked later.
    """
    size = size or QuerySize()
    check_length(text, size)
    dialect = ADQL()
    try:
        token_list = dialect.tokenize(text)
    except TokenError:
        raise _unterminated(text) from None
    check_tokens(token_list, size)
    _check_tokens(token_list)
    try:
        # The tokens just checked, not a second tokenization of the text.
        statements = dialect.parser().parse(token_list, text)
    except ParseError as exc:
        raise _syntax_error(exc) from None
    except RecursionError:
        raise AdqlError(TOO_DEEP) from None
    except (SqlglotError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        # Input sqlglot's parser trips over rather than reports: the query is refused
        # like any other unparseable text, not answered with an internal error.
        raise AdqlError(f"the query cannot be parsed ({type(exc).__name__})") from None
    found = [s for s in statements if s is not None]
    if not found:  # pragma: no cover - _check_tokens refuses an empty token list first
        raise AdqlError("the query is empty")
    if len(found) > 1:  # pragma: no cover - _check_tokens finds the second statement first
        raise AdqlError("only one statement is allowed")
    return found[0]


def _check_tokens(token_list: list[Token]) -> None:
    if not token_list:
        raise AdqlError("the query is empty: ADQL expects SELECT ... FROM ...")
    first = token_list[0]
    if first.token_type not in _STARTS:
        raise _at(first, f"an ADQL query starts with SELECT (or WITH); found {first.text!r}")
    for index, token in enumerate(token_list):
        after = token_list[index + 1] if index + 1 < len(token_list) else None
        kind = token.token_type
        if kind is TokenType.SEMICOLON:
            if after is not None and after.token_type is not TokenType.SEMICOLON:
                raise _at(after, "only one statement is allowed; a second one starts here")
        elif kind is TokenType.COMMA:
            if after is None or after.token_type in (
                TokenType.COMMA,
                TokenType.R_PAREN,
                TokenType.FROM,
                TokenType.SEMICOLON,
            ):
                raise _at(token, "a list item is missing after this comma")
        elif (
            kind is TokenType.L_PAREN
            and after is not None
            and after.token_type is (TokenType.COMMA)
        ):
            raise _at(after, "a list item is missing before this comma")
        elif kind is TokenType.SELECT:
            _check_select_list(token_list, index)
        elif kind is TokenType.LIMIT:
            raise _at(token, "LIMIT is not ADQL; use SELECT TOP n")


def _check_select_list(token_list: list[Token], index: int) -> None:
    position = index + 1
    if position < len(token_list) and token_list[position].token_type in (
        TokenType.DISTINCT,
        TokenType.ALL,
    ):
        position += 1
    if position < len(token_list) and token_list[position].token_type is TokenType.TOP:
        position += 2
    if position >= len(token_list):
        raise _at(token_list[-1], "the select list is empty: name the columns to return")
    following = token_list[position]
    if following.token_type in (TokenType.FROM, TokenType.SEMICOLON):
        raise _at(following, "the select list is empty: name the columns to return")


def _at(token: Token, reason: str) -> AdqlError:
    line, column = token_position(token)
    return AdqlError(reason, line=line, column=column)


def _syntax_error(exc: ParseError) -> AdqlError:
    if not exc.errors:
        return AdqlError(f"syntax error: {exc}")
    first = exc.errors[0]
    highlight = str(first.get("highlight") or "")
    description = _CLASS_NAME.sub(r"\1", str(first.get("description") or "syntax error"))
    line = first.get("line")
    col = first.get("col")
    column = None
    if isinstance(col, int):
        column = max(1, col - len(highlight) + 1) if "\n" not in highlight else col
    near = f" near {highlight!r}" if highlight else " at the end of the query"
    return AdqlError(
        f"syntax error{near}: {description}",
        line=line if isinstance(line, int) else None,
        column=column,
    )


def _unterminated(text: str) -> AdqlError:
    """Where the string literal or quoted name that never ends begins."""
    index = 0
    while index < len(text):
        char = text[index]
        if text.startswith("--", index):
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline + 1
            continue
        if char in "'\"":
            end = index + 1
            while True:
                end = text.find(char, end)
                if end < 0:
                    line = text.count("\n", 0, index) + 1
                    column = index - text.rfind("\n", 0, index)
                    what = "string literal" if char == "'" else "quoted identifier"
                    return AdqlError(f"unterminated {what}", line=line, column=column)
                if text.startswith(char * 2, end):  # a doubled quote stands for itself
                    end += 2
                    continue
                break
            index = end + 1
            continue
        index += 1
    return AdqlError("the query text cannot be split into tokens")
