"""How arXiv rewrites a `search_query` before it searches: `rewrite_tokens` / `rewrite`.

arXiv's Python export API keeps what the retired Lucene service accepted by rewriting the
query first (arXiv/arxiv-search, MIT licence, Copyright Cornell University:
`search/domain/classic_api/classic_search_query.py`, `adapt_query`, 2025-11). This is a
fresh implementation of the same steps, in arXiv's order:

1. CR/LF become spaces; every `lastUpdatedDate:` becomes `submittedDate:`.
2. `submittedDate:[A TO B]` with 4-14 digits a side becomes `submittedDate:"A' TO B'"`,
   partial dates filled (`2007` -> `200701010000` as a start, `200712312359` as an end).
3. Words: quoted phrases, parentheses, the operators AND OR ANDNOT NOT (upper case only),
   the field prefixes, other words; a lone `"` is dropped.
4. NOT and AND NOT become ANDNOT; `ti:( ... )` gives `ti:` to every word inside that has
   no field; a word with no field gets `all:`; in a run of operators the last stands; a
   missing operator is OR; `au:del_maestro` becomes `au:"del maestro"`; `title:` becomes
   `ti:`; a prefix with no word after it is dropped.

One deliberate difference: arXiv's code builds the author phrase from the query's second
token instead of the author word (right only when the query starts with `au:`); here, as
in the shared stand-in and as its name says, the author word itself is used.
"""

from __future__ import annotations

import calendar
import re
from enum import IntEnum
from typing import NamedTuple


class Kind(IntEnum):
    """Token kinds, numbered as arXiv's code and tests number them."""

    PREFIX = 1
    LEFT_PAREN = 2
    OPERATOR = 3
    RIGHT_PAREN = 4
    TEXT = 5


class Token(NamedTuple):
    kind: Kind
    text: str


OPERATORS = ("AND", "ANDNOT", "NOT", "OR")
PREFIXES = tuple(f"{name}:" for name in "abs all au cat co doi id jr lastUpdatedDate rn submittedDate ti title".split())
_DATE_RANGE = re.compile(r"submittedDate:\[([\d-]{4,14}) TO ([\d-]{4,14})\]")
# order matters: phrase, parenthesis, operator, prefix, any other word; a lone '"' matches nothing
_WORDS = re.compile(r'"[^"]*"|[()]|\b(?:AND|ANDNOT|NOT|OR)\b(?=[()\s]|$)|' + "|".join(PREFIXES) + r'|[^"()\s]+')


def fill_partial_date(date: str, is_start: bool) -> str:
    """`YYYY[MM[DD]]` completed to `YYYYMMDDhhmm` as the start or end of a range; more
    than 12 digits are cut to 12; anything else (other lengths, non-digits, an impossible
    month ending a range) is returned unchanged, as arXiv does."""
    original = date
    if not date.isdigit():
        return date
    date = date[:12]
    if len(date) == 6:
        try:
            date += "01" if is_start else str(calendar.monthrange(int(date[:4]), int(date[4:]))[1])
        except ValueError:  # month 00 or 13-99 (calendar.IllegalMonthError)
            return original
    if len(date) == 4:
        date += "0101" if is_start else "1231"
    if len(date) == 8:
        date += "0000" if is_start else "2359"
    return date


def quote_date_ranges(query: str) -> str:
    """`submittedDate:[2007 TO 2008]` -> `submittedDate:"200701010000 TO 200812312359"`;
    the quoted form is left as it is."""
    return _DATE_RANGE.sub(
        lambda m: f'submittedDate:"{fill_partial_date(m[1], True)} TO {fill_partial_date(m[2], False)}"', query
    )


def split_words(query: str) -> list[str]:
    return _WORDS.findall(query)


def tokenize(query: str) -> list[Token]:
    """Words classified by their text alone (`and` is a word, `TI:` too)."""
    kinds = {"(": Kind.LEFT_PAREN, ")": Kind.RIGHT_PAREN}
    return [
        Token(
            Kind.OPERATOR if w in OPERATORS else Kind.PREFIX if w in PREFIXES else kinds.get(w, Kind.TEXT),
            w,
        )
        for w in split_words(query)
    ]


def not_to_andnot(tokens: list[Token]) -> list[Token]:
    """`AND NOT` -> `ANDNOT`, any other `NOT` -> `ANDNOT`. As in arXiv's loop, the token
    right after a merged `AND NOT` is not looked at (`a AND NOT NOT b` keeps one NOT, which
    the grammar then refuses)."""
    out: list[Token] = []
    skip = False
    for tok in tokens:
        if skip:
            skip = False
        elif tok == (Kind.OPERATOR, "NOT"):
            if out and out[-1] == (Kind.OPERATOR, "AND"):
                out.pop()
                skip = True
            tok = Token(Kind.OPERATOR, "ANDNOT")
        out.append(tok)
    return out


def distribute_prefix(tokens: list[Token]) -> list[Token]:
    """`field:( ... )` -> `( ... )` with `field:` before every word inside that has none,
    nested groups included (a nested `au:( ... )` takes the outer field too; its own prefix
    is left without a word and dropped later). Only a prefix that does not follow another
    prefix opens such a group."""
    out: list[Token] = []
    state, field, depth = "outside", "", 0
    for tok in tokens:
        if state == "outside":
            if tok.kind is Kind.PREFIX:
                state, field = "prefix", tok.text
        elif state == "prefix":
            if tok.kind is Kind.LEFT_PAREN:
                out.pop()
                state, depth = "group", 1
            else:
                state = "outside"
        elif tok.kind is Kind.RIGHT_PAREN:
            depth -= 1
            state = "outside" if depth == 0 else state
        elif tok.kind is Kind.LEFT_PAREN:
            depth += 1
        elif tok.kind is Kind.TEXT and out and out[-1].kind is not Kind.PREFIX:
            out.append(Token(Kind.PREFIX, field))
        out.append(tok)
    return out


def add_missing_prefixes(tokens: list[Token]) -> list[Token]:
    """A word with no field before it gets `all:`."""
    out: list[Token] = []
    for tok in tokens:
        if tok.kind is Kind.TEXT and (not out or out[-1].kind is not Kind.PREFIX):
            out.append(Token(Kind.PREFIX, "all:"))
        out.append(tok)
    return out


def collapse_operators(tokens: list[Token]) -> list[Token]:
    """In a run of operators only the last stands (`a AND AND b`, `a AND OR b` -> OR)."""
    out: list[Token] = []
    for tok in tokens:
        if tok.kind is Kind.OPERATOR and out and out[-1].kind is Kind.OPERATOR:
            out.pop()
        out.append(tok)
    return out


def insert_missing_operators(tokens: list[Token]) -> list[Token]:
    """OR between two prefixes, and between a word or `)` and a following prefix, `(` or word."""
    out: list[Token] = []
    for tok in tokens:
        if out:
            prev = out[-1].kind
            if (prev is Kind.PREFIX and tok.kind is Kind.PREFIX) or (
                prev in (Kind.RIGHT_PAREN, Kind.TEXT) and tok.kind in (Kind.PREFIX, Kind.LEFT_PAREN, Kind.TEXT)
            ):
                out.append(Token(Kind.OPERATOR, "OR"))
        out.append(tok)
    return out


def author_phrases(tokens: list[Token]) -> list[Token]:
    """`au:del_maestro` -> `au:"del maestro"`: underscores become spaces, quoted unless the
    word holds a quote already (see the module docstring for how arXiv's code differs)."""
    out: list[Token] = []
    for tok in tokens:
        if tok.kind is Kind.TEXT and "_" in tok.text and out and out[-1] == (Kind.PREFIX, "au:"):
            text = tok.text.replace("_", " ")
            tok = Token(Kind.TEXT, text if '"' in text else f'"{text}"')
        out.append(tok)
    return out


def rename_prefixes(tokens: list[Token]) -> list[Token]:
    """`title:` -> `ti:` (arXiv has no other alias)."""
    return [Token(Kind.PREFIX, "ti:") if t == (Kind.PREFIX, "title:") else t for t in tokens]


def drop_empty_prefixes(tokens: list[Token]) -> list[Token]:
    """A prefix not directly followed by a word goes (`a AND au:` -> `a AND`)."""
    return [
        t
        for i, t in enumerate(tokens)
        if t.kind is not Kind.PREFIX or (i + 1 < len(tokens) and tokens[i + 1].kind is Kind.TEXT)
    ]


def reformat(tokens: list[Token]) -> list[Token]:
    """All token passes, in arXiv's order."""
    for step in (
        not_to_andnot,
        distribute_prefix,
        add_missing_prefixes,
        collapse_operators,
        insert_missing_operators,
        author_phrases,
        rename_prefixes,
        drop_empty_prefixes,
    ):
        tokens = step(tokens)
    return tokens


def rewrite_tokens(query: str) -> list[Token]:
    """The tokens arXiv searches for `query` (empty when nothing is left)."""
    query = query.replace("\r", " ").replace("\n", " ").replace("lastUpdatedDate:", "submittedDate:")
    return reformat(tokenize(quote_date_ranges(query)))


def join_tokens(tokens: list[Token]) -> str:
    """Tokens as text, spaced as arXiv spaces them: one space between tokens except after
    `(` before a prefix, between a word and `)`, and between a prefix and its word."""
    parts: list[str] = []
    for prev, tok in zip([None, *tokens], tokens, strict=False):
        if prev is not None and (prev.kind, tok.kind) not in _GLUED:
            parts.append(" ")
        parts.append(tok.text)
    return "".join(parts).strip()


_GLUED = {(Kind.LEFT_PAREN, Kind.PREFIX), (Kind.TEXT, Kind.RIGHT_PAREN), (Kind.PREFIX, Kind.TEXT)}


def rewrite(query: str) -> str:
    """arXiv's `adapt_query`: the query text arXiv then parses ('' when nothing is left)."""
    return join_tokens(rewrite_tokens(query))
